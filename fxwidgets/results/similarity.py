"""Results of the representation-similarity family: one score, or a layer x layer CKA matrix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..compute.compare import CompareRecord
from .base import Result, new_axes, show_matrix, to_numpy


@dataclass
class SimilarityResult(Result):
    """A similarity score with what produced it.

    ``value`` is the score; ``se`` its standard error where it is a stochastic estimate (minibatch CKA), else
    None; ``per_item`` the per-example values where the measure has them (Jaccard@k); ``params`` the measure,
    its parameters, the seed, n, dtype and device. ``float(result)`` is the value.
    """

    value: float
    measure: str
    params: dict = field(default_factory=dict)
    se: float | None = None
    per_item: torch.Tensor | None = None

    def __float__(self) -> float:
        return float(self.value)

    def numpy(self) -> np.ndarray:
        """The per-item values where the measure has them, else the score as a 0-d array."""
        return to_numpy(self.per_item) if self.per_item is not None else np.asarray(self.value)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"measure": self.measure, "value": self.value, "se": self.se, "params": dict(self.params)}
        if self.per_item is not None:
            d["per_item"] = to_numpy(self.per_item)
        return d

    def plot(self, ax=None, *, title: str | None = None):
        """The per-item distribution with the score marked, or the score with its standard error."""
        fig, ax = new_axes(ax, (4.5, 3))
        if self.per_item is not None:
            ax.hist(to_numpy(self.per_item), bins=30)
            ax.axvline(self.value, color="k", lw=1.5, label=f"mean {self.value:.4g}")
            ax.set_xlabel(f"{self.measure} per item")
            ax.set_ylabel("items")
            ax.legend(frameon=False)
        else:
            ax.barh([0], [self.value], xerr=None if self.se is None else [2 * self.se], capsize=4)
            ax.set_yticks([0], [self.measure])
            ax.set_xlabel(self.measure + ("" if self.se is None else " (± 2 SE)"))
        ax.set_title(title if title is not None else f"{self.measure} = {self.value:.4g}")
        return fig

    def __repr__(self) -> str:
        se = f" ± {self.se:.2g}" if self.se is not None else ""
        return f"SimilarityResult({self.measure}={self.value:.6g}{se}, params={self.params})"


class CompareResult(CompareRecord, Result):
    """Minibatch CKA between every layer of model A (rows) and every layer of model B (columns).

    ``values[i, j]`` is the CKA of ``layers_a[i]`` with ``layers_b[j]`` (NaN for a layer that was constant on
    every batch), ``se`` its jackknife standard error over batches. ``grams_a``/``grams_b`` are each layer's
    centred linear Gram matrix on the first ``gram_samples`` examples (``gram_index`` says which, ``gram_labels``
    their labels when known): the sample-affinity matrices the view opens when a cell is clicked.
    ``show()`` is the interactive :class:`~fxwidgets.LayerComparison`.
    """

    def numpy(self) -> np.ndarray:
        return self.values.numpy()

    def to_dict(self) -> dict:
        return {"values": self.numpy(), "se": self.se.numpy(), "layers_a": list(self.layers_a),
                "layers_b": list(self.layers_b), "params": dict(self.params)}

    def plot(self, ax=None, *, cmap: Any = "viridis", vmin: float | None = None, vmax: float | None = None,
             center: float | None = None, title: str | None = None, colorbar: bool = True):
        """The layer x layer matrix with layer names on the axes.

        ``cmap``: any matplotlib colour map (name or object). ``vmin``/``vmax`` default to the finite values'
        range (CKA values between 0.8 and 1 keep their contrast, as in the view); ``center`` as everywhere.
        """
        fig, ax = new_axes(ax, (5, 4.2))
        im = show_matrix(ax, self.numpy(), cmap=cmap, vmin=vmin, vmax=vmax, center=center)
        ax.set_xticks(range(len(self.layers_b)), self.layers_b, rotation=90)
        ax.set_yticks(range(len(self.layers_a)), self.layers_a)
        ax.set_xlabel("model B layer" if not self.params.get("same_model") else "layer")
        ax.set_ylabel("model A layer" if not self.params.get("same_model") else "layer")
        ax.set_title(title if title is not None else f"CKA over {self.examples} examples")
        if colorbar:
            fig.colorbar(im, ax=ax, label="CKA")
        return fig

    def __repr__(self) -> str:
        return (f"CompareResult(shape={self.shape}, examples={self.examples}, layers_a={self.layers_a}, "
                f"layers_b={self.layers_b})")
