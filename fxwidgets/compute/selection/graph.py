"""Graph rankings: Infinite Feature Selection (Inf-FS) and eigenvector-centrality feature selection (EC-FS).

Variant implemented: **Inf-FS as in Roffo's ``infFS.m`` "Version 4.0, 2016" (ICCV 2015 paper)**:

    sigma_ij = minmax( max(std_i, std_j) )              std with ddof=1, min-max over the whole matrix
    C_ij     = minmax( c_i c_j ),  c = (mu_+ - mu_-)^2 / (s_+^2 + s_-^2)   supervised, two classes
             = Spearman(f_i, f_j)  (signed)                                  unsupervised
    A        = alpha C + (1 - alpha) sigma
    r        = 0.9 / lambda_max(A)
    S        = (I - r A)^-1 - I = sum_{l>=1} (r A)^l,    score_i = sum_j S_ij

A zero within-class variance sum is replaced by 10000, as in the MATLAB code. We solve (I - rA) s = 1 and
subtract 1 instead of inverting (same row sums, one O(d^3) solve). For more than two classes we use
c = sum_k (mu_k - m)^2 / sum_k s_k^2 with m the mean of the class means: for two classes this is c/2 of
the formula above, and the min-max normalisation removes the factor, so it is an exact extension.

**ILFS** (Infinite Latent Feature Selection, Roffo et al., ICCV 2017), as our research notes summarise it (not a
line-by-line port of ``ILFS.m``): relevancy is the latent variable of a PLSA model whose "documents" are the
features and whose "words" are T tokens. For sample i of class c, d_ij = |x_ij - mu_cj| / std_j; the tokens are
T equal-width bins over [0, q], q the ``quantile`` (0.95) of all d_ij (values above q go to the last bin), and
N[j, t] counts feature j's samples in bin t. EM with two factors gives P(t|z) and P(z|f_j); the relevant factor
is the one whose P(t|z) has the smaller expected token (samples close to their class mean), p_j = P(rel|f_j).
Then A = p p^T and the scores are the Inf-FS path sums above (``inf_fs_scores``, r = 0.9 / lambda_max(A)).
"""

from __future__ import annotations

import math

import torch

from ._common import Labels, corr_columns, rank_data


def _minmax(a: torch.Tensor) -> torch.Tensor:
    a = a - a.min()
    top = a.max()
    return a / top if float(top) > 0 else torch.zeros_like(a)


def fisher_ratio(x: torch.Tensor, lab: Labels) -> torch.Tensor:
    """(mu_+ - mu_-)^2 / (s_+^2 + s_-^2) with ddof=1 variances (0 -> 10000), generalised as above."""
    means = torch.stack([x[lab.codes == c].mean(0) for c in range(lab.n_classes)])
    var = torch.stack([x[lab.codes == c].var(0, unbiased=True) if int(lab.counts[c]) > 1
                       else torch.zeros(x.shape[1], dtype=x.dtype, device=x.device) for c in range(lab.n_classes)])
    num = ((means - means.mean(0)) ** 2).sum(0)
    st = var.sum(0)
    st = torch.where(st == 0, torch.full_like(st, 10000.0), st)
    return num / st


def inf_fs_graph(x: torch.Tensor, lab: Labels | None, alpha: float) -> torch.Tensor:
    std = x.std(0, unbiased=True)
    sigma = _minmax(torch.maximum(std[:, None], std[None, :]))
    if lab is not None:
        c = fisher_ratio(x, lab)
        C = _minmax(c[:, None] * c[None, :])
    else:
        C = corr_columns(rank_data(x))  # Spearman = Pearson of the ranks; NaN (constant column) -> 0
    return alpha * C + (1.0 - alpha) * sigma


def inf_fs_scores(A: torch.Tensor, factor: float = 0.9) -> tuple[torch.Tensor, float]:
    """Row sums of (I - rA)^-1 - I with r = factor / lambda_max(A). Returns (scores, r)."""
    d = A.shape[0]
    lam = float(torch.linalg.eigvalsh((A + A.T) / 2)[-1])
    if lam <= 0:
        raise ValueError("the Inf-FS graph has no positive eigenvalue (all features identical?); scores are undefined")
    r = factor / lam
    eye = torch.eye(d, dtype=A.dtype, device=A.device)
    ones = torch.ones(d, 1, dtype=A.dtype, device=A.device)
    s = torch.linalg.solve(eye - r * A, ones)[:, 0] - 1.0
    return s, r


def eigenvector_centrality(A: torch.Tensor) -> torch.Tensor:
    """|principal eigenvector| of a symmetric graph (eigh), normalised to unit length."""
    _, vecs = torch.linalg.eigh((A + A.T) / 2)
    v = vecs[:, -1]
    return v.abs() / torch.linalg.vector_norm(v)


def power_iteration(A: torch.Tensor, iters: int = 1000, tol: float = 1e-12) -> torch.Tensor:
    v = torch.ones(A.shape[0], dtype=A.dtype, device=A.device) / A.shape[0] ** 0.5
    for _ in range(iters):
        w = A @ v
        w = w / torch.linalg.vector_norm(w)
        if float(torch.linalg.vector_norm(w - v)) < tol:
            return w
        v = w
    return v


def ecfs_graph(x: torch.Tensor, lab: Labels, alpha: float, mi: torch.Tensor) -> torch.Tensor:
    """EC-FS graph (Roffo & Melzi 2016): A = alpha K + (1 - alpha) sigma, with K the min-max normalised
    outer product of v = (minmax(Fisher ratio) + minmax(MI with the class)) / 2 and sigma the Inf-FS
    standard-deviation kernel. Features are ranked by |principal eigenvector of A|."""
    std = x.std(0, unbiased=True)
    sigma = _minmax(torch.maximum(std[:, None], std[None, :]))
    v = (_minmax(fisher_ratio(x, lab)) + _minmax(mi)) / 2
    K = _minmax(v[:, None] * v[None, :])
    return alpha * K + (1.0 - alpha) * sigma


def _quantile(v: torch.Tensor, q: float) -> float:
    """numpy.quantile(v, q) (linear interpolation) by two k-th order statistics (torch.quantile has a size cap)."""
    v = v.flatten()
    pos = q * (v.numel() - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    a = float(torch.kthvalue(v, lo + 1).values)
    b = a if hi == lo else float(torch.kthvalue(v, hi + 1).values)
    return a + (b - a) * (pos - lo)


def ilfs_tokens(x: torch.Tensor, lab: Labels, n_tokens: int, quantile: float) -> tuple[torch.Tensor, float]:
    """(N, q): the d x T counts of each feature's samples per token, and the upper edge q of the bins.

    d_ij = |x_ij - mu_cj| / std_j (class means, ddof=1 std; callers drop constant columns), binned into T
    equal-width bins over [0, q] with q the ``quantile`` of all d_ij; values at or above q go to the last bin."""
    n, d = x.shape
    means = torch.stack([x[lab.codes == c].mean(0) for c in range(lab.n_classes)])  # K x d
    dist = (x - means[lab.codes]).abs() / x.std(0, unbiased=True)
    q = _quantile(dist, quantile)
    if q <= 0:  # most samples sit exactly on their class mean: bin over the whole range instead
        q = float(dist.max())
    if q > 0:
        tok = torch.clamp((dist * (n_tokens / q)).floor().long(), 0, n_tokens - 1)
    else:
        tok = torch.zeros_like(dist, dtype=torch.long)
    counts = torch.zeros(d, n_tokens, dtype=torch.float64, device=x.device)
    counts.scatter_add_(1, tok.T, torch.ones(d, n, dtype=torch.float64, device=x.device))
    return counts, q


def plsa_em(counts: torch.Tensor, n_factors: int = 2, n_iter: int = 100, tol: float = 1e-9,
            seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """PLSA by EM on a documents x words count matrix N (here features x tokens).

    Model P(w|d) = sum_z P(w|z) P(z|d); returns (P(w|z) as words x factors, P(z|d) as documents x factors,
    the log-likelihood sum_dw N_dw log P(w|d) at the start and after every iteration). Seeded random start
    (a CPU generator, so CPU and CUDA start alike); stops after ``n_iter`` iterations or when one raises
    the log-likelihood by at most ``tol`` times its size. EM never lowers the log-likelihood."""
    counts = counts.to(torch.float64)
    n_docs, n_words = counts.shape
    gen = torch.Generator().manual_seed(int(seed))
    p_wz = torch.rand(n_words, n_factors, generator=gen, dtype=torch.float64).to(counts.device) + 0.1
    p_zd = torch.rand(n_docs, n_factors, generator=gen, dtype=torch.float64).to(counts.device) + 0.1
    p_wz = p_wz / p_wz.sum(0, keepdim=True)
    p_zd = p_zd / p_zd.sum(1, keepdim=True)
    tiny = torch.finfo(torch.float64).tiny

    def loglik() -> tuple[torch.Tensor, float]:
        model = (p_zd @ p_wz.T).clamp_min(tiny)  # P(w|d), documents x words
        return model, float((counts * model.log()).sum())

    model, ll = loglik()
    trace = [ll]
    for _ in range(n_iter):
        ratio = counts / model  # N_dw / P(w|d): the E-step responsibilities P(z|d,w) = P(w|z) P(z|d) / P(w|d)
        new_wz = p_wz * (ratio.T @ p_zd)  # sum_d N_dw P(z|d,w)
        new_zd = p_zd * (ratio @ p_wz)  # sum_w N_dw P(z|d,w)
        p_wz = new_wz / new_wz.sum(0, keepdim=True).clamp_min(tiny)
        p_zd = new_zd / new_zd.sum(1, keepdim=True).clamp_min(tiny)
        model, ll = loglik()
        trace.append(ll)
        if ll - trace[-2] <= tol * abs(ll):
            break
    return p_wz, p_zd, trace


def ilfs(x: torch.Tensor, lab: Labels, n_tokens: int = 6, quantile: float = 0.95, n_iter: int = 100,
         tol: float = 1e-9, seed: int = 0, factor: float = 0.9) -> tuple[torch.Tensor, dict]:
    """ILFS scores of the columns of x (see the module docstring) and the extras: ``p_relevant`` (P(rel|f)),
    ``log_likelihood`` (the EM trace), ``final_log_likelihood``, ``token_edge`` (q) and ``r``.

    A column constant on these rows (possible on a bootstrap resample) has no token histogram: it scores NaN."""
    const = x.std(0, unbiased=True) == 0
    d = x.shape[1]
    scores = torch.full((d,), math.nan, dtype=x.dtype, device=x.device)
    p_full = torch.full((d,), math.nan, dtype=x.dtype, device=x.device)
    if bool(const.all()):
        return scores, {"p_relevant": p_full, "log_likelihood": [], "r": math.nan}
    xs = x[:, ~const] if bool(const.any()) else x
    counts, q = ilfs_tokens(xs, lab, n_tokens, quantile)
    p_wz, p_zd, trace = plsa_em(counts, 2, n_iter, tol, seed)
    t = torch.arange(n_tokens, dtype=torch.float64, device=x.device)
    rel = int(torch.argmin(t @ p_wz))  # the factor whose tokens sit closest to the class means
    p = p_zd[:, rel].to(x.dtype)
    A = p[:, None] * p[None, :]
    s, r = inf_fs_scores(A, factor)
    scores[~const] = s
    p_full[~const] = p
    return scores, {"p_relevant": p_full, "log_likelihood": trace, "final_log_likelihood": trace[-1],
                    "token_edge": q, "r": r}
