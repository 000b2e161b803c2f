"""Evaluation of a dataset's attributions in row blocks on an engine's workers (Ray), assembled into the local
answer.

The caller plans the comparison as a local run would (:func:`~.comparison.plan_comparison`: every argument
validated, one model pass per method). Each block of samples is then planned and run on a worker with the same
metrics, parameters, ``chunk_size`` and seed, and with ``sample_offset`` = its first sample: every random draw
is keyed by (seed, metric, global sample, draw), so the block draws exactly what the whole run draws for its
samples. Blocks hold a multiple of ``chunk_size`` samples, so the chunks a user's ``perturb_func`` is seeded by
(per chunk of model rows) fall on the same rows too. A finished block comes back as one
:class:`EvaluationStep` per method and metric, with its global sample range, so :class:`ComparisonAccumulator`
folds it as it folds the local steps; means and standard errors over samples are computed from the assembled
values, as locally.

Bhatt et al.'s aggregate row is refused: its weights are fitted on every sample's maps together.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from ..engines import RayEngine, map_blocks, to_device
from .comparison import ComparisonPlan, ComparisonStep, _without, plan_comparison
from .core import EvaluationAccumulator, EvaluationStep
from .plan import iter_evaluation
from ..drain import drain


def check_blocks(plan: ComparisonPlan) -> None:
    if plan.aggregate is not None:
        raise ValueError("aggregate cannot run on engine='ray': its weights are fitted on every sample's maps together; "
                         "run it locally (engine='local')")


def _requests(plan: ComparisonPlan) -> dict[str, Any]:
    """Each method's metrics request, as plan_comparison derived it (without the metrics a method skips)."""
    skipped = plan.params.get("skipped", {})
    return {k: _without(plan.metrics, set(plan.explain_metrics)) if k in skipped and plan.metrics is not None
            else plan.metrics for k in plan.plans}


def _metric_rows(request: Any, shape: tuple[int, ...], a: int, b: int) -> Any:
    """A metrics request with its per-sample parameters (a baseline of the inputs' full shape, one other target
    per sample) cut to samples a:b."""
    if not isinstance(request, dict):
        return request
    n = shape[0]
    out = {}
    for name, params in request.items():
        p = dict(params or {})
        base = p.get("baseline")
        if tuple(getattr(base, "shape", ())) == tuple(shape):  # one baseline per sample
            p["baseline"] = base[a:b]
        other = p.get("other_target")
        if (hasattr(other, "shape") and tuple(other.shape) == (n,)) or (isinstance(other, (list, tuple)) and len(other) == n):
            p["other_target"] = other[a:b]
        out[name] = p
    return out


def _block_call(plan: ComparisonPlan, a: int, b: int) -> dict:
    first = plan.first
    mask = first.mask
    return {"start": a, "inputs": first.inputs[a:b],
            "maps": {k: p.attributions[a:b] for k, p in plan.plans.items()},
            "target": None if first.target is None else first.target[a:b],
            "mask": None if mask is None else mask[a:b],
            "requests": {k: _metric_rows(r, tuple(first.inputs.shape), a, b) for k, r in _requests(plan).items()}}


def run_evaluation_block(shared: dict, call: dict, device: torch.device) -> dict:
    """On a worker: every method's evaluation of samples a:b (planned with ``sample_offset=a``); returns each
    method's final record."""
    model = shared["model"]
    if device.type == "cuda" and isinstance(model, torch.nn.Module):
        model = model.to(device)
        call = to_device(call, device)
    out = {}
    for name, maps in call["maps"].items():
        sub = plan_comparison(model, call["inputs"], {name: maps}, target=call["target"],
                              metrics=call["requests"][name], explain_func={name: shared["explain_funcs"][name]}
                              if shared["explain_funcs"][name] is not None else None,
                              perturb_func=shared["perturb_func"], mask=call["mask"], chunk_size=shared["chunk_size"],
                              seed=shared["seed"], sample_offset=call["start"])
        p = sub.plans[name]
        out[name] = drain(iter_evaluation(p), EvaluationAccumulator(p))
    return out


def iter_comparison_blocks(plan: ComparisonPlan, engine: RayEngine) -> Iterator[ComparisonStep]:
    """The comparison's metrics computed in blocks of samples on ``engine``, yielded as blocks finish (one step
    per method and metric, with the block's global sample range)."""
    check_blocks(plan)
    first = plan.first
    n = first.batch
    blocks = engine.blocks(n, align=first.chunk_size)
    shared = {"model": first.model, "explain_funcs": dict(plan.explain_funcs), "chunk_size": first.chunk_size,
              "seed": first.seed, "perturb_func": plan.common.get("perturb_func")}
    done = 0
    for i, records in map_blocks(engine, run_evaluation_block, shared, blocks, lambda a, b: _block_call(plan, a, b)):
        a, b = blocks[i]
        done += b - a
        for method, record in records.items():
            for name, m in record.metrics.items():
                step = EvaluationStep(metric=name, start=a, stop=b, values=m.values, progress=done / n,
                                      curves=m.curves, value_stderr=m.value_stderr, extras=m.extras)
                yield ComparisonStep(method, to_device(step, first.device), done / n)
