"""What every attribution method shares: validated inputs, the target, the model's outputs, chunked passes.

A method is a generator of :class:`AttributionStep` (the running estimate, progress, standard error where
it has one, diagnostics). :class:`AttributionAccumulator` keeps the latest step and makes the final
:class:`AttributionRecord`; the blocking call drains the generator, a job drains it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

#: Model rows per forward/backward pass when ``chunk_size`` is not given.
DEFAULT_CHUNK_ROWS = 256


@dataclass
class AttributionStep:
    """One partial result: the running estimate and how far along it is."""

    values: torch.Tensor  # shape of the inputs (B, ...), or the method's own shape (Grad-CAM, concepts)
    progress: float
    stderr: torch.Tensor | None = None
    features: torch.Tensor | None = None  # (B, n_features) for feature-group methods
    diagnostics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)


@dataclass
class AttributionRecord:
    """Attributions for a batch of inputs and what produced them (the final step plus the plan's parameters).

    ``values`` has the inputs' shape (Grad-CAM: (B, H, W) maps; concepts: (B, k, H, W) heat maps).
    Feature-group methods (ablation, Shapley) also give ``features`` (B, n_features). Sampling methods give
    ``stderr`` (the standard error of each value). ``diagnostics`` holds the completeness or efficiency gap,
    the base value f(baseline) and the output f(x) where the method has them.
    """

    values: torch.Tensor
    method: str
    params: dict = field(default_factory=dict)
    seed: int | None = None
    target: list | None = None
    stderr: torch.Tensor | None = None
    features: torch.Tensor | None = None
    diagnostics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)


@dataclass
class AttributionPlan:
    """Validated inputs and parameters; building one runs the model once (to check the target)."""

    model: Callable
    inputs: torch.Tensor  # (B, ...)
    target: torch.Tensor | None  # (B,) long, or None for a model with one output per row
    method: str
    chunk_size: int
    seed: int | None
    params: dict
    output: torch.Tensor  # (B,) f(x) at the target
    n_outputs: int | None  # classes per row (None: one output per row)
    extra: dict = field(default_factory=dict)  # method-specific prepared objects (baselines, masks, layer)

    @property
    def batch(self) -> int:
        return self.inputs.shape[0]

    @property
    def device(self) -> torch.device:
        return self.inputs.device

    @property
    def dtype(self) -> torch.dtype:
        return self.inputs.dtype

    # -- model passes --------------------------------------------------------------------------------
    def rows_target(self, index: torch.Tensor) -> torch.Tensor | None:
        """Targets for model rows drawn from input rows ``index``."""
        return None if self.target is None else self.target[index]

    def select(self, out: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return select_output(out, target)

    def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """f(x) at the target of input row ``index[r]`` for each row r of x, without gradients, chunked."""
        outs = []
        with torch.no_grad():
            for a in range(0, x.shape[0], self.chunk_size):
                b = min(x.shape[0], a + self.chunk_size)
                outs.append(self.select(self.model(x[a:b]), self.rows_target(index[a:b])))
        return torch.cat(outs) if outs else x.new_zeros(0)

    def gradient(self, x: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(df/dx, f(x)) for one chunk of model rows (the caller chunks)."""
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            y = self.select(self.model(xr), self.rows_target(index))
            if not y.requires_grad:
                raise ValueError("model: its output does not depend on the input through autograd (no gradient); "
                                 "gradient methods need a differentiable model (try method='occlusion' or 'shapley_*')")
            (g,) = torch.autograd.grad(y.sum(), xr, allow_unused=True)
        if g is None:
            raise ValueError("model: autograd returned no gradient for the input; gradient methods need a model "
                             "whose output is computed from the input tensor")
        return g.detach(), y.detach()


def select_output(out: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"model must return a tensor, got {type(out).__name__}")
    if target is None:
        if out.ndim == 2 and out.shape[1] == 1:
            return out[:, 0]
        if out.ndim == 1:
            return out
        raise ValueError(f"model returns shape {tuple(out.shape)} per batch; give target= (the output index to explain)")
    if out.ndim != 2:
        raise ValueError(f"model returns shape {tuple(out.shape)}; with target= it must return (batch, n_outputs)")
    return out.gather(1, target[:, None])[:, 0]


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for a in range(0, n, size):
        yield a, min(n, a + size)


def model_device(model: Any) -> torch.device | None:
    if isinstance(model, torch.nn.Module):
        for p in model.parameters():
            return p.device
        for b in model.buffers():
            return b.device
    return None


def as_inputs(inputs: Any, model: Any) -> torch.Tensor:
    if isinstance(inputs, torch.Tensor):
        x = inputs.detach()
    else:
        try:
            a = np.asarray(inputs)
        except Exception as exc:
            raise TypeError(f"inputs must be a tensor or an array, got {type(inputs).__name__}") from exc
        if a.dtype == object or a.dtype.kind not in "biuf":
            raise TypeError(f"inputs must hold numbers, got an array of dtype {a.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(a))
    if x.is_complex():
        raise TypeError(f"inputs must be real, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"inputs must be batch-first with at least 2 dimensions (batch, features...), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x[0].numel() == 0:
        raise ValueError(f"inputs are empty: shape {tuple(x.shape)}")
    if x.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        x = x.float()
    dev = model_device(model)
    if dev is not None and x.device != dev:
        raise ValueError(f"inputs are on {x.device} but the model is on {dev}; move the inputs to the model's device "
                         "(attributions are computed where the model lives)")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("inputs have non-finite values (NaN or Inf)")
    return x


def as_target(target: Any, n_outputs: int | None, batch: int, device: torch.device) -> torch.Tensor | None:
    if target is None:
        if n_outputs is not None:
            raise ValueError(f"target is required: the model returns {n_outputs} outputs per row; "
                             f"give target=<int in 0..{n_outputs - 1}> or one per row")
        return None
    if n_outputs is None:
        raise ValueError("target must be None: the model returns a single output per row")
    if isinstance(target, (bool, np.bool_)):
        raise ValueError(f"target must be an integer or a sequence of integers, got {target!r}")
    if isinstance(target, (int, np.integer)):
        t = torch.full((batch,), int(target), dtype=torch.long)
    else:
        t = torch.as_tensor(np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target))
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.ndim != 1 or t.shape[0] != batch:
            raise ValueError(f"target must be an int or {batch} integers (one per input row), got {target!r}")
        t = t.long()
    bad = (t < 0) | (t >= n_outputs)
    if bool(bad.any()):
        raise ValueError(f"target {int(t[bad][0])} is out of range: the model has {n_outputs} outputs (0..{n_outputs - 1})")
    return t.to(device)


def as_baseline(baseline: Any, x: torch.Tensor, name: str = "baseline") -> torch.Tensor:
    """A baseline broadcast to the inputs' shape: a number, one input's shape, or the batch's shape."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    b = torch.as_tensor(baseline.detach() if isinstance(baseline, torch.Tensor) else np.asarray(baseline))
    if isinstance(baseline, torch.Tensor) and baseline.device != x.device:
        raise ValueError(f"{name} is on {baseline.device} but the inputs are on {x.device}")
    b = b.to(x.device, x.dtype)
    if tuple(b.shape) == tuple(x.shape[1:]):
        return b.expand_as(x).clone()
    if tuple(b.shape) == tuple(x.shape):
        return b.clone()
    if b.ndim == 0:
        return torch.full_like(x, float(b))
    raise ValueError(f"{name} has shape {tuple(b.shape)}; expected a number, one input's shape {tuple(x.shape[1:])} "
                     f"or the inputs' shape {tuple(x.shape)}")


def feature_groups(feature_mask: Any, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """A feature mask as a (B, D) long tensor of group ids 0..n-1 over the flattened inputs, and n.

    ``None``: every element of one input is its own feature. A mask has one input's shape or the batch's
    shape (or broadcasts to it) and its ids must be exactly 0..n-1 in every row, so every feature is a group.
    """
    B = x.shape[0]
    D = x[0].numel()
    if feature_mask is None:
        return torch.arange(D, device=x.device).expand(B, D), D
    m = torch.as_tensor(feature_mask.detach().cpu() if isinstance(feature_mask, torch.Tensor) else np.asarray(feature_mask))
    if m.dtype.is_floating_point or m.dtype == torch.bool:
        raise ValueError(f"feature_mask must hold integer group ids, got dtype {m.dtype}")
    try:
        if m.ndim == x.ndim:
            full = torch.broadcast_to(m, x.shape)
        else:
            full = torch.broadcast_to(m, x.shape[1:]).expand(x.shape)
    except RuntimeError:
        raise ValueError(f"feature_mask has shape {tuple(m.shape)}, which does not cover the inputs' shape "
                         f"{tuple(x.shape)} (give one input's shape {tuple(x.shape[1:])} or one that broadcasts to it)") from None
    full = full.reshape(B, D).long()
    n = int(full.max()) + 1
    if int(full.min()) < 0:
        raise ValueError("feature_mask has negative ids; ids must be 0..n-1")
    for r in range(full.shape[0] if m.ndim == x.ndim and m.shape[0] == B else 1):
        present = torch.unique(full[r])
        if present.numel() != n:
            missing = sorted(set(range(n)) - set(present.tolist()))[:5]
            raise ValueError(f"feature_mask ids must be exactly 0..{n - 1}; ids {missing} are missing")
    return full.to(x.device), n


class AttributionAccumulator:
    """Keeps the latest partial result; ``result()`` wraps the final one in an AttributionResult."""

    def __init__(self, plan: AttributionPlan) -> None:
        self.plan = plan
        self.latest: AttributionStep | None = None
        self.steps = 0

    def add(self, step: AttributionStep) -> None:
        self.latest = step
        self.steps += 1

    @property
    def progress(self) -> float:
        return 0.0 if self.latest is None else self.latest.progress

    def result(self) -> AttributionRecord:
        if self.latest is None or self.latest.progress < 1.0:
            raise RuntimeError("attribution is incomplete")
        plan, step = self.plan, self.latest
        return AttributionRecord(values=step.values, method=plan.method, params=dict(plan.params), seed=plan.seed,
                                 target=None if plan.target is None else plan.target.cpu().tolist(),
                                 stderr=step.stderr, features=step.features, diagnostics=dict(step.diagnostics),
                                 extras=dict(step.extras))
