"""Several attribution methods evaluated on the same inputs, with the same draws: a method x metric table, and
Bhatt et al.'s aggregate explanation as one more row.

Every method's maps go through their own :func:`~.plan.plan_evaluation` with the same model, inputs, target,
metrics, mask, ``chunk_size`` and ``seed``. Every random draw is keyed by (seed, metric, sample, draw), never by
the method, so all rows see the same perturbations (common random numbers): a difference between two rows comes
from the maps, not from the draws.

Attributions may be given as tensors or as the attribution family's records (``fx.attribute``'s results); a
record brings its target and, where its parameters can be rebuilt, an ``explain_func`` running the same method
again (:func:`record_explainer`), which the metrics that re-explain (sensitivity, randomisation, random target)
need.

``aggregate=`` adds the row "aggregate": sum_m w_m a_m / ||a_m|| with w on the simplex chosen by
:func:`~.aggregate.aggregate_attributions` (Bhatt, Weller & Moura, IJCAI 2020, section 5) to lower

- ``"sensitivity"``: the mean squared change of the unit-norm aggregate under the perturbations the
  ``max_sensitivity`` metric draws (the Gram matrix of :func:`~.aggregate.sensitivity_gram`, with that metric's
  ``radius`` and ``n_samples`` when it is requested), so the aggregate is at least as stable as every single
  method on exactly those draws;
- ``"complexity"``: the mean entropy of |a| / sum |a|;
- ``"mean"``: equal weights.

The aggregate row is evaluated after the others (its weights need their maps, and for ``"sensitivity"`` a pass of
every method's ``explain_func`` over perturbed inputs); everything is validated before any of that work starts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..attribution import ALIASES as METHOD_ALIASES
from ..attribution import METHODS as ATTRIBUTION_METHODS
from ..attribution.core import AttributionRecord, as_inputs
from .aggregate import AggregateRecord, aggregate_attributions, aggregate_explainer, sensitivity_gram
from .core import EvaluationAccumulator, EvaluationPlan, EvaluationRecord, EvaluationStep, MetricRecord, describe
from .explain import attribution_explainer
from .plan import ALIASES, METRICS, as_attributions, iter_evaluation, plan_evaluation
from ..drain import drain

#: The name of the aggregate's row.
AGGREGATE = "aggregate"
#: The name of the one row when a single tensor of attributions is given.
SINGLE = "attributions"
AGGREGATE_OBJECTIVES = ("sensitivity", "complexity", "mean")
AGGREGATE_PARAMS = {"objective", "n_samples", "radius", "n_iter"}
# parameters that an attribution record keeps only as a description (a tensor is not kept in the record)
_DESCRIBED = ("baseline", "baselines", "noise", "feature_mask")


# -- records ---------------------------------------------------------------------------------------------------
@dataclass
class ComparisonRecord:
    """Every requested metric for each method: ``records[method]`` is that method's :class:`EvaluationRecord`.

    ``metric_names`` are the table's columns (a method that cannot run a metric, for want of an ``explain_func``,
    has no entry for it: NaN in :meth:`means`). ``aggregate`` holds Bhatt et al.'s weights when the aggregate row
    was requested. ``progress`` < 1 for a partial (streamed) record."""

    records: dict[str, EvaluationRecord]
    metric_names: tuple[str, ...]
    n_samples: int
    target: torch.Tensor | None
    seed: int
    params: dict
    progress: float
    aggregate: AggregateRecord | None = None

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.records)

    def metric_name(self, name: str) -> str:
        key = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
        if key not in self.metric_names:
            raise KeyError(f"no metric {name!r} in this evaluation; it has {', '.join(self.metric_names) or 'none'}")
        return key

    def metric(self, name: str) -> dict[str, MetricRecord]:
        """One column of the table: method -> that method's :class:`MetricRecord` (methods without it left out)."""
        key = self.metric_name(name)
        return {m: r.metrics[key] for m, r in self.records.items() if key in r.metrics}

    def __getitem__(self, key: str | tuple[str, str]) -> MetricRecord:
        """``record[method, metric]``; ``record[metric]`` when there is one method."""
        if isinstance(key, tuple):
            if len(key) != 2:
                raise KeyError(f"index with [method, metric], got {key!r}")
            method, name = key
            if method not in self.records:
                raise KeyError(f"no method {method!r} in this evaluation; it has {', '.join(self.records)}")
            name = self.metric_name(name)
            if name not in self.records[method].metrics:
                raise KeyError(f"method {method!r} has no {name!r}: it needs "
                               f"{' and '.join(METRICS[name].needs)}, which this method was not given")
            return self.records[method].metrics[name]
        if len(self.records) != 1:
            raise KeyError(f"[{key!r}] is ambiguous with {len(self.records)} methods: use [method, {key!r}] or "
                           f".metric({key!r}) (method -> record)")
        return self[next(iter(self.records)), key]

    def _table(self, attr: str) -> torch.Tensor:
        out = torch.full((len(self.records), len(self.metric_names)), float("nan"), dtype=torch.float64)
        for i, r in enumerate(self.records.values()):
            for j, k in enumerate(self.metric_names):
                if k in r.metrics:
                    out[i, j] = getattr(r.metrics[k], attr)
        return out

    def means(self) -> torch.Tensor:
        """(methods, metrics) mean over samples of each cell (NaN where a method lacks the metric)."""
        return self._table("mean")

    def stderrs(self) -> torch.Tensor:
        """(methods, metrics) standard error of each mean over samples (s / sqrt(n))."""
        return self._table("stderr")

    def values(self) -> torch.Tensor:
        """(methods, metrics, samples) per-sample values, float64 on the CPU (NaN where undefined or missing)."""
        out = torch.full((len(self.records), len(self.metric_names), self.n_samples), float("nan"), dtype=torch.float64)
        for i, r in enumerate(self.records.values()):
            for j, k in enumerate(self.metric_names):
                if k in r.metrics:
                    out[i, j] = r.metrics[k].values.detach().double().cpu()
        return out


@dataclass
class ComparisonStep:
    """One streamed item: ``method``'s evaluation step (None for a step that only reports progress), and once the
    aggregate's weights are known, its record and its evaluation plan."""

    method: str
    step: EvaluationStep | None
    progress: float
    aggregate: AggregateRecord | None = None
    plan: EvaluationPlan | None = None


@dataclass
class ComparisonPlan:
    """One validated :class:`EvaluationPlan` per method, plus what the aggregate row needs."""

    plans: dict[str, EvaluationPlan]
    explain_funcs: dict[str, Callable | None]
    metric_names: tuple[str, ...]
    metrics: Any  # the request as given (None: every metric each method can run)
    common: dict  # the arguments every method's plan shares (target, perturb_func, mask, chunk_size, seed)
    aggregate: dict | None
    explain_metrics: tuple[str, ...] = ()  # the requested metrics that need an explain_func
    params: dict = field(default_factory=dict)

    @property
    def first(self) -> EvaluationPlan:
        return next(iter(self.plans.values()))

    @property
    def batch(self) -> int:
        return self.first.batch


# -- attribution records as explain_funcs ---------------------------------------------------------------------------
def record_explainer(record: AttributionRecord, model: Callable) -> tuple[Callable | None, str]:
    """(``explain_func`` running the record's method with its recorded parameters and seed, a description), or
    (None, why not) where a parameter was a tensor or module the record keeps only as a description."""
    name = METHOD_ALIASES.get(record.method, record.method)
    if name not in ATTRIBUTION_METHODS:
        return None, f"method {record.method!r} is not one of fxwidgets' attribution methods"
    if name == "concepts":
        return None, "concepts factorise a layer; they do not explain an output"
    params = {}
    for key in ATTRIBUTION_METHODS[name][1]:
        if key not in record.params:
            continue
        value = record.params[key]
        if key in _DESCRIBED and isinstance(value, str):
            return None, f"its {key} was a tensor, which the result does not keep"
        if key == "layer" and value is not None:
            names = dict(model.named_modules()) if isinstance(model, torch.nn.Module) else {}
            if value not in names:
                return None, f"its layer ({value!r}) is not a name in model.named_modules()"
        params[key] = value
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if v != ATTRIBUTION_METHODS[name][1][k])
    desc = f"attribution_explainer({name!r}{', ' + shown if shown else ''}" + (
        f", seed={record.seed})" if record.seed is not None else ")")
    return attribution_explainer(name, seed=record.seed, **params), desc


def _as_method_table(attributions: Any) -> tuple[dict[str, Any], bool]:
    """(method name -> maps or record, whether several methods were given as a dict or list)."""
    if isinstance(attributions, AttributionRecord):
        return {attributions.method: attributions}, False
    if isinstance(attributions, Mapping):
        if not attributions:
            raise ValueError("attributions is an empty dict; give {method name: attributions or AttributionResult}")
        for k in attributions:
            if not isinstance(k, str) or not k:
                raise ValueError(f"attributions: method names must be non-empty strings, got {k!r}")
        return dict(attributions), True
    if isinstance(attributions, (list, tuple)) and attributions and any(
            isinstance(a, AttributionRecord) for a in attributions):
        if not all(isinstance(a, AttributionRecord) for a in attributions):
            raise TypeError("attributions: a list must hold only AttributionResults (named by their method); give "
                            "tensors as a dict {method name: attributions}")
        names = [a.method for a in attributions]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"attributions: the list has several results of {', '.join(map(repr, twice))}; give a "
                             "dict {name: result} to name them apart")
        return dict(zip(names, attributions)), True
    return {SINGLE: attributions}, False


def _label(name: str, several: bool) -> str:
    return f"attributions[{name!r}]" if several else "attributions"


def _target_list(target: Any, batch: int) -> list[int] | None:
    """The target as one int per row, or None where it is not a plain int or sequence (the plan then says why)."""
    if isinstance(target, (bool, np.bool_)):
        return None
    if isinstance(target, (int, np.integer)):
        return [int(target)] * batch
    try:
        t = torch.as_tensor(np.asarray(target.cpu() if isinstance(target, torch.Tensor) else target))
    except Exception:  # noqa: BLE001 - the plan reports a malformed target
        return None
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.ndim != 1 or t.shape[0] != batch:
        return None
    return t.long().tolist()


def _resolve_target(target: Any, entries: dict[str, Any], batch: int, several: bool) -> Any:
    """The target to evaluate: the one given, else the one the attribution records explain (they must agree)."""
    recorded = {k: v.target for k, v in entries.items() if isinstance(v, AttributionRecord) and v.target is not None}
    if target is None:
        if not recorded:
            return None
        first_name, first = next(iter(recorded.items()))
        for k, t in recorded.items():
            if list(t) != list(first):
                raise ValueError(f"{_label(first_name, several)} and {_label(k, several)} explain different targets; "
                                 "evaluate them separately, or give target= and attributions of that target")
        return torch.as_tensor(first, dtype=torch.long)
    given = _target_list(target, batch)
    if given is not None:
        for k, t in recorded.items():
            if len(t) == batch and list(t) != given:
                raise ValueError(f"target {target!r} differs from the target {_label(k, several)} explains "
                                 f"({t if len(t) <= 8 else str(t[:8])[:-1] + ', ...]'}); leave target=None to use it")
    return target


def _aggregate_request(aggregate: Any, metrics: Any) -> dict | None:
    if aggregate is None or aggregate is False:
        return None
    if isinstance(aggregate, str):
        req = {"objective": aggregate}
    elif isinstance(aggregate, Mapping):
        req = dict(aggregate)
        unknown = sorted(set(req) - AGGREGATE_PARAMS)
        if unknown:
            raise ValueError(f"aggregate takes no parameter {', '.join(map(repr, unknown))}; its parameters: "
                             f"{', '.join(sorted(AGGREGATE_PARAMS))}")
        req.setdefault("objective", "sensitivity")
    else:
        raise TypeError(f"aggregate must be None, one of {', '.join(map(repr, AGGREGATE_OBJECTIVES))}, or a dict "
                         f"with 'objective' and its parameters; got {aggregate!r}")
    if req["objective"] not in AGGREGATE_OBJECTIVES:
        raise ValueError(f"aggregate must be one of {', '.join(map(repr, AGGREGATE_OBJECTIVES))}; got {req['objective']!r}")
    if req["objective"] == "sensitivity":
        # the draws and sizes of the sensitivity the table reports, so the weights lower exactly that
        source = {}
        if isinstance(metrics, Mapping):
            for k, v in metrics.items():
                name = ALIASES.get(str(k).lower(), str(k).lower())
                if name in ("max_sensitivity", "avg_sensitivity") and not source:
                    source = dict(v or {})
        defaults = METRICS["max_sensitivity"].defaults
        req.setdefault("n_samples", source.get("n_samples", defaults["n_samples"]))
        req.setdefault("radius", source.get("radius", defaults["radius"]))
        n, r = req["n_samples"], req["radius"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"aggregate n_samples must be a positive integer, got {n!r}")
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not (r > 0 and math.isfinite(r)):
            raise ValueError(f"aggregate radius must be a positive number, got {r!r}")
        req["n_samples"], req["radius"] = int(n), float(r)
    elif "n_samples" in req or "radius" in req:
        raise ValueError(f"aggregate={req['objective']!r} takes no n_samples or radius (only 'sensitivity' does)")
    if req["objective"] == "complexity":
        req.setdefault("n_iter", 200)
        n = req["n_iter"]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"aggregate n_iter must be a non-negative integer, got {n!r}")
        req["n_iter"] = int(n)
    elif "n_iter" in req:
        raise ValueError(f"aggregate={req['objective']!r} takes no n_iter (only 'complexity' does)")
    return req


def _requested_names(metrics: Any) -> list[str]:
    """The names of an explicit metrics request (validated in full by the plan)."""
    items = [metrics] if isinstance(metrics, str) else list(metrics)
    return [ALIASES.get(k.lower(), k.lower()) for k in items if isinstance(k, str)]


def _without(metrics: Any, drop: set[str]) -> Any:
    """An explicit request (a name, list or dict of parameters) without the metrics named in ``drop``."""
    def keep(k: Any) -> bool:
        return not (isinstance(k, str) and ALIASES.get(k.lower(), k.lower()) in drop)
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        return {k: v for k, v in metrics.items() if keep(k)}
    return [k for k in metrics if keep(k)]


def _needs_explain(metrics: Any) -> list[str]:
    if metrics is None:
        return []
    try:
        names = _requested_names(metrics)
    except TypeError:  # not a name, list or dict: the plan says so
        return []
    return [n for n in names if n in METRICS and "explain_func" in METRICS[n].needs]


# -- plan ------------------------------------------------------------------------------------------------------
def plan_comparison(model: Callable, inputs: Any, attributions: Any, *, target: Any = None, metrics: Any = None,
                    explain_func: Any = None, perturb_func: Callable | None = None, mask: Any = None,
                    chunk_size: int | None = None, seed: int = 0, aggregate: Any = None,
                    sample_offset: int = 0) -> ComparisonPlan:
    """Validate every method's maps and every argument, and plan each method's evaluation (one model pass each);
    raises naming the argument, before any long work.

    ``attributions``: a tensor or array (one method, named ``"attributions"``), an attribution record (named by its
    method), a dict {name: tensor or record} or a list of records. ``explain_func``: a callable for one method, or
    a dict {name: callable} for several; a record's own method is the default. ``metrics=None`` runs, for each
    method, every metric its arguments allow; of a request by name, a method without an ``explain_func`` skips the
    metrics that need one (``params["skipped"]`` says so), unless no method has one. ``sample_offset``: the index
    of the first input in a larger dataset (see :func:`~.plan.plan_evaluation`)."""
    entries, several = _as_method_table(attributions)
    x = as_inputs(inputs, model)
    B = x.shape[0]

    # -- the maps: one shape for every method -----------------------------------------------------------------
    maps: dict[str, torch.Tensor] = {}
    for name, v in entries.items():
        values = v.values if isinstance(v, AttributionRecord) else v
        if isinstance(v, AttributionRecord) and isinstance(values, torch.Tensor) and values.ndim == x.ndim - 1 \
                and x.ndim == 4 and tuple(values.shape[1:]) == tuple(x.shape[2:]):
            values = values[:, None]  # Grad-CAM's (B, H, W) maps: one value per pixel, for every channel
        try:
            maps[name] = as_attributions(values, x)
        except (ValueError, TypeError) as exc:
            msg = str(exc)
            label = _label(name, several)
            raise type(exc)(label + msg[len("attributions"):] if msg.startswith("attributions") else f"{label}: {msg}") from None
    shapes = {k: tuple(a.shape) for k, a in maps.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"attributions: every method's maps must have one shape, to be scored on the same features; "
                         f"got {shapes} (sum channels with a.sum(1, keepdim=True) to compare per-pixel maps)")

    # -- explain_funcs: given, or rebuilt from an attribution record --------------------------------------------
    if isinstance(explain_func, Mapping):
        unknown = sorted(set(explain_func) - set(entries))
        if unknown:
            raise ValueError(f"explain_func has entries for {unknown}, which are not among the methods {list(entries)}")
        given = dict(explain_func)
    elif explain_func is None:
        given = {}
    elif callable(explain_func):
        if len(entries) != 1:
            raise TypeError(f"explain_func: with {len(entries)} methods give a dict {{method name: explain_func}} "
                            "(a record's own method is the default)")
        given = {next(iter(entries)): explain_func}
    else:
        raise TypeError(f"explain_func must be callable: explain_func(model, inputs, target) -> attributions, or a "
                        f"dict of them per method; got {type(explain_func).__name__}")
    funcs: dict[str, Callable | None] = {}
    sources: dict[str, str | None] = {}
    why_none: dict[str, str] = {}
    for name, v in entries.items():
        f = given.get(name)
        if f is not None:
            if not callable(f):
                raise TypeError(f"explain_func[{name!r}] must be callable, got {type(f).__name__}")
            funcs[name], sources[name] = f, describe(f)
        elif isinstance(v, AttributionRecord):
            funcs[name], desc = record_explainer(v, model)
            sources[name] = desc if funcs[name] is not None else None
            if funcs[name] is None:
                why_none[name] = desc
        else:
            funcs[name], sources[name] = None, None
            why_none[name] = "it was given as a tensor"

    # -- a metric asked for by name that re-explains: every method without an explain_func skips it (an empty
    # cell, said in params["skipped"]); with one method, or none that can, it is an error ----------------------
    need = _needs_explain(metrics)
    skipped: dict[str, dict[str, str]] = {}
    missing = [k for k in entries if funcs[k] is None] if need else []
    if missing and (not several or len(missing) == len(entries)):
        k = missing[0]
        fix = (f"explain_func={{{k!r}: ...}}" if several else "explain_func=") + " (e.g. fx.attribution_explainer(method, ...))"
        raise ValueError(f"metric {need[0]!r} needs explain_func for {_label(k, several)}: {why_none[k]}; give "
                         f"{fix}, or leave metrics=None to skip the metrics a method cannot run")
    for k in missing:
        skipped[k] = {m: f"no explain_func: {why_none[k]}" for m in need}
    requests = {k: _without(metrics, set(need)) if k in skipped else metrics for k in entries}

    agg = _aggregate_request(aggregate, metrics)
    if agg is not None:
        if not several or len(entries) < 2:
            raise ValueError("aggregate needs at least two methods: give attributions as a dict {name: attributions} "
                             "or a list of AttributionResults")
        if AGGREGATE in entries:
            raise ValueError(f"attributions: the name {AGGREGATE!r} is taken by the aggregate row; rename that method")
        if agg["objective"] == "sensitivity":
            missing = [k for k in entries if funcs[k] is None]
            if missing:
                raise ValueError(f"aggregate='sensitivity' re-explains perturbed inputs with every method; "
                                 f"{_label(missing[0], several)} has no explain_func ({why_none[missing[0]]}): give "
                                 f"explain_func={{{missing[0]!r}: ...}} or use aggregate='complexity'")

    # -- one plan per method ----------------------------------------------------------------------------------
    target = _resolve_target(target, entries, B, several)
    common = {"perturb_func": perturb_func, "mask": mask, "chunk_size": chunk_size, "seed": seed}
    plans: dict[str, EvaluationPlan] = {}
    for name, a in maps.items():
        try:
            plans[name] = plan_evaluation(model, x, a, target=target, metrics=requests[name], explain_func=funcs[name],
                                          sample_offset=sample_offset, **common)
        except (ValueError, TypeError) as exc:
            msg = str(exc)
            if not (several and msg.startswith("explain_func")):
                raise
            # a method's own explain_func failed its check: say which method's
            raise type(exc)(f"explain_func[{name!r}]" + msg[len("explain_func"):]) from None
    first = next(iter(plans.values()))
    # later plans (the aggregate's) take the resolved target and chunk size, so they need no second guess
    common = {**common, "chunk_size": first.chunk_size, "target": first.target}
    names = [n for n in METRICS if any(n in p.params["metrics"] for p in plans.values())]
    if metrics is not None:  # the request's order, from a method that runs all of it
        names = list(next(p for k, p in plans.items() if k not in skipped).params["metrics"])
    params = {"methods": list(entries) + ([AGGREGATE] if agg else []), "metrics": names,
              "explain_funcs": {**sources, AGGREGATE: "aggregate_explainer"} if agg else sources,
              "no_explain_func": why_none, "skipped": skipped, "aggregate": agg, "seed": first.seed, "chunk_size": first.chunk_size,
              "n_samples": B, "device": str(x.device), "dtype": str(x.dtype).replace("torch.", ""),
              "attribution_shape": list(first.attribution_shape),
              "perturb_func": first.params["perturb_func"], "mask": first.params["mask"]}
    return ComparisonPlan(plans=plans, explain_funcs=funcs, metric_names=tuple(names), metrics=metrics, common=common,
                          aggregate=agg, explain_metrics=tuple(need), params=params)


# -- run -------------------------------------------------------------------------------------------------------
def iter_comparison(plan: ComparisonPlan) -> Iterator[ComparisonStep]:
    """Each method's steps in turn; then, when requested, the aggregate's weights (for ``"sensitivity"`` after a
    pass of every explain_func over the perturbed inputs) and its steps. The last item has progress 1."""
    agg = plan.aggregate
    pieces = len(plan.plans) + (0 if agg is None else 1 + (agg["objective"] == "sensitivity"))
    done = 0
    for name, p in plan.plans.items():
        for step in iter_evaluation(p):
            yield ComparisonStep(name, step, (done + step.progress) / pieces)
        done += 1
    if agg is None:
        return
    first = plan.first
    maps = {k: p.attributions for k, p in plan.plans.items()}
    gram = None
    if agg["objective"] == "sensitivity":
        gram = sensitivity_gram(first.model, first.inputs, plan.explain_funcs, target=first.target,
                                n_samples=agg["n_samples"], radius=agg["radius"], seed=first.seed,
                                chunk_size=first.chunk_size)
        done += 1
        yield ComparisonStep(AGGREGATE, None, done / pieces)
    rec = aggregate_attributions(maps, objective=agg["objective"], sensitivity_gram=gram,
                                 n_iter=agg.get("n_iter", 200))
    used = {k: w for k, w in rec.weights.items() if w > 0}
    explain = (aggregate_explainer({k: plan.explain_funcs[k] for k in used}, used)
               if all(plan.explain_funcs[k] is not None for k in used) else None)
    rec.params.update({k: v for k, v in agg.items() if k != "objective"})
    metrics = plan.metrics
    if explain is None and plan.explain_metrics:
        metrics = _without(metrics, set(plan.explain_metrics))
        plan.params["skipped"][AGGREGATE] = {m: "no explain_func: a method it weighs has none"
                                             for m in plan.explain_metrics}
    agg_plan = plan_evaluation(first.model, first.inputs, rec.aggregate, metrics=metrics, explain_func=explain,
                               **plan.common)
    yield ComparisonStep(AGGREGATE, None, done / pieces, aggregate=rec, plan=agg_plan)
    for step in iter_evaluation(agg_plan):
        yield ComparisonStep(AGGREGATE, step, (done + step.progress) / pieces)


class ComparisonAccumulator:
    """One :class:`EvaluationAccumulator` per method (the aggregate's from the step that carries its plan);
    ``partial()`` is the table so far, ``result()`` the final :class:`ComparisonRecord`."""

    def __init__(self, plan: ComparisonPlan) -> None:
        self.plan = plan
        self.accumulators = {k: EvaluationAccumulator(p) for k, p in plan.plans.items()}
        self.aggregate: AggregateRecord | None = None
        self.progress = 0.0

    def add(self, item: ComparisonStep) -> None:
        if item.plan is not None:
            self.accumulators[item.method] = EvaluationAccumulator(item.plan)
            self.aggregate = item.aggregate
        if item.step is not None:
            self.accumulators[item.method].add(item.step)
        self.progress = float(item.progress)

    def _record(self, records: dict[str, EvaluationRecord], progress: float) -> ComparisonRecord:
        p = self.plan
        params = dict(p.params)
        if self.aggregate is not None:
            params["aggregate_weights"] = dict(self.aggregate.weights)
        return ComparisonRecord(records=records, metric_names=p.metric_names, n_samples=p.batch,
                                target=p.first.target, seed=p.first.seed, params=params, progress=progress,
                                aggregate=self.aggregate)

    def partial(self) -> ComparisonRecord:
        return self._record({k: a.partial() for k, a in self.accumulators.items()}, self.progress)

    def result(self) -> ComparisonRecord:
        if self.plan.aggregate is not None and AGGREGATE not in self.accumulators:
            raise RuntimeError("evaluation is incomplete: the aggregate row was not computed")
        return self._record({k: a.result() for k, a in self.accumulators.items()}, 1.0)


def evaluate_methods(model: Callable, inputs: Any, attributions: Any, **kwargs: Any) -> ComparisonRecord:
    """Blocking: plan, drain every step into the accumulator, return the record."""
    plan = plan_comparison(model, inputs, attributions, **kwargs)
    return drain(iter_comparison(plan), ComparisonAccumulator(plan))
