"""Data (sample) selection: which rows of a dataset to keep, and the method's own evidence for that choice.

Six methods (seeds.md group D.4), each ``iter_<method>(...)`` validates everything when called and returns a
generator of partial :class:`SampleSelection` records (``progress`` in [0, 1]; the last one is the answer);
``<method>(...)`` drains it. :class:`SelectionAccumulator` is the drain used by both.

- :func:`k_center_greedy` — farthest-first traversal (Gonzalez 1985; the core-set of Sener & Savarese 2018):
  a 2-approximation of the minimax covering radius ``max_i min_{c in S} ‖x_i − x_c‖``.
- :func:`sensitivity_sampling` — k-means, then importance sampling with the sensitivity bound
  ``p_i = ½ d(x_i, C)^z / Φ + ½ / (K |C(i)|)`` and weights ``1 / (m p_i)`` (Bachem, Lucic & Krause 2018;
  Axiotis et al. 2024, "Data-efficient learning via clustering-based sensitivity sampling").
- :func:`hierarchical_kmeans_curation` — k-means on the data, k-means on the centroids, ..., then balanced
  sampling from the top of the tree down (Vo et al. 2024, "Automatic data curation for self-supervised
  learning: a clustering-based approach").
- :func:`dsir` — importance resampling on hashed n-gram features (Xie et al. 2023, "Data selection for
  language models via importance resampling"), with the KL reduction the paper reports.
- :func:`anchoral_subpool` — per-class anchors from the labelled set, the subpool = union of each anchor's
  nearest unlabelled neighbours (Lesci & Vlachos 2024, "AnchorAL").
- :func:`class_representatives` — per class, the rows nearest the class centroid, the medoids, or the rows
  nearest the centres of a per-class k-means (SelectNAdapt, Dayal et al. 2024).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from .kmeans import (balanced_allocation, kmeans, normalized_entropy, rows_per_chunk, sample_categorical,
                     sq_distances_to)
from .affinity import METRICS
from .knn import knn_search
from .memory import check_fits
from .drain import drain as run_to_end
from .validate import (as_indices, as_matrix, check_bool, check_choice, check_positive_float, check_positive_int,
                       check_seed)

METHODS = ("k_center", "sensitivity", "hierarchical_kmeans", "dsir", "anchoral", "class_representatives")


# ------------------------------------------------------------------------------------------------
# Record and drain
# ------------------------------------------------------------------------------------------------


@dataclass
class SampleSelection:
    """Selected rows and how they were chosen.

    ``indices``: int64 row indices (into ``X``, or into ``raw`` for DSIR), in the order the method chose them.
    ``weights``: one weight per selected row where the method is a weighted estimator (sensitivity sampling),
    else None. ``scores``: one value per row of the whole dataset that a view can colour by (the method's own
    score: distance to the selection, sampling probability, log importance weight, ...; NaN where a method has
    none), or None. ``groups``: one int64 group per row (cluster, class), or None. ``diagnostics``: the method's
    own evidence (covering radius, weighted-loss error, KL reduction, balance), plain numbers and lists.
    """

    indices: torch.Tensor
    method: str
    params: dict
    seed: int | None
    diagnostics: dict = field(default_factory=dict)
    weights: torch.Tensor | None = None
    scores: torch.Tensor | None = None
    groups: torch.Tensor | None = None
    progress: float = 1.0

    @property
    def k(self) -> int:
        return int(self.indices.numel())

    def numpy(self) -> np.ndarray:
        return self.indices.cpu().numpy()

    def to_dict(self) -> dict:
        out = {"method": self.method, "params": dict(self.params), "seed": self.seed,
               "indices": self.numpy(), "diagnostics": dict(self.diagnostics)}
        for name in ("weights", "scores", "groups"):
            v = getattr(self, name)
            out[name] = None if v is None else v.detach().cpu().numpy()
        return out

    def __repr__(self) -> str:
        return (f"SampleSelection(method={self.method!r}, k={self.k}, progress={self.progress:.2f}, "
                f"seed={self.seed}, params={self.params})")


class SelectionAccumulator:
    """Keeps the latest partial record; ``result()`` is the final one (every method's last record is whole)."""

    def __init__(self) -> None:
        self.latest: SampleSelection | None = None

    def add(self, item: SampleSelection) -> None:
        self.latest = item

    def result(self) -> SampleSelection:
        if self.latest is None or self.latest.progress < 1.0:
            done = 0.0 if self.latest is None else self.latest.progress
            raise RuntimeError(f"the selection is incomplete ({done:.0%} done)")
        return self.latest


def drain(steps: Iterable[SampleSelection]) -> SampleSelection:
    return run_to_end(steps, SelectionAccumulator())


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(check_seed(seed))


def _labels(y: Any, n: int, name: str) -> tuple[torch.Tensor, np.ndarray]:
    """Class labels as int64 codes (in sorted-class order) and the original classes."""
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {a.shape}")
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} labels but {n} are needed (one per row)")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name} has NaN or Inf labels")
    if a.dtype == object:
        a = a.astype(str)
    classes, codes = np.unique(a, return_inverse=True)
    return torch.as_tensor(codes.astype(np.int64)), classes


def _as_values(values: Any, name: str, n: int, why: str) -> torch.Tensor:
    """A 1-D float64 vector of ``n`` finite values (on the CPU)."""
    a = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    a = a.reshape(-1).astype(np.float64)
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} values but " + why.format(n=n))
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has NaN or Inf values")
    return torch.from_numpy(a)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# ------------------------------------------------------------------------------------------------
# k-center greedy
# ------------------------------------------------------------------------------------------------


#: Rows per k-center update tile: ~2 MiB, so the (rows x d) difference tile, rewritten at every pick, stays in
#: a core's L2 cache instead of travelling to memory and back (measured ~1.5x faster than 32 MiB tiles).
K_CENTER_TILE_BYTES = 2 * 2**20


def _update_min_dist(x: torch.Tensor, centre: torch.Tensor, min_d: torch.Tensor, step: int) -> None:
    for s in range(0, x.shape[0], step):
        e = min(x.shape[0], s + step)
        torch.minimum(min_d[s:e], torch.linalg.vector_norm(x[s:e] - centre, dim=1), out=min_d[s:e])


def _min_dist_to_set(x: torch.Tensor, centres: torch.Tensor, step: int) -> torch.Tensor:
    """Distance of every row to its nearest row of ``centres`` (blocks of centres, chunks of rows)."""
    out = torch.full((x.shape[0],), torch.inf, dtype=x.dtype, device=x.device)
    block = max(1, rows_per_chunk(x.shape[1], x.element_size()) // max(1, step))
    for c0 in range(0, centres.shape[0], block):
        _, d2 = sq_distances_to(x, centres[c0:c0 + block], step)
        torch.minimum(out, d2.sqrt(), out=out)
    return out


def iter_k_center(X, k: int, *, initial=None, first: int | None = None, metric: str = "euclidean", seed: int = 0,
                  chunk_size: int | None = None, report_every: int | None = None) -> Iterator[SampleSelection]:
    """Farthest-first traversal: repeatedly add the row farthest from everything chosen so far.

    The k centres cover every row within the covering radius ``r = max_i min_c ‖x_i − x_c‖``, at most twice the
    smallest radius any k centres achieve (Gonzalez 1985). Start: after the rows ``initial`` (e.g. the already
    labelled set, as in Sener & Savarese's core-set active learning) when given, else at row ``first``, else at
    a row drawn with ``seed``. ``metric='cosine'`` runs on unit rows and reports radii as cosine distances
    (1 − cos = ½‖a − b‖² for unit vectors, so the picks are the same as farthest-first in cosine distance).

    Memory is O(N + chunk_size d): one vector of each row's distance to the selection, updated chunk by chunk.
    ``diagnostics['radius_history'][t]`` is the covering radius after the first t + 1 picks (plus ``initial``).
    Ties between equally far rows go to the smallest row index.
    """
    x = as_matrix(X, "X")
    n, d = x.shape
    k = check_positive_int(k, "k", allow_none=False)
    metric = check_choice(metric, "metric", ("euclidean", "cosine"))
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    report_every = check_positive_int(report_every, "report_every")
    gen = _generator(seed)
    init = (as_indices(initial, "initial", n, allow_empty=True, device=x.device) if initial is not None
            else torch.empty(0, dtype=torch.int64, device=x.device))
    if first is not None:
        if init.numel():
            raise ValueError("give first or initial, not both: with an initial set the first pick is the row "
                             "farthest from it")
        if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or not 0 <= first < n:
            raise ValueError(f"first must be a row index in [0, {n - 1}], got {first!r}")
    if k > n - init.numel():
        raise ValueError(f"k={k} but only {n - init.numel()} rows are outside the initial set")
    if metric == "cosine":
        norms = torch.linalg.vector_norm(x, dim=1)
        if bool((norms == 0).any()):
            raise ValueError(f"X row {int((norms == 0).nonzero()[0])} is all zeros; metric='cosine' needs non-zero rows")
    step = chunk_size or max(1, K_CENTER_TILE_BYTES // (d * x.element_size()))
    check_fits(2 * n * x.element_size() + min(n, step) * d * x.element_size()
               + (n * x.element_size() if metric == "cosine" else 0), "k-center greedy", x.device)
    if first is None and not init.numel():
        first = int(torch.randint(n, (1,), generator=gen))
    every = report_every or max(1, k // 50)
    params = {"k": k, "metric": metric, "first": None if first is None else int(first),
              "n_initial": int(init.numel()), "chunk_size": step}
    return _k_center_steps(x, k, init, first, metric, step, every, params, seed)


def _k_center_steps(x, k, init, first, metric, step, every, params, seed) -> Iterator[SampleSelection]:
    if metric == "cosine":
        x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)

    def radius_of(max_d: float) -> float:
        return max_d * max_d / 2.0 if metric == "cosine" else max_d

    n = x.shape[0]
    if init.numel():
        min_d = _min_dist_to_set(x, x[init], step)
        min_d[init] = 0.0
    else:
        min_d = torch.full((n,), torch.inf, dtype=x.dtype, device=x.device)
    initial_radius = radius_of(float(min_d.max())) if init.numel() else None
    picks: list[int] = []
    radii: list[float] = []
    stopped = False

    def record(progress: float) -> SampleSelection:
        diag = {"radius": radii[-1] if radii else initial_radius, "radius_history": list(radii),
                "initial_radius": initial_radius, "n": n,
                "radius_unit": "cosine distance" if metric == "cosine" else "euclidean distance"}
        if stopped:
            diag["stopped_early"] = (f"every row is at distance 0 from the selection after {len(picks)} picks "
                                     "(duplicate rows); no further pick can lower the radius")
        scores = min_d * min_d / 2.0 if metric == "cosine" else min_d.clone()
        return SampleSelection(indices=torch.as_tensor(picks, dtype=torch.int64, device=x.device),
                               method="k_center", params=params, seed=seed, diagnostics=diag,
                               scores=scores, progress=progress)

    for t in range(k):
        if t == 0 and not init.numel():
            j = int(first)
        else:
            j = int(torch.argmax(min_d))
            if float(min_d[j]) <= 0.0:
                stopped = True
                break
        picks.append(j)
        _update_min_dist(x, x[j], min_d, step)
        min_d[j] = 0.0
        radii.append(radius_of(float(min_d.max())))
        if (t + 1) % every == 0 and t + 1 < k:
            yield record((t + 1) / k)
    yield record(1.0)


def k_center_greedy(X, k: int, **kwargs) -> SampleSelection:
    """Blocking form of :func:`iter_k_center` (same arguments)."""
    return drain(iter_k_center(X, k, **kwargs))


# ------------------------------------------------------------------------------------------------
# k-means sensitivity sampling
# ------------------------------------------------------------------------------------------------


def iter_sensitivity_sampling(X, k: int, *, n_clusters: int | None = None, power: int = 2, loss=None, seed: int = 0,
                              max_iter: int = 100, chunk_size: int | None = None) -> Iterator[SampleSelection]:
    """Importance sampling of ``k`` draws from a k-means solution, with weights that make sums unbiased.

    Sensitivity bound (Bachem, Lucic & Krause 2018; Axiotis et al. 2024): with K clusters, cost
    ``c_i = ‖x_i − centre(i)‖^z`` (z = ``power``), ``Φ = Σ c_i`` and cluster sizes ``|C(i)|``::

        p_i = ½ · c_i / Φ + ½ · 1 / (K |C(i)|)          (Σ p_i = 1)

    ``k`` rows are drawn i.i.d. from p; a row drawn ``n_i`` times gets weight ``w_i = n_i / (k p_i)``, so for any
    per-row value v, ``(1/N) Σ_selected w_i v_i`` is an unbiased estimate of the full mean ``(1/N) Σ_all v_i``.
    Guarantee (Axiotis et al. 2024): with ``k = K + 1/ε²`` draws, for a loss that is λ-Hölder in the embedding
    (``|ℓ(x) − ℓ(y)| ≤ λ‖x − y‖^z``) the weighted mean loss is within ``(1 ± ε)`` of the full mean loss plus
    ``ε λ Φ / N``, with constant probability. ``diagnostics`` gives ε, Φ/N, and the realised relative errors of
    the weighted k-means cost, the weighted mean of X, the weight sum and (when ``loss`` — one value per row —
    is given) the weighted mean loss, each with its standard error from the draws.

    ``n_clusters`` defaults to ⌈√k⌉ (so ε ≈ 1/√k). Rows are returned sorted, each once.
    """
    x = as_matrix(X, "X")
    n = x.shape[0]
    k = check_positive_int(k, "k", allow_none=False)
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=False)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if power not in (1, 2) or isinstance(power, bool):
        raise ValueError(f"power must be 1 (k-median cost) or 2 (k-means cost), got {power!r}")
    K = n_clusters if n_clusters is not None else max(1, math.ceil(math.sqrt(k)))
    if K > n:
        raise ValueError(f"n_clusters={K} is more than the {n} rows of X")
    loss_t = None if loss is None else _as_values(loss, "loss", n, "X has {n} rows; give one loss per row")
    gen = _generator(seed)
    check_fits(6 * n * 8 + K * x.shape[1] * x.element_size() * 3, "sensitivity sampling", x.device)
    params = {"k": k, "n_clusters": K, "power": power, "max_iter": max_iter}
    return _once(lambda: _sensitivity(x, k, K, power, loss_t, gen, seed, max_iter, chunk_size, params))


def _once(fn) -> Iterator[SampleSelection]:
    yield fn()


def _draw_stats(y: torch.Tensor, counts: torch.Tensor, m: int) -> tuple[float, float]:
    """Mean and standard error over m draws whose distinct values ``y`` occur ``counts`` times."""
    c = counts.double()
    mean = float((c * y).sum() / m)
    var = float((c * (y - mean) ** 2).sum() / max(1, m - 1))
    return mean, math.sqrt(var / m)


def _sensitivity(x, m, K, power, loss, gen, seed, max_iter, chunk_size, params) -> SampleSelection:
    n = x.shape[0]
    km = kmeans(x, K, seed=seed, max_iter=max_iter, chunk_size=chunk_size)
    dist = km.sq_distances.double().clamp_min(0)
    cost = dist if power == 2 else dist.sqrt()
    phi = float(cost.sum())
    sizes = km.sizes.double()
    k_eff = int((sizes > 0).sum())
    uniform = 1.0 / (k_eff * sizes[km.labels])
    p = 0.5 * cost / phi + 0.5 * uniform if phi > 0 else uniform
    p = p / p.sum()
    draws = sample_categorical(p, m, gen).to(x.device)
    idx, counts = torch.unique(draws, return_counts=True)
    p_sel = p[idx]
    weights = counts.double() / (m * p_sel)

    def estimate(values_sel: torch.Tensor, full: float) -> dict:
        est, se = _draw_stats(values_sel.double() / (n * p_sel), counts, m)
        rel = abs(est - full) / abs(full) if full != 0 else float("nan")
        return {"estimate": est, "full": full, "relative_error": rel, "se": se}

    eps = 1.0 / math.sqrt(m - k_eff) if m > k_eff else None
    xs = x[idx].double()
    mean_full = x.double().mean(0)
    mean_est = (weights[:, None] * xs).sum(0) / n
    spread = math.sqrt(float(((x.double() - mean_full) ** 2).sum(1).mean()))
    diag = {
        "n": n, "draws": m, "distinct_rows": int(idx.numel()), "n_clusters": k_eff,
        "kmeans_cost": phi, "kmeans_cost_mean": phi / n, "kmeans_iterations": km.iterations,
        "epsilon": eps,
        "guarantee": (f"with k = K + 1/eps^2 draws (K = {k_eff}, eps = {eps:.4g}), for a loss l that is "
                      f"lambda-Hoelder (|l(x) - l(y)| <= lambda ||x - y||^{power}) the weighted mean loss is within "
                      f"(1 +/- eps) of the full mean loss plus eps * lambda * {phi / n:.4g} (= eps lambda Phi/N), "
                      "with constant probability (Axiotis et al. 2024)") if eps is not None else
                     f"k = {m} draws is not more than K = {k_eff} clusters: no (1 +/- eps) statement applies",
        "weighted_cost": estimate(cost[idx], phi / n),
        "weight_sum_relative_error": abs(float(weights.sum()) - n) / n,
        "mean_error": float(torch.linalg.vector_norm(mean_est - mean_full)),
        "mean_error_relative_to_spread": float(torch.linalg.vector_norm(mean_est - mean_full)) / spread if spread else 0.0,
        "draw_counts": counts, "probabilities": p_sel,
    }
    if loss is not None:
        diag["weighted_loss"] = estimate(loss.to(x.device)[idx], float(loss.double().mean()))
    return SampleSelection(indices=idx, method="sensitivity", params=params, seed=seed, diagnostics=diag,
                           weights=weights.to(x.dtype), scores=p.to(x.dtype), groups=km.labels)


def weighted_estimate(values, selection: SampleSelection) -> tuple[float, float]:
    """The full-data mean of a per-row value estimated from its values at the selected rows only, and the
    standard error of that estimate: ``(1/N) Σ_selected w_i v_i`` for a sensitivity-sampling selection."""
    if selection.method != "sensitivity":
        raise ValueError(f"selection must come from sensitivity sampling, not {selection.method!r}")
    v = _as_values(values, "values", selection.k,
                   "the selection has {n} rows; give one value per selected row, in selection.indices order")
    d = selection.diagnostics
    p = d["probabilities"].double().cpu()
    return _draw_stats(v / (d["n"] * p), d["draw_counts"].cpu(), d["draws"])


# ------------------------------------------------------------------------------------------------
# Hierarchical k-means curation
# ------------------------------------------------------------------------------------------------


def _default_levels(n: int, k: int) -> tuple[int, ...]:
    base = max(2, min(n, k))
    top = max(2, round(math.sqrt(base)))
    return (base, top) if top < base else (base,)


def iter_hierarchical_kmeans_curation(X, k: int, *, n_clusters: Sequence[int] | None = None, sampling: str = "random",
                                      seed: int = 0, max_iter: int = 100,
                                      chunk_size: int | None = None) -> Iterator[SampleSelection]:
    """Balanced curation over a k-means hierarchy (Vo et al. 2024).

    Build: k-means with ``n_clusters[0]`` clusters on the rows, then k-means with ``n_clusters[1]`` on those
    centroids, and so on (each level coarser). Sample: the ``k`` picks are split as evenly as possible among the
    top-level clusters (a cluster with fewer rows than its share gives all it has and the rest is shared among
    the others), then recursively among each cluster's children, down to the base clusters, where rows are drawn
    uniformly (``sampling='random'``, the paper's choice) or taken nearest the centroid (``'closest'``). Dense
    regions of the data are thereby thinned and rare ones kept, which is the point of the method.

    Default ``n_clusters``: (min(N, k), round(√min(N, k))). ``groups`` holds each row's base cluster;
    ``diagnostics`` the cluster sizes, the picks per top-level cluster, and the normalised entropy (1 = even)
    of the data and of the selection over base and top-level clusters.
    """
    x = as_matrix(X, "X")
    n = x.shape[0]
    k = check_positive_int(k, "k", allow_none=False)
    sampling = check_choice(sampling, "sampling", ("random", "closest"))
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=False)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if k > n:
        raise ValueError(f"k={k} is more than the {n} rows of X")
    if n_clusters is None:
        levels = _default_levels(n, k)
    else:
        if isinstance(n_clusters, (int, np.integer)):
            n_clusters = (n_clusters,)
        levels = tuple(check_positive_int(c, "n_clusters", allow_none=False) for c in n_clusters)
        if not levels:
            raise ValueError("n_clusters is empty; give the number of clusters per level, finest first")
        if levels[0] > n:
            raise ValueError(f"n_clusters[0]={levels[0]} is more than the {n} rows of X")
        if any(b >= a for a, b in zip(levels, levels[1:])):
            raise ValueError(f"n_clusters must decrease level by level (finest first), got {levels}")
    gen = _generator(seed)
    check_fits(4 * n * 8 + levels[0] * x.shape[1] * x.element_size() * 3, "hierarchical k-means curation", x.device)
    params = {"k": k, "n_clusters": list(levels), "sampling": sampling, "max_iter": max_iter}
    return _hierarchical_steps(x, k, levels, sampling, gen, seed, max_iter, chunk_size, params)


def _hierarchical_steps(x, k, levels, sampling, gen, seed, max_iter, chunk_size, params) -> Iterator[SampleSelection]:
    n = x.shape[0]
    total = len(levels) + 1
    base = kmeans(x, levels[0], seed=seed, max_iter=max_iter, chunk_size=chunk_size)
    yield SampleSelection(indices=torch.empty(0, dtype=torch.int64, device=x.device), method="hierarchical_kmeans",
                          params=params, seed=seed, groups=base.labels, progress=1 / total,
                          diagnostics={"stage": "base level clustered"})
    parents: list[torch.Tensor] = []  # parents[l][c] = cluster at level l+1 of cluster c at level l
    centres = base.centres
    counts = [base.sizes.cpu()]
    for li, kc in enumerate(levels[1:], start=1):
        kc = min(kc, centres.shape[0])
        km = kmeans(centres, kc, seed=seed + li, max_iter=max_iter, chunk_size=chunk_size)
        parents.append(km.labels.cpu())
        counts.append(torch.zeros(km.centres.shape[0], dtype=torch.int64).index_add_(0, km.labels.cpu(), counts[-1]))
        centres = km.centres
        yield SampleSelection(indices=torch.empty(0, dtype=torch.int64, device=x.device), method="hierarchical_kmeans",
                              params=params, seed=seed, groups=base.labels, progress=(li + 1) / total,
                              diagnostics={"stage": f"level {li} clustered"})
    # top-down balanced allocation
    alloc = balanced_allocation(k, counts[-1], gen)
    for level in range(len(parents) - 1, -1, -1):
        child_alloc = torch.zeros_like(counts[level])
        par = parents[level]
        for p in alloc.nonzero().flatten().tolist():
            children = (par == p).nonzero().flatten()
            child_alloc[children] = balanced_allocation(int(alloc[p]), counts[level][children], gen)
        alloc = child_alloc
    # draw rows in the base clusters
    labels = base.labels
    order = torch.argsort(labels.cpu(), stable=True)
    starts = torch.cumsum(counts[0], 0) - counts[0]
    picks = []
    d2 = base.sq_distances.cpu()
    for c in alloc.nonzero().flatten().tolist():
        members = order[int(starts[c]):int(starts[c]) + int(counts[0][c])]
        b = int(alloc[c])
        if sampling == "random":
            chosen = members[torch.randperm(members.numel(), generator=gen)[:b]]
        else:
            chosen = members[torch.topk(d2[members], b, largest=False).indices]
        picks.append(chosen)
    idx = torch.cat(picks).to(x.device) if picks else torch.empty(0, dtype=torch.int64, device=x.device)
    top_of_base = torch.arange(levels[0])
    for par in parents:
        top_of_base = par[top_of_base]
    sel_base = torch.bincount(labels[idx].cpu(), minlength=counts[0].numel())
    sel_top = torch.bincount(top_of_base[labels[idx].cpu()], minlength=counts[-1].numel())
    diag = {
        "n": n, "levels": [int(c.numel()) for c in counts],
        "cluster_sizes": [c.tolist() for c in counts],
        "selected_per_top_cluster": sel_top.tolist(), "rows_per_top_cluster": counts[-1].tolist(),
        "entropy_data_base": normalized_entropy(counts[0]), "entropy_selected_base": normalized_entropy(sel_base),
        "entropy_data_top": normalized_entropy(counts[-1]), "entropy_selected_top": normalized_entropy(sel_top),
        "base_inertia": base.inertia,
    }
    yield SampleSelection(indices=idx, method="hierarchical_kmeans", params=params, seed=seed, diagnostics=diag,
                          groups=labels, progress=1.0)


def hierarchical_kmeans_curation(X, k: int, **kwargs) -> SampleSelection:
    """Blocking form of :func:`iter_hierarchical_kmeans_curation` (same arguments)."""
    return drain(iter_hierarchical_kmeans_curation(X, k, **kwargs))


# ------------------------------------------------------------------------------------------------
# DSIR
# ------------------------------------------------------------------------------------------------

#: NLTK's WordPunctTokenizer pattern: runs of word characters, or runs of other non-space characters.
WORD_PUNCT = re.compile(r"\w+|[^\w\s]+")

#: Texts hashed between two progress reports.
DSIR_TEXTS_PER_STEP = 5_000

#: Distinct n-grams whose bucket is remembered; the cache is cleared when it grows past this (a few hundred MB
#: at most), trading a re-hash for bounded memory on a huge vocabulary.
DSIR_CACHE_LIMIT = 2_000_000


def hash_bucket(ngram: str, n_buckets: int) -> int:
    """The bucket of one n-gram: SHA-256 of its UTF-8 bytes as an integer, mod ``n_buckets`` (as the DSIR
    reference code does, so buckets are the same in every process, unlike Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(ngram.encode("utf-8")).digest(), "big") % n_buckets


def ngram_features(text: str, n_buckets: int = 10_000, ngrams: int = 2,
                   cache: dict | None = None) -> dict[int, int]:
    """Hashed n-gram counts of one text: lower-cased word/punctuation tokens, all 1..``ngrams``-grams (joined by
    spaces), each counted in bucket ``hash_bucket(gram)``. Returns {bucket: count}."""
    tokens = WORD_PUNCT.findall(text.lower())
    out: dict[int, int] = {}
    for order in range(1, ngrams + 1):
        for i in range(len(tokens) - order + 1):
            g = tokens[i] if order == 1 else " ".join(tokens[i:i + order])
            b = cache.get(g) if cache is not None else None
            if b is None:
                b = hash_bucket(g, n_buckets)
                if cache is not None:
                    if len(cache) >= DSIR_CACHE_LIMIT:
                        cache.clear()
                    cache[g] = b
            out[b] = out.get(b, 0) + 1
    return out


def _is_texts(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return x.ndim == 1 and x.dtype.kind in "UO" and x.size > 0 and isinstance(x.flat[0], str)
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], str)


def _check_texts(x: Any, name: str) -> list[str]:
    if isinstance(x, str):
        raise TypeError(f"{name} must be a list of texts, not one string")
    x = list(x)
    if not x:
        raise ValueError(f"{name} is empty")
    for i, t in enumerate(x):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, not str; give texts, or a count matrix for both "
                            "raw and target")
    return x


@dataclass
class BucketCounts:
    """Per-example bucket counts: sparse triplets (hashed texts) or a dense (examples x buckets) matrix."""

    n: int
    n_buckets: int
    rows: torch.Tensor | None = None
    cols: torch.Tensor | None = None
    vals: torch.Tensor | None = None
    dense: torch.Tensor | None = None

    def dot(self, v: torch.Tensor) -> torch.Tensor:
        """Per example ``Σ_j z_ij v_j``."""
        if self.dense is not None:
            return self.dense @ v
        return torch.zeros(self.n, dtype=v.dtype, device=v.device).index_add_(0, self.rows, self.vals * v[self.cols])

    def rows_sum(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Bucket counts summed over the examples ``idx`` (all when None)."""
        if self.dense is not None:
            return self.dense.sum(0) if idx is None else self.dense[idx].sum(0)
        if idx is None:
            keep = slice(None)
        else:
            mask = torch.zeros(self.n, dtype=torch.bool, device=self.rows.device)
            mask[idx] = True
            keep = mask[self.rows]
        return torch.zeros(self.n_buckets, dtype=self.vals.dtype, device=self.vals.device).index_add_(
            0, self.cols[keep], self.vals[keep])


def hash_texts(texts: Sequence[str], n_buckets: int = 10_000, ngrams: int = 2, *, cache: dict | None = None,
               start: int = 0, stop: int | None = None) -> tuple[list[int], list[int], list[int]]:
    """Row, bucket and count triplets of :func:`ngram_features` for ``texts[start:stop]`` (rows count from 0)."""
    cache = {} if cache is None else cache
    stop = len(texts) if stop is None else stop
    rows: list[int] = []
    cols: list[int] = []
    vals: list[int] = []
    for r in range(start, stop):
        feats = ngram_features(texts[r], n_buckets, ngrams, cache)
        rows.extend([r - start] * len(feats))
        cols.extend(feats.keys())
        vals.extend(feats.values())
    return rows, cols, vals


def _kl(p: torch.Tensor, q: torch.Tensor, smoothing: float) -> float:
    """KL(p‖q) over buckets, with both log-probabilities smoothed by ``smoothing`` as DSIR's log ratio is."""
    keep = p > 0
    return float((p[keep] * (torch.log(p[keep] + smoothing) - torch.log(q[keep] + smoothing))).sum())


def hash_here(texts: Sequence[str], n_buckets: int, ngrams: int) -> Iterator[tuple[int, int, tuple]]:
    """Hash ``texts`` on this thread, ``DSIR_TEXTS_PER_STEP`` at a time: ``(start, stop, (rows, buckets, counts))``
    per block, rows counted from the block's start (the shape an engine's hasher yields, in any order)."""
    cache: dict = {}
    for s in range(0, len(texts), DSIR_TEXTS_PER_STEP):
        e = min(len(texts), s + DSIR_TEXTS_PER_STEP)
        yield s, e, hash_texts(texts, n_buckets, ngrams, cache=cache, start=s, stop=e)


def iter_dsir(raw, target, k: int, *, n_buckets: int = 10_000, ngrams: int = 2, seed: int = 0, top_k: bool = False,
              smoothing: float = 1e-8, hasher: Any = None) -> Iterator[SampleSelection]:
    """Data selection with importance resampling (Xie et al. 2023).

    Features: every text becomes hashed n-gram counts z (lower-cased word/punctuation tokens; unigrams and
    bigrams by default; ``n_buckets`` buckets; see :func:`ngram_features`), or ``raw`` and ``target`` are given
    as count matrices already (rows = examples, columns = buckets). Models: bag-of-ngrams distributions over
    buckets, ``p_target = Σ_target z / total`` and ``p_raw`` likewise. Importance weight of raw example i::

        log w_i = Σ_j z_ij (log(p_target,j + δ) − log(p_raw,j + δ))     (δ = ``smoothing``, 1e-8 as in DSIR)

    Selection: the ``k`` largest ``log w_i + G_i`` with i.i.d. Gumbel(0, 1) noise G (seeded), which samples k
    examples without replacement with probability ∝ w (the Gumbel top-k trick); ``top_k=True`` drops the noise.
    KL reduction (the paper's data metric): ``KL(p_target ‖ p_raw) − KL(p_target ‖ p_selected)`` on the same
    bucket distributions (random selection has the raw distribution in expectation); also reported against one
    seeded uniform random subset of the same size. ``scores`` are the log importance weights of all raw rows.

    ``hasher(texts, n_buckets, ngrams)``: where the texts are hashed, the per-text work (default
    :func:`hash_here`; an engine's hasher runs blocks on workers and yields them as they finish). Blocks are put
    back in row order, so the counts, weights and selection are the same wherever the texts were hashed.
    """
    k = check_positive_int(k, "k", allow_none=False)
    n_buckets = check_positive_int(n_buckets, "n_buckets", allow_none=False)
    ngrams = check_positive_int(ngrams, "ngrams", allow_none=False)
    smoothing = check_positive_float(smoothing, "smoothing", allow_none=False)
    top_k = check_bool(top_k, "top_k")
    gen = _generator(seed)
    texts = _is_texts(raw) or isinstance(raw, str)
    if hasher is not None and not texts and not _is_texts(target):
        raise ValueError("engine: DSIR on count matrices is one matrix-vector product, done here; an engine hashes "
                         "texts (give raw and target as lists of texts, or drop engine=)")
    if texts:
        raw_texts = _check_texts(raw, "raw")
        if not (_is_texts(target) or isinstance(target, str)):
            raise TypeError("target must be a list of texts like raw (or give both as count matrices)")
        target_texts = _check_texts(target, "target")
        n = len(raw_texts)
        device = torch.device("cpu")
    else:
        if _is_texts(target):
            raise TypeError("raw is a count matrix but target is texts; give both as texts or both as counts")
        z_raw = as_matrix(raw, "raw")
        z_target = as_matrix(target, "target", device=z_raw.device)
        for name, z in (("raw", z_raw), ("target", z_target)):
            if bool((z < 0).any()):
                raise ValueError(f"{name} has negative counts; n-gram counts are non-negative")
        if z_raw.shape[1] != z_target.shape[1]:
            raise ValueError(f"raw has {z_raw.shape[1]} buckets (columns) but target has {z_target.shape[1]}")
        n = z_raw.shape[0]
        n_buckets = z_raw.shape[1]
        device = z_raw.device
    if k > n:
        raise ValueError(f"k={k} is more than the {n} raw examples")
    check_fits(8 * (4 * n + 4 * n_buckets), "DSIR", device)
    params = {"k": k, "n_buckets": n_buckets, "ngrams": ngrams if texts else None, "top_k": top_k,
              "smoothing": smoothing, "features": "hashed n-grams" if texts else "given counts"}
    if texts:
        return _dsir_text_steps(raw_texts, target_texts, k, n_buckets, ngrams, gen, seed, top_k, smoothing, params,
                                hasher or hash_here)
    raw_counts = BucketCounts(n, n_buckets, dense=z_raw.double())
    return _once(lambda: _dsir_select(raw_counts, z_target.double().sum(0), k, gen, seed, top_k, smoothing,
                                      params, {}))


def _dsir_text_steps(raw_texts, target_texts, k, n_buckets, ngrams, gen, seed, top_k, smoothing, params, hasher):
    n = len(raw_texts)
    t_cols: list = []
    t_vals: list = []
    for _s, _e, (_r, c, v) in sorted(hasher(target_texts, n_buckets, ngrams), key=lambda block: block[0]):
        t_cols.extend(c)
        t_vals.extend(v)
    target_counts = torch.zeros(n_buckets, dtype=torch.float64).index_add_(
        0, torch.as_tensor(t_cols, dtype=torch.int64), torch.as_tensor(t_vals, dtype=torch.float64))
    blocks: dict = {}
    done = 0
    for s, e, triplets in hasher(raw_texts, n_buckets, ngrams):
        blocks[s] = triplets
        done += e - s
        if done < n:
            yield SampleSelection(indices=torch.empty(0, dtype=torch.int64), method="dsir", params=params, seed=seed,
                                  diagnostics={"stage": f"hashed {done} of {n} raw texts"}, progress=0.95 * done / n)
    rows: list = []
    cols: list = []
    vals: list = []
    for s in sorted(blocks):  # row order, whatever order the blocks finished in
        r, c, v = blocks[s]
        rows.extend(x + s for x in r)
        cols.extend(c)
        vals.extend(v)
    counts = BucketCounts(n, n_buckets, rows=torch.as_tensor(rows, dtype=torch.int64),
                          cols=torch.as_tensor(cols, dtype=torch.int64), vals=torch.as_tensor(vals, dtype=torch.float64))
    extra = {"raw_ngrams": int(sum(vals)), "target_ngrams": int(target_counts.sum())}
    yield _dsir_select(counts, target_counts, k, gen, seed, top_k, smoothing, params, extra)


def _dsir_select(z: BucketCounts, target_counts, k, gen, seed, top_k, smoothing, params, extra) -> SampleSelection:
    n = z.n
    raw_counts = z.rows_sum()
    if float(target_counts.sum()) <= 0:
        raise ValueError("target has no n-grams (every text empty, or all counts zero)")
    if float(raw_counts.sum()) <= 0:
        raise ValueError("raw has no n-grams (every text empty, or all counts zero)")
    p_raw = raw_counts / raw_counts.sum()
    p_target = target_counts.to(p_raw.device) / target_counts.sum()
    log_diff = torch.log(p_target + smoothing) - torch.log(p_raw + smoothing)
    log_w = z.dot(log_diff)
    if top_k:
        keys = log_w
    else:
        u = torch.rand(n, generator=gen, dtype=torch.float64).clamp_(1e-300, 1.0).to(log_w.device)
        keys = log_w - torch.log(-torch.log(u))  # + Gumbel(0, 1) noise
    idx = torch.topk(keys, k).indices
    rand_idx = torch.randperm(n, generator=gen)[:k].to(log_w.device)
    sel_counts = z.rows_sum(idx)
    rand_counts = z.rows_sum(rand_idx)
    p_sel = sel_counts / sel_counts.sum().clamp_min(1e-300)
    p_rand = rand_counts / rand_counts.sum().clamp_min(1e-300)
    kl_raw = _kl(p_target, p_raw, smoothing)
    kl_sel = _kl(p_target, p_sel, smoothing)
    kl_rand = _kl(p_target, p_rand, smoothing)
    diag = {"n": n, "kl_target_raw": kl_raw, "kl_target_selected": kl_sel, "kl_reduction": kl_raw - kl_sel,
            "kl_target_random_subset": kl_rand, "kl_reduction_vs_random_subset": kl_rand - kl_sel,
            "log_weight_range": [float(log_w.min()), float(log_w.max())], **extra}
    return SampleSelection(indices=idx, method="dsir", params=params, seed=None if top_k else seed, diagnostics=diag,
                           scores=log_w)


def dsir(raw, target, k: int, **kwargs) -> SampleSelection:
    """Blocking form of :func:`iter_dsir` (same arguments)."""
    return drain(iter_dsir(raw, target, k, **kwargs))


# ------------------------------------------------------------------------------------------------
# AnchorAL
# ------------------------------------------------------------------------------------------------


def iter_anchoral_subpool(X, labelled, y, *, n_anchors: int = 10, n_neighbours: int = 50,
                          anchor_strategy: str = "kmeans", metric: str = "cosine", seed: int = 0,
                          chunk_size: int | None = None) -> Iterator[SampleSelection]:
    """The AnchorAL subpool (Lesci & Vlachos 2024): a small, class-balanced part of the unlabelled pool on which
    any active-learning strategy then runs.

    ``labelled``: row indices of the labelled set; ``y``: their labels (one per labelled row). Per class, up to
    ``n_anchors`` anchors are chosen among its labelled rows — the labelled rows nearest the centres of a k-means
    on the class (``anchor_strategy='kmeans'``) or drawn at random (``'random'``). Each anchor retrieves its
    ``n_neighbours`` most similar unlabelled rows (``metric``, cosine by default, via :func:`fxwidgets.knn`);
    the subpool is the union. Re-run with a new ``seed`` each round to refresh the anchors, as the paper does.

    ``indices``: the subpool, most similar to an anchor first. ``scores``: each subpool row's best similarity
    to an anchor (NaN outside the subpool); ``groups``: the class code (index into ``diagnostics['classes']``)
    of that anchor (−1 outside). ``diagnostics``: anchors (row indices) and their classes, subpool size and
    share of the pool, and subpool rows per class.
    """
    x = as_matrix(X, "X")
    n = x.shape[0]
    lab = as_indices(labelled, "labelled", n, device=x.device)
    codes, classes = _labels(y, lab.numel(), "y")
    n_anchors = check_positive_int(n_anchors, "n_anchors", allow_none=False)
    n_neighbours = check_positive_int(n_neighbours, "n_neighbours", allow_none=False)
    anchor_strategy = check_choice(anchor_strategy, "anchor_strategy", ("kmeans", "random"))
    metric = check_choice(metric, "metric", METRICS)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    gen = _generator(seed)
    mask = torch.ones(n, dtype=torch.bool, device=x.device)
    mask[lab] = False
    pool = mask.nonzero().flatten()
    if pool.numel() == 0:
        raise ValueError("labelled covers every row of X; there is no unlabelled pool to draw a subpool from")
    m = min(n_neighbours, int(pool.numel()))
    n_anchor_max = len(classes) * n_anchors
    check_fits(n_anchor_max * (m * 16 + pool.numel() * x.element_size()) + 4 * n * 8, "AnchorAL subpool", x.device)
    params = {"n_anchors": n_anchors, "n_neighbours": m, "anchor_strategy": anchor_strategy, "metric": metric,
              "n_labelled": int(lab.numel())}
    return _once(lambda: _anchoral(x, lab, codes.to(x.device), classes, pool, n_anchors, m, anchor_strategy, metric,
                                   gen, seed, chunk_size, params))


def _anchoral(x, lab, codes, classes, pool, n_anchors, m, strategy, metric, gen, seed, chunk_size, params):
    n = x.shape[0]
    anchors, anchor_class = [], []
    for c in range(len(classes)):
        members = lab[codes == c]
        if members.numel() <= n_anchors:
            chosen = members
        elif strategy == "random":
            chosen = members[torch.randperm(members.numel(), generator=gen)[:n_anchors].to(x.device)]
        else:
            km = kmeans(x[members], n_anchors, seed=seed + c, chunk_size=chunk_size)
            nearest, _ = sq_distances_to(km.centres, x[members], chunk_size)
            chosen = members[torch.unique(nearest)]
        anchors.append(chosen)
        anchor_class.append(torch.full((chosen.numel(),), c, dtype=torch.int64, device=x.device))
    anchors_t = torch.cat(anchors)
    anchor_class_t = torch.cat(anchor_class)
    nn = knn_search(x[anchors_t], m, metric, Y=x[pool], chunk_size=chunk_size)
    hit = torch.unique(nn.indices.reshape(-1))  # positions in the pool
    # each subpool row's most similar anchor overall (not only among the anchors that retrieved it)
    best = knn_search(x[pool[hit]], 1, metric, Y=x[anchors_t], chunk_size=chunk_size)
    best_sim, best_owner = best.values[:, 0], anchor_class_t[best.indices[:, 0]]
    order = torch.argsort(best_sim, descending=True, stable=True)
    hit, best_sim, best_owner = hit[order], best_sim[order], best_owner[order]
    indices = pool[hit]
    scores = torch.full((n,), float("nan"), dtype=best_sim.dtype, device=x.device)
    scores[indices] = best_sim
    groups = torch.full((n,), -1, dtype=torch.int64, device=x.device)
    groups[indices] = best_owner
    per_class = torch.bincount(best_owner, minlength=len(classes))
    diag = {"classes": [_plain(c) for c in classes.tolist()], "anchors": anchors_t,
            "anchor_classes": anchor_class_t, "anchors_per_class": [int(a.numel()) for a in anchors],
            "subpool_size": int(indices.numel()), "pool_size": int(pool.numel()),
            "subpool_share_of_pool": int(indices.numel()) / int(pool.numel()),
            "subpool_per_class": per_class.tolist()}
    return SampleSelection(indices=indices, method="anchoral", params=params, seed=seed, diagnostics=diag,
                           scores=scores, groups=groups)


def anchoral_subpool(X, labelled, y, **kwargs) -> SampleSelection:
    """Blocking form of :func:`iter_anchoral_subpool` (same arguments)."""
    return drain(iter_anchoral_subpool(X, labelled, y, **kwargs))


# ------------------------------------------------------------------------------------------------
# Per-class representatives
# ------------------------------------------------------------------------------------------------


def iter_class_representatives(X, y, k: int = 1, *, how: str = "centroid", seed: int = 0, max_iter: int = 100,
                               chunk_size: int | None = None) -> Iterator[SampleSelection]:
    """``k`` representative rows per class (fewer when a class has fewer rows).

    ``how='centroid'``: the k rows nearest the class mean (Euclidean). ``'medoid'``: the k rows with the smallest
    sum of Euclidean distances to the rest of their class (the medoid first). ``'kmeans'``: a k-means with k
    clusters per class, and the row nearest each centre (SelectNAdapt, Dayal et al. 2024, picks a support set
    this way from pseudo-labelled target features). ``scores``: every row's distance to its class mean;
    ``groups``: class codes (index into ``diagnostics['classes']``). Indices are grouped by class.
    """
    x = as_matrix(X, "X")
    n = x.shape[0]
    codes, classes = _labels(y, n, "y")
    codes = codes.to(x.device)
    k = check_positive_int(k, "k", allow_none=False)
    how = check_choice(how, "how", ("centroid", "medoid", "kmeans"))
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=False)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if how == "medoid":
        largest = int(torch.bincount(codes).max())
        step = rows_per_chunk(largest, x.element_size(), chunk_size)
        check_fits(2 * min(step, largest) * largest * x.element_size() + 4 * n * 8, "medoids", x.device)
    else:
        check_fits(4 * n * 8 + n * x.element_size(), "class representatives", x.device)
    params = {"k": k, "how": how, "max_iter": max_iter}
    return _once(lambda: _representatives(x, codes, classes, k, how, seed, max_iter, chunk_size, params))


def _medoid_cost(xc: torch.Tensor, chunk_size: int | None) -> torch.Tensor:
    m = xc.shape[0]
    step = rows_per_chunk(m, xc.element_size(), chunk_size)
    out = torch.empty(m, dtype=torch.float64, device=xc.device)
    for s in range(0, m, step):
        out[s:s + step] = torch.cdist(xc[s:s + step], xc, compute_mode="donot_use_mm_for_euclid_dist").double().sum(1)
    return out


def _representatives(x, codes, classes, k, how, seed, max_iter, chunk_size, params) -> SampleSelection:
    n = x.shape[0]
    picks = []
    dist_to_mean = torch.empty(n, dtype=x.dtype, device=x.device)
    per_class = []
    for c in range(len(classes)):
        members = (codes == c).nonzero().flatten()
        xc = x[members]
        mean = xc.mean(0)
        dm = torch.linalg.vector_norm(xc - mean, dim=1)
        dist_to_mean[members] = dm
        kc = min(k, members.numel())
        if how == "centroid":
            chosen = torch.topk(dm, kc, largest=False).indices
        elif how == "medoid":
            chosen = torch.topk(_medoid_cost(xc, chunk_size), kc, largest=False).indices
        else:
            km = kmeans(xc, kc, seed=seed + c, max_iter=max_iter, chunk_size=chunk_size)
            nearest, _ = sq_distances_to(km.centres, xc, chunk_size)
            chosen = torch.unique(nearest)
        picks.append(members[chosen])
        per_class.append({"class": _plain(classes[c]), "size": int(members.numel()), "picked": int(chosen.numel()),
                          "mean_distance_to_centroid_picked": float(dm[chosen].mean()),
                          "mean_distance_to_centroid_all": float(dm.mean())})
    idx = torch.cat(picks)
    diag = {"classes": [_plain(c) for c in classes.tolist()], "per_class": per_class}
    return SampleSelection(indices=idx, method="class_representatives", params=params,
                           seed=seed if how == "kmeans" else None, diagnostics=diag, scores=dist_to_mean, groups=codes)


def class_representatives(X, y, k: int = 1, **kwargs) -> SampleSelection:
    """Blocking form of :func:`iter_class_representatives` (same arguments)."""
    return drain(iter_class_representatives(X, y, k, **kwargs))


def sensitivity_sampling(X, k: int, **kwargs) -> SampleSelection:
    """Blocking form of :func:`iter_sensitivity_sampling` (same arguments)."""
    return drain(iter_sensitivity_sampling(X, k, **kwargs))
