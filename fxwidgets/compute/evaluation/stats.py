"""Row-wise statistics the metrics share: Pearson and Spearman correlation, SSIM, trapezoid areas, the mean and
its standard error. Every function works on a batch of rows at once, in torch, on the rows' device."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of ``a`` (N, D) with the same row of ``b``; NaN where a row is constant
    (scipy.stats.pearsonr returns NaN there too)."""
    ac = a - a.mean(-1, keepdim=True)
    bc = b - b.mean(-1, keepdim=True)
    den = torch.sqrt((ac * ac).sum(-1) * (bc * bc).sum(-1))
    r = (ac * bc).sum(-1) / den
    # rounding can push |r| a hair over 1 (scipy clips too)
    return torch.where(den > 0, r.clamp(-1.0, 1.0), torch.full_like(r, float("nan")))


def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """1-based ranks along the last dimension, ties given their average rank (scipy.stats.rankdata 'average').

    The average rank of a value v is (#{< v} + #{<= v} + 1) / 2, read off the sorted row with two binary searches,
    so ties need no Python loop."""
    s = x.sort(-1).values.contiguous()
    v = x.contiguous()
    left = torch.searchsorted(s, v, right=False)
    right = torch.searchsorted(s, v, right=True)
    return (left + right + 1).to(x.dtype) / 2


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation per row: Pearson of the average ranks (scipy.stats.spearmanr)."""
    return pearson(average_ranks(a), average_ranks(b))


def ssim(a: torch.Tensor, b: torch.Tensor, *, spatial_dims: int = 1, win_size: int = 7,
         k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) of each pair of rows, as skimage.metrics.structural_similarity with
    its defaults (uniform ``win_size`` window, sample covariance) and ``data_range`` = max - min over both maps
    of the pair (Quantus' convention).

    ``a``, ``b``: (N, ..., *S) where the last ``spatial_dims`` dimensions are windowed and any dimensions between
    the batch and them are channels whose SSIMs are averaged (skimage's ``channel_axis``). skimage filters the
    whole map with reflected borders and then crops (win_size - 1) // 2 from every edge before averaging, so
    only windows lying fully inside count: that is exactly a valid (unpadded) moving average.

        SSIM = mean over windows of (2 mu_a mu_b + C1)(2 cov_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(var_a + var_b + C2)),
        C1 = (k1 R)^2, C2 = (k2 R)^2, R = data range; variances with the sample (n - 1) normalisation.
    """
    n = a.shape[0]
    spatial = tuple(a.shape[a.ndim - spatial_dims:])
    lo = torch.minimum(a.reshape(n, -1).amin(-1), b.reshape(n, -1).amin(-1))
    hi = torch.maximum(a.reshape(n, -1).amax(-1), b.reshape(n, -1).amax(-1))
    data_range = (hi - lo).view(n, 1, *([1] * spatial_dims))
    x = a.reshape(n, -1, *spatial)
    y = b.reshape(n, -1, *spatial)
    c = x.shape[1]
    pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[spatial_dims]

    def filt(t: torch.Tensor) -> torch.Tensor:
        return pool(t.reshape(n * c, 1, *spatial), win_size, stride=1).reshape(n, c, *[s - win_size + 1 for s in spatial])

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    n_win = win_size ** spatial_dims
    cov_norm = n_win / (n_win - 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    per_channel = s.reshape(n, c, -1).mean(-1).mean(-1)
    # two identical constant maps have no range (0 / 0 above); they are identical, so their SSIM is 1
    return torch.where(data_range.reshape(n) > 0, per_channel, torch.ones_like(per_channel))


SIMILARITIES = ("spearman", "pearson", "ssim", "ssim2d")


def similarity(kind: str, a: torch.Tensor, b: torch.Tensor, *, win_size: int = 7) -> torch.Tensor:
    """Similarity of each pair of maps (N, ...): Spearman/Pearson over the flattened maps, SSIM over the flattened
    maps (Quantus' ``ssim``) or over the last two dimensions with the others as channels (``ssim2d``, as the
    image SSIM of Adebayo et al. 2018)."""
    n = a.shape[0]
    if kind == "spearman":
        return spearman(a.reshape(n, -1), b.reshape(n, -1))
    if kind == "pearson":
        return pearson(a.reshape(n, -1), b.reshape(n, -1))
    if kind == "ssim":
        return ssim(a.reshape(n, -1), b.reshape(n, -1), spatial_dims=1, win_size=win_size)
    if kind == "ssim2d":
        return ssim(a, b, spatial_dims=2, win_size=win_size)
    raise ValueError(f"similarity must be one of {', '.join(map(repr, SIMILARITIES))}; got {kind!r}")


def trapezoid(curves: torch.Tensor, dx: float) -> torch.Tensor:
    """Area under each row of ``curves`` (N, P) with spacing ``dx`` (the composite trapezoid rule, np.trapz)."""
    return ((curves[:, :-1] + curves[:, 1:]) * (dx / 2)).sum(-1)


def mean_and_stderr(values: torch.Tensor) -> tuple[float, float, int]:
    """Mean over the finite values, its standard error s / sqrt(n) (s with n - 1), and n. NaN where undefined."""
    v = values[torch.isfinite(values)].double()
    n = int(v.numel())
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(v.mean())
    stderr = float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")
    return mean, stderr, n
