"""Typed results: the values plus what produced them, with a live view and a static figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch


def default_style(metric: str, *, nonnegative: bool) -> dict:
    """Colours a reader expects: diverging and centred on 0 for correlations that can be negative,
    sequential otherwise (matplotlib's defaults for vmin/vmax where the range is open)."""
    if metric in ("cosine", "pearson"):
        if nonnegative:
            return {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
        return {"cmap": "RdBu_r", "vmin": -1.0, "vmax": 1.0}
    if metric == "rbf":
        return {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
    return {"cmap": "viridis", "vmin": None, "vmax": None}


@dataclass
class AffinityResult:
    """A pairwise affinity matrix (``values[i, j]`` = affinity of row i of X with row j of Y)."""

    values: torch.Tensor
    metric: str
    params: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape)

    @property
    def device(self) -> torch.device:
        return self.values.device

    def numpy(self) -> np.ndarray:
        return self.values.detach().cpu().numpy()

    def to_dict(self) -> dict:
        return {"metric": self.metric, "params": dict(self.params), "values": self.numpy()}

    def default_style(self) -> dict:
        return default_style(self.metric, nonnegative=bool((self.values >= 0).all()))

    def show(self, *, row_labels: Sequence[Any] | None = None, col_labels: Sequence[Any] | None = None, **style: Any):
        """The interactive heatmap (hover, click, drag to select)."""
        from .widgets.heatmap import AffinityHeatmap

        kwargs = {**self.default_style(), "value_label": self.metric, **style}
        return AffinityHeatmap(self.values, row_labels=row_labels, col_labels=col_labels, **kwargs)

    def plot(self, ax=None, *, cmap: str | None = None, vmin: float | None = None, vmax: float | None = None,
             title: str | None = None, colorbar: bool = True):
        """A static matplotlib figure of the matrix (for papers and non-interactive front ends)."""
        import matplotlib.pyplot as plt

        style = self.default_style()
        cmap = cmap or style["cmap"]
        vmin = style["vmin"] if vmin is None else vmin
        vmax = style["vmax"] if vmax is None else vmax
        if ax is None:
            fig, ax = plt.subplots(figsize=(5, 4.2))
        else:
            fig = ax.figure
        im = ax.imshow(self.numpy(), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title if title is not None else f"{self.metric} affinity {self.shape[0]}×{self.shape[1]}")
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        if colorbar:
            fig.colorbar(im, ax=ax, label=self.metric)
        return fig

    def __repr__(self) -> str:
        return f"AffinityResult(metric={self.metric!r}, shape={self.shape}, device={self.device}, params={self.params})"
