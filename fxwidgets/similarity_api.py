"""``fx.similarity``: one number saying how alike two representations of the same examples are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from .compute.similarity import MEASURES, plan_similarity, run_similarity

__all__ = ["MEASURES", "SimilarityResult", "similarity"]


@dataclass
class SimilarityResult:
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

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"measure": self.measure, "value": self.value, "se": self.se, "params": dict(self.params)}
        if self.per_item is not None:
            d["per_item"] = self.per_item.detach().cpu().numpy()
        return d

    def __repr__(self) -> str:
        se = f" ± {self.se:.2g}" if self.se is not None else ""
        return f"SimilarityResult({self.measure}={self.value:.6g}{se}, params={self.params})"


def similarity(X: Any, Y: Any = None, measure: str = "cka", **params: Any) -> SimilarityResult:
    """How alike two representations ``X`` (n x p) and ``Y`` (n x q) of the same n examples are.

    measure (parameters, defaults first):

    - ``"cka"``: centred kernel alignment. ``kernel="linear"|"rbf"``; ``threshold=1.0`` (RBF bandwidth as a
      fraction of the median distance); ``unbiased=False`` (True: debiased CKA with U-centred Grams);
      ``batch_size=None`` (an int: minibatch CKA with the unbiased HSIC over batches of a ``seed``-ed shuffle,
      ``shuffle=True, seed=0``, with a jackknife standard error in ``result.se``).
    - ``"hsic"``: ``kernel``, ``threshold``, ``unbiased`` as above; biased ``tr(KHLH)/(n-1)^2`` or HSIC1.
    - ``"distance_covariance"``, ``"distance_correlation"``: ``unbiased=False``, ``squared=False``
      (the unbiased statistics are squared ones and can be negative, so they need ``squared=True``).
    - ``"cca"``: mean-squared canonical correlation; ``center=True``.
    - ``"jaccard"``: mean over items of the Jaccard overlap of their ``k=10`` nearest neighbours in X and in Y
      (``metric="cosine"|"euclidean"``, ``chunk_size``); per-item values in ``result.per_item``.
    - ``"alignment"``: ``E|x_i - y_i|^alpha`` over positive pairs (rows of X and Y), ``alpha=2``,
      ``normalize=True`` (put rows on the unit sphere first).
    - ``"uniformity"``: ``log E_{i<j} exp(-t |x_i - x_j|^2)`` of X alone (``Y=None``), ``t=2``, ``normalize``.

    Bad input (NaN/Inf, different numbers of examples, a constant representation where the measure is a ratio,
    an unknown measure or parameter) raises before any work starts.
    """
    plan = plan_similarity(X, Y, measure, **params)
    out = run_similarity(plan)
    return SimilarityResult(value=float(out["value"]), measure=plan.measure, params={**plan.params, **out["extra"]},
                            se=out["se"], per_item=out["per_item"])
