"""Run a computation written as a generator of partial results in a worker thread.

The generator is the single source of truth: the blocking call drains it on the caller's thread, a Job
drains it on a worker thread (torch releases the GIL, so the kernel keeps answering the view). Each item
goes into an *accumulator* (``add(item)``, ``result()``) shared by both paths, so the streamed final
result is the blocking result by construction. The accumulator's ``result()`` is a plain record; ``finish``
turns it into what the caller gets (a typed result), on both paths.
"""

from __future__ import annotations

import atexit
import threading
import traceback
import weakref
from concurrent.futures import Future
from typing import Any, Callable, Iterable, Iterator, Protocol

from .limits import EXIT_WAIT_S


class JobCancelled(RuntimeError):
    """Raised by :meth:`Job.result` when the job was cancelled before it finished."""


class Accumulator(Protocol):
    def add(self, item: Any) -> None: ...

    def result(self) -> Any: ...


class Listener(Protocol):
    def on_item(self, job: "Job", item: Any) -> None: ...

    def on_end(self, job: "Job") -> None: ...


STATUSES = ("pending", "running", "done", "cancelled", "error")

_LIVE: "weakref.WeakSet[Job]" = weakref.WeakSet()


@atexit.register
def _stop_live_jobs() -> None:
    # A torch worker thread still running when the interpreter exits aborts the process.
    for job in list(_LIVE):
        job.cancel()
    for job in list(_LIVE):
        job.wait(timeout=EXIT_WAIT_S)


class Job:
    """A computation running in a worker thread.

    Parameters
    ----------
    source:
        A generator of partial results. It is pulled one item at a time; cancelling stops it before the
        next item.
    accumulator:
        Folds items into the final record (``add``/``result``).
    finish:
        ``finish(record)`` turns the accumulator's record into the value :meth:`result` returns (default: the
        record itself).
    view_factory:
        ``view_factory(job, **kwargs)`` builds the live view returned by :meth:`show`.
    """

    def __init__(
        self,
        source: Iterator[Any],
        accumulator: Accumulator,
        *,
        name: str = "job",
        finish: Callable[[Any], Any] | None = None,
        view_factory: Callable[..., Any] | None = None,
        params: dict | None = None,
        start: bool = True,
    ) -> None:
        self.name = name
        self._finish = finish
        self.params = dict(params or {})
        self._source = source
        self._accumulator = accumulator
        self._view_factory = view_factory
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._listeners: list[Listener] = []
        self.status = "pending"
        self.progress = 0.0
        self.items = 0
        self.error: BaseException | None = None
        self.error_text = ""
        self.listener_errors: list[str] = []
        self._thread = threading.Thread(target=self._run, name=f"fxwidgets-{name}", daemon=True)
        if start:
            self.start()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "Job":
        with self._lock:
            if self.status != "pending":
                raise RuntimeError(f"job {self.name!r} was already started (status {self.status!r})")
            self.status = "running"
        _LIVE.add(self)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            iterator = iter(self._source)
            exhausted = False
            while not self._cancel.is_set():
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                with self._lock:
                    self._accumulator.add(item)
                    self.items += 1
                    progress = getattr(item, "progress", None)
                    if progress is not None:
                        self.progress = float(progress)
                    listeners = list(self._listeners)
                for listener in listeners:
                    self._notify(listener.on_item, item)
            with self._lock:
                self.status = "done" if exhausted else "cancelled"
                if self.status == "done":
                    self.progress = 1.0
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the view and result()
            with self._lock:
                self.status = "error"
                self.error = exc
                self.error_text = f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                self._notify(listener.on_end)
            self._finished.set()

    def _notify(self, fn: Callable, *args: Any) -> None:
        # A broken view must not kill the computation; its failure is kept for the traceback.
        try:
            fn(self, *args)
        except Exception:  # noqa: BLE001
            self.listener_errors.append(traceback.format_exc())

    # -- control ---------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop at the next chunk. Safe from any thread, and idempotent."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def finished(self) -> bool:
        """The computation has ended (done, cancelled or failed). True already inside listeners' ``on_end``;
        :meth:`wait` returns only after every ``on_end`` has run."""
        return self.status in ("done", "cancelled", "error")

    def wait(self, timeout: float | None = None) -> bool:
        if not self._finished.wait(timeout):
            return False
        # Join too: a torch thread still unwinding at interpreter exit aborts the process.
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return True

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the job and return its result; raise what the worker raised, or JobCancelled."""
        if not self.wait(timeout):
            raise TimeoutError(f"job {self.name!r} did not finish within {timeout} s (progress {self.progress:.0%})")
        if self.status == "error":
            assert self.error is not None
            raise self.error
        if self.status == "cancelled":
            raise JobCancelled(f"job {self.name!r} was cancelled at {self.progress:.0%}")
        return self.completed_result()

    def completed_result(self) -> Any:
        """The result of a job whose status is ``done``, without waiting (usable inside a listener's
        ``on_end``, which runs before :meth:`wait` returns)."""
        if self.status != "done":
            raise RuntimeError(f"job {self.name!r} has no result: its status is {self.status!r}")
        record = self._accumulator.result()
        return record if self._finish is None else self._finish(record)

    # -- observers -------------------------------------------------------------------------------
    def subscribe(self, listener: Listener, on_attach: Callable[[], None] | None = None) -> None:
        """Register ``listener``; ``on_attach`` runs under the job's lock so it sees a consistent state."""
        with self._lock:
            if on_attach is not None:
                on_attach()
            self._listeners.append(listener)
            ended = self._finished.is_set()
        if ended:
            self._notify(listener.on_end)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    @property
    def state(self) -> Any:
        """The accumulator, for views that read the partial result (take ``lock`` while reading)."""
        return self._accumulator

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def show(self, **kwargs: Any) -> Any:
        """The live view of this job; it fills in as the job runs."""
        if self._view_factory is None:
            raise TypeError(f"job {self.name!r} has no view")
        return self._view_factory(self, **kwargs)

    def __repr__(self) -> str:
        extra = f", error={self.error_text!r}" if self.error_text else ""
        return f"<Job {self.name} {self.status} {self.progress:.0%}{extra}>"


def when_finished(jobs: Iterable["Job | None"], timeout: float) -> Future:
    """A future that settles (with None) once every job has ended, or after ``timeout`` seconds, whichever comes
    first. No thread waits: each job's last listener call settles it (a timer covers a chunk that never ends).

    This is how Cancel answers "the state it reached" without holding one of the shared RPC threads while the
    jobs reach their next chunk (a hover on another view would otherwise queue behind a few Cancels)."""
    future: Future = Future()
    pending = [job for job in jobs if job is not None]
    if not pending:
        future.set_result(None)
        return future
    lock = threading.Lock()
    left = [len(pending)]

    def settle() -> None:
        with lock:
            if future.done():
                return
            future.set_result(None)
        timer.cancel()

    timer = threading.Timer(timeout, settle)
    timer.daemon = True

    class _Ended:
        def on_item(self, job: Job, item: Any) -> None:
            pass

        def on_end(self, job: Job) -> None:
            job.unsubscribe(self)
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                settle()

    timer.start()
    for job in pending:
        job.subscribe(_Ended())
    return future
