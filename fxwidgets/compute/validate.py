"""One vocabulary for checking user input: each check names the argument and says what was expected, and runs
before any long work starts.

- tensors: :func:`as_tensor` (numbers only, real, optional dtype cast), :func:`as_matrix` (2-D, finite),
  :func:`cast_like` (to a model's floating dtype);
- numbers: :func:`check_int` (integer with bounds), :func:`check_float` (finite real in an interval whose ends
  may be open or closed), :func:`check_probability` ([0, 1]), :func:`check_positive_int`,
  :func:`check_positive_float`, :func:`check_index` (a position in 0..n-1), :func:`check_seed`;
- everything else: :func:`check_choice` (one of a set), :func:`check_bool`, :func:`check_length` (a label or
  name sequence with one entry per item), :func:`names_for` (feature names, or a DataFrame's columns),
  :func:`as_indices` (a list of row indices).

Every message starts with the argument's name and says what was expected. ``check_int``, ``check_float`` and the
tensor checks raise ``TypeError`` for a value of the wrong kind (a string where a number belongs, a complex
array) and ``ValueError`` for one out of range; the older one-line checks (``check_positive_int``,
``check_positive_float``, ``check_index``, ``check_seed``, ``check_bool``, ``check_choice``) raise ``ValueError`` for both, as
their callers and tests have always expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

# ------------------------------------------------------------------------------------------------
# Tensors
# ------------------------------------------------------------------------------------------------


def as_tensor(x: Any, name: str, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``x`` (tensor, array, nested list, DataFrame) as a detached real tensor of numbers.

    Complex input is refused (silently dropping the imaginary part would be wrong); booleans and integers are
    accepted. With ``dtype`` the result is cast to it (e.g. a model's float dtype)."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        if hasattr(x, "to_numpy") and callable(x.to_numpy):  # pandas DataFrame / Series: the values, not the labels
            x = x.to_numpy()
        try:
            a = np.asarray(x)
        except Exception as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be a tensor or an array of numbers, got {type(x).__name__}") from exc
        if a.dtype.kind == "c":
            raise TypeError(f"{name} must be real, got complex values (dtype {a.dtype}); pass .real or abs() explicitly")
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got an array of dtype {a.dtype}")
        if a.dtype == np.float16:
            a = a.astype(np.float32)
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.is_complex():
        raise TypeError(f"{name} must be real, got dtype {t.dtype}; pass .real or .abs() explicitly")
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    return t


def as_matrix(x: Any, name: str, *, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a 2-D floating tensor with at least one row and column and only finite values.

    float32/float64 keep their dtype (and device); half precision and integers compute in float32.
    """
    t = as_tensor(x, name)
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (samples x features), got {t.ndim}-D with shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(t.shape)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    if device is not None and t.device != device:
        raise ValueError(f"{name} is on {t.device} but the other input is on {device}; move both to one device")
    check_finite(t, name)
    return t


def check_finite(t: torch.Tensor, name: str) -> torch.Tensor:
    """Raise naming ``name``, the count and the first index of any NaN or Inf in a floating tensor."""
    if not t.is_floating_point():
        return t
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


def cast_like(t: torch.Tensor, dtype: torch.dtype | None, name: str) -> torch.Tensor:
    """``t`` in a model's floating ``dtype`` (float64 NumPy data into a float32 model, float16 into float32...);
    integer and boolean tensors (token ids, class indices, masks) are left alone, as are tensors when ``dtype``
    is None."""
    if t.is_complex():
        raise TypeError(f"{name} must be real, got dtype {t.dtype}")
    if dtype is None or not dtype.is_floating_point or not t.is_floating_point():
        return t
    return t.to(dtype)


# ------------------------------------------------------------------------------------------------
# Numbers
# ------------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and value.dtype != torch.bool and not value.is_complex()
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def interval(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    """The interval in words and brackets: ``(0, 1]``, ``>= 1``, ``> 0``, ``<= 5``, or ``any value``."""
    if low is not None and high is not None:
        return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return "any value"


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
              allow_none: bool = False) -> int | None:
    """An integer (Python, NumPy or 0-d integer tensor; never a bool or a float) with ``minimum <= value <=
    maximum``."""
    if value is None and allow_none:
        return None
    where = interval(minimum, maximum)
    expected = "an integer" + ("" if where == "any value" else (f" in {where}" if minimum is not None and maximum is not None
                                                                else f" {where}"))
    if not _is_int(value):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise ValueError(f"{name} must be {expected}, got {v}")
    return v


def check_float(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False, allow_none: bool = False) -> float | None:
    """A finite real number in the interval from ``low`` to ``high`` (either end open or closed, or absent)."""
    if value is None and allow_none:
        return None
    where = interval(low, high, low_open, high_open)
    expected = "a finite number" + ("" if where == "any value" else (f" in {where}" if low is not None and high is not None
                                                                     else f" {where}"))
    if not _is_real(value):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be {expected}, got {v}")
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if below or above:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return v


def check_probability(value: Any, name: str, *, low_open: bool = False, high_open: bool = False,
                      allow_none: bool = False) -> float | None:
    """A probability or a share: a finite number in [0, 1] (ends open on request)."""
    return check_float(value, name, low=0.0, high=1.0, low_open=low_open, high_open=high_open, allow_none=allow_none)


def check_positive_int(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if not _is_int(value) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_positive_float(value: Any, name: str, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if not _is_real(value):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def check_index(value: Any, name: str, size: int, *, where: str = "") -> int:
    """A position in a sequence of ``size`` items: an integer in 0..size-1 (``where`` adds context, e.g.
    " at level 3")."""
    if not _is_int(value) or not 0 <= int(value) < size:
        raise ValueError(f"{name} must be an integer in 0..{size - 1}{where}, got {value!r}")
    return int(value)


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed for ``torch.Generator().manual_seed``: an integer (not a bool)."""
    if not _is_int(value):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


# ------------------------------------------------------------------------------------------------
# Choices, flags, sequences
# ------------------------------------------------------------------------------------------------


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")  # noqa: TRY004
    return bool(value)


def check_length(values: Any, name: str, expected: int, what: str, *, unit: str = "",
                 allow_none: bool = True) -> list | None:
    """A sequence (list, tuple, array, tensor; not a lone string) with one entry per item: ``expected`` of them,
    as counted by ``what`` in ``unit`` (``"labels has 7 entries but data has 400 examples"``)."""
    if values is None and allow_none:
        return None
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a sequence with one entry per item, got {type(values).__name__}")
    seq = values.tolist() if isinstance(values, (np.ndarray, torch.Tensor)) else list(values)
    if isinstance(values, (np.ndarray, torch.Tensor)) and values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(values.shape)}")
    if len(seq) != expected:
        raise ValueError(f"{name} has {len(seq)} entries but {what} has {expected}{' ' + unit if unit else ''}")
    return seq


def names_for(names: Any, X: Any, d: int, arg: str = "feature_names") -> list[str] | None:
    """``names`` (or a DataFrame's columns when ``names`` is None) as ``d`` strings; None when neither is given."""
    if names is None and hasattr(X, "columns"):
        names = list(X.columns)
    if names is None:
        return None
    out = [str(v) for v in (names.tolist() if hasattr(names, "tolist") else names)]
    check_length(out, arg, d, "X", unit="features")
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
