"""What every evaluation metric shares: the validated plan, the records, reproducible per-row random draws, the
chunked row loop, and the accumulator that folds streamed chunks into a record.

Work is counted in *model rows*: one row is one input passed through the model (a forward pass) or through
``explain_func``. ``chunk_size`` is the most rows handed to the model or to ``explain_func`` at once; it bounds
memory and sets the streaming granularity, and it never changes the answer: every random draw is keyed by
(seed, metric, sample, draw), not by its position in a chunk.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..attribution.core import select_output
from ..plans import BatchPlan
from .stats import mean_and_stderr


# -- records -------------------------------------------------------------------------------------------------
@dataclass
class MetricRecord:
    """One metric over the samples: per-sample values and their mean with its standard error over samples.

    ``values`` (B,) is NaN for samples not computed yet (a partial record) or where the metric is undefined
    (e.g. a correlation with a constant side). Curve metrics also carry ``curves`` (B, P) over ``curve_x`` (P,)
    (fraction of features removed or inserted; or the randomised-layer index, named in ``curve_labels``).
    ``value_stderr`` (B,) is the Monte-Carlo standard error of each sample's value, where the value is a mean of
    random draws."""

    name: str
    values: torch.Tensor
    mean: float
    stderr: float
    n_valid: int
    params: dict
    higher_is_better: bool | None
    curves: torch.Tensor | None = None
    curve_x: torch.Tensor | None = None
    curve_axis: str | None = None
    curve_labels: tuple[str, ...] | None = None
    value_stderr: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)

    @property
    def areas(self) -> torch.Tensor | None:
        """For deletion/insertion curves the value is the area under the curve."""
        return self.values if self.name in ("deletion", "insertion") else None


@dataclass
class EvaluationRecord:
    """Every requested metric for one set of attributions; ``progress`` < 1 for a partial (streamed) record."""

    metrics: dict[str, MetricRecord]
    n_samples: int
    target: torch.Tensor | None
    output: torch.Tensor  # (B,) the model's output at the target on the unperturbed inputs
    seed: int
    chunk_size: int
    params: dict
    progress: float

    def __getitem__(self, name: str) -> MetricRecord:
        return self.metrics[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.metrics)


@dataclass
class MetricChunk:
    """What a metric's generator yields: the values of samples [start, stop) now complete (possibly none), and
    how many model rows the chunk used (for progress)."""

    start: int
    stop: int
    units: int
    values: torch.Tensor | None = None
    curves: torch.Tensor | None = None
    value_stderr: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)


@dataclass
class EvaluationStep:
    """One streamed partial result: ``metric``'s values for samples [start, stop), and the overall progress."""

    metric: str
    start: int
    stop: int
    values: torch.Tensor | None
    progress: float
    curves: torch.Tensor | None = None
    value_stderr: torch.Tensor | None = None
    extras: dict = field(default_factory=dict)


# -- the plan ------------------------------------------------------------------------------------------------
@dataclass
class MetricSpec:
    """A requested metric with its validated parameters (``params``, plain values for the record) and the
    prepared objects its run needs (``extra``: baseline tensors, callables, layer lists)."""

    name: str
    params: dict
    extra: dict = field(default_factory=dict)
    units: int = 0
    higher_is_better: bool | None = None


@dataclass
class EvaluationPlan(BatchPlan):
    """Validated inputs; building one runs the model once on the inputs (target range and f(x))."""

    batch_field = "inputs"

    model: Callable
    inputs: torch.Tensor  # (B, ...)
    attributions: torch.Tensor  # (B, ...) same ndim as inputs, each dimension equal or 1 (broadcasts to inputs)
    target: torch.Tensor | None  # (B,) long, or None for a model with one output per row
    output: torch.Tensor | None  # (B,) f(x) at the target (None until the plan's model pass)
    n_outputs: int | None
    metrics: list[MetricSpec]
    chunk_size: int
    seed: int
    explain_func: Callable | None = None
    mask: torch.Tensor | None = None  # (B, *attribution shape) bool ground truth, for the synthetic scores
    params: dict = field(default_factory=dict)
    #: The index of this plan's first sample in the whole dataset: every draw is keyed by the global sample index,
    #: so a plan over rows a:b of a dataset (a block run on another worker) draws exactly what the whole would.
    sample_offset: int = 0

    @property
    def attribution_shape(self) -> tuple[int, ...]:
        return tuple(self.attributions.shape[1:])

    @property
    def n_features(self) -> int:
        """Features per sample: elements of one attribution map (a feature removes every input element it
        broadcasts to)."""
        return int(self.attributions[0].numel())

    def global_samples(self, samples: torch.Tensor) -> torch.Tensor:
        """Sample indices in the whole dataset (the keys of the random draws)."""
        return samples + self.sample_offset if self.sample_offset else samples

    def targets(self, samples: torch.Tensor) -> torch.Tensor | None:
        return None if self.target is None else self.target[samples]

    def forward(self, x: torch.Tensor, samples: torch.Tensor, model: Callable | None = None) -> torch.Tensor:
        """f(x) at the target of sample ``samples[r]`` for each row r of x, without gradients, ``chunk_size`` rows
        at a time."""
        model = self.model if model is None else model
        outs = []
        with torch.no_grad():
            for a in range(0, x.shape[0], self.chunk_size):
                b = min(x.shape[0], a + self.chunk_size)
                outs.append(select_output(model(x[a:b]), self.targets(samples[a:b])))
        return torch.cat(outs) if outs else x.new_zeros(0)

    def explain(self, x: torch.Tensor, samples: torch.Tensor, *, model: Callable | None = None,
                target: torch.Tensor | None | str = "sample") -> torch.Tensor:
        """``explain_func(model, x, target)`` for rows x, ``chunk_size`` rows at a time, checked to return one
        attribution map per row in the attributions' shape."""
        model = self.model if model is None else model
        outs = []
        for a in range(0, x.shape[0], self.chunk_size):
            b = min(x.shape[0], a + self.chunk_size)
            t = self.targets(samples[a:b]) if isinstance(target, str) else (None if target is None else target[a:b])
            outs.append(call_explain(self.explain_func, model, x[a:b], t, self.attribution_shape,
                                     self.attributions.dtype, self.device))
        return torch.cat(outs)


# -- explanations --------------------------------------------------------------------------------------------
def call_explain(explain_func: Callable | None, model: Callable, x: torch.Tensor, target: torch.Tensor | None,
                 shape: tuple[int, ...] | None, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``explain_func(model, x, target)`` with gradients enabled, as a detached tensor of ``(rows, *shape)``
    (``shape=None``: any map shape, one map per row)."""
    if explain_func is None:
        raise ValueError("explain_func is required: a callable explain_func(model, inputs, target) -> attributions")
    with torch.enable_grad():
        e = explain_func(model, x, target)
    if not isinstance(e, torch.Tensor):
        try:
            e = torch.as_tensor(e)
        except Exception as exc:
            raise TypeError(f"explain_func must return a tensor of attributions, got {type(e).__name__}") from exc
    e = e.detach()
    if shape is None:
        if e.ndim < 1 or e.shape[0] != x.shape[0]:
            raise ValueError(f"explain_func returned shape {tuple(e.shape)} for {x.shape[0]} inputs; expected one map per input")
        return e.to(device=device, dtype=dtype)
    if tuple(e.shape) != (x.shape[0], *shape):
        if e.numel() == x.shape[0] * math.prod(shape):
            e = e.reshape(x.shape[0], *shape)
        else:
            raise ValueError(f"explain_func returned shape {tuple(e.shape)} for {x.shape[0]} inputs; expected "
                             f"{(x.shape[0], *shape)} (one map per input, in the attributions' shape)")
    return e.to(device=device, dtype=dtype)


# -- reproducible draws ----------------------------------------------------------------------------------------
_M64 = (1 << 64) - 1


def _mix64(z: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers that scatters nearby keys."""
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def stream_id(name: str) -> int:
    """A fixed integer per metric name, so two metrics never share draws."""
    return zlib.crc32(name.encode())


def row_seed(seed: int, stream: int, sample: int, draw: int) -> int:
    """The seed of draw ``draw`` of sample ``sample`` for one metric: independent of chunking and batch order."""
    z = _mix64((seed & _M64) ^ _mix64(stream ^ _mix64(((sample & 0xFFFFFFFF) << 32) | (draw & 0xFFFFFFFF))))
    return z & ((1 << 63) - 1)


def seeded_rows(seed: int, stream: int, samples: torch.Tensor, draws: torch.Tensor, device: torch.device,
                draw: Callable[[torch.Generator], torch.Tensor]) -> torch.Tensor:
    """Stack ``draw(generator)`` over rows, each row's generator seeded by (seed, stream, sample, draw).

    One small generator per row costs a few microseconds, far below the model pass the row feeds, and makes
    every draw independent of how rows are grouped into chunks."""
    out = []
    for i, s in zip(samples.tolist(), draws.tolist()):
        g = torch.Generator(device=device)
        g.manual_seed(row_seed(seed, stream, i, s))
        out.append(draw(g))
    return torch.stack(out)


def forked_rng(device: torch.device):
    """A context in which a user function may draw from torch's global generator without changing it."""
    return torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])


# -- the row loop ------------------------------------------------------------------------------------------------
def run_rows(plan: EvaluationPlan, per_sample: int,
             row_fn: Callable[[torch.Tensor, torch.Tensor, int], dict[str, torch.Tensor]],
             finish: Callable[[dict[str, torch.Tensor], int, int], dict]) -> Iterator[MetricChunk]:
    """Visit the B x ``per_sample`` rows in order (sample-major), ``chunk_size`` rows at a time.

    ``row_fn(samples, draws, first_row)`` returns per-row scalars (name -> (rows,)); they are kept in (B, per_sample)
    buffers, and as soon as a sample's last row is done ``finish(buffers[start:stop], start, stop)`` turns the
    finished samples' rows into their values (a dict of MetricChunk fields). ``first_row`` counts in the whole
    dataset (``plan.sample_offset`` samples before this plan's first)."""
    B = plan.batch
    total = B * per_sample
    bufs: dict[str, torch.Tensor] = {}
    done = 0
    for r0 in range(0, total, plan.chunk_size):
        r1 = min(total, r0 + plan.chunk_size)
        rows = torch.arange(r0, r1, device=plan.device)
        samples, draws = rows // per_sample, rows % per_sample
        # first row in the whole dataset's numbering: it seeds a user's perturb_func per chunk
        out = row_fn(samples, draws, r0 + plan.sample_offset * per_sample)
        for k, v in out.items():
            if k not in bufs:
                bufs[k] = torch.full((B, per_sample), float("nan"), dtype=v.dtype, device=v.device)
            bufs[k][samples, draws] = v
        complete = r1 // per_sample
        if complete > done:
            res = finish({k: b[done:complete] for k, b in bufs.items()}, done, complete)
            yield MetricChunk(done, complete, r1 - r0, **res)
            done = complete
        else:
            yield MetricChunk(done, done, r1 - r0)


def run_maps(plan: EvaluationPlan, fn: Callable[[int, int], dict]) -> Iterator[MetricChunk]:
    """Metrics of the attribution maps alone (no model rows): ``chunk_size`` samples at a time."""
    B = plan.batch
    for a in range(0, B, plan.chunk_size):
        b = min(B, a + plan.chunk_size)
        yield MetricChunk(a, b, b - a, **fn(a, b))


# -- the accumulator -------------------------------------------------------------------------------------------
class EvaluationAccumulator:
    """Folds :class:`EvaluationStep` items into per-metric tensors; ``partial()`` is the record so far (NaN for
    samples not done), ``result()`` the final record."""

    def __init__(self, plan: EvaluationPlan) -> None:
        self.plan = plan
        B = plan.batch
        nan = float("nan")
        self.values = {m.name: torch.full((B,), nan, dtype=plan.dtype, device=plan.device) for m in plan.metrics}
        self.done = {m.name: 0 for m in plan.metrics}
        self.curves: dict[str, torch.Tensor] = {}
        self.value_stderr: dict[str, torch.Tensor] = {}
        self.extras: dict[str, dict[str, torch.Tensor]] = {m.name: {} for m in plan.metrics}
        self.heads: dict[str, dict[str, int]] = {m.name: dict(m.extra.get("head_rows", {})) for m in plan.metrics}
        for m in plan.metrics:
            cx = m.extra.get("curve_x")
            if cx is not None:
                self.curves[m.name] = torch.full((B, cx.numel()), nan, dtype=plan.dtype, device=plan.device)
        self.progress = 0.0
        self.steps = 0

    def add(self, step: EvaluationStep) -> None:
        self.steps += 1
        self.progress = step.progress
        if step.stop <= step.start or step.values is None:
            return
        name, sl = step.metric, slice(step.start, step.stop)
        self.values[name][sl] = step.values.to(self.values[name].dtype)
        if step.curves is not None:
            self.curves[name][sl] = step.curves.to(self.curves[name].dtype)
        if step.value_stderr is not None:
            if name not in self.value_stderr:
                self.value_stderr[name] = torch.full_like(self.values[name], float("nan"))
            self.value_stderr[name][sl] = step.value_stderr.to(self.values[name].dtype)
        head = self.heads[name]
        for k, v in step.extras.items():
            ex = self.extras[name]
            if k in head:  # kept for the first head[k] samples only (e.g. the randomisation checks' maps)
                if k not in ex:
                    ex[k] = torch.full((head[k], *v.shape[1:]), float("nan"), dtype=v.dtype, device=v.device)
                n = max(0, min(step.stop, head[k]) - step.start)
                if n:
                    ex[k][step.start:step.start + n] = v[:n]
                continue
            if k not in ex:
                ex[k] = torch.full((self.plan.batch, *v.shape[1:]), -1 if not v.is_floating_point() else float("nan"),
                                   dtype=v.dtype, device=v.device)
            ex[k][sl] = v
        self.done[name] = max(self.done[name], step.stop)

    def _record(self, progress: float) -> EvaluationRecord:
        metrics = {}
        for m in self.plan.metrics:
            vals = self.values[m.name].clone()
            mean, se, n = mean_and_stderr(vals)
            curves = self.curves.get(m.name)
            metrics[m.name] = MetricRecord(
                name=m.name, values=vals, mean=mean, stderr=se, n_valid=n, params=dict(m.extra.get("params_record", m.params)),
                higher_is_better=m.higher_is_better,
                curves=None if curves is None else curves.clone(),
                curve_x=m.extra.get("curve_x"), curve_axis=m.extra.get("curve_axis"),
                curve_labels=m.extra.get("curve_labels"),
                value_stderr=None if m.name not in self.value_stderr else self.value_stderr[m.name].clone(),
                extras={k: v.clone() for k, v in self.extras[m.name].items()})
        p = self.plan
        return EvaluationRecord(metrics=metrics, n_samples=p.batch, target=p.target, output=p.output, seed=p.seed,
                                chunk_size=p.chunk_size, params=dict(p.params), progress=progress)

    def partial(self) -> EvaluationRecord:
        return self._record(self.progress)

    def result(self) -> EvaluationRecord:
        unfinished = [n for n, d in self.done.items() if d < self.plan.batch]
        if unfinished:
            raise RuntimeError(f"evaluation is incomplete: {', '.join(unfinished)} not finished")
        return self._record(1.0)


# -- metrics ---------------------------------------------------------------------------------------------------
class Metric:
    """One evaluation metric. ``defaults`` lists every parameter it takes (others are refused); ``needs`` names
    what the call must supply ("explain_func", "mask", "classes": a model with >= 2 outputs, "module": a
    torch.nn.Module). ``prepare`` validates the parameters (no model pass), ``check`` runs after the plan's one
    model pass, ``run`` yields :class:`MetricChunk` in sample order."""

    name: str = ""
    higher_is_better: bool | None = None
    defaults: dict = {}
    needs: tuple[str, ...] = ()
    description: str = ""

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        spec.units = plan.batch

    def check(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        pass

    def nbytes(self, plan: EvaluationPlan, spec: MetricSpec) -> int:
        """Peak scratch bytes of one chunk (the memory guard compares the largest against the budget)."""
        return 0

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        raise NotImplementedError


def param_error(metric: str, key: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"{key} (metric {metric!r}) must be {expected}; got {value!r}")


def int_param(spec: MetricSpec, key: str, lo: int = 1, hi: int | None = None) -> int:
    v = spec.params[key]
    ok = isinstance(v, int) and not isinstance(v, bool) and v >= lo and (hi is None or v <= hi)
    if not ok:
        raise param_error(spec.name, key, f"an integer in {lo}..{hi}" if hi is not None else f"an integer >= {lo}", v)
    return int(v)


def float_param(spec: MetricSpec, key: str, *, positive: bool = True) -> float:
    v = spec.params[key]
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise param_error(spec.name, key, "a number", v) from None
    if isinstance(v, bool) or not math.isfinite(f) or (positive and f <= 0):
        raise param_error(spec.name, key, "a positive finite number" if positive else "a finite number", v)
    return f


def bool_param(spec: MetricSpec, key: str) -> bool:
    v = spec.params[key]
    if not isinstance(v, bool):
        raise param_error(spec.name, key, "True or False", v)
    return v


def choice_param(spec: MetricSpec, key: str, choices: tuple[str, ...]) -> str:
    v = spec.params[key]
    if v not in choices:
        raise param_error(spec.name, key, f"one of {', '.join(map(repr, choices))}", v)
    return v


def callable_param(spec: MetricSpec, key: str) -> Callable | None:
    v = spec.params[key]
    if v is not None and not callable(v):
        raise param_error(spec.name, key, "a callable or None", v)
    return v


def describe(value: Any) -> Any:
    """A plain, printable stand-in for a parameter in the record (tensors and callables by description)."""
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)}" if value.ndim else float(value)
    if callable(value):
        return getattr(value, "__qualname__", type(value).__name__)
    return value
