"""Running a computation to the end on the calling thread.

Every computation here is a generator of partial records folded by an accumulator (``add(item)``, ``result()``);
a blocking call folds every item and returns the accumulator's record. This is the one copy of that loop:
``api/_run.drain_or_stream`` uses it too, so a blocking call and a drained ``Job`` take the same path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def drain(steps: Iterable[Any], accumulator: Any) -> Any:
    """Fold every item of ``steps`` into ``accumulator`` and return ``accumulator.result()``."""
    for step in steps:
        accumulator.add(step)
    return accumulator.result()
