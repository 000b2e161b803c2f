"""One method's full ranking of the features, with its bootstrap stability and per-feature score bands.

This is what ``fx.select`` returns and what the FeatureRanking view shows for each method; both call
:func:`rank_features`, so a view never re-implements the selection or its bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..validate import names_for
from . import compute_scores, iter_bootstrap, plan_selection
from .stability import default_ks, topk_stability

#: Extra values of a method copied into the record's params when they are plain numbers.
SCALAR_EXTRAS = ("bandwidth", "r", "expected_l0", "final_loss", "final_log_likelihood", "token_edge")


@dataclass
class SelectionRecord:
    """Scores per feature (the method's own units), the ranking (best first) and the top-k mask."""

    scores: torch.Tensor
    ranking: torch.Tensor
    k: int
    method: str
    larger_is_better: bool = True
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    feature_names: list[str] | None = None
    stability: dict | None = None

    @property
    def n_features(self) -> int:
        return int(self.scores.shape[0])

    @property
    def selected(self) -> torch.Tensor:
        """Indices of the k kept features, best first."""
        return self.ranking[: self.k]

    @property
    def mask(self) -> torch.Tensor:
        m = torch.zeros(self.n_features, dtype=torch.bool, device=self.ranking.device)
        m[self.selected] = True
        return m

    def top(self, k: int) -> torch.Tensor:
        if not 1 <= k <= self.n_features:
            raise ValueError(f"k must be in 1..{self.n_features}, got {k!r}")
        return self.ranking[:k]


def check_stability(stability: Any) -> int:
    if isinstance(stability, bool) or not isinstance(stability, (int, np.integer)) or stability < 0 or stability == 1:
        raise ValueError(f"stability must be 0 (off) or a number of bootstrap resamples >= 2, got {stability!r}")
    return int(stability)


def bootstrap_summary(plan: Any, n_resamples: int, seed: int, ks: list[int]) -> dict:
    """Over ``n_resamples`` bootstrap resamples of the rows: the Kuncheva/Jaccard stability of the top-k sets at
    each k in ``ks`` (with standard errors) and each feature's 10th-90th percentile score band (``lo``, ``hi``)."""
    scores, rankings = [], []
    for item in iter_bootstrap(plan, n_resamples, seed):
        scores.append(item.scores.detach().cpu().double().numpy())
        rankings.append(item.ranking)
    S = np.stack(scores)
    with np.errstate(all="ignore"):
        lo, hi = np.nanpercentile(S, 10, axis=0), np.nanpercentile(S, 90, axis=0)
    return {"n_resamples": n_resamples, "seed": seed, **topk_stability(torch.stack(rankings), ks), "lo": lo, "hi": hi}


def rank_features(X: Any, y: Any = None, method: str = "fisher", *, k: int | None = None, task: str = "auto",
                  constant: str = "raise", feature_names: Any = None, stability: int = 0, seed: int = 0,
                  **params: Any) -> SelectionRecord:
    """Validate, score, rank, and (``stability=B``) resample: the record behind ``fx.select``."""
    plan = plan_selection(X, y, method, k=k, task=task, constant=constant, seed=seed, **params)
    names = names_for(feature_names, X, plan.n_features)
    stability = check_stability(stability)
    scores, ranking, extra = compute_scores(plan)
    kk = plan.k if plan.k is not None else max(1, plan.n_features // 2)
    stab = None
    if stability:
        ks = sorted(set(default_ks(plan.n_features)) | {kk})
        stab = bootstrap_summary(plan, stability, seed, ks)
    params_out = {k_: v for k_, v in plan.params.items() if not isinstance(v, torch.Tensor)}
    params_out.update({"task": plan.task, "seed": seed, "device": str(plan.x.device), "constant": constant,
                       "n_samples": int(plan.x.shape[0])})
    for key in SCALAR_EXTRAS:
        if isinstance(extra.get(key), float):
            params_out[key] = extra[key]
    return SelectionRecord(scores=scores, ranking=ranking, k=kk, method=method,
                           larger_is_better=plan.larger_is_better, params=params_out, extra=extra,
                           feature_names=names, stability=stab)
