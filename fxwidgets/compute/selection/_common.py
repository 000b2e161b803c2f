"""Input checks shared by the selection methods: every problem raises before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..validate import as_matrix, check_length


def features(X: Any, name: str = "X") -> torch.Tensor:
    """``X`` as a 2-D float tensor; an all-NaN column or any NaN/Inf is named before anything runs.

    float32/float64 keep their dtype and device, other numbers compute in float32. One reduction (column
    sums, where NaN and Inf propagate) checks finiteness; only a failing column is inspected in detail.
    """
    if not isinstance(X, torch.Tensor):
        try:
            a = np.asarray(X)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"{name} must be a tensor or an array, got {type(X).__name__}") from exc
        if a.dtype.kind == "f" and a.ndim == 2 and a.dtype.itemsize >= 4:
            X = torch.from_numpy(np.ascontiguousarray(a))
        else:
            return as_matrix(X, name)
    x = X.detach()
    if x.ndim != 2 or x.dtype not in (torch.float32, torch.float64) or 0 in x.shape:
        return as_matrix(x, name)
    sums = torch.ones(x.shape[0], dtype=x.dtype, device=x.device) @ x  # a GEMV: far faster than a column sum
    if bool(torch.isfinite(sums).all()):
        return x
    nan = torch.isnan(x)
    cols = nan.all(0).nonzero().flatten().tolist()
    if cols:
        raise ValueError(f"{name} column(s) {cols[:10]} are all NaN; drop them before selecting features")
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = tuple(bad.nonzero()[0].tolist())
        raise ValueError(f"{name} has {int(bad.sum())} non-finite value(s) (NaN or Inf), the first at index {first}")
    return x  # finite values whose column sum overflowed: fine for the scores, which centre first


#: Rows per pass on CPU are chosen so that one block of X (and its temporaries) stays in the core's cache:
#: a column statistic then reads X from memory once, where whole-matrix temporaries cost several passes.
CACHE_BLOCK_BYTES = 2**20


def row_blocks(x: torch.Tensor) -> list[tuple[int, int]]:
    """Row ranges covering x: cache-sized blocks on CPU (one per thread: each thread works on its own slice of
    a block), one block on other devices (one kernel each)."""
    n = x.shape[0]
    if x.device.type != "cpu":
        return [(0, n)]
    block = CACHE_BLOCK_BYTES * torch.get_num_threads()
    rows = max(16, block // max(1, x.shape[1] * x.element_size()))
    return [(a, min(n, a + rows)) for a in range(0, n, rows)]


def constant_columns(x: torch.Tensor) -> torch.Tensor:
    """Boolean mask of columns whose values are all equal."""
    # sum_i |x_ij - x_0j| is 0 exactly when the column is constant (a GEMV, cheaper than column min/max),
    # block by block so the differences never leave the cache
    acc = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    ones = torch.ones(min(x.shape[0], row_blocks(x)[0][1]), dtype=x.dtype, device=x.device)
    for a, b in row_blocks(x):
        acc.addmv_((x[a:b] - x[:1]).abs_().T, ones[:b - a])
    return acc == 0


@dataclass
class Labels:
    codes: torch.Tensor  # int64 class index per row, on X's device
    classes: np.ndarray  # the original labels, in code order
    counts: torch.Tensor  # samples per class

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def onehot(self, dtype: torch.dtype) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.codes, self.n_classes).to(dtype)


def _as_vector(y: Any, n: int) -> np.ndarray:
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"y must be 1-D (one target per row), got shape {a.shape}")
    check_length(a, "y", n, "X", unit="rows")
    return a


#: A float target whose values are all integers is read as class labels unless it has more distinct values
#: than this (the diabetes progression score, 214 distinct integers, is a regression target).
MAX_INTEGER_CLASSES = 50


def is_continuous(y: Any) -> bool:
    """A float target is continuous (a regression target) when it has a non-integer value, or more than
    ``MAX_INTEGER_CLASSES`` distinct integer values. Integer, bool and string targets are class labels."""
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if a.dtype.kind != "f" or not bool(np.isfinite(a).all()):
        return False
    return bool((a != np.round(a)).any()) or len(np.unique(a)) > MAX_INTEGER_CLASSES


def labels(y: Any, n: int, device: torch.device, method: str) -> Labels:
    """Class labels (ints, bools or strings). A continuous y is refused with the method named."""
    if y is None:
        raise ValueError(f"method {method!r} needs class labels y")
    a = _as_vector(y, n)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ValueError("y has NaN or Inf values")
        if (a != np.round(a)).any():
            raise ValueError(
                f"y looks continuous ({len(np.unique(a))} distinct values, some not integers) but method {method!r} "
                "scores features against class labels; pass integer labels, or use a method for a continuous "
                "target (pearson, mi, dcor, mrmr, sequential_attention)")
    if a.dtype == object or a.dtype.kind not in "biufUS":
        a = a.astype(str)
    classes, codes = np.unique(a, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y has a single class ({classes[0]!r}); method {method!r} needs at least two")
    codes_t = torch.as_tensor(codes.astype(np.int64), device=device)
    counts = torch.bincount(codes_t, minlength=len(classes))
    return Labels(codes_t, classes, counts)


def target(y: Any, n: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A continuous (or numeric label) target as a float vector."""
    a = _as_vector(y, n)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"y must be numeric for a regression score, got dtype {a.dtype}")
    t = torch.as_tensor(a.astype(np.float64), device=device).to(dtype)
    if not bool(torch.isfinite(t).all()):
        raise ValueError("y has NaN or Inf values")
    return t


def zscore(x: torch.Tensor) -> torch.Tensor:
    sd = x.std(0, unbiased=False)
    return (x - x.mean(0)) / torch.where(sd > 0, sd, torch.ones_like(sd))


def rank_data(x: torch.Tensor) -> torch.Tensor:
    """Average ranks per column (ties share their mean rank), as scipy.stats.rankdata."""
    n = x.shape[0]
    sorted_x, order = torch.sort(x, dim=0, stable=True)
    pos = torch.arange(1, n + 1, device=x.device, dtype=x.dtype)[:, None].expand_as(x)
    new = torch.ones_like(sorted_x, dtype=torch.bool)
    new[1:] = sorted_x[1:] != sorted_x[:-1]
    group = torch.cumsum(new.long(), 0) - 1  # tie-group id per sorted position
    offsets = (group + torch.arange(x.shape[1], device=x.device) * n)
    sums = torch.zeros(n * x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, offsets.T.flatten(), pos.T.flatten())
    cnt = torch.zeros(n * x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, offsets.T.flatten(),
                                                                                 torch.ones_like(pos).T.flatten())
    mean_rank = (sums / cnt.clamp_min(1)).view(x.shape[1], n).T.gather(0, group)
    out = torch.empty_like(x)
    out.scatter_(0, order, mean_rank)
    return out


def corr_columns(x: torch.Tensor) -> torch.Tensor:
    """Pearson correlation matrix of the columns (a constant column correlates 0 with everything)."""
    c = x - x.mean(0)
    norm = torch.linalg.vector_norm(c, dim=0)
    c = c / torch.where(norm > 0, norm, torch.ones_like(norm))
    return (c.T @ c).clamp_(-1.0, 1.0)
