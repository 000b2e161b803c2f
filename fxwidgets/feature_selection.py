"""``fx.select``: rank features by one method, keep the top k; and a scikit-learn-shaped selector."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from .compute.selection import METHODS, compute_scores, iter_bootstrap, plan_selection
from .compute.selection.stability import default_ks, topk_stability


@dataclass
class SelectionResult:
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

    def numpy(self) -> dict:
        return {"scores": self.scores.detach().cpu().numpy(), "ranking": self.ranking.cpu().numpy(),
                "mask": self.mask.cpu().numpy()}

    def to_dict(self) -> dict:
        return {"method": self.method, "k": self.k, "params": dict(self.params), **self.numpy(),
                "feature_names": self.feature_names, "stability": self.stability}

    def show(self, X: Any = None, y: Any = None, **kwargs: Any):
        """The FeatureRanking view of this result (give X and y for the held-out accuracy curve)."""
        from .widgets.ranking import FeatureRanking

        return FeatureRanking(X, y, results={self.method: self}, method=self.method, k=self.k,
                              feature_names=kwargs.pop("feature_names", self.feature_names), **kwargs)

    def plot(self, ax=None, *, top: int = 30):
        """Bars of the best ``top`` features, the kept ones coloured."""
        import matplotlib.pyplot as plt

        order = self.ranking[:top].cpu().numpy()
        vals = np.nan_to_num(self.scores.detach().cpu().numpy()[order])
        names = self.feature_names or [str(i) for i in range(self.n_features)]
        if ax is None:
            fig, ax = plt.subplots(figsize=(5, max(2.0, 0.22 * len(order) + 0.8)))
        else:
            fig = ax.figure
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


def _names(feature_names: Sequence[Any] | None, X: Any, d: int) -> list[str] | None:
    if feature_names is None and hasattr(X, "columns"):
        feature_names = list(X.columns)
    if feature_names is None:
        return None
    names = [str(v) for v in (feature_names.tolist() if hasattr(feature_names, "tolist") else feature_names)]
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} entries but X has {d} features")
    return names


def select(X: Any, y: Any = None, method: str = "fisher", *, k: int | None = None, task: str = "auto",
           constant: str = "raise", feature_names: Sequence[Any] | None = None, stability: int = 0, seed: int = 0,
           **params: Any) -> SelectionResult:
    """Rank the features of ``X`` (n x d) by ``method`` and keep the top ``k`` (default: d // 2, at least 1).

    Methods: ``variance``, ``f_classif`` (ANOVA F), ``chi2``, ``pearson`` (|r|), ``fisher``, ``laplacian``
    (smaller is better), ``mi`` (k-NN estimator; ``discrete_features=True`` for counts), ``dcor``, ``mrmr``,
    ``relieff``, ``inf_fs`` (``infFS.m`` v4.0 / ICCV 2015; supervised when y is given), ``ilfs`` (Infinite
    Latent FS, ICCV 2017: PLSA relevance P(rel|f) on class-mean tokens, then Inf-FS paths; class labels), ``ecfs``,
    ``sequential_attention`` (= OMP for regression), ``stg`` (hard-concrete L0 gates), ``gumbel_gates``.

    ``stability=B`` adds the mean pairwise Kuncheva index and Jaccard of the top-k sets over B bootstrap
    resamples (with standard errors) in ``result.stability``. Bad input (all-NaN or constant columns,
    y of the wrong length, k > d, continuous y for a class score) raises before any work starts.
    """
    plan = plan_selection(X, y, method, k=k, task=task, constant=constant, seed=seed, **params)
    names = _names(feature_names, X, plan.n_features)
    if isinstance(stability, bool) or not isinstance(stability, (int, np.integer)) or stability < 0 or stability == 1:
        raise ValueError(f"stability must be 0 (off) or a number of bootstrap resamples >= 2, got {stability!r}")
    scores, ranking, extra = compute_scores(plan)
    kk = plan.k if plan.k is not None else max(1, plan.n_features // 2)
    stab = None
    if stability:
        rankings = torch.stack([item.ranking for item in iter_bootstrap(plan, int(stability), seed)])
        ks = sorted(set(default_ks(plan.n_features)) | {kk})
        stab = {"n_resamples": int(stability), "seed": seed, **topk_stability(rankings, ks)}
    params_out = {k_: v for k_, v in plan.params.items() if not isinstance(v, torch.Tensor)}
    params_out.update({"task": plan.task, "seed": seed, "device": str(plan.x.device), "constant": constant,
                       "n_samples": int(plan.x.shape[0])})
    for key in ("bandwidth", "r", "expected_l0", "final_loss", "final_log_likelihood", "token_edge"):
        if isinstance(extra.get(key), float):
            params_out[key] = extra[key]
    return SelectionResult(scores=scores, ranking=ranking, k=kk, method=method,
                           larger_is_better=plan.larger_is_better, params=params_out, extra=extra,
                           feature_names=names, stability=stab)


class FeatureSelector:
    """A selector with scikit-learn's shape (``fit``, ``transform``, ``get_support``, ``scores_``) that works in
    a ``sklearn.pipeline.Pipeline`` without importing scikit-learn.

    >>> sel = FeatureSelector(method="fisher", k=10).fit(X, y)
    >>> X10 = sel.transform(X)
    """

    def __init__(self, method: str = "fisher", k: int = 10, *, task: str = "auto", constant: str = "raise",
                 seed: int = 0, params: dict | None = None) -> None:
        self.method = method
        self.k = k
        self.task = task
        self.constant = constant
        self.seed = seed
        self.params = params

    # scikit-learn's clone() and grid search read and write these
    def get_params(self, deep: bool = True) -> dict:
        return {"method": self.method, "k": self.k, "task": self.task, "constant": self.constant,
                "seed": self.seed, "params": self.params}

    def set_params(self, **params: Any) -> "FeatureSelector":
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"invalid parameter {key!r} for FeatureSelector; valid: {sorted(valid)}")
            setattr(self, key, value)
        return self

    def fit(self, X: Any, y: Any = None, **_fit_params: Any) -> "FeatureSelector":
        self.result_ = select(X, y, self.method, k=self.k, task=self.task, constant=self.constant, seed=self.seed,
                              **(self.params or {}))
        self.scores_ = self.result_.scores.detach().cpu().numpy()
        self.ranking_ = self.result_.ranking.cpu().numpy()
        self.n_features_in_ = self.result_.n_features
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "result_"):
            raise RuntimeError("this FeatureSelector is not fitted yet; call fit(X, y) first")

    def get_support(self, indices: bool = False) -> np.ndarray:
        self._check_fitted()
        mask = self.result_.mask.cpu().numpy()
        return np.flatnonzero(mask) if indices else mask

    def transform(self, X: Any) -> Any:
        self._check_fitted()
        d = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
        if d != self.n_features_in_:
            raise ValueError(f"X has {d} features but the selector was fitted on {self.n_features_in_}")
        cols = np.flatnonzero(self.result_.mask.cpu().numpy())
        if isinstance(X, torch.Tensor):
            return X[:, torch.as_tensor(cols, device=X.device)]
        if hasattr(X, "iloc"):
            return X.iloc[:, cols]
        return np.asarray(X)[:, cols]

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        return self.fit(X, y, **fit_params).transform(X)

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        self._check_fitted()
        names = input_features if input_features is not None else getattr(
            self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        return np.asarray([names[i] for i in self.get_support(indices=True)], dtype=object)

    def __repr__(self) -> str:
        return f"FeatureSelector(method={self.method!r}, k={self.k})"


__all__ = ["METHODS", "FeatureSelector", "SelectionResult", "select"]
