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
"""

from __future__ import annotations

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
