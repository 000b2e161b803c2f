"""Robustness: how much does an explanation change when the input barely changes?

Max- and average-sensitivity (Yeh et al., NeurIPS 2019; Bhatt, Weller & Moura 2020 call the pair max- and
average-sensitivity; Captum ``sensitivity_max``, Quantus ``MaxSensitivity`` / ``AvgSensitivity``)::

    sens(x) = max (or mean) over ||z - x||_inf <= r of ||g(x) - g(z)|| / ||g(x)||

estimated with ``n_samples`` points z drawn uniformly in the L-infinity ball of ``radius`` (Captum's default
perturbation) and re-explained with ``explain_func(model, z, target)``. g(x) are the given attributions, so
``explain_func`` must be the method that made them. The norm is the Frobenius (L2 over all elements, both
anchors' default) or the max norm; ``relative=False`` drops the division by ||g(x)|| (a zero ||g(x)|| counts as 1,
as Captum does). Lower is better.

:func:`sensitivity_gram` measures several explanation methods under the *same* perturbations and returns the
matrix of mean inner products of their (unit-norm) changes, which :func:`.aggregate.aggregate_attributions`
minimises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .core import (EvaluationPlan, Metric, MetricChunk, MetricSpec, bool_param, callable_param, choice_param,
                   float_param, int_param, run_rows, stream_id)
from .perturb import call_input_perturb, uniform_noise


def _norm(t: torch.Tensor, kind: str) -> torch.Tensor:
    flat = t.reshape(t.shape[0], -1)
    return flat.abs().amax(1) if kind == "inf" else torch.linalg.vector_norm(flat, dim=1)


def perturbed_inputs(plan: EvaluationPlan, spec_name: str, radius: float, perturb_func: Callable | None,
                     samples: torch.Tensor, draws: torch.Tensor, first_row: int) -> torch.Tensor:
    x = plan.inputs[samples]
    stream = stream_id(spec_name)
    if perturb_func is not None:
        return call_input_perturb(perturb_func, x, radius, plan, stream, first_row)
    return x + uniform_noise(plan.seed, stream, plan.global_samples(samples), draws, tuple(x.shape[1:]), radius, x.dtype, x.device)


class _Sensitivity(Metric):
    higher_is_better = False
    needs = ("explain_func",)
    reduce = "max"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        n = int_param(spec, "n_samples", 1)
        float_param(spec, "radius")
        spec.params["radius"] = float(spec.params["radius"])
        choice_param(spec, "norm", ("fro", "inf"))
        bool_param(spec, "relative")
        callable_param(spec, "perturb_func")
        spec.units = plan.batch * n

    def nbytes(self, plan: EvaluationPlan, spec: MetricSpec) -> int:
        rows = min(plan.chunk_size, plan.batch * spec.params["n_samples"])
        row = plan.inputs[0].numel() * plan.inputs.element_size()
        arow = plan.n_features * plan.attributions.element_size()
        return rows * (3 * row + 3 * arow) + plan.batch * spec.params["n_samples"] * 8

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        p = spec.params
        n, norm, relative = p["n_samples"], p["norm"], p["relative"]

        def row_fn(samples: torch.Tensor, draws: torch.Tensor, first_row: int) -> dict[str, torch.Tensor]:
            z = perturbed_inputs(plan, spec.name, p["radius"], p["perturb_func"], samples, draws, first_row)
            e = plan.explain(z, samples)
            a = plan.attributions[samples]
            num = _norm(a - e, norm)
            if not relative:
                return {"s": num}
            den = _norm(a, norm)
            return {"s": num / torch.where(den == 0, torch.ones_like(den), den)}

        reduce = self.reduce

        def finish(bufs, start, stop):
            s = bufs["s"]
            if reduce == "max":
                return {"values": s.amax(1)}
            se = s.std(1, unbiased=True) / n ** 0.5 if n > 1 else torch.full_like(s[:, 0], float("nan"))
            return {"values": s.mean(1), "value_stderr": se}
        yield from run_rows(plan, n, row_fn, finish)


class MaxSensitivity(_Sensitivity):
    name = "max_sensitivity"
    reduce = "max"
    defaults = {"n_samples": 10, "radius": 0.02, "norm": "fro", "relative": True, "perturb_func": None}
    description = "largest relative change of the explanation over random inputs within radius (Yeh et al. 2019)"


class AvgSensitivity(_Sensitivity):
    name = "avg_sensitivity"
    reduce = "mean"
    defaults = {"n_samples": 10, "radius": 0.02, "norm": "fro", "relative": True, "perturb_func": None}
    description = "mean relative change of the explanation over random inputs within radius (Yeh et al. 2019)"


def unit_rows(rows: torch.Tensor) -> torch.Tensor:
    """Each row scaled to unit Frobenius norm (a zero row stays zero)."""
    n = _norm(rows, "fro")
    return rows / torch.where(n > 0, n, torch.ones_like(n))[:, None]
