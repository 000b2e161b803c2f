"""How far apart two datasets are, seen through their embeddings (rows = examples, columns = features).

- :func:`frechet_distance` — the Fréchet (2-Wasserstein) distance between the Gaussians fitted to each set,
  ``‖μ_A − μ_B‖² + Tr(Σ_A + Σ_B − 2 (Σ_A Σ_B)^{1/2})`` (FID's formula; the CSI of the atomic-property data
  selection paper), in float64.
- :func:`mmd2` — the unbiased squared Maximum Mean Discrepancy with an RBF kernel (Gretton et al. 2012,
  JMLR, Lemma 6), median-heuristic bandwidth by default, in row tiles.
- :func:`sinkhorn_divergence` — the debiased entropic optimal-transport divergence
  ``S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β)`` (Genevay et al. 2018; Feydy et al. 2019), log-domain
  Sinkhorn iterations with ε-scaling, streamed.
- :func:`activation_histograms` — per-feature ("per-neuron") histograms of two sets on shared bin edges and a
  per-feature distance (Visual DNA, Ramtoula et al. 2023).
- :func:`pair_score_histograms` — histograms of positive-pair and negative-pair similarity scores, per training
  checkpoint (Zhu et al. 2021, "Improving contrastive learning by visualizing feature transformation").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from .kmeans import rows_per_chunk
from .memory import TILE_BYTES, check_fits
from .drain import drain as run_to_end
from .validate import as_indices, as_matrix, check_choice, check_positive_float, check_positive_int, check_seed

MEASURES = ("frechet", "mmd2", "sinkhorn")
HISTOGRAM_DISTANCES = ("wasserstein", "total_variation", "kl")

#: Rows of the pooled sample on which the median heuristic (and Sinkhorn's default ε) is measured: the median
#: of ~500 000 pairwise distances is stable to about a percent, and costs nothing next to the estimate itself.
MEDIAN_SAMPLE_ROWS = 1000


# ------------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------------


@dataclass
class DatasetDistance:
    """A distance between two sets and how it was computed. ``se`` is the standard error where the estimator has
    one (MMD²). Partial records (``progress`` < 1) carry the running value, or NaN before there is one."""

    value: float
    measure: str
    params: dict
    seed: int | None = None
    diagnostics: dict = field(default_factory=dict)
    se: float | None = None
    progress: float = 1.0

    def to_dict(self) -> dict:
        return {"measure": self.measure, "value": self.value, "se": self.se, "params": dict(self.params),
                "seed": self.seed, "diagnostics": dict(self.diagnostics)}

    def __repr__(self) -> str:
        se = f" ± {self.se:.3g}" if self.se is not None else ""
        return f"DatasetDistance({self.measure}={self.value:.6g}{se}, params={self.params})"


class LatestAccumulator:
    """Keeps the latest partial record; ``result()`` is the final one."""

    def __init__(self) -> None:
        self.latest = None

    def add(self, item) -> None:
        self.latest = item

    def result(self):
        if self.latest is None or self.latest.progress < 1.0:
            done = 0.0 if self.latest is None else self.latest.progress
            raise RuntimeError(f"the computation is incomplete ({done:.0%} done)")
        return self.latest


def drain(steps: Iterable):
    return run_to_end(steps, LatestAccumulator())


def _pair(A, B, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    a = as_matrix(A, "A")
    b = as_matrix(B, "B", device=a.device)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"A has {a.shape[1]} features per row but B has {b.shape[1]}; {what} needs the same features")
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype)


def _once(fn) -> Iterator:
    yield fn()


def _sq_dist_tile(x: torch.Tensor, y: torch.Tensor, x_sq: torch.Tensor, y_sq: torch.Tensor) -> torch.Tensor:
    return (x_sq[:, None] + y_sq[None, :] - 2.0 * (x @ y.T)).clamp_min_(0)


def median_pairwise_distance(a: torch.Tensor, b: torch.Tensor, seed: int) -> float:
    """Median Euclidean distance between distinct rows of a seeded subsample of the pooled rows of a and b."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    m = a.shape[0]
    take = torch.randperm(m + b.shape[0], generator=gen)[:MEDIAN_SAMPLE_ROWS].to(a.device)
    pooled = torch.cat([a[take[take < m]], b[take[take >= m] - m]]).double()
    d = torch.cdist(pooled, pooled)
    iu = torch.triu_indices(d.shape[0], d.shape[0], 1, device=d.device)
    return float(d[iu[0], iu[1]].median())


# ------------------------------------------------------------------------------------------------
# Fréchet distance
# ------------------------------------------------------------------------------------------------


def mean_and_covariance(x: torch.Tensor, chunk_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased (n − 1) covariance in float64, over row chunks, with the first chunk's mean as a shift
    so that a large common offset does not cancel away the covariance's digits."""
    n, d = x.shape
    step = rows_per_chunk(d, 8, chunk_size)
    shift = x[:min(n, step)].double().mean(0)
    sums = torch.zeros(d, dtype=torch.float64, device=x.device)
    gram = torch.zeros(d, d, dtype=torch.float64, device=x.device)
    for s in range(0, n, step):
        xs = x[s:s + step].double() - shift
        sums += xs.sum(0)
        gram += xs.T @ xs
    m = sums / n
    cov = (gram - n * torch.outer(m, m)) / (n - 1)
    return m + shift, (cov + cov.T) / 2


def trace_sqrt_product(s1: torch.Tensor, s2: torch.Tensor) -> float:
    """Tr((Σ₁ Σ₂)^{1/2}) for symmetric PSD Σ₁, Σ₂: the eigenvalues of Σ₁Σ₂ equal those of the symmetric PSD
    matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}, so the trace is the sum of the square roots of its (clamped) eigenvalues — two
    symmetric eigendecompositions, no non-symmetric matrix square root and no complex round-off."""
    w, v = torch.linalg.eigh(s1)
    root = (v * w.clamp_min(0).sqrt()) @ v.T
    m = root @ s2 @ root
    return float(torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum())


def iter_frechet_distance(A, B, *, chunk_size: int | None = None) -> Iterator[DatasetDistance]:
    """Squared Fréchet distance between Gaussians fitted to A and B (each at least 2 rows), as FID reports it:
    ``‖μ_A − μ_B‖² + Tr(Σ_A) + Tr(Σ_B) − 2 Tr((Σ_A Σ_B)^{1/2})`` with unbiased covariances, in float64.

    Deterministic given the sets (no seed, no standard error; like FID it is biased upward for small sets).
    ``diagnostics``: the mean term and the covariance term separately.
    """
    a, b = _pair(A, B, "the Fréchet distance")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    for name, t in (("A", a), ("B", b)):
        if t.shape[0] < 2:
            raise ValueError(f"{name} has {t.shape[0]} row; a covariance needs at least 2")
    d = a.shape[1]
    check_fits(8 * d * d * 8 + 2 * rows_per_chunk(d, 8, chunk_size) * d * 8, "Fréchet distance (d x d covariances)",
               a.device)
    return _once(lambda: _frechet(a, b, chunk_size))


def _frechet(a: torch.Tensor, b: torch.Tensor, chunk_size: int | None) -> DatasetDistance:
    mu_a, cov_a = mean_and_covariance(a, chunk_size)
    mu_b, cov_b = mean_and_covariance(b, chunk_size)
    mean_term = float(((mu_a - mu_b) ** 2).sum())
    tr_sqrt = trace_sqrt_product(cov_a, cov_b)
    cov_term = float(torch.trace(cov_a) + torch.trace(cov_b)) - 2.0 * tr_sqrt
    value = mean_term + cov_term
    return DatasetDistance(value=max(0.0, value), measure="frechet", params={"chunk_size": chunk_size},
                           diagnostics={"mean_term": mean_term, "covariance_term": cov_term,
                                        "trace_sqrt_product": tr_sqrt, "n_a": a.shape[0], "n_b": b.shape[0],
                                        "features": a.shape[1], "raw_value": value})


def frechet_distance(A, B, **kwargs) -> DatasetDistance:
    """Blocking form of :func:`iter_frechet_distance` (same arguments)."""
    return drain(iter_frechet_distance(A, B, **kwargs))


# ------------------------------------------------------------------------------------------------
# Unbiased MMD²
# ------------------------------------------------------------------------------------------------


def iter_mmd2(A, B, *, bandwidth: float | None = None, seed: int = 0,
              chunk_size: int | None = None) -> Iterator[DatasetDistance]:
    """Unbiased MMD² with the RBF kernel ``k(x, y) = exp(−‖x − y‖² / (2σ²))`` (Gretton et al. 2012, Lemma 6)::

        MMD²_u = Σ_{i≠j} k(a_i, a_j) / (m(m−1)) + Σ_{i≠j} k(b_i, b_j) / (n(n−1)) − 2 Σ_{i,j} k(a_i, b_j) / (mn)

    Its expectation is the population MMD², so it is ≈ 0 on average (and can be negative) when A and B come
    from one distribution. σ (``bandwidth``) defaults to the median pairwise distance of a seeded subsample of
    the pooled rows (the median heuristic). Tiles of ``chunk_size`` rows; sums in float64.

    ``se``: the first-order (Hoeffding-projection) standard error ``sqrt(4 Var(h_A)/m + 4 Var(h_B)/n)`` with
    ``h_A(i) = mean_{j≠i} k(a_i, a_j) − mean_j k(a_i, b_j)`` and likewise for B. It is the right scale when A and
    B differ; when they come from one distribution this term vanishes and the spread is O(1/n) (use a
    permutation test there).
    """
    a, b = _pair(A, B, "MMD")
    m, n = a.shape[0], b.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"A has {m} and B has {n} rows; the unbiased MMD² needs at least 2 in each")
    bandwidth = check_positive_float(bandwidth, "bandwidth")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    seed = check_seed(seed)
    step = rows_per_chunk(max(m, n), a.element_size(), chunk_size)
    check_fits(3 * min(step, max(m, n)) * max(m, n) * a.element_size() + 4 * (m + n) * 8, "MMD² tiles", a.device)
    return _mmd_steps(a, b, bandwidth, seed, step)


def _mmd_steps(a, b, bandwidth, seed, step) -> Iterator[DatasetDistance]:
    m, n = a.shape[0], b.shape[0]
    heuristic = bandwidth is None
    sigma = median_pairwise_distance(a, b, seed) if heuristic else bandwidth
    if sigma <= 0:
        raise ValueError("the median pairwise distance is 0 (almost all rows coincide); give bandwidth explicitly")
    params = {"bandwidth": sigma, "bandwidth_rule": "median heuristic" if heuristic else "given", "chunk_size": step}
    gamma = 1.0 / (2.0 * sigma * sigma)
    a_sq, b_sq = (a * a).sum(1), (b * b).sum(1)
    row_aa = torch.zeros(m, dtype=torch.float64, device=a.device)
    row_ab = torch.zeros(m, dtype=torch.float64, device=a.device)
    col_ab = torch.zeros(n, dtype=torch.float64, device=a.device)
    row_bb = torch.zeros(n, dtype=torch.float64, device=a.device)
    total_tiles = math.ceil(m / step) + math.ceil(n / step)
    done = 0
    for s in range(0, m, step):
        e = min(m, s + step)
        k_aa = torch.exp(-gamma * _sq_dist_tile(a[s:e], a, a_sq[s:e], a_sq))
        k_aa[torch.arange(e - s, device=a.device), torch.arange(s, e, device=a.device)] = 0.0  # i ≠ j
        row_aa[s:e] = k_aa.double().sum(1)
        k_ab = torch.exp(-gamma * _sq_dist_tile(a[s:e], b, a_sq[s:e], b_sq)).double()
        row_ab[s:e] = k_ab.sum(1)
        col_ab += k_ab.sum(0)
        done += 1
        yield DatasetDistance(float("nan"), "mmd2", params, seed, {}, None, 0.99 * done / total_tiles)
    for s in range(0, n, step):
        e = min(n, s + step)
        k_bb = torch.exp(-gamma * _sq_dist_tile(b[s:e], b, b_sq[s:e], b_sq))
        k_bb[torch.arange(e - s, device=a.device), torch.arange(s, e, device=a.device)] = 0.0
        row_bb[s:e] = k_bb.double().sum(1)
        done += 1
        if done < total_tiles:
            yield DatasetDistance(float("nan"), "mmd2", params, seed, {}, None, 0.99 * done / total_tiles)
    s_aa, s_bb, s_ab = float(row_aa.sum()), float(row_bb.sum()), float(row_ab.sum())
    value = s_aa / (m * (m - 1)) + s_bb / (n * (n - 1)) - 2.0 * s_ab / (m * n)
    h_a = row_aa / (m - 1) - row_ab / n
    h_b = row_bb / (n - 1) - col_ab / m
    se = math.sqrt(4.0 * float(h_a.var()) / m + 4.0 * float(h_b.var()) / n)
    diag = {"n_a": m, "n_b": n, "mean_k_aa": s_aa / (m * (m - 1)), "mean_k_bb": s_bb / (n * (n - 1)),
            "mean_k_ab": s_ab / (m * n),
            "se_note": "first-order SE; near 0 when A and B share a distribution (use a permutation test there)"}
    yield DatasetDistance(value, "mmd2", params, seed, diag, se, 1.0)


def mmd2(A, B, **kwargs) -> DatasetDistance:
    """Blocking form of :func:`iter_mmd2` (same arguments)."""
    return drain(iter_mmd2(A, B, **kwargs))


# ------------------------------------------------------------------------------------------------
# Sinkhorn divergence
# ------------------------------------------------------------------------------------------------


class _HalfSqCost:
    """C(x, y) = ½‖x − y‖² between the rows of x and y: cached whole when it fits in a few tiles, else
    recomputed tile by tile on every pass (memory O(chunk_size · m) then)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, step: int, cache: bool) -> None:
        self.x, self.y, self.step = x, y, step
        self.x_sq, self.y_sq = (x * x).sum(1), (y * y).sum(1)
        self.full = self.tile(0, x.shape[0]) if cache else None

    def tile(self, s: int, e: int) -> torch.Tensor:
        return 0.5 * _sq_dist_tile(self.x[s:e], self.y, self.x_sq[s:e], self.y_sq)

    def softmin(self, h: torch.Tensor, log_w: torch.Tensor, eps: float) -> torch.Tensor:
        """``−ε log Σ_j w_j exp((h_j − C_ij)/ε)`` for every row i (the entropic c-transform)."""
        out = torch.empty(self.x.shape[0], dtype=h.dtype, device=h.device)
        for s in range(0, self.x.shape[0], self.step):
            e = min(self.x.shape[0], s + self.step)
            c = self.full[s:e] if self.full is not None else self.tile(s, e)
            out[s:e] = -eps * torch.logsumexp(log_w[None, :] + (h[None, :] - c) / eps, dim=1)
        return out


def iter_sinkhorn_divergence(A, B, *, epsilon: float | None = None, max_iter: int = 1000, tol: float = 1e-6,
                             scaling: float = 0.5, seed: int = 0, chunk_size: int | None = None,
                             report_every: int = 10) -> Iterator[DatasetDistance]:
    """Debiased Sinkhorn divergence between the uniform distributions on the rows of A and of B::

        S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β)
        OT_ε(α, β) = min_π ⟨π, C⟩ + ε KL(π ‖ α ⊗ β),   C(x, y) = ½‖x − y‖²

    computed through the dual potentials, ``S_ε = ⟨α, f_αβ − f_αα⟩ + ⟨β, g_αβ − g_ββ⟩`` (Feydy et al. 2019):
    ≥ 0, = 0 exactly when the two sets are equal, symmetric. Log-domain updates
    ``f_i = −ε log Σ_j β_j exp((g_j − C_ij)/ε)`` never overflow; the symmetric problems use the averaged update
    ``f ← ½(f + T(f))``. ε-scaling (ε from the largest cost down to ``epsilon`` by factors of ``scaling``, one
    update per level, as GeomLoss does) gives a warm start; iterations then run at ``epsilon`` until the
    potentials move less than ``tol · ε`` (marginals exact to a relative ``tol``) or ``max_iter``.

    ``epsilon`` defaults to 5% of the median pairwise cost of a seeded pooled subsample. Memory: the three cost
    matrices are cached when they fit in 8 tiles (8 x 32 MiB), else recomputed in ``chunk_size`` row tiles.
    Yields the running divergence every ``report_every`` iterations.
    """
    a, b = _pair(A, B, "the Sinkhorn divergence")
    epsilon = check_positive_float(epsilon, "epsilon")
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=False)
    tol = check_positive_float(tol, "tol", allow_none=False)
    scaling = check_positive_float(scaling, "scaling", allow_none=False)
    if scaling >= 1:
        raise ValueError(f"scaling must be in (0, 1), got {scaling}")
    report_every = check_positive_int(report_every, "report_every", allow_none=False)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    seed = check_seed(seed)
    m, n = a.shape[0], b.shape[0]
    item = a.element_size()
    cache_bytes = (2 * m * n + m * m + n * n) * item
    cache = cache_bytes <= 8 * TILE_BYTES
    step = rows_per_chunk(max(m, n), item, chunk_size)
    check_fits((cache_bytes if cache else 2 * min(step, max(m, n)) * max(m, n) * item) + 8 * (m + n) * item,
               "Sinkhorn divergence", a.device)
    return _sinkhorn_steps(a, b, epsilon, max_iter, tol, scaling, seed, step, cache, report_every)


def _sinkhorn_steps(a, b, epsilon, max_iter, tol, scaling, seed, step, cache, report_every):
    m, n = a.shape[0], b.shape[0]
    median_cost = 0.5 * median_pairwise_distance(a, b, seed) ** 2
    eps = epsilon if epsilon is not None else 0.05 * median_cost
    if eps <= 0:
        raise ValueError("the median pairwise distance is 0 (almost all rows coincide); give epsilon explicitly")
    params = {"epsilon": eps, "epsilon_rule": "given" if epsilon is not None else "0.05 x median cost",
              "cost": "0.5 * squared euclidean", "max_iter": max_iter, "tol": tol, "scaling": scaling,
              "cached_costs": cache}
    c_ab, c_ba = _HalfSqCost(a, b, step, cache), _HalfSqCost(b, a, step, cache)
    c_aa, c_bb = _HalfSqCost(a, a, step, cache), _HalfSqCost(b, b, step, cache)
    dt = a.dtype
    log_a = torch.full((m,), -math.log(m), dtype=dt, device=a.device)
    log_b = torch.full((n,), -math.log(n), dtype=dt, device=a.device)
    f_ab = torch.zeros(m, dtype=dt, device=a.device)
    g_ab = torch.zeros(n, dtype=dt, device=a.device)
    f_aa = torch.zeros(m, dtype=dt, device=a.device)
    g_bb = torch.zeros(n, dtype=dt, device=a.device)
    # ε-scaling schedule: from the diameter-scale cost down to eps
    big = 0.5 * float(torch.cdist(torch.cat([a, b]).double(), torch.cat([a, b]).double()).max()) ** 2 \
        if m + n <= 4096 else 4.0 * median_cost
    schedule = []
    e = max(big, eps)
    while e > eps:
        schedule.append(e)
        e *= scaling
    for e in schedule:  # one update per level: a warm start, not the answer
        f_ab, g_ab = c_ab.softmin(g_ab, log_b, e), c_ba.softmin(f_ab, log_a, e)
        f_aa = 0.5 * (f_aa + c_aa.softmin(f_aa, log_a, e))
        g_bb = 0.5 * (g_bb + c_bb.softmin(g_bb, log_b, e))

    def value() -> float:
        return float((log_a.exp() * (f_ab - f_aa)).sum() + (log_b.exp() * (g_ab - g_bb)).sum())

    it, change, converged = 0, float("inf"), False
    for it in range(1, max_iter + 1):
        f_new = c_ab.softmin(g_ab, log_b, eps)
        g_new = c_ba.softmin(f_new, log_a, eps)
        fa_new = 0.5 * (f_aa + c_aa.softmin(f_aa, log_a, eps))
        gb_new = 0.5 * (g_bb + c_bb.softmin(g_bb, log_b, eps))
        change = max(float((f_new - f_ab).abs().max()), float((g_new - g_ab).abs().max()),
                     float((fa_new - f_aa).abs().max()), float((gb_new - g_bb).abs().max()))
        f_ab, g_ab, f_aa, g_bb = f_new, g_new, fa_new, gb_new
        if change <= tol * eps:
            converged = True
            break
        if it % report_every == 0:
            yield DatasetDistance(value(), "sinkhorn", params, seed,
                                  {"iterations": it, "last_change": change, "converged": False}, None,
                                  min(0.99, it / max_iter))
    # OT_ε values from the converged potentials (⟨α, f⟩ + ⟨β, g⟩; the symmetric ones are 2⟨α, f⟩)
    ot_ab = float((log_a.exp() * f_ab).sum() + (log_b.exp() * g_ab).sum())
    ot_aa = float(2 * (log_a.exp() * f_aa).sum())
    ot_bb = float(2 * (log_b.exp() * g_bb).sum())
    raw = value()
    diag = {"iterations": it, "scaling_levels": len(schedule), "last_change": change, "converged": converged,
            "ot_ab": ot_ab, "ot_aa": ot_aa, "ot_bb": ot_bb, "n_a": m, "n_b": n, "raw_value": raw}
    # S_ε >= 0 exactly; a tiny negative raw value is the potentials' round-off (kept in diagnostics)
    yield DatasetDistance(max(0.0, raw), "sinkhorn", params, seed, diag, None, 1.0)


def sinkhorn_divergence(A, B, **kwargs) -> DatasetDistance:
    """Blocking form of :func:`iter_sinkhorn_divergence` (same arguments)."""
    return drain(iter_sinkhorn_divergence(A, B, **kwargs))


def iter_dataset_distance(A, B, measure: str = "frechet", **options) -> Iterator[DatasetDistance]:
    """One entry for the three set distances; ``options`` go to the measure's own function."""
    measure = check_choice(measure, "measure", MEASURES)
    fn = {"frechet": iter_frechet_distance, "mmd2": iter_mmd2, "sinkhorn": iter_sinkhorn_divergence}[measure]
    return fn(A, B, **options)


def dataset_distance(A, B, measure: str = "frechet", **options) -> DatasetDistance:
    return drain(iter_dataset_distance(A, B, measure, **options))


# ------------------------------------------------------------------------------------------------
# Per-neuron activation histograms
# ------------------------------------------------------------------------------------------------


@dataclass
class ActivationHistograms:
    """Per-feature histograms of two sets on shared edges, and per-feature distances between them.

    ``edges`` (d, bins + 1); ``counts_a``/``counts_b`` (d, bins) int64; ``distances``: name -> (d,) float64 for
    every measure in :data:`HISTOGRAM_DISTANCES`; ``distance``: the one ``order`` (features, most different
    first) is sorted by.
    """

    edges: torch.Tensor
    counts_a: torch.Tensor
    counts_b: torch.Tensor
    distances: dict
    distance: str
    order: torch.Tensor
    params: dict
    diagnostics: dict = field(default_factory=dict)
    progress: float = 1.0

    @property
    def values(self) -> torch.Tensor:
        return self.distances[self.distance]

    def to_dict(self) -> dict:
        return {"edges": self.edges.cpu().numpy(), "counts_a": self.counts_a.cpu().numpy(),
                "counts_b": self.counts_b.cpu().numpy(), "distance": self.distance,
                "distances": {k: v.cpu().numpy() for k, v in self.distances.items()},
                "order": self.order.cpu().numpy(), "params": dict(self.params), "diagnostics": dict(self.diagnostics)}


def _bin_counts(x: torch.Tensor, edges: torch.Tensor, bins: int, step: int) -> torch.Tensor:
    """Counts per feature on per-feature edges (d, bins + 1), bins [e_b, e_b+1) with the last one closed, as
    ``numpy.histogram``; values outside the edges go to the end bins. The arithmetic guess
    ``floor((x − lo) / width)`` is corrected by one against the edges themselves, so a value on an edge lands
    where the returned edges say it does."""
    d = x.shape[1]
    lo, width = edges[:, 0], (edges[:, -1] - edges[:, 0]) / bins
    cols = torch.arange(d, device=x.device)
    e_t = edges.T.contiguous()  # (bins + 1, d)
    counts = torch.zeros(d * bins, dtype=torch.int64, device=x.device)
    for s in range(0, x.shape[0], step):
        v = x[s:s + step].double()
        idx = ((v - lo) / width).floor().clamp_(0, bins - 1).long()
        idx -= ((v < e_t[idx, cols]) & (idx > 0)).long()
        idx += ((v >= e_t[idx + 1, cols]) & (idx < bins - 1)).long()
        counts += torch.bincount((idx + cols * bins).reshape(-1), minlength=d * bins)
    return counts.view(d, bins)


def histogram_distances(p: torch.Tensor, q: torch.Tensor, width: torch.Tensor, smoothing: float = 1e-6) -> dict:
    """Per-row distances between probability histograms p, q (d, bins) on bins of the given width (d,):
    Wasserstein-1 ``Σ_b |P_b − Q_b| · width`` (P, Q the cumulative sums: W1 between masses at bin centres),
    total variation ``½ Σ |p − q|``, and ``KL(p ‖ q)`` after adding ``smoothing`` to every bin and renormalising."""
    w1 = (torch.cumsum(p, 1) - torch.cumsum(q, 1))[:, :-1].abs().sum(1) * width
    tv = 0.5 * (p - q).abs().sum(1)
    ps = (p + smoothing) / (1 + smoothing * p.shape[1])
    qs = (q + smoothing) / (1 + smoothing * q.shape[1])
    kl = (ps * (ps.log() - qs.log())).sum(1)
    return {"wasserstein": w1, "total_variation": tv, "kl": kl}


def iter_activation_histograms(A, B, *, bins: int = 32, distance: str = "wasserstein", value_range=None,
                               chunk_size: int | None = None) -> Iterator[ActivationHistograms]:
    """Histogram every feature (column, "neuron") of A and of B on the same ``bins`` equal-width bins, and
    compare them feature by feature (Visual DNA: datasets compared neuron by neuron).

    Edges per feature span the pooled minimum to maximum of that feature (or ``value_range=(lo, hi)`` for all
    features). ``distance`` picks the measure that orders the features; all three are returned. Validates
    every argument when called; the returned generator yields the one finished record.
    """
    a, b = _pair(A, B, "a per-feature comparison")
    bins = check_positive_int(bins, "bins", allow_none=False)
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    distance = check_choice(distance, "distance", HISTOGRAM_DISTANCES)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    d = a.shape[1]
    step = rows_per_chunk(d, 16, chunk_size)
    check_fits(4 * d * bins * 8 + 3 * min(step, max(a.shape[0], b.shape[0])) * d * 8, "activation histograms",
               a.device)
    if value_range is not None:
        try:
            lo_v, hi_v = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"value_range must be (low, high), got {value_range!r}") from None
        if not (math.isfinite(lo_v) and math.isfinite(hi_v) and hi_v > lo_v):
            raise ValueError(f"value_range must be finite with low < high, got {value_range!r}")
    else:
        lo_v = hi_v = None
    return _once(lambda: _activation_histograms(a, b, bins, distance, value_range, lo_v, hi_v, step))


def _activation_histograms(a, b, bins, distance, value_range, lo_v, hi_v, step) -> ActivationHistograms:
    d = a.shape[1]
    if value_range is not None:
        lo = torch.full((d,), lo_v, dtype=torch.float64, device=a.device)
        hi = torch.full((d,), hi_v, dtype=torch.float64, device=a.device)
    else:
        lo = torch.minimum(a.min(0).values, b.min(0).values).double()
        hi = torch.maximum(a.max(0).values, b.max(0).values).double()
        flat = hi <= lo
        lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)  # a constant feature: one unit
    width = (hi - lo) / bins
    edges = lo[:, None] + width[:, None] * torch.arange(bins + 1, dtype=torch.float64, device=a.device)[None, :]
    edges[:, -1] = hi  # exactly the maximum, so no value falls past the last edge by round-off
    counts_a = _bin_counts(a, edges, bins, step)
    counts_b = _bin_counts(b, edges, bins, step)
    p = counts_a.double() / a.shape[0]
    q = counts_b.double() / b.shape[0]
    dists = histogram_distances(p, q, width)
    order = torch.argsort(dists[distance], descending=True, stable=True)
    outside = 0
    if value_range is not None:
        outside = int(((a < lo_v) | (a > hi_v)).sum() + ((b < lo_v) | (b > hi_v)).sum())
    return ActivationHistograms(edges=edges, counts_a=counts_a, counts_b=counts_b, distances=dists,
                                distance=distance, order=order,
                                params={"bins": bins, "distance": distance, "value_range": value_range},
                                diagnostics={"n_a": a.shape[0], "n_b": b.shape[0], "features": d,
                                             "mean_distance": float(dists[distance].mean()),
                                             "values_clipped_to_range": outside})


def activation_histograms(A, B, **kwargs) -> ActivationHistograms:
    """Blocking form of :func:`iter_activation_histograms` (same arguments)."""
    return drain(iter_activation_histograms(A, B, **kwargs))


# ------------------------------------------------------------------------------------------------
# Positive / negative pair-score histograms over checkpoints
# ------------------------------------------------------------------------------------------------

#: Above this many unordered pairs, negatives are sampled (``MAX_SAMPLED_NEGATIVES`` of them) unless asked.
MAX_ALL_PAIRS = 20_000_000
MAX_SAMPLED_NEGATIVES = 1_000_000


@dataclass
class PairScoreHistograms:
    """``positive``/``negative`` (checkpoints, bins) int64 counts of pair scores on the shared ``edges``;
    ``stats`` one dict per checkpoint (mean, std, overlap of the normalised histograms, separation d')."""

    edges: torch.Tensor
    positive: torch.Tensor
    negative: torch.Tensor
    checkpoints: list
    stats: list
    metric: str
    params: dict
    seed: int | None = None
    progress: float = 1.0

    def to_dict(self) -> dict:
        return {"edges": self.edges.cpu().numpy(), "positive": self.positive.cpu().numpy(),
                "negative": self.negative.cpu().numpy(), "checkpoints": list(self.checkpoints),
                "stats": list(self.stats), "metric": self.metric, "params": dict(self.params), "seed": self.seed}


def _checkpoints(embeddings: Any) -> tuple[list[str], list[Any]]:
    if isinstance(embeddings, Mapping):
        names, mats = [str(k) for k in embeddings], list(embeddings.values())
    elif isinstance(embeddings, (torch.Tensor, np.ndarray)) and embeddings.ndim == 2:
        names, mats = ["0"], [embeddings]
    elif isinstance(embeddings, (torch.Tensor, np.ndarray)) and embeddings.ndim == 3:
        names, mats = [str(i) for i in range(embeddings.shape[0])], list(embeddings)
    elif isinstance(embeddings, Sequence) and not isinstance(embeddings, str):
        names, mats = [str(i) for i in range(len(embeddings))], list(embeddings)
    else:
        raise TypeError("embeddings must be a (N, d) matrix, a list of them (one per checkpoint), a (checkpoints, N, d) "
                        f"array or a dict name -> matrix; got {type(embeddings).__name__}")
    if not mats:
        raise ValueError("embeddings is empty; give at least one checkpoint")
    return names, mats


def _score_bins(s: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bin of every score on the shared edges ([e_b, e_b+1), last bin closed; outside values to the end bins)."""
    return torch.bucketize(s.double(), edges[1:-1], right=True)


def iter_pair_score_histograms(embeddings, positive_pairs, *, bins: int = 50, metric: str = "cosine",
                               negatives: int | str | None = None, value_range=None, seed: int = 0,
                               chunk_size: int | None = None) -> Iterator[PairScoreHistograms]:
    """Histograms of positive-pair and negative-pair scores at each checkpoint (the "score distribution" view
    of Zhu et al. 2021: as training goes on the positive scores should move right of the negative ones).

    ``embeddings``: one (N, d) matrix per checkpoint (a list, a dict name -> matrix, or a (C, N, d) array); the
    same N rows at every checkpoint. ``positive_pairs``: (P, 2) row indices (unordered, i ≠ j). Negatives: every
    other unordered pair (``negatives='all'``; the default up to 2·10⁷ pairs), or that many uniformly drawn
    unordered pairs that are not positive (an int; seeded, the same pairs at every checkpoint). Scores: cosine
    similarity (edges on [−1, 1]) or dot product (edges on ±max‖x‖² over checkpoints unless ``value_range``).
    In "all" mode positives are taken out of the all-pairs tile histograms with the very same tile values, so
    the two histograms partition the pairs exactly. Yields after every checkpoint.
    """
    names, mats = _checkpoints(embeddings)
    xs = []
    for i, mtx in enumerate(mats):
        x = as_matrix(mtx, f"embeddings[{names[i]!r}]", device=xs[0].device if xs else None)
        if xs and x.shape[0] != xs[0].shape[0]:
            raise ValueError(f"embeddings[{names[i]!r}] has {x.shape[0]} rows but the first checkpoint has "
                             f"{xs[0].shape[0]}; every checkpoint must embed the same rows")
        xs.append(x)
    n = xs[0].shape[0]
    metric = check_choice(metric, "metric", ("cosine", "dot"))
    bins = check_positive_int(bins, "bins", allow_none=False)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    seed = check_seed(seed)
    pp = positive_pairs.detach().cpu() if isinstance(positive_pairs, torch.Tensor) else torch.as_tensor(
        np.asarray(positive_pairs))
    if pp.ndim != 2 or pp.shape[1] != 2:
        raise ValueError(f"positive_pairs must be (P, 2) row-index pairs, got shape {tuple(pp.shape)}")
    flat = as_indices(pp.reshape(-1), "positive_pairs", n, unique=False)
    pp = flat.view(-1, 2)
    if bool((pp[:, 0] == pp[:, 1]).any()):
        bad = int((pp[:, 0] == pp[:, 1]).nonzero()[0])
        raise ValueError(f"positive_pairs[{bad}] pairs row {int(pp[bad, 0])} with itself; pairs need two rows")
    lo_ij, hi_ij = torch.minimum(pp[:, 0], pp[:, 1]), torch.maximum(pp[:, 0], pp[:, 1])
    keys = torch.unique(lo_ij * n + hi_ij)
    total_pairs = n * (n - 1) // 2
    if negatives is None:
        negatives = "all" if total_pairs <= MAX_ALL_PAIRS else MAX_SAMPLED_NEGATIVES
    if negatives != "all":
        negatives = check_positive_int(negatives, "negatives", allow_none=False)
        if keys.numel() >= total_pairs:
            raise ValueError("every pair of rows is a positive pair; there are no negatives to draw")
    if value_range is not None:
        try:
            lo_v, hi_v = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueError(f"value_range must be (low, high), got {value_range!r}") from None
        if not hi_v > lo_v:
            raise ValueError(f"value_range must have low < high, got {value_range!r}")
    elif metric == "cosine":
        lo_v, hi_v = -1.0, 1.0
    else:
        r = max(float((x * x).sum(1).max()) for x in xs) or 1.0  # |x·y| <= max ‖x‖²
        lo_v, hi_v = -r, r
    for i, x in enumerate(xs):
        if metric == "cosine" and bool((torch.linalg.vector_norm(x, dim=1) == 0).any()):
            raise ValueError(f"embeddings[{names[i]!r}] has an all-zero row; cosine scores need non-zero rows")
    step = rows_per_chunk(n, xs[0].element_size(), chunk_size)
    check_fits(3 * min(step, n) * n * xs[0].element_size() + n * xs[0].shape[1] * xs[0].element_size()
               + (0 if negatives == "all" else 3 * negatives * 8), "pair-score histograms", xs[0].device)
    params = {"bins": bins, "metric": metric, "negatives": negatives, "value_range": [lo_v, hi_v],
              "positive_pairs": int(keys.numel())}
    return _pair_score_steps(xs, names, keys, n, bins, metric, negatives, lo_v, hi_v, seed, step, params)


def _pair_score_steps(xs, names, keys, n, bins, metric, negatives, lo_v, hi_v, seed, step, params):
    dev = xs[0].device
    edges = torch.linspace(lo_v, hi_v, bins + 1, dtype=torch.float64)
    inner = edges.to(dev)
    pos_i, pos_j = (keys // n).to(dev), (keys % n).to(dev)
    if negatives != "all":
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        draws = []
        got = 0
        while got < negatives:  # rejection: drop self-pairs and positives, draw again until enough
            i = torch.randint(n, (2 * (negatives - got),), generator=gen)
            j = torch.randint(n, (2 * (negatives - got),), generator=gen)
            lo_, hi_ = torch.minimum(i, j), torch.maximum(i, j)
            k = lo_ * n + hi_
            ok = (lo_ != hi_) & ~torch.isin(k, keys)
            draws.append(k[ok][:negatives - got])
            got += int(draws[-1].numel())
        neg = torch.cat(draws)
        neg_i, neg_j = (neg // n).to(dev), (neg % n).to(dev)
    pos_counts, neg_counts, stats = [], [], []
    for c, x in enumerate(xs):
        if metric == "cosine":
            x = x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
        if negatives == "all":
            all_c = torch.zeros(bins, dtype=torch.int64, device=dev)
            pos_c = torch.zeros(bins, dtype=torch.int64, device=dev)
            pos_vals = torch.empty(pos_i.numel(), dtype=torch.float64, device=dev)
            for s in range(0, n, step):
                e = min(n, s + step)
                tile = x[s:e] @ x.T
                cols = torch.arange(n, device=dev)[None, :]
                rows = torch.arange(s, e, device=dev)[:, None]
                upper = tile[cols > rows]
                all_c += torch.bincount(_score_bins(upper, inner), minlength=bins)
                here = (pos_i >= s) & (pos_i < e)
                v = tile[pos_i[here] - s, pos_j[here]]
                pos_vals[here] = v.double()
                pos_c += torch.bincount(_score_bins(v, inner), minlength=bins)
            neg_c = all_c - pos_c
            neg_mean, neg_std = _negative_moments(x, n, pos_vals)
        else:
            pos_vals = (x[pos_i] * x[pos_j]).sum(1).double()
            neg_vals = (x[neg_i] * x[neg_j]).sum(1).double()
            pos_c = torch.bincount(_score_bins(pos_vals, inner), minlength=bins)
            neg_c = torch.bincount(_score_bins(neg_vals, inner), minlength=bins)
            neg_mean, neg_std = float(neg_vals.mean()), float(neg_vals.std()) if neg_vals.numel() > 1 else 0.0
        pos_mean = float(pos_vals.mean())
        pos_std = float(pos_vals.std()) if pos_vals.numel() > 1 else 0.0
        p = pos_c.double() / max(1, int(pos_c.sum()))
        q = neg_c.double() / max(1, int(neg_c.sum()))
        pooled = math.sqrt(0.5 * (pos_std ** 2 + neg_std ** 2))
        stats.append({"checkpoint": names[c], "positive_mean": pos_mean, "positive_std": pos_std,
                      "negative_mean": neg_mean, "negative_std": neg_std,
                      "n_positive": int(pos_c.sum()), "n_negative": int(neg_c.sum()),
                      "overlap": float(torch.minimum(p, q).sum()),
                      "separation": (pos_mean - neg_mean) / pooled if pooled > 0 else float("inf")})
        pos_counts.append(pos_c.cpu())
        neg_counts.append(neg_c.cpu())
        yield PairScoreHistograms(edges=edges, positive=torch.stack(pos_counts), negative=torch.stack(neg_counts),
                                  checkpoints=names[:c + 1], stats=list(stats), metric=metric, params=params,
                                  seed=None if negatives == "all" else seed, progress=(c + 1) / len(xs))


def _negative_moments(x: torch.Tensor, n: int, pos_vals: torch.Tensor) -> tuple[float, float]:
    """Mean and std of the negative scores (all unordered pairs minus the positives), from exact sums:
    Σ_{i<j} s_ij = (‖Σ_i x_i‖² − Σ_i ‖x_i‖²)/2, and Σ_{i<j} s_ij² = (‖XᵀX‖_F² − Σ_i ‖x_i‖⁴)/2."""
    xd = x.double()
    col = xd.sum(0)
    sq_norms = (xd * xd).sum(1)
    s1 = 0.5 * (float(col @ col) - float(sq_norms.sum()))
    g = xd.T @ xd
    s2 = 0.5 * (float((g * g).sum()) - float((sq_norms ** 2).sum()))
    cnt = n * (n - 1) // 2 - pos_vals.numel()
    if cnt <= 0:
        return float("nan"), float("nan")
    s1 -= float(pos_vals.sum())
    s2 -= float((pos_vals ** 2).sum())
    mean = s1 / cnt
    var = max(0.0, (s2 - cnt * mean * mean) / max(1, cnt - 1))
    return mean, math.sqrt(var)


def pair_score_histograms(embeddings, positive_pairs, **kwargs) -> PairScoreHistograms:
    """Blocking form of :func:`iter_pair_score_histograms` (same arguments)."""
    return drain(iter_pair_score_histograms(embeddings, positive_pairs, **kwargs))
