"""Verbs of the selection family: ``fx.select`` and a scikit-learn-shaped selector."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from ..compute.selection import METHODS
from ..compute.selection.ranking import rank_features
from ..results.selection import SelectionResult


def select(X: Any, y: Any = None, method: str = "fisher", *, k: int | None = None, task: str = "auto",
           constant: str = "raise", feature_names: Sequence[Any] | None = None, stability: int = 0, seed: int = 0,
           **params: Any) -> SelectionResult:
    """Rank the features of ``X`` (n x d) by ``method`` and keep the top ``k`` (default: d // 2, at least 1).

    Methods: ``variance``, ``f_classif`` (ANOVA F), ``chi2``, ``pearson`` (|r|), ``fisher``, ``laplacian``
    (smaller is better), ``mi`` (k-NN estimator; ``discrete_features=True`` for counts), ``dcor``, ``mrmr``,
    ``relieff``, ``inf_fs`` (``infFS.m`` v4.0 / ICCV 2015; supervised when y is given), ``ilfs`` (Infinite
    Latent FS, ICCV 2017: PLSA relevance P(rel|f) on class-mean tokens, then Inf-FS paths; class labels), ``ecfs``,
    ``sequential_attention`` (= OMP for regression), ``stg`` (hard-concrete L0 gates), ``gumbel_gates``.

    ``mrmr`` (Peng, Long & Ding 2005, IEEE TPAMI 27(8)) adds, greedily, the feature j maximising, over the set S
    already chosen, one of (``scheme=``):

    * ``"mid"`` (the default): ``I(j; c) - 1/|S| sum_{s in S} I(j; s)``;
    * ``"miq"``: ``I(j; c) / (1/|S| sum_{s in S} I(j; s))``;
    * ``"fcd"`` (also ``"difference"``): ``F(j, c) - 1/|S| sum_{s in S} |corr(j, s)|``;
    * ``"fcq"`` (also ``"quotient"``): ``F(j, c) / (1/|S| sum_{s in S} |corr(j, s)|)``.

    The MI terms are plug-in estimates on ``n_bins`` (default 5) equal-frequency states per feature (and per
    continuous target). The MI forms are the default because an F statistic grows with n while |corr| stays in
    [0, 1]: the F forms keep a near-copy of the best feature, the MI forms charge it ~ln(n_bins) of redundancy
    and pick an independent feature instead. Any other ``scheme`` raises.

    ``chi2`` of an all-zero column is 0/0: its score and p-value are NaN (as scikit-learn's), and NaN scores are
    ranked last, after every number, whichever way a method sorts.

    ``stability=B`` adds the mean pairwise Kuncheva index and Jaccard of the top-k sets over B bootstrap
    resamples (with standard errors) in ``result.stability``. Bad input (all-NaN or constant columns,
    y of the wrong length, k > d, continuous y for a class score) raises before any work starts.
    """
    return SelectionResult.from_record(rank_features(X, y, method, k=k, task=task, constant=constant,
                                                     feature_names=feature_names, stability=stability, seed=seed,
                                                     **params))


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


__all__ = ["METHODS", "FeatureSelector", "select"]
