"""Which view shows which result: filled by ``fxwidgets.widgets`` at import, read by ``Result.show()``.

The registry is what lets a result open its view without importing the widget layer (results sit below
widgets; see docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, Callable

_FACTORIES: dict[type, Callable[..., Any]] = {}


def register(result_type: type, factory: Callable[..., Any]) -> None:
    """``factory(result, *args, **kwargs)`` builds the interactive view of ``result_type`` (and its subclasses)."""
    _FACTORIES[result_type] = factory


def factory_for(result_type: type) -> Callable[..., Any] | None:
    for cls in result_type.__mro__:
        if cls in _FACTORIES:
            return _FACTORIES[cls]
    return None
