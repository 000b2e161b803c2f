"""Representation similarity: how alike two sets of features of the same examples are.

Every measure takes two matrices whose rows are the same examples (``X``: n x p, ``Y``: n x q; p and q may
differ) and is pure torch, on the inputs' device and in their dtype.

- CKA (Kornblith et al. 2019): ``<HKH, HLH> / (|HKH| |HLH|)`` for Gram matrices K, L of a linear or RBF kernel;
  the debiased form replaces HKH by the U-centred Gram (Székely & Rizzo 2014), which makes the numerator an
  unbiased estimate of HSIC.
- Minibatch CKA (Nguyen et al. 2021): ``sum_b HSIC1(K_b, L_b) / sqrt(sum_b HSIC1(K_b, K_b) sum_b HSIC1(L_b, L_b))``
  with the unbiased HSIC estimator HSIC1 (Song et al. 2012) on each batch, so a dataset of any size is processed
  batch by batch; one batch of all n examples gives the debiased CKA exactly.
- HSIC: biased ``tr(KHLH) / (n-1)^2`` (Gretton et al. 2005) and unbiased HSIC1.
- Distance covariance / correlation (Székely et al. 2007): from double-centred Euclidean distance matrices
  (V-statistics) or U-centred ones (unbiased, can be negative).
- Mean-squared CCA: mean of the squared canonical correlations, ``|Qx^T Qy|_F^2 / min(rank)``.
- Jaccard@k: overlap of each item's k nearest neighbours in the two embeddings.
- Alignment and uniformity (Wang & Isola 2020) of an embedding on the unit sphere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .distance import power_of_two_at_least
from .memory import TILE_BYTES, check_fits
from .validate import (
    as_matrix,
    check_bool,
    check_choice,
    check_positive_float,
    check_positive_int,
    check_seed,
)

KERNELS = ("linear", "rbf")
NEIGHBOUR_METRICS = ("cosine", "euclidean")

#: Working memory for one row tile of an n x n computation (Jaccard@k, uniformity).


# ------------------------------------------------------------------------------------------------
# Input checks
# ------------------------------------------------------------------------------------------------


def as_pair(X, Y, *, names: tuple[str, str] = ("X", "Y"), min_rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Both inputs as finite 2-D tensors on one device, in the wider of their dtypes, with the same examples."""
    x = as_matrix(X, names[0])
    y = as_matrix(Y, names[1], device=x.device)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{names[0]} has {x.shape[0]} examples (rows) but {names[1]} has {y.shape[0]}; "
            "the rows of both must be the same examples"
        )
    if x.shape[0] < min_rows:
        raise ValueError(f"{names[0]} and {names[1]} need at least {min_rows} examples (rows), got {x.shape[0]}")
    if x.dtype != y.dtype:
        dtype = torch.promote_types(x.dtype, y.dtype)
        x, y = x.to(dtype), y.to(dtype)
    return x, y


def is_constant(x: torch.Tensor) -> bool:
    """True when every row of ``x`` is the same (to rounding): no variation between examples at all.

    Scale-relative: ``x`` is first divided by its largest absolute value, so data at 1e20 (whose squares overflow
    float32) or 1e-25 (whose squares underflow) is judged by its shape, not its units."""
    top = float(x.abs().max()) if x.numel() else 0.0
    if top == 0.0:
        return True
    x = x / top
    centred = x - x.mean(0, keepdim=True)
    spread = float(torch.linalg.vector_norm(centred))
    scale = float(torch.linalg.vector_norm(x)) + float(torch.finfo(x.dtype).tiny)
    return spread <= scale * torch.finfo(x.dtype).eps * 4 * math.sqrt(x.numel())


def power_of_two_scale(x: torch.Tensor) -> float:
    """The power of two nearest above max|x| (1 for zeros): dividing by it is exact and brings every value into
    [-1, 1], where no square or Gram entry overflows or underflows."""
    return power_of_two_at_least(float(x.abs().max()) if x.numel() else 0.0)


def check_not_constant(x: torch.Tensor, name: str, measure: str) -> None:
    if is_constant(x):
        raise ValueError(
            f"{name} is constant: every example (row) has the same features, so {measure} is undefined (0/0)"
        )


# ------------------------------------------------------------------------------------------------
# Gram matrices and centring
# ------------------------------------------------------------------------------------------------


def sq_distances(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of ``x`` (exact zeros on the diagonal)."""
    xc = x - x.mean(0, keepdim=True)  # distances do not change; the cancellation in |a|^2 + |b|^2 - 2ab does
    sq = (xc * xc).sum(1)
    d = (sq[:, None] + sq[None, :] - 2.0 * (xc @ xc.T)).clamp_min_(0.0)
    d.fill_diagonal_(0.0)
    return d


def numpy_median(values: torch.Tensor) -> torch.Tensor:
    """The median as NumPy defines it: the mean of the two middle values when the count is even."""
    flat = values.reshape(-1)
    n = flat.numel()
    lo = torch.kthvalue(flat, (n - 1) // 2 + 1).values
    hi = torch.kthvalue(flat, n // 2 + 1).values
    return (lo + hi) / 2


def gram_linear(x: torch.Tensor) -> torch.Tensor:
    return x @ x.T


def gram_rbf(x: torch.Tensor, threshold: float = 1.0) -> torch.Tensor:
    """``exp(-|xi-xj|^2 / (2 sigma^2))`` with ``sigma = threshold * sqrt(median squared distance)``.

    The median is over all n^2 entries, the zero diagonal included (Kornblith et al.'s convention).
    """
    d = sq_distances(x)
    med = numpy_median(d)
    if not float(med) > 0:
        raise ValueError("the median distance between examples is 0 (most examples are identical); "
                         "the RBF bandwidth is undefined")
    return torch.exp(-d / (2.0 * threshold**2 * med))


def gram(x: torch.Tensor, kernel: str = "linear", threshold: float = 1.0) -> torch.Tensor:
    if kernel == "linear":
        xc = x - x.mean(0, keepdim=True)  # centring the features only changes K by terms H removes
        return gram_linear(xc)
    return gram_rbf(x, threshold)


def center_gram(k: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """``HKH`` (biased), or the U-centred Gram of Székely & Rizzo (unbiased: zero diagonal, n >= 4)."""
    k = k.clone()
    n = k.shape[0]
    if unbiased:
        if n < 4:
            raise ValueError(f"the unbiased estimators need at least 4 examples, got {n}")
        k.fill_diagonal_(0.0)
        means = k.sum(0) / (n - 2)
        means = means - means.sum() / (2 * (n - 1))
        k -= means[:, None]
        k -= means[None, :]
        k.fill_diagonal_(0.0)
    else:
        means = k.mean(0)
        means = means - means.mean() / 2
        k -= means[:, None]
        k -= means[None, :]
    return k


def u_centered_batch(k: torch.Tensor) -> torch.Tensor:
    """U-centre a stack of Gram matrices ``(..., b, b)`` at once (same as :func:`center_gram` with ``unbiased``)."""
    b = k.shape[-1]
    k = k.clone()
    k.diagonal(dim1=-2, dim2=-1).zero_()
    means = k.sum(-2) / (b - 2)
    means = means - means.sum(-1, keepdim=True) / (2 * (b - 1))
    k -= means[..., :, None]
    k -= means[..., None, :]
    k.diagonal(dim1=-2, dim2=-1).zero_()
    return k


# ------------------------------------------------------------------------------------------------
# CKA and HSIC
# ------------------------------------------------------------------------------------------------


def cka_from_grams(kx: torch.Tensor, ky: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    cx = center_gram(kx, unbiased)
    cy = center_gram(ky, unbiased)
    num = (cx * cy).sum()
    return num / (torch.linalg.vector_norm(cx) * torch.linalg.vector_norm(cy))


def _debiased_dot(xty_sq, rows_x, rows_y, norm_x, norm_y, n):
    # Kornblith et al., feature-space form of <U-centred K, U-centred L> for linear kernels.
    return xty_sq - n / (n - 2.0) * (rows_x @ rows_y) + norm_x * norm_y / ((n - 1) * (n - 2))


def linear_cka_features(x: torch.Tensor, y: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """Linear CKA in feature space: O(n p q) time and O(p q) memory instead of O(n^2)."""
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    xy = torch.linalg.matrix_norm(x.T @ y) ** 2
    xx = torch.linalg.matrix_norm(x.T @ x)
    yy = torch.linalg.matrix_norm(y.T @ y)
    if not unbiased:
        return xy / (xx * yy)
    n = x.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased estimators need at least 4 examples, got {n}")
    rx, ry = (x * x).sum(1), (y * y).sum(1)
    nx, ny = rx.sum(), ry.sum()
    xy = _debiased_dot(xy, rx, ry, nx, ny, n)
    xx = _debiased_dot(xx**2, rx, rx, nx, nx, n).sqrt()
    yy = _debiased_dot(yy**2, ry, ry, ny, ny, n).sqrt()
    return xy / (xx * yy)


def hsic_from_grams(kx: torch.Tensor, ky: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """Biased ``tr(KHLH)/(n-1)^2`` or the unbiased HSIC1 ``<U-centred K, U-centred L> / (n (n-3))``."""
    n = kx.shape[0]
    if unbiased:
        return (center_gram(kx, True) * center_gram(ky, True)).sum() / (n * (n - 3))
    return (center_gram(kx) * center_gram(ky)).sum() / (n - 1) ** 2


@dataclass
class MinibatchCKA:
    """Running sums of the per-batch unbiased HSIC values, and what they give."""

    hsic_xy: list
    hsic_xx: list
    hsic_yy: list
    examples: int = 0

    @property
    def value(self) -> float:
        return _ratio(sum(self.hsic_xy), sum(self.hsic_xx), sum(self.hsic_yy))

    @property
    def se(self) -> float:
        """Jackknife standard error over batches (NaN with fewer than 2 batches)."""
        return jackknife_se(self.hsic_xy, self.hsic_xx, self.hsic_yy)


def _ratio(xy: float, xx: float, yy: float) -> float:
    denom = xx * yy
    return xy / math.sqrt(denom) if denom > 0 else float("nan")


def jackknife_se(xy, xx, yy) -> float:
    """Delete-one-batch jackknife standard error of ``sum(xy) / sqrt(sum(xx) sum(yy))``."""
    import numpy as np

    xy, xx, yy = (np.asarray(v, dtype=np.float64) for v in (xy, xx, yy))
    b = xy.shape[0]
    if b < 2:
        return float("nan")
    sxy, sxx, syy = xy.sum(0), xx.sum(0), yy.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = (sxy - xy) / np.sqrt((sxx - xx) * (syy - yy))
        mean = loo.mean(0)
        return float(np.sqrt((b - 1) / b * ((loo - mean) ** 2).sum(0)))


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Batches of ``batch_size``; a remainder too small for the unbiased estimator (< 4) joins the last batch."""
    bounds = [(s, min(n, s + batch_size)) for s in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < 4:
        (a, _), (_, d) = bounds[-2], bounds[-1]
        bounds[-2:] = [(a, d)]
    return bounds


def minibatch_cka(x: torch.Tensor, y: torch.Tensor, *, batch_size: int, kernel: str = "linear",
                  threshold: float = 1.0, order: torch.Tensor | None = None) -> MinibatchCKA:
    """Minibatch CKA over consecutive batches of ``x[order]``, ``y[order]``."""
    n = x.shape[0]
    if order is not None:
        x, y = x[order], y[order]
    acc = MinibatchCKA([], [], [])
    for a, b in batch_bounds(n, batch_size):
        kx = u_centered_batch(gram(x[a:b], kernel, threshold))
        ky = u_centered_batch(gram(y[a:b], kernel, threshold))
        m = b - a
        scale = 1.0 / (m * (m - 3))
        acc.hsic_xy.append(float((kx * ky).sum()) * scale)
        acc.hsic_xx.append(float((kx * kx).sum()) * scale)
        acc.hsic_yy.append(float((ky * ky).sum()) * scale)
        acc.examples += m
    return acc


# ------------------------------------------------------------------------------------------------
# Distance covariance and correlation
# ------------------------------------------------------------------------------------------------


def distances(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between the rows of ``x``, computed as differences (no cancellation)."""
    return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")


def double_center(a: torch.Tensor) -> torch.Tensor:
    return a - a.mean(0, keepdim=True) - a.mean(1, keepdim=True) + a.mean()


def distance_covariance_sqr(x: torch.Tensor, y: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """dCov^2: ``mean(A * B)`` of double-centred distances, or the U-statistic ``sum(A~ B~) / (n (n-3))``."""
    n = x.shape[0]
    if unbiased:
        return (center_gram(distances(x), True) * center_gram(distances(y), True)).sum() / (n * (n - 3))
    return (double_center(distances(x)) * double_center(distances(y))).mean()


def distance_correlation_sqr(x: torch.Tensor, y: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    if unbiased:
        a, b = center_gram(distances(x), True), center_gram(distances(y), True)
    else:
        a, b = double_center(distances(x)), double_center(distances(y))
    xy, xx, yy = (a * b).sum(), (a * a).sum(), (b * b).sum()
    denom = xx * yy
    if not float(denom) > 0:
        return torch.zeros((), dtype=x.dtype, device=x.device)  # a constant variable: dCor = 0 by definition
    return xy / denom.sqrt()


# ------------------------------------------------------------------------------------------------
# Mean-squared CCA
# ------------------------------------------------------------------------------------------------


def orthonormal_basis(x: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the column space of ``x`` (rank-revealing SVD)."""
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    tol = s.max() * max(x.shape) * torch.finfo(x.dtype).eps if s.numel() else 0.0
    return u[:, s > tol]


def mean_squared_cca(x: torch.Tensor, y: torch.Tensor, center: bool = True) -> tuple[torch.Tensor, int, int]:
    """``|Qx^T Qy|_F^2 / min(rank x, rank y)``: the mean squared canonical correlation; also the two ranks."""
    if center:
        x = x - x.mean(0, keepdim=True)
        y = y - y.mean(0, keepdim=True)
    qx, qy = orthonormal_basis(x), orthonormal_basis(y)
    rx, ry = qx.shape[1], qy.shape[1]
    return torch.linalg.matrix_norm(qx.T @ qy) ** 2 / min(rx, ry), rx, ry


# ------------------------------------------------------------------------------------------------
# Neighbourhoods, alignment, uniformity
# ------------------------------------------------------------------------------------------------


def _tile_rows(n: int, cols: int, itemsize: int, chunk_size: int | None) -> int:
    return chunk_size or max(1, min(n, TILE_BYTES // max(1, 2 * cols * itemsize)))


def knn_indices(x: torch.Tensor, k: int, metric: str, chunk_size: int | None = None) -> torch.Tensor:
    """Indices of each row's ``k`` nearest other rows (itself excluded), by cosine or Euclidean distance."""
    n = x.shape[0]
    if metric == "cosine":
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        z = x / torch.where(norms > 0, norms, torch.ones_like(norms))
    else:
        z = x - x.mean(0, keepdim=True)
        sq = (z * z).sum(1)
    rows = _tile_rows(n, n, x.element_size(), chunk_size)
    out = torch.empty((n, k), dtype=torch.long, device=x.device)
    for a in range(0, n, rows):
        b = min(n, a + rows)
        if metric == "cosine":
            score = z[a:b] @ z.T  # larger = nearer
        else:
            score = -(sq[a:b, None] + sq[None, :] - 2.0 * (z[a:b] @ z.T))
        idx = torch.arange(a, b, device=x.device)
        score[idx - a, idx] = -float("inf")
        out[a:b] = torch.topk(score, k, dim=1).indices
    return out


def jaccard_at_k(x: torch.Tensor, y: torch.Tensor, k: int, metric: str = "cosine",
                 chunk_size: int | None = None) -> torch.Tensor:
    """Per item: ``|N_k^X(i) & N_k^Y(i)| / |N_k^X(i) | N_k^Y(i)|`` (k nearest neighbours, item excluded)."""
    n = x.shape[0]
    nx = knn_indices(x, k, metric, chunk_size)
    ny = knn_indices(y, k, metric, chunk_size)
    inter = torch.zeros(n, dtype=torch.long, device=x.device)
    rows = max(1, (TILE_BYTES // 8) // (k * k))
    for a in range(0, n, rows):
        b = min(n, a + rows)
        inter[a:b] = (nx[a:b, :, None] == ny[a:b, None, :]).any(2).sum(1)
    return inter.to(x.dtype) / (2 * k - inter).to(x.dtype)


def unit_rows(x: torch.Tensor, name: str) -> torch.Tensor:
    top = x.abs().amax(dim=1, keepdim=True)
    if bool((top == 0).any()):
        i = int((top[:, 0] == 0).nonzero()[0])
        raise ValueError(f"{name} row {i} is all zeros and cannot be put on the unit sphere; pass normalize=False")
    x = x / top  # row by row, so no norm overflows or underflows whatever the row's scale
    return x / torch.linalg.vector_norm(x, dim=1, keepdim=True)


def alignment(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """``E |f(x) - f(y)|^alpha`` over positive pairs (row i of X with row i of Y)."""
    return torch.linalg.vector_norm(x - y, dim=1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2.0, chunk_size: int | None = None) -> torch.Tensor:
    """``log E_{i<j} exp(-t |xi - xj|^2)``, by log-sum-exp over row tiles (never the n x n matrix at once)."""
    n = x.shape[0]
    z = x - x.mean(0, keepdim=True)
    sq = (z * z).sum(1)
    rows = _tile_rows(n, n, x.element_size(), chunk_size)
    parts = []
    for a in range(0, n, rows):
        b = min(n, a + rows)
        d = (sq[a:b, None] + sq[None, :] - 2.0 * (z[a:b] @ z.T)).clamp_min_(0.0)
        upper = torch.arange(n, device=x.device)[None, :] > torch.arange(a, b, device=x.device)[:, None]
        vals = (-t * d)[upper]
        if vals.numel():
            parts.append(torch.logsumexp(vals, 0))
    total = torch.logsumexp(torch.stack(parts), 0)
    return total - math.log(n * (n - 1) / 2)


# ------------------------------------------------------------------------------------------------
# The measures behind fx.similarity
# ------------------------------------------------------------------------------------------------

MEASURES = ("cka", "hsic", "distance_covariance", "distance_correlation", "cca", "jaccard", "alignment",
            "uniformity")

#: The keyword parameters each measure accepts (anything else is an error naming it).
PARAMS = {
    "cka": ("kernel", "threshold", "unbiased", "batch_size", "shuffle", "seed"),
    "hsic": ("kernel", "threshold", "unbiased"),
    "distance_covariance": ("unbiased", "squared"),
    "distance_correlation": ("unbiased", "squared"),
    "cca": ("center",),
    "jaccard": ("k", "metric", "chunk_size"),
    "alignment": ("alpha", "normalize"),
    "uniformity": ("t", "normalize", "chunk_size"),
}

DEFAULTS = {"kernel": "linear", "threshold": 1.0, "unbiased": False, "batch_size": None, "shuffle": True,
            "seed": 0, "squared": False, "center": True, "k": 10, "metric": "cosine", "chunk_size": None,
            "alpha": 2.0, "normalize": True, "t": 2.0}


@dataclass
class SimilarityPlan:
    """Validated inputs, divided by powers of two (``x_scale``, ``y_scale``) so no intermediate overflows; a
    measure that is not scale-free is multiplied back by ``value_factor`` (exactly, in float64)."""

    x: torch.Tensor
    y: torch.Tensor | None
    measure: str
    params: dict
    x_scale: float = 1.0
    y_scale: float = 1.0

    @property
    def value_factor(self) -> float:
        m, p = self.measure, self.params
        if m == "hsic" and p["kernel"] == "linear":  # tr(KHLH): K scales as x_scale^2, L as y_scale^2
            return self.x_scale**2 * self.y_scale**2
        if m == "distance_covariance":  # dCov^2(aX, bY) = |a| |b| dCov^2(X, Y); the root is taken afterwards
            return self.x_scale * self.y_scale
        if m == "alignment" and not p["normalize"]:  # one common scale for both: |x - y|^alpha
            return self.x_scale ** p["alpha"]
        return 1.0  # CKA, HSIC with the RBF kernel, dCor, CCA, Jaccard, normalised alignment/uniformity


def plan_similarity(X, Y=None, measure: str = "cka", **params) -> SimilarityPlan:
    """Validate inputs and parameters for one measure; raises before any O(n^2) work starts."""
    measure = check_choice(measure, "measure", MEASURES)
    unknown = sorted(set(params) - set(PARAMS[measure]))
    if unknown:
        raise TypeError(f"measure={measure!r} takes no parameter(s) {', '.join(unknown)}; "
                        f"its parameters are {', '.join(PARAMS[measure])}")
    p = {name: params.get(name, DEFAULTS[name]) for name in PARAMS[measure]}
    if "kernel" in p:
        check_choice(p["kernel"], "kernel", KERNELS)
        p["threshold"] = check_positive_float(p["threshold"], "threshold", allow_none=False)
        if p["kernel"] == "linear" and "threshold" in params:
            raise ValueError("threshold (the RBF bandwidth as a fraction of the median distance) only applies "
                             "to kernel='rbf'")
    for name in ("unbiased", "shuffle", "squared", "center", "normalize"):
        if name in p:
            p[name] = check_bool(p[name], name)
    if "batch_size" in p:
        p["batch_size"] = check_positive_int(p["batch_size"], "batch_size")
        if p["batch_size"] is not None and p["batch_size"] < 4:
            raise ValueError(f"batch_size must be at least 4 (the unbiased HSIC needs 4 examples), got {p['batch_size']}")
        if p["batch_size"] is not None and "unbiased" in params and not p["unbiased"]:
            raise ValueError("minibatch CKA (batch_size) always uses the unbiased HSIC estimator; drop unbiased=False")
        p["seed"] = check_seed(p["seed"])
        if p["batch_size"] is not None:
            p["unbiased"] = True
    if measure in ("distance_covariance", "distance_correlation") and p["unbiased"] and not p["squared"]:
        raise ValueError(f"the unbiased {measure.replace('_', ' ')} estimate can be negative, so it has no square "
                         "root: pass squared=True to get the unbiased squared statistic")
    if "k" in p:
        p["k"] = check_positive_int(p["k"], "k", allow_none=False)
        check_choice(p["metric"], "metric", NEIGHBOUR_METRICS)
        p["chunk_size"] = check_positive_int(p["chunk_size"], "chunk_size")
    if "alpha" in p:
        p["alpha"] = check_positive_float(p["alpha"], "alpha", allow_none=False)
    if "t" in p:
        p["t"] = check_positive_float(p["t"], "t", allow_none=False)
        p["chunk_size"] = check_positive_int(p["chunk_size"], "chunk_size")

    if measure == "uniformity":
        if Y is not None:
            raise ValueError("uniformity describes one embedding: pass Y=None")
        x = as_matrix(X, "X")
        if x.shape[0] < 2:
            raise ValueError(f"uniformity needs at least 2 examples (rows), got {x.shape[0]}")
        y = None
    else:
        if Y is None:
            raise ValueError(f"measure={measure!r} compares two representations of the same examples: pass Y")
        needs = 4 if (p.get("unbiased") or p.get("batch_size")) else 2
        x, y = as_pair(X, Y, min_rows=needs)
        if measure == "jaccard" and x.shape[0] <= p["k"]:
            raise ValueError(f"k={p['k']} needs more than k examples, got {x.shape[0]}")

    n = x.shape[0]
    if measure in ("cka", "hsic", "distance_covariance", "distance_correlation"):
        human = {"cka": "CKA", "hsic": "normalised HSIC", "distance_covariance": "distance covariance",
                 "distance_correlation": "distance correlation"}[measure]
        if measure in ("cka", "distance_correlation"):  # ratios: 0/0 for a constant input
            check_not_constant(x, "X", human)
            check_not_constant(y, "Y", human)
        gram_based = not (measure == "cka" and p["kernel"] == "linear" and p["batch_size"] is None
                          and x.shape[1] * y.shape[1] < n * n)
        if gram_based:
            side = p["batch_size"] if measure == "cka" and p["batch_size"] else n
            check_fits(4 * side * side * x.element_size(), f"the {side} x {side} Gram matrices of {measure}", x.device)
    if measure == "cca":
        check_not_constant(x, "X", "CCA")
        check_not_constant(y, "Y", "CCA")
    if measure == "alignment" and x.shape[1] != y.shape[1]:
        raise ValueError(f"alignment compares positive pairs in one embedding space: X has {x.shape[1]} features "
                         f"but Y has {y.shape[1]}")
    params_out = {"measure": measure, **p, "n": n, "dtype": str(x.dtype).replace("torch.", ""),
                  "device": str(x.device)}
    x_scale = y_scale = 1.0
    if measure == "alignment" and not p["normalize"]:
        x_scale = y_scale = max(power_of_two_scale(x), power_of_two_scale(y))
    elif not (measure == "uniformity" and not p["normalize"]):  # exp(-t d^2) has no scale to factor out
        x_scale = power_of_two_scale(x)
        y_scale = 1.0 if y is None else power_of_two_scale(y)
    if x_scale != 1.0:
        x = x / x_scale
    if y is not None and y_scale != 1.0:
        y = y / y_scale
    if measure in ("alignment", "uniformity") and p["normalize"]:
        x = unit_rows(x, "X")
        if y is not None:
            y = unit_rows(y, "Y")
    return SimilarityPlan(x=x, y=y, measure=measure, params=params_out, x_scale=x_scale, y_scale=y_scale)


def run_similarity(plan: SimilarityPlan) -> dict:
    """Compute the measure: ``{"value": float, "se": float|None, "per_item": tensor|None, **extra params}``."""
    x, y, p = plan.x, plan.y, plan.params
    m = plan.measure
    out: dict = {"se": None, "per_item": None, "extra": {}}
    if m == "cka":
        if p["batch_size"] is not None:
            n = x.shape[0]
            order = None
            if p["shuffle"]:
                gen = torch.Generator().manual_seed(p["seed"])
                order = torch.randperm(n, generator=gen).to(x.device)
            acc = minibatch_cka(x, y, batch_size=p["batch_size"], kernel=p["kernel"], threshold=p["threshold"],
                                order=order)
            out["value"], out["se"] = acc.value, acc.se
            out["extra"] = {"estimator": "minibatch, unbiased HSIC (Nguyen et al. 2021)",
                            "n_batches": len(acc.hsic_xy),
                            "se_method": "jackknife over batches"}
        elif p["kernel"] == "linear" and x.shape[1] * y.shape[1] < x.shape[0] ** 2:
            out["value"] = float(linear_cka_features(x, y, p["unbiased"]))
            out["extra"] = {"form": "feature space"}
        else:
            out["value"] = float(cka_from_grams(gram(x, p["kernel"], p["threshold"]),
                                                gram(y, p["kernel"], p["threshold"]), p["unbiased"]))
            out["extra"] = {"form": "gram"}
    elif m == "hsic":
        out["value"] = float(hsic_from_grams(gram(x, p["kernel"], p["threshold"]),
                                             gram(y, p["kernel"], p["threshold"]), p["unbiased"]))
    elif m in ("distance_covariance", "distance_correlation"):
        fn = distance_covariance_sqr if m == "distance_covariance" else distance_correlation_sqr
        v = float(fn(x, y, p["unbiased"]))
        out["value"] = v if p["squared"] else math.sqrt(max(v, 0.0))
    elif m == "cca":
        v, rx, ry = mean_squared_cca(x, y, p["center"])
        out["value"] = float(v)
        out["extra"] = {"rank_x": rx, "rank_y": ry}
    elif m == "jaccard":
        per = jaccard_at_k(x, y, p["k"], p["metric"], p["chunk_size"])
        out["value"], out["per_item"] = float(per.mean()), per
    elif m == "alignment":
        out["value"] = float(alignment(x, y, p["alpha"]))
    elif m == "uniformity":
        out["value"] = float(uniformity(x, p["t"], p["chunk_size"]))
    factor = plan.value_factor
    if factor != 1.0:
        if m == "distance_covariance" and not p["squared"]:
            factor = math.sqrt(factor)
        out["value"] *= factor
    return out
