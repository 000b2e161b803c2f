"""What every attribution method shares: validated inputs, the target, the model's outputs, chunked passes.

A method is a generator of :class:`AttributionStep` (the running estimate, progress, standard error where
it has one, diagnostics). :class:`AttributionAccumulator` keeps the latest step and makes the final
:class:`AttributionRecord`; the blocking call drains the generator, a job drains it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import torch

from ..plans import BatchPlan
from .forward import ModelCall, cast_float, check_finite, is_integer, model_device, model_dtype, to_device, to_tensor

@dataclass
class AttributionValues:
    """The values and what comes with them, alike in a partial step and in the final record."""

    values: torch.Tensor  # shape of the inputs (B, ...), or the method's own shape (Grad-CAM, concepts)
    _: KW_ONLY
    stderr: torch.Tensor | None = None  # the standard error of each value, for sampling methods
    features: torch.Tensor | None = None  # (B, n_features) for feature-group methods
    diagnostics: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)
    #: Per row: the model's output at the reference the values are measured from (f(baseline) for IG and
    #: ablation-style methods, E_b f(b) over a background for Shapley and expected gradients), or None where
    #: the method has no reference (saliency, Grad-CAM). Efficiency/completeness: values sum to outputs - base_values
    #: (shap's Explanation calls these base_values too).
    base_values: torch.Tensor | None = None
    #: Per row: f(x) at the target.
    outputs: torch.Tensor | None = None
    #: What each value is the attribution *of*, for summary (beeswarm) and dependence views: (B, n_features) group
    #: means for feature-group methods, else the inputs in the values' layout (token ids for text), None for layer maps.
    feature_values: Any = None


@dataclass
class AttributionStep(AttributionValues):
    """One partial result: the running estimate and how far along it is."""

    progress: float


@dataclass
class Layout:
    """How values in the attributed tensor's layout become what the caller sees.

    ``packed``: several inputs were flattened into one row; values split back into one tensor per input.
    ``token_sum``: integer token inputs attributed at a layer whose value is (B, T, ...): values are summed over
    the trailing dimensions, one per token (B, T) (Captum's text convention for LayerIntegratedGradients).
    """

    attributed_shape: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...] = ()  # per-row shapes of the inputs when packed
    token_sum: bool = False

    @property
    def packed(self) -> bool:
        return bool(self.shapes)

    def present(self, t: torch.Tensor | None) -> Any:
        if t is None or not isinstance(t, torch.Tensor):
            return t
        if self.token_sum and tuple(t.shape) == self.attributed_shape:
            return t.sum(dim=tuple(range(2, t.ndim))) if t.ndim > 2 else t
        if self.packed and tuple(t.shape) == self.attributed_shape:
            parts, a = [], 0
            for shape in self.shapes:
                size = int(np.prod(shape))
                parts.append(t[:, a:a + size].reshape(t.shape[0], *shape))
                a += size
            return tuple(parts)
        return t


@dataclass
class AttributionRecord(AttributionValues):
    """Attributions for a batch of inputs and what produced them (the final step plus the plan's parameters).

    ``values`` has the inputs' shape (Grad-CAM: (B, H, W) maps; concepts: (B, k, H, W) heat maps).
    Feature-group methods (ablation, Shapley) also give ``features`` (B, n_features). Sampling methods give
    ``stderr`` (the standard error of each value). ``diagnostics`` holds the completeness or efficiency gap,
    the base value f(baseline) and the output f(x) where the method has them.
    """

    method: str
    params: dict = field(default_factory=dict)
    seed: int | None = None
    target: list | None = None


@dataclass
class AttributionPlan(BatchPlan):
    """Validated inputs and parameters; building one runs the model once (to check the target)."""

    batch_field = "attributed"

    model: Callable
    attributed: torch.Tensor  # (B, ...): what the values are attributions of (see forward.py)
    target: torch.Tensor | None  # (B,) long, or None for a model with one output per row
    method: str
    chunk_size: int
    seed: int | None
    params: dict
    output: torch.Tensor  # (B,) f(x) at the target
    n_outputs: int | None  # classes per row (None: one output per row)
    extra: dict = field(default_factory=dict)  # method-specific prepared objects (baselines, masks, layer)
    call: ModelCall | None = None
    inputs: Any = None  # the model's inputs after casting: one tensor, or a tuple when several were given
    layout: Layout | None = None
    value_dtype: torch.dtype | None = None  # the dtype of the values (floating even for token-id inputs)

    def __post_init__(self) -> None:
        if self.call is None:  # a plan built by hand around one tensor and a plain model
            self.call = ModelCall(self.model, (self.attributed,), (), {}, "direct")
        if self.inputs is None:
            self.inputs = self.attributed
        if self.layout is None:
            self.layout = Layout(tuple(self.attributed.shape))

    @property
    def dtype(self) -> torch.dtype:
        if self.value_dtype is not None:
            return self.value_dtype
        return self.attributed.dtype if self.attributed.is_floating_point() else torch.float32

    # -- model passes --------------------------------------------------------------------------------
    def rows_target(self, index: torch.Tensor) -> torch.Tensor | None:
        """Targets for model rows drawn from input rows ``index``."""
        return None if self.target is None else self.target[index]

    def select(self, out: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        return select_output(out, target)

    def forward(self, z: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """f at the target of input row ``index[r]`` for each attributed row r of z, without gradients, chunked."""
        outs = []
        with torch.no_grad():
            for a in range(0, z.shape[0], self.chunk_size):
                b = min(z.shape[0], a + self.chunk_size)
                outs.append(self.select(self.call.run(z[a:b], index[a:b]), self.rows_target(index[a:b])))
        return torch.cat(outs) if outs else z.new_zeros(0, dtype=self.dtype)

    def gradient(self, z: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(df/dz, f) for one chunk of attributed rows (the caller chunks)."""
        with torch.enable_grad():
            zr = z.detach().requires_grad_(True)
            y = self.select(self.call.run(zr, index), self.rows_target(index))
            if not y.requires_grad:
                raise ValueError("model: its output does not depend on the input through autograd (no gradient); "
                                 "gradient methods need a differentiable model (try method='occlusion' or 'shapley_*')")
            (g,) = torch.autograd.grad(y.sum(), zr, allow_unused=True)
        if g is None:
            raise ValueError("model: autograd returned no gradient for the input; gradient methods need a model "
                             "whose output is computed from the input tensor")
        return g.detach(), y.detach()


def present(plan: AttributionPlan, step: AttributionStep) -> AttributionStep:
    """A method's step in the caller's layout, with the per-row base value, output and feature values."""
    layout = plan.layout
    extras = dict(step.extras)
    if layout.token_sum and tuple(step.values.shape) == layout.attributed_shape:
        extras.setdefault("layer_values", step.values)  # (B, T, d): before the per-token sum
    values = layout.present(step.values)
    if step.features is not None:
        feature_values = plan.extra.get("feature_values")
    elif isinstance(values, tuple) or (isinstance(plan.inputs, torch.Tensor) and isinstance(values, torch.Tensor)
                                       and values.shape == plan.inputs.shape):
        feature_values = plan.inputs
    else:
        feature_values = None
    return AttributionStep(values=values, progress=step.progress, stderr=layout.present(step.stderr),
                           features=step.features, diagnostics=step.diagnostics, extras=extras,
                           base_values=plan.extra.get("base_value"), outputs=plan.output, feature_values=feature_values)


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


def as_inputs(inputs: Any, model: Any, *, keep_integer: bool = False, name: str = "inputs") -> torch.Tensor:
    """One batch-first input tensor on the model's device, in the model's floating dtype (integer token ids
    stay integers with ``keep_integer``), finite."""
    x = to_tensor(inputs, name)
    if x.ndim < 2:
        raise ValueError(f"{name} must be batch-first with at least 2 dimensions (batch, features...), got shape {tuple(x.shape)}")
    if x.shape[0] == 0 or x[0].numel() == 0:
        raise ValueError(f"{name} are empty: shape {tuple(x.shape)}")
    if not (keep_integer and is_integer(x)):
        x = cast_float(x, model_dtype(model))
    x = to_device(x, model_device(model), name)
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} have non-finite values (NaN or Inf)")
    return x


def as_target(target: Any, n_outputs: int | None, batch: int, device: torch.device) -> torch.Tensor | None:
    if target is None:
        if n_outputs is not None:
            raise ValueError(f"target is required: the model returns {n_outputs} outputs per row; "
                             f"give target=<int in 0..{n_outputs - 1}> or one per row")
        return None
    if n_outputs is None:
        raise ValueError("target must be None: the model returns a single output per row")
    return as_output_indices(target, batch, n_outputs, "target").to(device)


def as_output_indices(given: Any, batch: int, n_outputs: int, name: str) -> torch.Tensor:
    """One output index per input row, (batch,) long on the CPU: ``given`` is an int for every row or ``batch``
    integers, each in 0..n_outputs-1; ``name`` is the argument the errors name."""
    if isinstance(given, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer or a sequence of integers, got {given!r}")
    if isinstance(given, (int, np.integer)):
        t = torch.full((batch,), int(given), dtype=torch.long)
    else:
        t = torch.as_tensor(np.asarray(given.cpu() if isinstance(given, torch.Tensor) else given))
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.ndim != 1 or t.shape[0] != batch:
            raise ValueError(f"{name} must be an int or {batch} integers (one per input row), got {given!r}")
        t = t.long()
    bad = (t < 0) | (t >= n_outputs)
    if bool(bad.any()):
        raise ValueError(f"{name} {int(t[bad][0])} is out of range: the model has {n_outputs} outputs (0..{n_outputs - 1})")
    return t


def as_baseline(baseline: Any, x: torch.Tensor, name: str = "baseline") -> torch.Tensor:
    """A baseline broadcast to the inputs' shape: a number, one input's shape, or the batch's shape; in the
    inputs' dtype (token ids stay integers) and on their device."""
    if baseline is None:
        return torch.zeros_like(x)
    if isinstance(baseline, (int, float, np.integer, np.floating)) and not isinstance(baseline, (bool, np.bool_)):
        if not np.isfinite(float(baseline)):
            raise ValueError(f"{name} must be finite, got {baseline!r}")
        if not x.is_floating_point() and not float(baseline).is_integer():
            raise ValueError(f"{name} must be an integer token id for integer inputs, got {baseline!r}")
        return torch.full_like(x, baseline)
    b = to_device(to_tensor(baseline, name), x.device, name)
    if not x.is_floating_point() and b.is_floating_point():
        raise ValueError(f"{name} must hold integer token ids like the inputs, got dtype {b.dtype}")
    b = b.to(x.dtype)
    check_finite(b, name)
    if tuple(b.shape) == tuple(x.shape[1:]):
        return b.expand_as(x).clone()
    if tuple(b.shape) == tuple(x.shape):
        return b.clone()
    if b.ndim == 0:
        return torch.full_like(x, b.item())
    raise ValueError(f"{name} has shape {tuple(b.shape)}; expected a number, one input's shape {tuple(x.shape[1:])} "
                     f"or the inputs' shape {tuple(x.shape)}")


def as_background(background: Any, x: torch.Tensor, name: str = "background") -> torch.Tensor:
    """K reference rows (K, *one input's shape) in the inputs' dtype and on their device; one row may be given
    without its batch dimension."""
    b = to_device(to_tensor(background, name), x.device, name)
    if not x.is_floating_point() and b.is_floating_point():
        raise ValueError(f"{name} must hold integer token ids like the inputs, got dtype {b.dtype}")
    b = b.to(x.dtype)
    if tuple(b.shape) == tuple(x.shape[1:]):
        b = b[None]
    if b.ndim != x.ndim or tuple(b.shape[1:]) != tuple(x.shape[1:]) or b.shape[0] == 0:
        raise ValueError(f"{name} has shape {tuple(b.shape)}; expected (K, {', '.join(map(str, x.shape[1:]))}): "
                         "K reference rows shaped like one input")
    check_finite(b, name)
    return b.clone()


def _full_mask(mask: Any, x: torch.Tensor, name: str) -> torch.Tensor:
    """One input's mask broadcast to the batch: (B, D_x) long."""
    m = to_tensor(mask.cpu() if isinstance(mask, torch.Tensor) else mask, name)
    if m.is_floating_point() or m.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer group ids, got dtype {m.dtype}")
    try:
        full = torch.broadcast_to(m, x.shape) if m.ndim == x.ndim else torch.broadcast_to(m, x.shape[1:]).expand(x.shape)
    except RuntimeError:
        raise ValueError(f"{name} has shape {tuple(m.shape)}, which does not cover the inputs' shape "
                         f"{tuple(x.shape)} (give one input's shape {tuple(x.shape[1:])} or one that broadcasts to it)") from None
    return full.reshape(x.shape[0], -1).long()


def feature_groups(feature_mask: Any, inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, int]:
    """A feature mask as a (B, D) long tensor of group ids 0..n-1 over the flattened (and, for several inputs,
    concatenated) rows, and n.

    ``None``: every element is its own feature. A mask has one input's shape or the batch's shape (or broadcasts
    to it); several inputs take a tuple of masks whose ids share one numbering (an id used in two inputs is one
    feature, as in Captum). The ids must be exactly 0..n-1 in every row, so every feature is a group.
    """
    xs = inputs if isinstance(inputs, tuple) else (inputs,)
    B = xs[0].shape[0]
    D = sum(x[0].numel() for x in xs)
    if feature_mask is None:
        return torch.arange(D, device=xs[0].device).expand(B, D), D
    masks = feature_mask if isinstance(feature_mask, (tuple, list)) and len(xs) > 1 else (feature_mask,)
    if len(masks) != len(xs):
        raise ValueError(f"feature_mask must be a tuple of {len(xs)} masks, one per input, got {len(masks)}")
    full = torch.cat([_full_mask(m, x, "feature_mask" if len(xs) == 1 else f"feature_mask[{i}]")
                      for i, (m, x) in enumerate(zip(masks, xs))], 1)
    n = int(full.max()) + 1
    if int(full.min()) < 0:
        raise ValueError("feature_mask has negative ids; ids must be 0..n-1")
    shapes = [tuple(m.shape) if hasattr(m, "shape") else np.shape(m) for m in masks]
    per_row = any(len(sh) == x.ndim and sh[0] == B for sh, x in zip(shapes, xs))
    for r in range(B if per_row else 1):
        present_ids = torch.unique(full[r])
        if present_ids.numel() != n:
            missing = sorted(set(range(n)) - set(present_ids.tolist()))[:5]
            raise ValueError(f"feature_mask ids must be exactly 0..{n - 1}; ids {missing} are missing")
    return full.to(xs[0].device), n


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
                                 extras=dict(step.extras), base_values=step.base_values, outputs=step.outputs,
                                 feature_values=step.feature_values)
