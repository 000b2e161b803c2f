"""How a method's attributed tensor reaches the model.

Every attribution method works on one tensor ``z`` of shape (B, ...) (the *attributed* tensor) and asks for
the model's output at rows of ``z`` through :class:`ModelCall`. What ``z`` is depends on the call:

- ``direct``: the inputs themselves (one tensor, as given);
- ``packed``: several input tensors, each row flattened and concatenated into one (B, D1 + D2 + ...) row, split
  back into the model's arguments on every call (so every method handles several inputs unchanged);
- ``layer``: a layer's output (or input) activation; the model runs on the original inputs and a forward hook
  substitutes ``z`` for the layer's value (Captum's layer-method convention: LayerIntegratedGradients
  interpolates at the layer, between the layer's value at the baseline and at the input).

Extra, non-attributed model arguments (``forward_args``, Captum's ``additional_forward_args``) follow the inputs:
a tensor whose first dimension is the batch is per row and is indexed with the rows being evaluated; anything
else is passed unchanged.

Inputs are cast to the model's dtype (its first floating parameter) and moved to its device before any work.
Hooks act only in the thread that installed them, so two jobs on one model do not see each other's hooks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def model_dtype(model: Any) -> torch.dtype | None:
    """The dtype of the model's first floating parameter (or buffer); None for a plain function."""
    if isinstance(model, torch.nn.Module):
        for t in (*model.parameters(), *model.buffers()):
            if t.is_floating_point():
                return t.dtype
    return None


def model_device(model: Any) -> torch.device | None:
    if isinstance(model, torch.nn.Module):
        for t in (*model.parameters(), *model.buffers()):
            return t.device
    return None


def find_embedding(model: Any) -> torch.nn.Module | None:
    """The first ``nn.Embedding`` (or ``nn.EmbeddingBag``) in the model's module order."""
    if isinstance(model, torch.nn.Module):
        for m in model.modules():
            if isinstance(m, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
                return m
    return None


def is_integer(t: torch.Tensor) -> bool:
    return not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool


def to_tensor(value: Any, name: str) -> torch.Tensor:
    """A tensor, NumPy array or nested list as a tensor (numbers only, real)."""
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            a = np.asarray(value)
        except Exception as exc:  # whatever NumPy refuses, the argument is named
            raise TypeError(f"{name} must be a tensor or an array, got {type(value).__name__}") from exc
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers, got an array of dtype {a.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(a))
    if t.is_complex():
        raise TypeError(f"{name} must be real, got dtype {t.dtype}")
    return t


def to_device(t: torch.Tensor, device: torch.device | None, name: str) -> torch.Tensor:
    """``t`` on the model's device; a move that cannot be made is an error naming the argument."""
    if device is None or t.device == device:
        return t
    if device.type == "meta" or t.device.type == "meta":
        raise ValueError(f"{name} are on {t.device} but the model is on {device}; move the inputs to the model's "
                         "device (attributions are computed where the model lives)")
    try:
        return t.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise ValueError(f"{name} are on {t.device} and cannot be moved to the model's device {device}: {exc}") from None


def cast_float(t: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """The model's floating dtype; without one (a plain function) float32/float64/half stay, integers -> float32."""
    if dtype is not None:
        return t.to(dtype)
    return t if t.dtype in FLOAT_DTYPES else t.float()


def check_finite(t: torch.Tensor, name: str) -> None:
    if t.is_floating_point():
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            raise ValueError(f"{name} have {int((~finite).sum())} non-finite value(s) (NaN or Inf)")


def as_forward_args(forward_args: Any, batch: int, device: torch.device | None) -> tuple[tuple, dict]:
    """``forward_args`` as (positional, keyword) extras: a tuple/list, a dict, or one value; tensors moved to the
    model's device (their dtype is kept: masks stay boolean or integer)."""
    if forward_args is None:
        args, kwargs = (), {}
    elif isinstance(forward_args, dict):
        if not all(isinstance(k, str) for k in forward_args):
            raise ValueError("forward_args given as a dict must have string keys (the model's keyword arguments)")
        args, kwargs = (), dict(forward_args)
    elif isinstance(forward_args, (tuple, list)):
        args, kwargs = tuple(forward_args), {}
    else:
        args, kwargs = (forward_args,), {}

    def move(v, where):
        if isinstance(v, torch.Tensor):
            v = to_device(v.detach(), device, f"forward_args{where}")
            check_finite(v, f"forward_args{where}")
        return v

    return (tuple(move(v, f"[{i}]") for i, v in enumerate(args)),
            {k: move(v, f"[{k!r}]") for k, v in kwargs.items()})


def per_row(v: Any, batch: int) -> bool:
    return isinstance(v, torch.Tensor) and v.ndim >= 1 and v.shape[0] == batch


class _Captured(Exception):
    """Raised by a capturing hook to stop the forward pass once the layer's value is known."""


def _check_owner(owner: int) -> bool:
    return threading.get_ident() == owner


@contextmanager
def layer_hook(layer: torch.nn.Module, side: str, fn) -> Iterator[None]:
    """Install ``fn(value) -> replacement or None`` on the layer's output (``side='output'``) or its first
    positional input (``side='input'``) for the duration, acting only in this thread."""
    owner = threading.get_ident()
    if side == "output":
        def hook(_m, _inp, out):
            return fn(out) if _check_owner(owner) else None

        handle = layer.register_forward_hook(hook)
    else:
        def hook(_m, args):
            if not _check_owner(owner):
                return None
            if not args:
                raise ValueError("layer_side='input': the layer was called without a positional input")
            new = fn(args[0])
            return None if new is None else (new, *args[1:])

        handle = layer.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@dataclass(eq=False)
class ModelCall:
    """The model evaluated at rows of the attributed tensor (see the module docstring for the three modes)."""

    model: Any
    inputs: tuple[torch.Tensor, ...]
    args: tuple  # forward_args: the model's non-attributed positional arguments
    kwargs: dict  # forward_kwargs
    mode: str  # "direct", "packed" or "layer"
    layer: torch.nn.Module | None = None
    side: str = "output"  # which of the layer's values is attributed: its "output" or its "input"
    batch: int = field(init=False)
    shapes: list[tuple[int, ...]] = field(init=False)  # per-row shapes of the inputs
    sizes: list[int] = field(init=False)
    per_row_extras: bool = field(init=False)  # some extra argument has one row per input row

    def __post_init__(self) -> None:
        self.batch = self.inputs[0].shape[0]
        self.shapes = [tuple(t.shape[1:]) for t in self.inputs]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.per_row_extras = any(per_row(v, self.batch) for v in (*self.args, *self.kwargs.values()))

    # -- the non-attributed parts of a model call, for input rows ``index`` ------------------------------
    def extras(self, index: torch.Tensor) -> tuple[tuple, dict]:
        def pick(v):
            return v[index.to(v.device)] if per_row(v, self.batch) else v

        return tuple(pick(v) for v in self.args), {k: pick(v) for k, v in self.kwargs.items()}

    def unpack(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Packed rows (R, D1 + D2 + ...) as the model's input tensors."""
        parts, a = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            parts.append(z[:, a:a + size].reshape(z.shape[0], *shape))
            a += size
        return tuple(parts)

    def pack(self, tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return torch.cat([t.reshape(t.shape[0], -1) for t in tensors], 1)

    # -- model passes ------------------------------------------------------------------------------------
    def run(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The model's raw output with the attributed rows ``z`` for input rows ``index``."""
        args, kwargs = self.extras(index)
        if self.mode == "direct":
            return self.model(z, *args, **kwargs)
        if self.mode == "packed":
            return self.model(*self.unpack(z), *args, **kwargs)

        def substitute(value):
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(z.shape):
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"layer: its {self.side} is {got} in this call, not the attributed shape "
                                 f"{tuple(z.shape)} (a layer called more than once per forward pass, or one whose "
                                 f"{self.side} is not one tensor, cannot be attributed)")
            return z.to(value.dtype)

        with layer_hook(self.layer, self.side, substitute):
            return self.model(*(t[index] for t in self.inputs), *args, **kwargs)

    def run_inputs(self, inputs: tuple[torch.Tensor, ...], index: torch.Tensor) -> torch.Tensor:
        """The model's raw output at the given input rows (no substitution), extras of rows ``index``."""
        args, kwargs = self.extras(index)
        return self.model(*inputs, *args, **kwargs)

    def capture(self, inputs: tuple[torch.Tensor, ...], index: torch.Tensor, *, finish: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layer's value at the given input rows (and, with ``finish=True``, the model's output; otherwise the
        pass stops at the layer). No gradients."""
        store: dict = {}

        def grab(value):
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"layer: its {self.side} must be one tensor to be attributed, got {type(value).__name__}")
            if "value" not in store:
                store["value"] = value.detach()
            if not finish:
                raise _Captured

        out = None
        args, kwargs = self.extras(index)
        with torch.no_grad(), layer_hook(self.layer, self.side, grab):
            try:
                out = self.model(*inputs, *args, **kwargs)
            except _Captured:
                pass
        if "value" not in store:
            raise ValueError("layer: the model's forward pass did not call this layer")
        return store["value"], out
