"""Results of the affinity family: dense matrices, k-NN lists, graph values, propagated labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..compute.dense import LabelNoiseRecord, PropagationRecord
from ..compute.graph import GraphRecord
from ..compute.knn import KnnRecord, knn_graph, knn_softmax, mutual_mask
from ..compute.affinity import AffinityRecord
from .base import Result, new_axes, show_matrix, to_numpy


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


class AffinityResult(AffinityRecord, Result):
    """A pairwise affinity matrix (``values[i, j]`` = affinity of row i of X with row j of Y).

    ``show()`` is the interactive heatmap (hover, click, drag to select); ``plot()`` a matplotlib figure.
    """

    def numpy(self) -> np.ndarray:
        return to_numpy(self.values)

    def to_dict(self) -> dict:
        return {"metric": self.metric, "params": dict(self.params), "values": self.numpy()}

    def default_style(self) -> dict:
        return default_style(self.metric, nonnegative=bool((self.values >= 0).all()))

    def plot(self, ax=None, *, cmap: Any = None, vmin: float | None = None, vmax: float | None = None,
             center: float | None = None, title: str | None = None, colorbar: bool = True):
        """A static matplotlib figure of the matrix (for papers and non-interactive front ends).

        ``cmap``: any matplotlib colour map, by name or object (default: the metric's, see :func:`default_style`);
        ``vmin``/``vmax``: as matplotlib (default: the metric's range, else the data's); ``center``: the value
        given the middle colour, the range made symmetric around it (seaborn's ``center=``).
        """
        style = self.default_style()
        cmap = style["cmap"] if cmap is None else cmap
        if center is None:
            vmin = style["vmin"] if vmin is None else vmin
            vmax = style["vmax"] if vmax is None else vmax
        fig, ax = new_axes(ax, (5, 4.2))
        im = show_matrix(ax, self.numpy(), cmap=cmap, vmin=vmin, vmax=vmax, center=center)
        ax.set_title(title if title is not None else f"{self.metric} affinity {self.shape[0]}×{self.shape[1]}")
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        if colorbar:
            fig.colorbar(im, ax=ax, label=self.metric)
        return fig

    def __repr__(self) -> str:
        return f"AffinityResult(metric={self.metric!r}, shape={self.shape}, device={self.device}, params={self.params})"


class KnnResult(KnnRecord, Result):
    """``indices[i]`` are the k rows of Y (or X) with the largest affinity to row i, best first; ``values[i]``
    their affinities."""

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        return self.indices.cpu().numpy(), to_numpy(self.values)

    def to_dict(self) -> dict:
        idx, val = self.numpy()
        return {"metric": self.metric, "params": dict(self.params), "indices": idx, "values": val}

    def softmax(self, temperature: float = 1.0) -> torch.Tensor:
        """Row softmax of the k affinities at ``temperature``: weights that sum to 1 per row."""
        return knn_softmax(self, temperature)

    def mutual(self) -> torch.Tensor:
        """(n, k) boolean: ``indices[i, j]`` has i among its own k neighbours (needs a square k-NN)."""
        return mutual_mask(self)

    def graph(self, *, symmetrize: str = "max", weights: str = "affinity", temperature: float = 1.0) -> torch.Tensor:
        """The sparse k-NN affinity graph (see :func:`fxwidgets.knn_graph`)."""
        return knn_graph(self, symmetrize=symmetrize, weights=weights, temperature=temperature)

    def plot(self, ax=None, *, title: str | None = None):
        """How affinity falls with neighbour rank: the median and the 10th-90th percentile band over rows."""
        fig, ax = new_axes(ax, (5, 3.2))
        v = to_numpy(self.values).astype(np.float64)
        ranks = np.arange(1, self.k + 1)
        lo, mid, hi = np.percentile(v, [10, 50, 90], axis=0)
        ax.fill_between(ranks, lo, hi, alpha=0.3, label="10th–90th percentile")
        ax.plot(ranks, mid, marker="o", label="median")
        ax.set_xlabel("neighbour rank")
        ax.set_ylabel(f"{self.metric} affinity")
        ax.set_title(title if title is not None else f"{self.k}-NN of {self.n} rows")
        ax.legend(frameon=False)
        return fig

    def __repr__(self) -> str:
        return f"KnnResult(metric={self.metric!r}, n={self.n}, k={self.k}, device={self.device}, params={self.params})"


class GraphResult(GraphRecord, Result):
    """Values computed on a graph (centrality, embedding, cluster labels, an ordering) and how."""

    def numpy(self) -> np.ndarray:
        return to_numpy(self.values)

    def to_dict(self) -> dict:
        return {"method": self.method, "params": dict(self.params), "values": self.numpy()}

    def plot(self, ax=None, *, title: str | None = None):
        """An embedding as a scatter of its first two coordinates; per-node values as a line over the nodes."""
        fig, ax = new_axes(ax, (5, 3.6))
        v = self.numpy()
        if v.ndim == 2 and v.shape[1] >= 2:
            ax.scatter(v[:, 0], v[:, 1], s=6)
            ax.set_xlabel("coordinate 1")
            ax.set_ylabel("coordinate 2")
        else:
            v = v.reshape(len(v), -1)[:, 0]
            ax.plot(np.arange(len(v)), v, lw=1)
            ax.set_xlabel("node" if self.method != "spectral_order" else "position")
            ax.set_ylabel(self.method.replace("_", " "))
        ax.set_title(title if title is not None else self.method.replace("_", " "))
        return fig

    def __repr__(self) -> str:
        return f"GraphResult(method={self.method!r}, shape={tuple(self.values.shape)}, params={self.params})"


class PropagationResult(PropagationRecord, Result):
    """Label distribution propagated to the target frame: ``probs`` (K, H, W), ``labels`` (H, W) = argmax."""

    def numpy(self) -> np.ndarray:
        return to_numpy(self.probs)

    def plot(self, ax=None, *, cmap: Any = "tab10", title: str | None = None):
        return _map_figure(ax, to_numpy(self.labels), cmap, "propagated label",
                           title if title is not None else "labels propagated to the target frame")

    def __repr__(self) -> str:
        return f"PropagationResult(probs={tuple(self.probs.shape)}, params={self.params})"


class LabelNoiseResult(LabelNoiseRecord, Result):
    """Per-pixel noisy-label score in [0, 1] of the target frame and the flags ``score > threshold``."""

    def numpy(self) -> np.ndarray:
        return to_numpy(self.score)

    def plot(self, ax=None, *, cmap: Any = "magma", title: str | None = None):
        return _map_figure(ax, self.numpy(), cmap, "noisy-label score",
                           title if title is not None else f"{int(self.flags.sum())} pixels over {self.threshold:g}",
                           vmin=0.0, vmax=1.0)

    def __repr__(self) -> str:
        return f"LabelNoiseResult(shape={tuple(self.score.shape)}, flagged={int(self.flags.sum())}, params={self.params})"


def _map_figure(ax: Any, image: np.ndarray, cmap: str, label: str, title: str, **limits: float):
    """A per-pixel map of a frame with its colour bar, no axes (pixels have no units)."""
    fig, ax = new_axes(ax, (4, 4))
    im = show_matrix(ax, image, cmap=cmap, **limits)
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title)
    ax.set_axis_off()
    return fig
