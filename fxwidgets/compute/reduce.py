"""Reductions a view draws from: block means (a coarse matrix whose every cell is the mean of its block) and
robust colour limits."""

from __future__ import annotations

import math

import numpy as np
import torch


def block_factor(n: int, max_cells: int) -> int:
    """Smallest number of rows per block that makes ``n`` rows fit in ``max_cells`` cells."""
    return max(1, math.ceil(n / max_cells))


def block_means(values: np.ndarray, fr: int, fc: int) -> np.ndarray:
    """Mean over blocks of ``fr`` rows x ``fc`` columns; the last block in each direction may be smaller.

    Computed in float64 so the means of large blocks do not drift, returned as float32.
    """
    values = np.asarray(values)
    if fr == 1 and fc == 1:
        return values.astype(np.float32, copy=False)
    n, m = values.shape
    row_starts = np.arange(0, n, fr)
    col_starts = np.arange(0, m, fc)
    sums = np.add.reduceat(np.add.reduceat(values.astype(np.float64), row_starts, axis=0), col_starts, axis=1)
    row_counts = np.minimum(row_starts + fr, n) - row_starts
    col_counts = np.minimum(col_starts + fc, m) - col_starts
    return (sums / np.outer(row_counts, col_counts)).astype(np.float32)


def robust_limit(g: torch.Tensor) -> float:
    """A symmetric colour range that the diagonal of a Gram matrix (each example with itself) does not wash
    out: the 99th percentile of the off-diagonal magnitudes. Larger values saturate."""
    n = g.shape[0]
    off = g[~torch.eye(n, dtype=torch.bool)].abs()
    lim = float(torch.quantile(off[:1_000_000], 0.99)) if off.numel() else float(g.abs().max())
    return lim if lim > 0 else (float(g.abs().max()) or 1.0)
