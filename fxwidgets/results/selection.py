"""SelectionResult: one method's feature scores, ranking and kept set."""

from __future__ import annotations


import numpy as np

from ..compute.selection.ranking import SelectionRecord
from .base import Result, new_axes, to_numpy


class SelectionResult(SelectionRecord, Result):
    """Scores per feature (the method's own units), the ranking (best first) and the top-k mask.

    ``show(X, y)`` is the interactive :class:`~fxwidgets.FeatureRanking` (give X and y for the held-out curve).
    """

    def numpy(self) -> dict:
        return {"scores": to_numpy(self.scores), "ranking": self.ranking.cpu().numpy(), "mask": self.mask.cpu().numpy()}

    def to_dict(self) -> dict:
        return {"method": self.method, "k": self.k, "params": dict(self.params), **self.numpy(),
                "feature_names": self.feature_names, "stability": self.stability}

    def plot(self, ax=None, *, top: int = 30):
        """Bars of the best ``top`` features, the kept ones coloured."""
        order = self.ranking[:top].cpu().numpy()
        vals = np.nan_to_num(to_numpy(self.scores)[order])
        names = self.feature_names or [str(i) for i in range(self.n_features)]
        fig, ax = new_axes(ax, (5, max(2.0, 0.22 * len(order) + 0.8)))
        colors = ["#1976d2" if i < self.k else "#b0bec5" for i in range(len(order))]
        ax.barh(range(len(order)), vals, color=colors)
        ax.set_yticks(range(len(order)), [names[i] for i in order])
        ax.invert_yaxis()
        ax.set_xlabel(f"{self.method} score" + ("" if self.larger_is_better else " (smaller is better)"))
        ax.set_title(f"{self.method}: top {self.k} of {self.n_features} kept")
        return fig

    def __repr__(self) -> str:
        return (f"SelectionResult(method={self.method!r}, k={self.k}, n_features={self.n_features}, "
                f"selected={self.selected[:10].tolist()}{'...' if self.k > 10 else ''})")


