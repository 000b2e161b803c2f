"""Univariate and greedy filter scores, in torch on X's device.

Each function takes validated tensors (see ``_common``) and returns a score per feature as a tensor; the
larger the better unless the method's entry in ``METHODS`` says otherwise (Laplacian score).
"""

from __future__ import annotations

import math

import torch

from ._common import Labels, row_blocks, zscore

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
    """Pearson's chi-squared between each non-negative feature (counts/frequencies) and the classes."""
    if bool((x < 0).any()):
        j = int((x < 0).any(0).nonzero()[0])
        raise ValueError(f"chi2 needs non-negative features (counts or frequencies); X column {j} has negative values")
    observed = lab.onehot(x.dtype).T @ x  # K x d
    class_prob = lab.counts.to(x.dtype) / x.shape[0]
    expected = class_prob[:, None] * x.sum(0)[None, :]
    with torch.no_grad():
        stat = ((observed - expected) ** 2 / torch.where(expected > 0, expected, torch.ones_like(expected))).sum(0)
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
def knn_heat_graph(x: torch.Tensor, n_neighbors: int, bandwidth: float | None, chunk: int = 1024):
    """Symmetric k-NN graph with heat-kernel weights exp(-|xi-xj|^2 / t), as a sparse n x n tensor.

    t defaults to the mean squared distance to the k nearest neighbours (scale-free). Returns (W, t).
    """
    n = x.shape[0]
    k = min(n_neighbors, n - 1)
    sq = (x * x).sum(1)
    rows, cols, dists = [], [], []
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        d = (sq[a:b, None] + sq[None, :] - 2.0 * x[a:b] @ x.T).clamp_min_(0.0)
        d[torch.arange(b - a), torch.arange(a, b)] = float("inf")
        val, idx = torch.topk(d, k, dim=1, largest=False)
        rows.append(torch.arange(a, b, device=x.device).repeat_interleave(k))
        cols.append(idx.flatten())
        dists.append(val.flatten())
    r, c, dd = torch.cat(rows), torch.cat(cols), torch.cat(dists)
    t = float(dd.mean()) if bandwidth is None else float(bandwidth)
    if t <= 0:
        t = 1.0
    w = torch.exp(-dd / t)
    # Symmetrise: an edge exists if either end lists the other (max of the two directed weights = same value).
    idx = torch.cat([torch.stack([r, c]), torch.stack([c, r])], 1)
    W = torch.sparse_coo_tensor(idx, torch.cat([w, w]), (n, n), check_invariants=False).coalesce()
    # Duplicates were summed by coalesce: an edge listed by both ends got 2w; bring it back to w.
    ones = torch.sparse_coo_tensor(idx, torch.ones_like(torch.cat([w, w])), (n, n), check_invariants=False).coalesce()
    W = torch.sparse_coo_tensor(W.indices(), W.values() / ones.values(), (n, n), check_invariants=False).coalesce()
    return W, t


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


def mi_discrete(x: torch.Tensor, lab: Labels) -> torch.Tensor:
    """Plug-in I(x; y) = H(x) + H(y) - H(x, y) in nats, for discrete features and labels."""
    n, d = x.shape
    codes, m = _discrete_codes(x)
    k = lab.n_classes
    joint_idx = codes * k + lab.codes[:, None] + (torch.arange(d, device=x.device) * m * k)[None, :]
    joint = torch.zeros(d * m * k, dtype=x.dtype, device=x.device).index_add_(
        0, joint_idx.flatten(), torch.ones(n * d, dtype=x.dtype, device=x.device)).view(d, m, k) / n
    px = joint.sum(2, keepdim=True)
    py = joint.sum(1, keepdim=True)
    ratio = joint / (px * py).clamp_min(torch.finfo(x.dtype).tiny)
    terms = torch.where(joint > 0, joint * torch.log(ratio.clamp_min(torch.finfo(x.dtype).tiny)), torch.zeros_like(joint))
    return terms.sum((1, 2)).clamp_min(0.0)


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
def mrmr(x: torch.Tensor, relevance: torch.Tensor, depth: int, scheme: str = "quotient") -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy minimum-redundancy maximum-relevance (Peng et al. 2005; Ding & Peng's F-test/correlation form).

    At each step the feature maximising relevance / mean|corr with the chosen| ("quotient", FCQ) or
    relevance - mean|corr| ("difference", FCD) is added. Returns (order of the first ``depth`` picks,
    objective value at each pick). Correlations are computed only against chosen features: O(n d depth).
    """
    n, d = x.shape
    z = zscore(x) / math.sqrt(n)
    chosen: list[int] = []
    objective = []
    red_sum = torch.zeros(d, dtype=x.dtype, device=x.device)
    available = torch.ones(d, dtype=torch.bool, device=x.device)
    for step in range(min(depth, d)):
        if step == 0:
            obj = relevance.clone()
        else:
            red = red_sum / step
            if scheme == "quotient":
                obj = relevance / red.clamp_min(1e-12)
            else:
                obj = relevance - red
        obj = torch.where(available, obj, torch.full_like(obj, -math.inf))
        j = int(torch.argmax(obj))
        chosen.append(j)
        objective.append(float(obj[j]))
        available[j] = False
        red_sum += (z.T @ z[:, j]).abs().clamp_(max=1.0)
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
