"""What every result shares: construction from its compute record, and ``show()`` through the view registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from . import views


def to_numpy(value: Any) -> Any:
    """Tensors (on any device) as NumPy arrays; everything else as it is."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


class Result:
    """Mixin of the typed results. Subclasses are dataclass records from ``fxwidgets.compute``."""

    @classmethod
    def from_record(cls, record: Any) -> Any:
        """The result holding the same fields as ``record`` (the compute layer's plain dataclass)."""
        return cls(**{f.name: getattr(record, f.name) for f in dataclasses.fields(record)})

    def show(self, *args: Any, **kwargs: Any) -> Any:
        """The interactive view of this result; where there is none, the static :meth:`plot`."""
        factory = views.factory_for(type(self))
        if factory is None:
            return self.plot(*args, **kwargs)
        return factory(self, *args, **kwargs)

    def to_dict(self) -> dict:
        """Every field, tensors as NumPy arrays."""
        return {f.name: to_numpy(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def plot(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - every result overrides it
        raise NotImplementedError


def new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    """(figure, axes): the given axes and their figure, or a new figure of ``figsize`` inches."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def show_matrix(ax: Any, values: Any, *, cmap: Any, vmin: Any = None, vmax: Any = None, center: Any = None) -> Any:
    """``ax.imshow`` of a matrix with any matplotlib colour map (name or object) and the shared colour-limit rule
    (:mod:`fxwidgets.results.colors`: vmin/vmax default to the finite data's range; ``center`` makes it symmetric)."""
    from .colors import colormap, norm

    return ax.imshow(values, cmap=colormap(cmap), norm=norm(values, vmin, vmax, center), interpolation="nearest")

