"""The metrics strip under AttributionView's panels: for the row shown, each method's evaluation values.

Two sources: a finished evaluation (``result.show(inputs, metrics=fx.evaluate(...))``: the per-sample values of the
shown row, matched to the panels by method name), or ``AttributionView(model, x, methods=..., evaluate=[...])``:
once every panel's attributions are done, each panel is scored on the shown row by the evaluation compute (the
same plan and draws as ``fx.evaluate``, one plan per panel so that a method whose maps have another shape, or a
metric one method cannot run, leaves only its own strip empty), in a job off the kernel's main thread.

The trait is ``panel_metrics``: one list per panel of ``{"name", "value" (float or None), "higher_is_better"
(true, false or null), "best" (the best value of that metric among the panels), "error" (why a value is missing;
absent otherwise)}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch

from ..compute.evaluation import ALIASES, METRICS
from ..compute.evaluation.comparison import ComparisonAccumulator, iter_comparison, plan_comparison
from ..results.evaluation import EvaluationResult
from ..runtime import Job

#: What ``evaluate=True`` computes: the metrics every model and map allows without an ``explain_func`` or a mask,
#: cheap enough to run on one row while the person looks at it.
DEFAULT_METRICS = ("deletion", "insertion", "complexity", "sparseness")


def metric_request(evaluate: Any) -> Any:
    """``evaluate=`` checked before any work: None, True (``DEFAULT_METRICS``), a metric name, a list of names or a
    dict {name: parameters}; returns what the evaluation plan takes (None for no evaluation)."""
    if evaluate is None or evaluate is False:
        return None
    if evaluate is True:
        return list(DEFAULT_METRICS)
    items = [evaluate] if isinstance(evaluate, str) else evaluate
    if not isinstance(items, (Mapping, Sequence)) or isinstance(items, bytes):
        raise TypeError(f"evaluate must be True, a metric name, a list of names or a dict {{name: parameters}}; "
                        f"got {type(evaluate).__name__}")
    for k in items:
        if not isinstance(k, str) or ALIASES.get(k.lower(), k.lower()) not in METRICS:
            raise ValueError(f"evaluate: unknown metric {k!r}; known: {', '.join(METRICS)}")
    if not items:
        raise ValueError("evaluate is empty: name at least one metric (or give evaluate=True)")
    return dict(items) if isinstance(items, Mapping) else list(items)


def mark_best(strips: list[list[dict]]) -> list[list[dict]]:
    """Set ``best`` on every entry: True for the panels with the best value of that metric (by its direction; a
    metric without one, or shown by a single panel, has no best)."""
    values: dict[str, list[float]] = {}
    for strip in strips:
        for e in strip:
            if e.get("value") is not None:
                values.setdefault(e["name"], []).append(e["value"])
    for strip in strips:
        for e in strip:
            vs = values.get(e["name"], [])
            hib = e.get("higher_is_better")
            e["best"] = bool(e.get("value") is not None and hib is not None and len(vs) > 1
                             and e["value"] == (max(vs) if hib else min(vs)))
    return strips


def _entry(name: str, record: Any, row: int) -> dict:
    v = float(record.values[row]) if record is not None and row < record.values.shape[0] else float("nan")
    return {"name": name, "value": v if math.isfinite(v) else None,
            "higher_is_better": None if record is None else record.higher_is_better}


def strips_from_evaluation(evaluation: Any, titles: Sequence[str], methods: Sequence[str], row: int) -> list[list[dict]]:
    """The strips of a finished evaluation for data row ``row``: panel i shows the evaluation's method named as
    its title (or, failing that, as its method); a panel no evaluated method matches gets an empty strip."""
    if not isinstance(evaluation, EvaluationResult):
        raise TypeError(f"metrics must be an EvaluationResult (what fx.evaluate returns), got {type(evaluation).__name__}")
    if not 0 <= row < evaluation.n_samples:
        raise ValueError(f"metrics: the evaluation has {evaluation.n_samples} samples; the row shown ({row}) is not one of them")
    strips = []
    for title, method in zip(titles, methods):
        name = title if title in evaluation.records else method if method in evaluation.records else None
        if name is None:
            strips.append([])
            continue
        rec = evaluation.records[name]
        strips.append([_entry(k, rec.metrics.get(k), row) for k in evaluation.metric_names])
    return mark_best(strips)


class _Accumulator:
    """One comparison accumulator per panel; ``result()`` -> {panel: ComparisonRecord}."""

    def __init__(self, plans: dict[int, Any]) -> None:
        self.accumulators = {i: ComparisonAccumulator(p) for i, p in plans.items()}
        self.progress = 0.0

    def add(self, item: tuple[int, Any, float]) -> None:
        i, step, self.progress = item
        self.accumulators[i].add(step)

    def result(self) -> dict[int, Any]:
        return {i: a.result() for i, a in self.accumulators.items()}


def evaluation_job(model: Any, inputs: Any, results: dict[int, Any], titles: Sequence[str], request: Any, *,
                   target: Any, seed: int = 0) -> tuple[Job | None, dict[int, str]]:
    """A job scoring each panel's attributions (``results[i]``, AttributionResults of the shown row) with the
    metrics ``request``; (the job, or None when no panel can be scored; {panel: why it cannot}). Every panel is
    planned here (the plans validate and run the model once), and scored in the job."""
    plans, errors = {}, {}
    if isinstance(inputs, torch.Tensor) and not inputs.is_floating_point():
        why = ("the evaluation metrics perturb the inputs themselves, and integer token ids cannot be perturbed; "
               "score a text model's attributions with fx.evaluate on the embedding's output instead")
        return None, {i: why for i in results}
    for i, r in results.items():
        try:
            plans[i] = plan_comparison(model, inputs, {titles[i]: r}, target=target, metrics=request, seed=seed)
        except (ValueError, TypeError, RuntimeError) as exc:
            errors[i] = f"{type(exc).__name__}: {exc}"
    if not plans:
        return None, errors
    n = len(plans)

    def source() -> Iterator[tuple[int, Any, float]]:
        for k, (i, plan) in enumerate(plans.items()):
            for item in iter_comparison(plan):
                yield i, item, (k + item.progress) / n

    return Job(source(), _Accumulator(plans), name="panel-metrics"), errors


def strips_from_records(records: dict[int, Any], errors: dict[int, str], n_panels: int,
                        request_names: Sequence[str]) -> list[list[dict]]:
    """The strips of the job's records (row 0: the job scored the shown row only); a panel that could not be
    scored lists its metrics with the reason."""
    strips: list[list[dict]] = []
    for i in range(n_panels):
        rec = records.get(i)
        if rec is None:
            why = errors.get(i, "not evaluated")
            strips.append([{"name": k, "value": None, "higher_is_better": None, "error": why} for k in request_names])
            continue
        ev = next(iter(rec.records.values()))
        strips.append([_entry(k, ev.metrics.get(k), 0) for k in rec.metric_names])
    return mark_best(strips)


def request_names(request: Any) -> list[str]:
    return [ALIASES.get(k.lower(), k.lower()) for k in request]


__all__ = ["DEFAULT_METRICS", "evaluation_job", "mark_best", "metric_request", "request_names", "strips_from_evaluation",
           "strips_from_records"]
