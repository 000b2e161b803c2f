"""Plan, iterate, accumulate.

``plan_evaluation`` validates everything (naming the argument in each error), checks the memory one chunk needs
against the budget, then runs the model once on the inputs (the target's range and f(x)) and explain_func /
explain_func once on the first input (its return shape) - all before any long work. ``iter_evaluation``
yields an :class:`EvaluationStep` whenever a chunk of model rows is done, metric after metric, samples in
order. ``evaluate`` drains it into an :class:`EvaluationAccumulator`, as a streaming job would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..attribution.core import as_inputs, as_target
from ..memory import TILE_BYTES, budget_bytes
from ..validate import check_positive_int, check_seed
from .complexity import Complexity, Sparseness
from .core import (
    EvaluationAccumulator,
    EvaluationPlan,
    EvaluationRecord,
    EvaluationStep,
    Metric,
    MetricSpec,
    call_explain,
    describe,
)
from .faithfulness import Deletion, FaithfulnessCorrelation, Infidelity, Insertion
from .randomisation import ModelRandomisation, RandomTarget
from .robustness import AvgSensitivity, MaxSensitivity
from .synthetic import MassInMask, TopKPrecision
from ..drain import drain

#: Every metric by name, in the order a default evaluation runs them.
METRICS: dict[str, Metric] = {m.name: m for m in (
    FaithfulnessCorrelation(), Deletion(), Insertion(), Infidelity(), MaxSensitivity(), AvgSensitivity(),
    Complexity(), Sparseness(), ModelRandomisation(), RandomTarget(), TopKPrecision(), MassInMask())}

#: Names people know the metrics by (Quantus' class names, Captum's function names, the papers').
ALIASES = {"faithfulness": "faithfulness_correlation", "pixel_flipping": "deletion", "sensitivity_max": "max_sensitivity",
           "sensitivity": "max_sensitivity", "average_sensitivity": "avg_sensitivity", "entropy": "complexity",
           "gini": "sparseness", "mprt": "model_randomisation", "model_parameter_randomisation": "model_randomisation",
           "cascading_randomisation": "model_randomisation", "random_logit": "random_target",
           "top_k": "top_k_precision", "top_k_intersection": "top_k_precision",
           "relevance_mass_accuracy": "mass_in_mask", "relevance_mass": "mass_in_mask"}

MAX_DEFAULT_CHUNK = 1024


def metric_names(explain_func: Callable | None = None, mask: Any = None, n_outputs: int | None = None,
                 module: bool = True) -> tuple[str, ...]:
    """The metrics a call can run without further arguments: those needing explain_func or a mask only when given."""
    names = []
    for name, m in METRICS.items():
        if "explain_func" in m.needs and explain_func is None:
            continue
        if "mask" in m.needs and mask is None:
            continue
        if "classes" in m.needs and (n_outputs is None or n_outputs < 2):
            continue
        if "module" in m.needs and not module:
            continue
        names.append(name)
    return tuple(names)


def _requested(metrics: Any) -> list[tuple[str, dict]]:
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        items = []
        for k, v in metrics.items():
            if v is not None and not isinstance(v, Mapping):
                raise ValueError(f"metrics[{k!r}] must be a dict of that metric's parameters (or None), got {v!r}")
            items.append((k, dict(v or {})))
    elif isinstance(metrics, Sequence):
        items = [(k, {}) for k in metrics]
    else:
        raise ValueError(f"metrics must be a name, a list of names or a dict name -> parameters; got {metrics!r}")
    out, seen = [], set()
    for k, params in items:
        if not isinstance(k, str):
            raise ValueError(f"metrics: names must be strings, got {k!r}")
        name = ALIASES.get(k.lower(), k.lower())
        if name not in METRICS:
            raise ValueError(f"metrics: unknown metric {k!r}; known: {', '.join(METRICS)}")
        if name in seen:
            raise ValueError(f"metrics: {name!r} is requested twice")
        seen.add(name)
        unknown = sorted(set(params) - set(METRICS[name].defaults))
        if unknown:
            raise TypeError(f"metric {name!r} takes no parameter {', '.join(map(repr, unknown))}; "
                            f"its parameters: {', '.join(METRICS[name].defaults) or '(none)'}")
        out.append((name, params))
    return out


def as_attributions(attributions: Any, x: torch.Tensor) -> torch.Tensor:
    """Attribution maps (B, ...) with the inputs' number of dimensions, each dimension equal to the inputs' or 1."""
    if isinstance(attributions, torch.Tensor):
        a = attributions.detach()
        if a.device != x.device:
            raise ValueError(f"attributions are on {a.device} but the inputs are on {x.device}; move them to one device")
    else:
        try:
            arr = np.asarray(attributions)
        except Exception as exc:
            raise TypeError(f"attributions must be a tensor or an array, got {type(attributions).__name__}") from exc
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            raise TypeError(f"attributions must hold real numbers, got an array of dtype {arr.dtype}")
        a = torch.from_numpy(np.ascontiguousarray(arr)).to(x.device)
    if a.is_complex() or a.dtype == torch.bool:
        raise TypeError(f"attributions must hold real numbers, got dtype {a.dtype}")
    ok = a.ndim == x.ndim and a.shape[0] == x.shape[0] and all(s in (1, t) for s, t in zip(a.shape[1:], x.shape[1:]))
    if not ok:
        raise ValueError(f"attributions have shape {tuple(a.shape)}; expected the inputs' shape {tuple(x.shape)} (or with "
                         f"some dimensions after the batch of size 1, e.g. {(x.shape[0], 1, *x.shape[2:])} for one map "
                         "per pixel)")
    a = a.to(x.dtype)
    finite = torch.isfinite(a)
    if not bool(finite.all()):
        first = tuple((~finite).nonzero()[0].tolist())
        raise ValueError(f"attributions have {int((~finite).sum())} non-finite value(s) (NaN or Inf), the first at {first}")
    return a


def as_mask(mask: Any, a: torch.Tensor) -> torch.Tensor:
    """A ground-truth mask broadcast to the attributions' shape, as bool."""
    m = torch.as_tensor(mask.detach() if isinstance(mask, torch.Tensor) else np.asarray(mask))
    if m.dtype.is_floating_point:
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError("mask must be boolean (or 0/1): True where a feature is truly relevant")
    elif m.dtype != torch.bool and (m.is_complex() or not bool(((m == 0) | (m == 1)).all())):
        raise ValueError("mask must be boolean (or 0/1): True where a feature is truly relevant")
    m = m.to(device=a.device, dtype=torch.bool)
    try:
        full = torch.broadcast_to(m, a.shape) if m.ndim == a.ndim else torch.broadcast_to(m, a.shape[1:]).expand(a.shape)
    except RuntimeError:
        raise ValueError(f"mask has shape {tuple(m.shape)}, which does not broadcast to the attributions' shape "
                         f"{tuple(a.shape)} (give one sample's shape {tuple(a.shape[1:])} or the batch's)") from None
    return full


def plan_evaluation(model: Callable, inputs: Any, attributions: Any, *, target: Any = None, metrics: Any = None,
                    explain_func: Callable | None = None, perturb_func: Callable | None = None, mask: Any = None,
                    chunk_size: int | None = None, seed: int = 0, sample_offset: int = 0) -> EvaluationPlan:
    """Validate everything and run the model once on the inputs; raises naming the argument.

    ``metrics``: None (every metric the other arguments allow), a name, a list of names, or a dict
    name -> parameters. ``perturb_func`` is the default for every perturbation metric (one can also be given per
    metric); ``explain_func(model, inputs, target) -> attributions`` re-explains perturbed inputs and randomised
    models; ``mask`` is the ground truth of the synthetic scores. ``chunk_size``: the most model rows (or rows
    given to explain_func) at once. ``sample_offset``: the index of the first input in a larger dataset these
    inputs are a block of (the random draws are keyed by it; engines that run blocks on workers set it)."""
    if not callable(model):
        raise TypeError(f"model must be callable (a torch.nn.Module or a function), got {type(model).__name__}")
    if explain_func is not None and not callable(explain_func):
        raise TypeError(f"explain_func must be callable: explain_func(model, inputs, target) -> attributions; "
                        f"got {type(explain_func).__name__}")
    if perturb_func is not None and not callable(perturb_func):
        raise TypeError(f"perturb_func must be callable, got {type(perturb_func).__name__}")
    seed = check_seed(seed)
    if isinstance(sample_offset, bool) or not isinstance(sample_offset, (int, np.integer)) or sample_offset < 0:
        raise ValueError(f"sample_offset must be a non-negative integer, got {sample_offset!r}")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    x = as_inputs(inputs, model)
    a = as_attributions(attributions, x)
    m = None if mask is None else as_mask(mask, a)
    B = x.shape[0]
    if chunk_size is None:
        row_bytes = x[0].numel() * x.element_size()
        chunk_size = max(1, min(MAX_DEFAULT_CHUNK, TILE_BYTES // max(1, row_bytes)))
    is_module = isinstance(model, torch.nn.Module)
    # by default every metric the arguments allow; one that needs classes is dropped after the model pass if the
    # model turns out to have a single output
    requested = _requested(metric_names(explain_func, m, 2, is_module) if metrics is None else metrics)

    plan = EvaluationPlan(model=model, inputs=x, attributions=a, target=None, output=None, n_outputs=None, metrics=[],
                          chunk_size=chunk_size, seed=seed, explain_func=explain_func, mask=m,
                          sample_offset=int(sample_offset))
    for name, params in requested:
        metric = METRICS[name]
        for need, what in (("explain_func", "explain_func(model, inputs, target) -> attributions"),
                           ("mask", "mask= the ground truth (True where a feature is relevant)")):
            if need in metric.needs and (explain_func if need == "explain_func" else m) is None:
                raise ValueError(f"metric {name!r} needs {what}")
        p = {**metric.defaults, **params}
        if "perturb_func" in p and p["perturb_func"] is None:
            p["perturb_func"] = perturb_func
        spec = MetricSpec(name=name, params=p, higher_is_better=metric.higher_is_better)
        metric.prepare(plan, spec)
        plan.metrics.append(spec)

    # -- memory: the largest chunk any metric needs, plus the baselines it keeps ------------------------------
    fixed = sum(int(t.numel() * t.element_size()) for s in plan.metrics for k, t in s.extra.items()
                if isinstance(t, torch.Tensor) and k == "baseline")
    need, worst = 0, None
    for spec in plan.metrics:
        nb = METRICS[spec.name].nbytes(plan, spec)
        if nb > need:
            need, worst = nb, spec.name
    budget = budget_bytes(x.device)
    if need + fixed > budget:
        raise MemoryError(f"evaluation needs about {(need + fixed) / 2**30:.2f} GiB on {x.device} for one chunk of "
                          f"chunk_size={chunk_size} model rows (metric {worst!r}), over the memory budget of "
                          f"{budget / 2**30:.2f} GiB (fxwidgets.options.memory_budget, default half the available "
                          "memory); lower chunk_size")

    # -- one pass of the model: target range and f(x) ------------------------------------------------------
    raw = []
    with torch.no_grad():
        for s in range(0, B, chunk_size):
            out = model(x[s:s + chunk_size])
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"model must return a tensor, got {type(out).__name__}")
            raw.append(out.detach())
    raw_out = torch.cat(raw)
    if raw_out.ndim not in (1, 2) or raw_out.shape[0] != B:
        raise ValueError(f"model must return (batch,) or (batch, n_outputs); it returned {tuple(raw_out.shape)} for {B} inputs")
    n_outputs = None if raw_out.ndim == 1 or (raw_out.shape[1] == 1 and target is None) else raw_out.shape[1]
    plan.target = as_target(target, n_outputs, B, x.device)
    plan.n_outputs = n_outputs
    plan.output = (raw_out if raw_out.ndim == 1 else
                   raw_out[:, 0] if plan.target is None else raw_out.gather(1, plan.target[:, None])[:, 0]).to(x.dtype)
    if metrics is None:
        plan.metrics = [s for s in plan.metrics if "classes" not in METRICS[s.name].needs or (n_outputs or 0) >= 2]
    for spec in plan.metrics:
        if "classes" in METRICS[spec.name].needs and (n_outputs is None or n_outputs < 2):
            raise ValueError(f"metric {spec.name!r} needs a model with at least 2 outputs (classes) and a target")

    for spec in plan.metrics:
        METRICS[spec.name].check(plan, spec)

    # -- explain_func once, on the first input: its return shape. (A perturb_func is not called here: it may
    # hold state, such as a queue of prepared perturbations; its returns are checked at its first call.)
    first = torch.zeros(1, dtype=torch.long, device=x.device)
    if any("explain_func" in METRICS[s.name].needs for s in plan.metrics):
        call_explain(explain_func, model, x[:1], plan.targets(first), plan.attribution_shape, a.dtype, x.device)

    for spec in plan.metrics:  # the record shows descriptions; the run reads the live objects in spec.params
        spec.extra["params_record"] = {k: describe(v) for k, v in spec.params.items()}
    plan.params = {"metrics": [s.name for s in plan.metrics], "chunk_size": chunk_size, "seed": seed,
                   "n_samples": B, "device": str(x.device), "dtype": str(x.dtype).replace("torch.", ""),
                   "attribution_shape": list(plan.attribution_shape),
                   "explain_func": None if explain_func is None else describe(explain_func),
                   "perturb_func": None if perturb_func is None else describe(perturb_func),
                   "mask": None if m is None else f"{int(m[0].sum())} relevant of {m[0].numel()} (first sample)"}
    return plan


def iter_evaluation(plan: EvaluationPlan) -> Iterator[EvaluationStep]:
    """Partial results, metric after metric and samples in order; the last has progress 1."""
    total = sum(s.units for s in plan.metrics)
    done = 0
    for spec in plan.metrics:
        for ch in METRICS[spec.name].run(plan, spec):
            done += ch.units
            yield EvaluationStep(metric=spec.name, start=ch.start, stop=ch.stop, values=ch.values,
                                 progress=done / total if total else 1.0, curves=ch.curves,
                                 value_stderr=ch.value_stderr, extras=ch.extras)


def evaluate(model: Callable, inputs: Any, attributions: Any, **kwargs: Any) -> EvaluationRecord:
    """Blocking: plan, drain every step into the accumulator, return the record."""
    plan = plan_evaluation(model, inputs, attributions, **kwargs)
    return drain(iter_evaluation(plan), EvaluationAccumulator(plan))
