"""Coalesce a burst of partial results into a bounded rate of flushes.

A tiled computation can produce hundreds of tiles a second; Jupyter drops iopub traffic above 1000
messages/s and a browser gains nothing from redrawing faster than it paints. Updates are merged into one
pending value and flushed at most ``max_rate_hz`` times a second; a timer makes sure a pending update is
flushed even when no further update arrives, and ``close()`` always flushes what is left.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, TypeVar

P = TypeVar("P")


class Coalescer(Generic[P]):
    """Merge updates with ``merge(pending, update) -> pending`` and hand them to ``flush(pending)``.

    ``flush`` runs with no lock held, in whichever thread triggered it (the producer or the timer), one
    flush at a time.
    """

    def __init__(
        self,
        merge: Callable[[P | None, Any], P],
        flush: Callable[[P], None],
        *,
        max_rate_hz: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not max_rate_hz > 0:
            raise ValueError(f"max_rate_hz must be positive, got {max_rate_hz}")
        self._merge = merge
        self._flush = flush
        self.interval = 1.0 / max_rate_hz
        self._clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: P | None = None
        self._has_pending = False
        self._last_flush = -float("inf")
        self._timer: threading.Timer | None = None
        self._closed = False
        self.flushes = 0

    def push(self, update: Any) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending = self._merge(self._pending if self._has_pending else None, update)
            self._has_pending = True
            wait = self._last_flush + self.interval - self._clock()
            if wait > 0:
                if self._timer is None:
                    self._start_timer(wait)
                return
        self._flush_pending()

    def _start_timer(self, wait: float) -> None:
        self._timer = threading.Timer(wait, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            # A push may have flushed since this timer was set (it found the interval over first); flushing
            # now would break the rate, so wait out the rest of the interval again.
            wait = self._last_flush + self.interval - self._clock()
            if wait > 0 and self._has_pending and not self._closed:
                self._start_timer(wait)
                return
        self._flush_pending()

    def _flush_pending(self) -> None:
        with self._flush_lock:
            with self._lock:
                if not self._has_pending:
                    return
                pending, self._pending, self._has_pending = self._pending, None, False
                self._last_flush = self._clock()
            self.flushes += 1
            self._flush(pending)

    def close(self) -> None:
        """Flush whatever is pending now, whatever the rate, and stop accepting updates."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._flush_pending()
