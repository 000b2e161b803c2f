"""Checks on user input that name the argument and say what was expected, before any long work starts."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_matrix(x: Any, name: str, *, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a 2-D floating tensor with at least one row and column and only finite values.

    float32/float64 keep their dtype (and device); half precision and integers compute in float32.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            a = np.asarray(x)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"{name} must be a tensor or an array, got {type(x).__name__}") from exc
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got an array of dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.is_complex():
        raise TypeError(f"{name} must be real, got dtype {t.dtype}")
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features), got {t.ndim}-D with shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(t.shape)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    if device is not None and t.device != device:
        raise ValueError(f"{name} is on {t.device} but the other input is on {device}; move both to one device")
    # One reduction first: a sum is finite only if every value is (NaN and ±Inf propagate), and it costs a
    # fraction of the elementwise check's bool tensor. Only a non-finite sum (or an overflow) looks closer.
    if bool(torch.isfinite(t.sum())):
        return t
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        n_bad = int((~finite).sum())
        raise ValueError(f"{name} has {n_bad} non-finite value(s) (NaN or Inf), the first at index {tuple(bad)}")
    return t


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_positive_int(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def names_for(names: Any, X: Any, d: int, arg: str = "feature_names") -> list[str] | None:
    """``names`` (or a DataFrame's columns when ``names`` is None) as ``d`` strings; None when neither is given."""
    if names is None and hasattr(X, "columns"):
        names = list(X.columns)
    if names is None:
        return None
    out = [str(v) for v in (names.tolist() if hasattr(names, "tolist") else names)]
    if len(out) != d:
        raise ValueError(f"{arg} has {len(out)} entries but X has {d} features")
    return out


def as_indices(x: Any, name: str, n: int, *, unique: bool = True, allow_empty: bool = False,
               device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a 1-D int64 tensor of row indices in [0, n) (negative indices are refused, not wrapped)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            a = np.asarray(x)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"{name} must be a sequence of row indices, got {type(x).__name__}") from exc
        if a.size == 0:
            a = a.astype(np.int64)
        if a.dtype.kind == "b" or (a.dtype.kind not in "iu"):
            raise TypeError(f"{name} must hold integer row indices, got dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a.astype(np.int64)))
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise TypeError(f"{name} must hold integer row indices, got dtype {t.dtype}")
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-D (a list of row indices), got shape {tuple(t.shape)}")
    if t.numel() == 0 and not allow_empty:
        raise ValueError(f"{name} is empty; give at least one row index")
    t = t.to(torch.int64)
    if t.numel():
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} has index {bad}, outside the {n} rows [0, {n - 1}]")
        if unique and torch.unique(t).numel() != t.numel():
            raise ValueError(f"{name} lists some rows more than once; give each row index once")
    return t if device is None else t.to(device)
