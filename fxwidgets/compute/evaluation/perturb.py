"""How the perturbation metrics change an input: baselines (a value, a reference input, a per-sample statistic
or a blurred copy), random feature subsets and noise drawn per (sample, draw), and calls to a user's
``perturb_func`` with Captum's conventions."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .core import EvaluationPlan, forked_rng, row_seed, seeded_rows

#: Baselines given by name: the per-sample minimum / maximum / mean of the input (Quantus' "black", "white",
#: "mean"), or a Gaussian-blurred copy of the input (Petsiuk et al. 2018's insertion substrate).
BASELINE_NAMES = ("black", "white", "mean", "blur")

#: Offset of the stream used to seed a user's perturb_func, so it never shares draws with a built-in one.
_USER_STREAM = 0x5EED


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur the last two dimensions of x (B, ..., H, W) with a Gaussian of ``sigma`` pixels (truncated at 3 sigma,
    edges replicated), separably."""
    H, W = x.shape[-2:]
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    flat = x.reshape(-1, 1, H, W)
    flat = F.conv2d(F.pad(flat, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return flat.reshape(x.shape)


def resolve_baseline(value: Any, x: torch.Tensor, *, name: str = "baseline", blur_sigma: float = 3.0) -> torch.Tensor:
    """A baseline that broadcasts against x (B, ...): a number (0-d), a name in BASELINE_NAMES, one input's shape
    or the batch's shape."""
    B = x.shape[0]
    per_sample = (B,) + (1,) * (x.ndim - 1)
    if isinstance(value, str):
        v = value.lower()
        if v not in BASELINE_NAMES:
            raise ValueError(f"{name} must be a number, a tensor or one of {', '.join(map(repr, BASELINE_NAMES))}; got {value!r}")
        flat = x.reshape(B, -1)
        if v == "black":
            return flat.amin(1).view(per_sample)
        if v == "white":
            return flat.amax(1).view(per_sample)
        if v == "mean":
            return flat.mean(1).view(per_sample)
        if x.ndim < 3:
            raise ValueError(f"{name}='blur' needs image-like inputs (batch, ..., height, width); the inputs have shape "
                             f"{tuple(x.shape)}")
        return gaussian_blur(x, blur_sigma)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a number, a tensor or one of {', '.join(map(repr, BASELINE_NAMES))}; got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return torch.tensor(float(value), dtype=x.dtype, device=x.device)
    if isinstance(value, torch.Tensor) and value.device != x.device:
        raise ValueError(f"{name} is on {value.device} but the inputs are on {x.device}")
    try:
        b = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else np.asarray(value))
    except Exception as exc:
        raise TypeError(f"{name} must be a number, a tensor or a name, got {type(value).__name__}") from exc
    if b.dtype == torch.bool or b.is_complex():
        raise TypeError(f"{name} must hold real numbers, got dtype {b.dtype}")
    b = b.to(x.device, x.dtype)
    if b.ndim == 0:
        out = b
    elif tuple(b.shape) == tuple(x.shape[1:]):
        out = b[None]
    elif tuple(b.shape) == tuple(x.shape):
        out = b
    else:
        raise ValueError(f"{name} has shape {tuple(b.shape)}; expected a number, one input's shape {tuple(x.shape[1:])} "
                         f"or the inputs' shape {tuple(x.shape)}")
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"{name} has non-finite values (NaN or Inf)")
    return out


def baseline_rows(base: torch.Tensor, samples: torch.Tensor, x_rows: torch.Tensor) -> torch.Tensor:
    """The baseline for rows drawn from samples ``samples``, expanded to the rows' shape."""
    if base.ndim > 0 and base.shape[0] > 1:
        base = base[samples]
    return base.expand_as(x_rows)


def replace(x_rows: torch.Tensor, mask: torch.Tensor, base_rows: torch.Tensor) -> torch.Tensor:
    """x with the elements under ``mask`` (rows, *attribution shape; broadcast to the inputs) set to the baseline."""
    return torch.where(mask, base_rows, x_rows)


def random_subsets(seed: int, stream: int, samples: torch.Tensor, draws: torch.Tensor, shape: tuple[int, ...],
                   subset_size: int, device: torch.device) -> torch.Tensor:
    """A uniformly random subset of ``subset_size`` of the prod(shape) features for each row, as a bool mask
    (rows, *shape): the features with the largest of i.i.d. uniform keys."""
    d = math.prod(shape)
    keys = seeded_rows(seed, stream, samples, draws, device, lambda g: torch.rand(d, generator=g, device=device))
    idx = keys.topk(subset_size, dim=1).indices
    m = torch.zeros((samples.numel(), d), dtype=torch.bool, device=device)
    m.scatter_(1, idx, True)
    return m.view(-1, *shape)


def uniform_noise(seed: int, stream: int, samples: torch.Tensor, draws: torch.Tensor, shape: tuple[int, ...],
                  radius: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Noise uniform in the L-infinity ball of ``radius`` (Captum's sensitivity default), one draw per row."""
    u = seeded_rows(seed, stream, samples, draws, device,
                    lambda g: torch.rand(shape, generator=g, device=device, dtype=dtype))
    return (2 * u - 1) * radius


def gaussian_noise(seed: int, stream: int, samples: torch.Tensor, draws: torch.Tensor, shape: tuple[int, ...],
                   stdev: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return seeded_rows(seed, stream, samples, draws, device,
                       lambda g: torch.randn(shape, generator=g, device=device, dtype=dtype)) * stdev


def positional_count(func: Callable) -> int:
    """How many positional arguments ``func`` accepts (a large number for *args)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return 1
    n = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return 1 << 20
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


def call_pair_perturb(func: Callable, x_rows: torch.Tensor, base_rows: torch.Tensor, plan: EvaluationPlan,
                      stream: int, first_row: int, attr_shape: tuple[int, ...],
                      name: str = "perturb_func") -> tuple[torch.Tensor, torch.Tensor]:
    """A user's ``perturb_func(inputs[, baselines]) -> (perturbation, perturbed_inputs)`` (Captum's infidelity
    convention), called on a chunk of rows. Torch's global generator is seeded from (seed, metric, first row)
    inside a fork, so a perturb_func drawing from it is reproducible for a given chunk_size and leaves the
    caller's generator alone."""
    with forked_rng(plan.device):
        torch.manual_seed(row_seed(plan.seed, stream ^ _USER_STREAM, first_row, 0))
        out = func(x_rows, base_rows) if positional_count(func) >= 2 else func(x_rows)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError(f"{name} must return (perturbation, perturbed_inputs), as Captum's infidelity perturb_func; "
                         f"got {type(out).__name__}")
    pert, z = (torch.as_tensor(t).to(x_rows.device, x_rows.dtype) for t in out)
    if tuple(z.shape) != tuple(x_rows.shape):
        raise ValueError(f"{name} returned perturbed inputs of shape {tuple(z.shape)} for inputs of shape "
                         f"{tuple(x_rows.shape)}; they must match")
    if tuple(pert.shape) not in (tuple(x_rows.shape), (x_rows.shape[0], *attr_shape)):
        raise ValueError(f"{name} returned a perturbation of shape {tuple(pert.shape)}; expected the inputs' shape "
                         f"{tuple(x_rows.shape)} or the attributions' {(x_rows.shape[0], *attr_shape)}")
    return pert, z


def call_input_perturb(func: Callable, x_rows: torch.Tensor, radius: float, plan: EvaluationPlan, stream: int,
                       first_row: int, name: str = "perturb_func") -> torch.Tensor:
    """A user's ``perturb_func(inputs[, radius]) -> perturbed_inputs`` (Captum's sensitivity_max convention; a
    pair (perturbation, perturbed) is accepted too and its second item used)."""
    with forked_rng(plan.device):
        torch.manual_seed(row_seed(plan.seed, stream ^ _USER_STREAM, first_row, 0))
        out = func(x_rows, radius) if positional_count(func) >= 2 else func(x_rows)
    if isinstance(out, (tuple, list)):
        if len(out) not in (1, 2):
            raise ValueError(f"{name} must return the perturbed inputs; got a sequence of {len(out)} items")
        out = out[-1]
    z = torch.as_tensor(out).to(x_rows.device, x_rows.dtype)
    if tuple(z.shape) != tuple(x_rows.shape):
        raise ValueError(f"{name} returned perturbed inputs of shape {tuple(z.shape)} for inputs of shape "
                         f"{tuple(x_rows.shape)}; they must match")
    return z


def attribution_dot(a_rows: torch.Tensor, pert: torch.Tensor, x_shape: torch.Size) -> torch.Tensor:
    """sum(a * I) per row, with I in the attributions' shape or the inputs' (then a broadcasts to the inputs)."""
    if pert.shape == a_rows.shape:
        return (a_rows * pert).reshape(a_rows.shape[0], -1).sum(1)
    return (a_rows.expand(x_shape) * pert).reshape(a_rows.shape[0], -1).sum(1)
