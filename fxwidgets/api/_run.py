"""The one way every verb runs its computation: drain the generator here, or hand it to a streaming Job."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ..runtime import Job
from ..compute.drain import drain


def drain_or_stream(source: Iterator[Any], accumulator: Any, *, stream: bool, finish: Callable[[Any], Any],
                    name: str, view_factory: Callable[..., Any] | None = None, params: dict | None = None) -> Any:
    """``stream=False``: fold every item of ``source`` into ``accumulator`` on this thread and return
    ``finish(accumulator.result())``. ``stream=True``: return a started :class:`~fxwidgets.runtime.Job` doing the
    same in a worker thread (``job.show()`` is ``view_factory(job)``). Both give the same answer by construction."""
    if stream:
        return Job(source, accumulator, finish=finish, name=name, view_factory=view_factory, params=params)
    return finish(drain(source, accumulator))


def check_stream(stream: Any) -> bool:
    if not isinstance(stream, bool):
        raise TypeError(f"stream must be True or False, got {stream!r}")
    return stream
