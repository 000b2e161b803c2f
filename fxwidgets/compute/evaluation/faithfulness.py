"""Faithfulness: does the model's output move the way the attributions say it should?

- **faithfulness correlation** (Bhatt, Weller & Moura, IJCAI 2020; Quantus ``FaithfulnessCorrelation``): for
  random subsets S of ``subset_size`` features, the Pearson correlation over ``n_samples`` subsets of
  sum_{i in S} a_i and f(x) - f(x with x_S set to the baseline). In [-1, 1]; higher is better.
- **infidelity** (Yeh et al., NeurIPS 2019; Captum ``infidelity``): E_I[(I . a - (f(x) - f(x - I)))^2] over
  perturbations I. With ``normalize`` the attributions are first rescaled by the optimal
  beta = E[(I . a)(f(x) - f(x - I))] / E[(I . a)^2], so the score ignores the attributions' scale. Lower is better.
  ``perturbation="subset"`` removes a random subset to the baseline (I is the subset's indicator; for
  attributions that factor in the input such as x * gradient, IG, Shapley); ``"gaussian"`` subtracts
  N(0, stdev^2) noise (I is the noise; for local attributions such as the plain gradient).
- **deletion / insertion** (Petsiuk, Das & Saenko, BMVC 2018 "RISE"; Samek et al. 2017 pixel flipping; Quantus
  ``PixelFlipping``): remove (deletion, from x towards the baseline) or insert (insertion, from the baseline
  towards x) features in decreasing order of attribution, ``n_steps`` equal steps; the curve is the model output
  against the fraction changed, the value its area (trapezoid rule over fractions in [0, 1]). A low deletion area
  and a high insertion area mean the top-ranked features matter. Default baselines follow RISE: deletion to 0,
  insertion from a Gaussian-blurred copy for images (B, C, H, W) and from 0 otherwise. Features are the elements
  of one attribution map: a map of shape (B, 1, H, W) removes whole pixels (every channel at once).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from .core import (EvaluationPlan, Metric, MetricChunk, MetricSpec, bool_param, callable_param, choice_param,
                   float_param, int_param, run_rows, stream_id)
from .perturb import (
    attribution_dot,
    baseline_rows,
    call_pair_perturb,
    gaussian_noise,
    random_subsets,
    replace,
    resolve_baseline,
)
from .stats import pearson, trapezoid


def default_subset_size(n_features: int) -> int:
    """A tenth of the features (at least one, at most all but one)."""
    return max(1, min(n_features - 1, round(0.1 * n_features))) if n_features > 1 else 1


def _subset_size(plan: EvaluationPlan, spec: MetricSpec) -> int:
    d = plan.n_features
    if spec.params["subset_size"] is None:
        spec.params["subset_size"] = default_subset_size(d)
    if d < 2:
        raise ValueError(f"metric {spec.name!r} needs at least 2 features per sample; the attributions have {d}")
    return int_param(spec, "subset_size", 1, d - 1)


def _prepare_baseline(plan: EvaluationPlan, spec: MetricSpec) -> None:
    sigma = float_param(spec, "blur_sigma") if "blur_sigma" in spec.params else 3.0
    spec.extra["baseline"] = resolve_baseline(spec.params["baseline"], plan.inputs, name=f"baseline (metric {spec.name!r})",
                                              blur_sigma=sigma)


class _RandomPerturbation(Metric):
    """Shared by faithfulness correlation and infidelity: per row, a perturbation I and the perturbed input."""

    def _draw(self, plan: EvaluationPlan, spec: MetricSpec, samples: torch.Tensor, draws: torch.Tensor, first_row: int):
        x = plan.inputs[samples]
        base = baseline_rows(spec.extra["baseline"], samples, x)
        func = spec.params["perturb_func"]
        stream = stream_id(spec.name)
        if func is not None:
            return call_pair_perturb(func, x, base, plan, stream, first_row, plan.attribution_shape)
        if spec.params.get("perturbation", "subset") == "gaussian":
            noise = gaussian_noise(plan.seed, stream, plan.global_samples(samples), draws, tuple(x.shape[1:]), spec.params["stdev"],
                                   x.dtype, x.device)
            return noise, x - noise
        mask = random_subsets(plan.seed, stream, plan.global_samples(samples), draws, plan.attribution_shape, spec.params["subset_size"],
                              plan.device)
        return mask.to(x.dtype), replace(x, mask, base)

    def _rows(self, plan: EvaluationPlan, spec: MetricSpec):
        def row_fn(samples: torch.Tensor, draws: torch.Tensor, first_row: int) -> dict[str, torch.Tensor]:
            pert, z = self._draw(plan, spec, samples, draws, first_row)
            a = plan.attributions[samples]
            attr_sum = attribution_dot(a, pert, z.shape)
            delta = plan.output[samples] - plan.forward(z, samples)
            return {"attr_sum": attr_sum, "delta": delta}
        return row_fn

    def nbytes(self, plan: EvaluationPlan, spec: MetricSpec) -> int:
        rows = min(plan.chunk_size, plan.batch * spec.params["n_samples"])
        row = plan.inputs[0].numel() * plan.inputs.element_size()
        keys = plan.n_features * 4
        return rows * (4 * row + 2 * keys) + plan.batch * spec.params["n_samples"] * 16


class FaithfulnessCorrelation(_RandomPerturbation):
    name = "faithfulness_correlation"
    higher_is_better = True
    defaults = {"n_samples": 100, "subset_size": None, "baseline": 0.0, "perturb_func": None}
    description = "Pearson correlation between the attribution mass of random subsets and the output drop when they are removed"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        n = int_param(spec, "n_samples", 2)
        callable_param(spec, "perturb_func")
        if spec.params["perturb_func"] is None:
            _subset_size(plan, spec)
        _prepare_baseline(plan, spec)
        spec.units = plan.batch * n

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        def finish(bufs, start, stop):
            return {"values": pearson(bufs["attr_sum"], bufs["delta"])}
        yield from run_rows(plan, spec.params["n_samples"], self._rows(plan, spec), finish)


class Infidelity(_RandomPerturbation):
    name = "infidelity"
    higher_is_better = False
    defaults = {"n_samples": 10, "perturbation": "subset", "subset_size": None, "stdev": None, "baseline": 0.0,
                "normalize": False, "perturb_func": None}
    description = "mean squared error between I . a and the output change f(x) - f(x - I) (Yeh et al. 2019)"

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        n = int_param(spec, "n_samples", 1)
        bool_param(spec, "normalize")
        callable_param(spec, "perturb_func")
        kind = choice_param(spec, "perturbation", ("subset", "gaussian"))
        if spec.params["perturb_func"] is not None:
            spec.params["perturbation"] = "perturb_func"
        elif kind == "subset":
            _subset_size(plan, spec)
        else:
            if spec.params["stdev"] is None:
                s = float(plan.inputs.double().std()) if plan.inputs.numel() > 1 else 1.0
                spec.params["stdev"] = 0.1 * s if s > 0 else 0.1
                spec.params["stdev_rule"] = "0.1 x the standard deviation of the inputs"
            float_param(spec, "stdev")
            spec.params["stdev"] = float(spec.params["stdev"])
        _prepare_baseline(plan, spec)
        spec.units = plan.batch * n

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        n = spec.params["n_samples"]
        normalize = spec.params["normalize"]

        def finish(bufs, start, stop):
            ia, delta = bufs["attr_sum"], bufs["delta"]
            if normalize:
                num, den = (ia * delta).sum(1), (ia * ia).sum(1)
                beta = num / torch.where(den != 0, den, torch.ones_like(den))  # Captum's safe_div
                sq = (beta[:, None] * ia - delta) ** 2
                return {"values": sq.mean(1), "extras": {"beta": beta}}
            sq = (ia - delta) ** 2
            se = sq.std(1, unbiased=True) / n ** 0.5 if n > 1 else torch.full_like(sq[:, 0], float("nan"))
            return {"values": sq.mean(1), "value_stderr": se}
        yield from run_rows(plan, n, self._rows(plan, spec), finish)


class _Curve(Metric):
    """Deletion and insertion: the model output as features are changed in decreasing order of attribution."""

    inserting = False
    defaults = {"n_steps": None, "baseline": None, "abs": False, "blur_sigma": 3.0}

    def prepare(self, plan: EvaluationPlan, spec: MetricSpec) -> None:
        d = plan.n_features
        if spec.params["n_steps"] is None:
            spec.params["n_steps"] = min(50, d)
        n = int_param(spec, "n_steps", 1, d)
        bool_param(spec, "abs")
        float_param(spec, "blur_sigma")
        if spec.params["baseline"] is None:  # RISE: delete to black (zero), insert from a blurred copy of an image
            spec.params["baseline"] = "blur" if (self.inserting and plan.inputs.ndim == 4) else 0.0
        _prepare_baseline(plan, spec)
        spec.extra["curve_x"] = torch.linspace(0, 1, n + 1, dtype=plan.dtype, device=plan.device)
        spec.extra["curve_axis"] = "fraction of features inserted" if self.inserting else "fraction of features removed"
        spec.units = plan.batch * (n + 1)

    def nbytes(self, plan: EvaluationPlan, spec: MetricSpec) -> int:
        rows = min(plan.chunk_size, plan.batch * (spec.params["n_steps"] + 1))
        row = plan.inputs[0].numel() * plan.inputs.element_size()
        return rows * (3 * row + plan.n_features) + rows * plan.n_features * 8 + plan.batch * (spec.params["n_steps"] + 1) * 8

    def run(self, plan: EvaluationPlan, spec: MetricSpec) -> Iterator[MetricChunk]:
        n_steps = spec.params["n_steps"]
        d = plan.n_features
        B = plan.batch
        scores = plan.attributions.reshape(B, -1)
        if spec.params["abs"]:
            scores = scores.abs()
        inserting = self.inserting

        def row_fn(samples: torch.Tensor, draws: torch.Tensor, first_row: int) -> dict[str, torch.Tensor]:
            lo, hi = int(samples[0]), int(samples[-1]) + 1
            # rank of each feature in decreasing order of attribution (ties: the earlier feature first)
            order = torch.sort(scores[lo:hi], dim=1, descending=True, stable=True).indices
            rank = torch.empty_like(order)
            rank.scatter_(1, order, torch.arange(d, device=order.device).expand_as(order))
            n_changed = (draws * d) // n_steps
            mask = (rank[samples - lo] < n_changed[:, None]).view(-1, *plan.attribution_shape)
            x = plan.inputs[samples]
            base = baseline_rows(spec.extra["baseline"], samples, x)
            z = torch.where(mask, x, base) if inserting else replace(x, mask, base)
            # the unchanged input (deletion's first point, insertion's last) is f(x), known from the plan's pass
            known = draws == (n_steps if inserting else 0)
            f = torch.empty(samples.shape[0], dtype=plan.output.dtype, device=plan.device)
            f[known] = plan.output[samples[known]]
            if not bool(known.all()):
                f[~known] = plan.forward(z[~known], samples[~known])
            return {"f": f}

        def finish(bufs, start, stop):
            curves = bufs["f"]
            return {"values": trapezoid(curves, 1.0 / n_steps), "curves": curves}
        yield from run_rows(plan, n_steps + 1, row_fn, finish)


class Deletion(_Curve):
    name = "deletion"
    higher_is_better = False
    inserting = False
    description = "area under the output as the most-attributed features are removed first (lower is better)"


class Insertion(_Curve):
    name = "insertion"
    higher_is_better = True
    inserting = True
    description = "area under the output as the most-attributed features are inserted first (higher is better)"
