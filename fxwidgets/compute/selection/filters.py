"""Univariate and greedy filter scores, in torch on X's device.

Each function takes validated tensors (see ``_common``) and returns a score per feature as a tensor; the
larger the better unless the method's entry in ``METHODS`` says otherwise (Laplacian score).
"""

from __future__ import annotations

import math

import torch

from ..distance import prepare_points, sq_distances
from ..memory import TILE_BYTES
from ._common import Labels, rank_data, row_blocks, zscore

#: Features per chunk for the O(n^2)-per-feature scores (k-NN MI regression, distance correlation).
PAIR_BUDGET = 2**24


# ---- class separation --------------------------------------------------------------------------------
def _class_moments(x: torch.Tensor, lab: Labels):
    """Between- and within-class sums of squares per feature, through matrix products (column reductions
    are slow on CPUs). Shifting by the first row first keeps sum(x^2) - n mean^2 free of cancellation.
    One read of X: per cache-sized block of rows, the shifted block's class sums (one-hot GEMM) and its sum of
    squares (GEMV) are added up, so no X-sized temporary is made."""
    n, d = x.shape
    onehot = lab.onehot(x.dtype)  # n x K
    counts = lab.counts.to(x.dtype)  # K
    sums = torch.zeros((onehot.shape[1], d), dtype=x.dtype, device=x.device)  # K x d
    ssq = torch.zeros(d, dtype=x.dtype, device=x.device)
    blocks = row_blocks(x)
    ones = torch.ones(blocks[0][1], dtype=x.dtype, device=x.device)
    for a, b in blocks:
        xs = x[a:b] - x[:1]
        sums.addmm_(onehot[a:b].T, xs)
        ssq.addmv_(xs.mul_(xs).T, ones[:b - a])
    means = sums / counts[:, None]
    mean = sums.sum(0) / n
    sst = (ssq - n * mean * mean).clamp_min(0.0)
    ssb = (counts[:, None] * (means - mean) ** 2).sum(0)
    means = means + x[:1]
    ssw = (sst - ssb).clamp_min(0.0)
    return ssb, ssw, means, counts


def f_classif(x: torch.Tensor, lab: Labels) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One-way ANOVA F = (SSB/(K-1)) / (SSW/(N-K)) per feature, and its p-value when scipy is present."""
    n, k = x.shape[0], lab.n_classes
    if n <= k:
        raise ValueError(f"ANOVA F needs more samples than classes (n={n}, K={k})")
    ssb, ssw, _, _ = _class_moments(x, lab)
    f = (ssb / (k - 1)) / (ssw / (n - k))
    return f, _f_pvalues(f, k - 1, n - k)


def _f_pvalues(f: torch.Tensor, dfn: int, dfd: int) -> torch.Tensor | None:
    try:
        from scipy.special import fdtrc
    except ImportError:  # p-values are a convenience; the scores do not need scipy
        return None
    return torch.as_tensor(fdtrc(dfn, dfd, f.detach().cpu().double().numpy()), device=f.device, dtype=f.dtype)


def fisher_score(x: torch.Tensor, lab: Labels) -> torch.Tensor:
    """He et al. (2005): sum_k n_k (mu_k - mu)^2 / sum_k n_k sigma_k^2 = SSB / SSW = F (K-1)/(N-K)."""
    ssb, ssw, _, _ = _class_moments(x, lab)
    return ssb / ssw


def chi2(x: torch.Tensor, lab: Labels) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Pearson's chi-squared between each non-negative feature (counts/frequencies) and the classes:
    ``sum_k (O_k - E_k)^2 / E_k`` with ``O_k`` the feature's total in class k and ``E_k = P(k) sum_i x_i``.

    An all-zero column has ``E = O = 0`` in every class: the statistic is 0/0 and is NaN, with a NaN p-value (as
    scikit-learn's ``chi2``), never 0 with p = 1. The ranking puts NaN scores last (see ``rank``)."""
    if bool((x < 0).any()):
        j = int((x < 0).any(0).nonzero()[0])
        raise ValueError(f"chi2 needs non-negative features (counts or frequencies); X column {j} has negative values")
    observed = lab.onehot(x.dtype).T @ x  # K x d
    class_prob = lab.counts.to(x.dtype) / x.shape[0]
    total = x.sum(0)
    expected = class_prob[:, None] * total[None, :]
    with torch.no_grad():
        stat = ((observed - expected) ** 2 / torch.where(expected > 0, expected, torch.ones_like(expected))).sum(0)
        stat = torch.where(total > 0, stat, torch.full_like(stat, math.nan))
    try:
        from scipy.special import chdtrc
        p = torch.as_tensor(chdtrc(lab.n_classes - 1, stat.cpu().double().numpy()), device=x.device, dtype=x.dtype)
    except ImportError:
        p = None
    return stat, p


def pearson(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Signed correlation of each feature with y (scikit-learn's r_regression)."""
    xc = x - x.mean(0)
    yc = y - y.mean()
    return (xc.T @ yc) / (torch.linalg.vector_norm(xc, dim=0) * torch.linalg.vector_norm(yc))


def variance(x: torch.Tensor) -> torch.Tensor:
    return x.var(0, unbiased=False)


# ---- Laplacian score ---------------------------------------------------------------------------------
def knn_heat_graph(x: torch.Tensor, n_neighbors: int, bandwidth: float | None, chunk: int | None = None):
    """Symmetric k-NN graph with heat-kernel weights exp(-|xi-xj|^2 / t), as a sparse n x n tensor.

    t defaults to the mean squared distance to the k nearest neighbours (scale-free). Returns (W, t).
    Distances are exact in float32 (centred, rescaled, near pairs recomputed: ``compute.distance``), so data far
    from the origin gets its real neighbours; one ``chunk x n`` tile of distances exists at a time.
    """
    n = x.shape[0]
    k = min(n_neighbors, n - 1)
    if k < 1:
        raise ValueError(f"the Laplacian score's k-NN graph needs n_neighbors >= 1 and at least 2 rows; got "
                         f"n_neighbors={n_neighbors}, n={n}")
    points, _ = prepare_points(x)
    scale2 = points.scale**2
    if chunk is None:
        chunk = max(1, min(n, TILE_BYTES // max(1, 2 * n * x.element_size())))
    rows, cols, dists = [], [], []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        d = sq_distances(points[a:b], points, diagonal_offset=a)  # in units of scale^2
        d[torch.arange(b - a, device=x.device), torch.arange(a, b, device=x.device)] = float("inf")
        val, idx = torch.topk(d, k, dim=1, largest=False)
        rows.append(torch.arange(a, b, device=x.device).repeat_interleave(k))
        cols.append(idx.flatten())
        dists.append(val.flatten())
    r, c, dd = torch.cat(rows), torch.cat(cols), torch.cat(dists)
    t_scaled = float(dd.mean()) if bandwidth is None else float(bandwidth) / scale2
    if not t_scaled > 0:  # every point has k exact duplicates: any t gives weight 1
        t_scaled = 1.0
    w = torch.exp(-dd / t_scaled)
    # Symmetrise: an edge exists if either end lists the other (max of the two directed weights = same value).
    idx = torch.cat([torch.stack([r, c]), torch.stack([c, r])], 1)
    W = torch.sparse_coo_tensor(idx, torch.cat([w, w]), (n, n), check_invariants=False).coalesce()
    # Duplicates were summed by coalesce: an edge listed by both ends got 2w; bring it back to w.
    ones = torch.sparse_coo_tensor(idx, torch.ones_like(torch.cat([w, w])), (n, n), check_invariants=False).coalesce()
    W = torch.sparse_coo_tensor(W.indices(), W.values() / ones.values(), (n, n), check_invariants=False).coalesce()
    return W, t_scaled * scale2


def laplacian_score(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """He, Cai & Niyogi (2005): L_r = f~' L f~ / f~' D f~ with f~ = f - (f'D1 / 1'D1) 1. Smaller is better.

    ``W`` is a dense or sparse symmetric n x n affinity. A constant feature has 0/0: it is reported as +inf
    (the worst score), never NaN.
    """
    deg = torch.sparse.sum(W, 1).to_dense() if W.is_sparse else W.sum(1)
    ft = x - (deg @ x / deg.sum())[None, :]
    wf = torch.sparse.mm(W, ft) if W.is_sparse else W @ ft
    num = (ft * (deg[:, None] * ft - wf)).sum(0)
    den = (deg[:, None] * ft * ft).sum(0)
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.full_like(den, math.inf))


# ---- mutual information -------------------------------------------------------------------------------
def _discrete_codes(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Per column, the index of each value among the column's distinct values (0..m-1), and max m."""
    s, order = torch.sort(x, dim=0)
    new = torch.ones_like(s, dtype=torch.long)
    new[0] = 0
    new[1:] = (s[1:] != s[:-1]).long()
    code_sorted = torch.cumsum(new, 0)
    codes = torch.empty_like(code_sorted).scatter_(0, order, code_sorted)
    return codes, int(code_sorted[-1].max()) + 1


def plugin_mi(codes: torch.Tensor, m: int, other: torch.Tensor, k: int, dtype: torch.dtype) -> torch.Tensor:
    """Plug-in ``I(a_j; b) = sum p(a, b) log(p(a, b) / (p(a) p(b)))`` in nats of every column ``a_j`` of ``codes``
    (n x d, values in 0..m-1) with one discrete variable ``other`` (n, values in 0..k-1): one joint histogram
    of all columns at once, O(n d) time and O(d m k) memory."""
    n, d = codes.shape
    joint_idx = codes * k + other[:, None] + (torch.arange(d, device=codes.device) * m * k)[None, :]
    joint = torch.zeros(d * m * k, dtype=dtype, device=codes.device).index_add_(
        0, joint_idx.flatten(), torch.ones(n * d, dtype=dtype, device=codes.device)).view(d, m, k) / n
    px = joint.sum(2, keepdim=True)
    py = joint.sum(1, keepdim=True)
    tiny = torch.finfo(dtype).tiny
    ratio = joint / (px * py).clamp_min(tiny)
    terms = torch.where(joint > 0, joint * torch.log(ratio.clamp_min(tiny)), torch.zeros_like(joint))
    return terms.sum((1, 2)).clamp_min(0.0)


def mi_discrete(x: torch.Tensor, lab: Labels) -> torch.Tensor:
    """Plug-in I(x; y) = H(x) + H(y) - H(x, y) in nats, for discrete features and labels."""
    codes, m = _discrete_codes(x)
    return plugin_mi(codes, m, lab.codes, lab.n_classes, x.dtype)


def equal_frequency_codes(x: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Each column cut into ``n_bins`` states of (about) equal counts by its ranks, ``floor((rank - 1) n_bins /
    n)``; tied values share their average rank and so their state. (n, d) int64 in 0..n_bins-1."""
    n = x.shape[0]
    return ((rank_data(x) - 1.0) * (n_bins / n)).floor_().clamp_(0, n_bins - 1).long()


def _kth_gap_1d(s: torch.Tensor, k: int) -> torch.Tensor:
    """For each sorted column s (m x d), the distance from every point to its k-th nearest other point."""
    m = s.shape[0]
    inf = torch.full((k, s.shape[1]), math.inf, dtype=s.dtype, device=s.device)
    pad = torch.cat([inf * -1, s, inf])  # -inf .. s .. +inf
    best = torch.full_like(s, math.inf)
    for j in range(k + 1):  # windows [p-k+j, p+j] of k+1 consecutive points containing p
        lo = pad[j : j + m]
        hi = pad[k + j : k + j + m]
        best = torch.minimum(best, torch.maximum(s - lo, hi - s))
    return best


def _jitter(x: torch.Tensor, seed: int) -> torch.Tensor:
    """Scale each column to unit variance and add 1e-10-relative noise to break ties (as scikit-learn does)."""
    sd = x.std(0, unbiased=False)
    x = x / torch.where(sd > 0, sd, torch.ones_like(sd))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.device, x.dtype)
    return x + 1e-10 * torch.clamp(x.abs().mean(0), min=1.0) * noise


def _count_within(sorted_rows: torch.Tensor, centre: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Per row, how many sorted values lie strictly closer than ``radius`` to ``centre``. The radius is
    shrunk by a few ulps so that rounding in centre +- radius cannot pull in the point at exactly radius."""
    r = radius * (1 - 8 * torch.finfo(radius.dtype).eps)
    hi = torch.searchsorted(sorted_rows, centre + r, side="left")
    lo = torch.searchsorted(sorted_rows, centre - r, side="right")
    return (hi - lo).to(radius.dtype)


def mi_classif_knn(x: torch.Tensor, lab: Labels, n_neighbors: int = 3, seed: int = 0) -> torch.Tensor:
    """Ross (2014) k-NN estimate of I(continuous feature; class), in nats, as scikit-learn's
    mutual_info_classif: psi(N) + <psi(k)> - <psi(N_c)> - <psi(m)>, m = points closer than the k-th
    neighbour within the class. Classes with a single sample are ignored."""
    x = _jitter(x, seed)
    keep = lab.counts[lab.codes] > 1
    x, codes = x[keep], lab.codes[keep]
    n = x.shape[0]
    radius = torch.empty_like(x)
    k_all = torch.empty(n, dtype=x.dtype, device=x.device)
    n_c = torch.empty(n, dtype=x.dtype, device=x.device)
    for c in torch.unique(codes).tolist():
        rows = (codes == c).nonzero().flatten()
        k = min(n_neighbors, rows.numel() - 1)
        s, order = torch.sort(x[rows], dim=0)
        gap = _kth_gap_1d(s, k)
        r = torch.empty_like(gap).scatter_(0, order, gap)
        radius[rows] = r
        k_all[rows] = k
        n_c[rows] = rows.numel()
    s = torch.sort(x, dim=0).values.T.contiguous()  # d x n
    m = _count_within(s, x.T.contiguous(), radius.T.contiguous()).T  # includes the point itself, as scikit-learn
    mi = (torch.special.digamma(torch.tensor(float(n), dtype=x.dtype)).to(x.device) + torch.special.digamma(k_all).mean()
          - torch.special.digamma(n_c).mean() - torch.special.digamma(m).mean(0))
    return mi.clamp_min(0.0)


def mi_regression_knn(x: torch.Tensor, y: torch.Tensor, n_neighbors: int = 3, seed: int = 0) -> torch.Tensor:
    """Kraskov et al. (2004) estimator 1 of I(feature; y) in nats, as scikit-learn's mutual_info_regression:
    psi(N) + psi(k) - <psi(n_x + 1)> - <psi(n_y + 1)> with max-norm neighbourhoods in the joint space."""
    n, d = x.shape
    x = _jitter(x, seed)
    y = _jitter(y[:, None], seed + 1)[:, 0]
    k = min(n_neighbors, n - 1)
    ys, _ = torch.sort(y)
    dy = (y[:, None] - y[None, :]).abs()  # n x n, once
    dy.fill_diagonal_(math.inf)
    out = torch.empty(d, dtype=x.dtype, device=x.device)
    sx_all = torch.sort(x, dim=0).values
    fchunk = max(1, PAIR_BUDGET // max(1, n * n))
    for a in range(0, d, fchunk):
        b = min(d, a + fchunk)
        xa = x[:, a:b].T  # f x n
        joint = torch.maximum((xa[:, :, None] - xa[:, None, :]).abs(), dy[None])
        r = torch.kthvalue(joint, k, dim=2).values  # f x n (self excluded by the inf diagonal)
        sx = sx_all[:, a:b].T.contiguous()
        nx = _count_within(sx, xa.contiguous(), r) - 1
        ny = _count_within(ys.expand(b - a, n).contiguous(), y[None].expand(b - a, n).contiguous(), r) - 1
        dg = torch.special.digamma
        out[a:b] = (dg(torch.tensor(float(n), dtype=x.dtype)) + dg(torch.tensor(float(k), dtype=x.dtype))).to(x.device) \
            - dg(nx + 1).mean(1) - dg(ny + 1).mean(1)
    return out.clamp_min(0.0)


# ---- distance correlation -------------------------------------------------------------------------------
def _double_centre(d: torch.Tensor) -> torch.Tensor:
    return d - d.mean(-1, keepdim=True) - d.mean(-2, keepdim=True) + d.mean((-1, -2), keepdim=True)


def dcor(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Distance correlation (Szekely et al. 2007, V-statistic) of each feature with the target ``t``
    (n x q: a continuous y as one column, class labels one-hot). Values in [0, 1]."""
    n, d = x.shape
    B = _double_centre(torch.cdist(t, t))
    dvar_y = (B * B).mean()
    out = torch.empty(d, dtype=x.dtype, device=x.device)
    fchunk = max(1, PAIR_BUDGET // max(1, n * n))
    for a in range(0, d, fchunk):
        b = min(d, a + fchunk)
        xa = x[:, a:b].T
        A = _double_centre((xa[:, :, None] - xa[:, None, :]).abs())
        dcov2 = (A * B[None]).mean((1, 2))
        dvar_x = (A * A).mean((1, 2))
        denom = torch.sqrt(dvar_x * dvar_y)
        r2 = torch.where(denom > 0, dcov2 / torch.where(denom > 0, denom, torch.ones_like(denom)), torch.zeros_like(denom))
        out[a:b] = r2.clamp_min(0.0).sqrt()
    return out


# ---- mRMR ---------------------------------------------------------------------------------------------
#: scheme -> (relevance and redundancy measures, how they combine). "difference"/"quotient" are the old names
#: of the F-test forms.
MRMR_SCHEMES = {
    "mid": ("mi", "difference"),
    "miq": ("mi", "quotient"),
    "fcd": ("f", "difference"),
    "fcq": ("f", "quotient"),
    "difference": ("f", "difference"),
    "quotient": ("f", "quotient"),
}

#: States per feature (and per continuous target) for the plug-in MI of the MI forms. The plug-in estimate of two
#: independent variables is biased up by about (B - 1)(K - 1) / (2 n) nats; 5 states keep that at 0.008 for two
#: features and n = 1000, while a near-copy still scores close to ln 5 = 1.6.
MRMR_BINS = 5


def mrmr_mi_relevance(x: torch.Tensor, lab: Labels | None, t: torch.Tensor | None, n_bins: int) -> torch.Tensor:
    """``I(f_j; c)`` for the MI forms of mRMR: plug-in MI of each feature's ``n_bins`` equal-frequency states with
    the class labels, or with ``n_bins`` equal-frequency states of a continuous target ``t``."""
    codes = equal_frequency_codes(x, n_bins)
    if lab is not None:
        return plugin_mi(codes, n_bins, lab.codes, lab.n_classes, x.dtype)
    target_codes = equal_frequency_codes(t.to(x.dtype)[:, None], n_bins)[:, 0]
    return plugin_mi(codes, n_bins, target_codes, n_bins, x.dtype)


def mrmr(x: torch.Tensor, relevance: torch.Tensor, depth: int, scheme: str = "mid",
         n_bins: int = MRMR_BINS) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy minimum-redundancy maximum-relevance (Peng, Long & Ding 2005, IEEE TPAMI 27(8)).

    With S the features chosen so far, each step adds the unchosen feature j maximising

    * ``mid`` (mutual-information difference): ``I(j; c) - 1/|S| sum_{s in S} I(j; s)``
    * ``miq`` (mutual-information quotient): ``I(j; c) / (1/|S| sum_{s in S} I(j; s))``
    * ``fcd`` / ``"difference"`` (F-test correlation difference): ``F(j, c) - 1/|S| sum |corr(j, s)|``
    * ``fcq`` / ``"quotient"`` (F-test correlation quotient): ``F(j, c) / (1/|S| sum |corr(j, s)|)``

    ``relevance`` is the first term, computed by the caller: for the MI forms ``I(j; c)``
    (:func:`mrmr_mi_relevance`), for the F-test forms the ANOVA F (or the F of the regression on j). Both MI
    terms are the package's plug-in estimator (:func:`plugin_mi`, as ``mi`` with ``discrete_features=True``) on
    ``n_bins`` equal-frequency states per feature (and per continuous target): Peng et al. also discretise
    continuous features before their plug-in MI, and one estimator for both terms keeps their difference and
    ratio on one scale. O(n d) per step.

    Why the MI forms are the default: the F-test forms compare an F statistic (which grows with n) with a
    correlation in [0, 1], so a near-copy of the best feature (|corr| = 0.9995) costs it almost nothing and is
    picked over an independent, weaker feature. The MI forms charge the copy about ln(n_bins) nats of
    redundancy, more than any relevance to a binary class (at most ln 2), while an independent feature's
    redundancy is only the plug-in bias (about (n_bins - 1)^2 / 2n): they pick the independent feature. The
    first pick is the most relevant feature. Returns (order of the first ``depth`` picks, objective value at
    each pick).
    """
    measure, combine = MRMR_SCHEMES[scheme]
    n, d = x.shape
    if measure == "mi":
        codes = equal_frequency_codes(x, n_bins)

        def redundancy(j: int) -> torch.Tensor:
            return plugin_mi(codes, n_bins, codes[:, j], n_bins, x.dtype)
    else:
        z = zscore(x) / math.sqrt(n)

        def redundancy(j: int) -> torch.Tensor:
            return (z.T @ z[:, j]).abs().clamp_(max=1.0)

    chosen: list[int] = []
    objective = []
    red_sum = torch.zeros(d, dtype=x.dtype, device=x.device)
    available = torch.ones(d, dtype=torch.bool, device=x.device)
    for step in range(min(depth, d)):
        if step == 0:
            obj = relevance.clone()
        else:
            red = red_sum / step
            if combine == "quotient":
                obj = relevance / red.clamp_min(1e-12)
            else:
                obj = relevance - red
        obj = torch.where(available, obj, torch.full_like(obj, -math.inf))
        j = int(torch.argmax(obj))
        chosen.append(j)
        objective.append(float(obj[j]))
        available[j] = False
        red_sum += redundancy(j)
    return torch.tensor(chosen, dtype=torch.long), torch.tensor(objective, dtype=x.dtype)


# ---- ReliefF -----------------------------------------------------------------------------------------------
def relieff(x: torch.Tensor, lab: Labels, n_neighbors: int = 10, instances: torch.Tensor | None = None,
            chunk: int = 256) -> torch.Tensor:
    """ReliefF (Kononenko 1994) with range-normalised features and Manhattan distance (as skrebate):

        W_f = 1/m sum_i [ -mean_{k hits h} diff_f(i, h)
                          + sum_{C != y_i} P(C)/(1 - P(y_i)) mean_{k misses of C} diff_f(i, m) ]

    with diff_f(i, j) = |x_if - x_jf| / (max_f - min_f). For two classes this is skrebate's binary ReliefF.
    ``instances`` (indices) subsamples the m updating instances; by default every row updates.
    """
    n, d = x.shape
    rng = (x.max(0).values - x.min(0).values)
    z = (x - x.min(0).values) / torch.where(rng > 0, rng, torch.ones_like(rng))
    idx = torch.arange(n, device=x.device) if instances is None else instances.to(x.device)
    m = idx.numel()
    prior = lab.counts.to(x.dtype) / n
    K = lab.n_classes
    W = torch.zeros(d, dtype=x.dtype, device=x.device)
    for a in range(0, m, chunk):
        q = idx[a : a + chunk]
        dist = torch.cdist(z[q], z, p=1)
        dist[torch.arange(q.numel()), q] = math.inf
        yq = lab.codes[q]
        for c in range(K):
            in_c = lab.codes == c
            kk = min(n_neighbors, int(in_c.sum()) - (1 if True else 0))
            kk = max(1, min(n_neighbors, int(in_c.sum())))
            dc = torch.where(in_c[None, :], dist, torch.full_like(dist, math.inf))
            vals, nn = torch.topk(dc, kk, dim=1, largest=False)
            valid = torch.isfinite(vals)  # fewer than k others in the class (the query's own class)
            diff = (z[q][:, None, :] - z[nn]).abs() * valid[..., None]  # b x k x d
            mean_diff = diff.sum(1) / valid.sum(1, keepdim=True).clamp_min(1)
            hit = (yq == c)
            weight = torch.where(hit, -torch.ones_like(yq, dtype=x.dtype), prior[c] / (1 - prior[yq]))
            W += (weight[:, None] * mean_diff).sum(0)
    return W / m
