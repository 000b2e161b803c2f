"""Aggregate explanations (Bhatt, Weller & Moura, IJCAI 2020, section 5): a convex combination of several methods'
attributions, g_agg = sum_m w_m g_m / ||g_m|| with w on the simplex (w_m >= 0, sum w_m = 1), the weights chosen to
lower a criterion.

Each method's map is divided by its own L2 norm per sample first, so methods on different scales mix on equal
terms (the aggregate is a combination of unit-norm maps).

- ``objective="sensitivity"``: Bhatt et al. show that a convex combination is no more sensitive than the
  combination of its parts' sensitivities. Here the weights minimise the aggregate's actual mean squared change
  under shared perturbations, E||g_agg(x) - g_agg(z)||^2 = w^T G w with G from
  :func:`~.robustness.sensitivity_gram`: a convex quadratic on the simplex, solved exactly by checking every
  support (the stationary point of each face), so the aggregate is at least as stable as every single method
  (unit-normalised) and as their plain mean.
- ``objective="complexity"``: the weights minimise the mean complexity (entropy of |g| / sum |g|, see
  :mod:`.complexity`) of the aggregate, by exponentiated-gradient (mirror) descent on the simplex from the
  uniform weights; every single method and the uniform mix are candidates too, so the result is never more
  complex than the best of them. The entropy is concave in the mix where signs agree, so the optimum is often a
  vertex (one method); a lower-entropy interior mix exists where methods cancel each other's noise.
- ``objective="mean"``: equal weights.

:func:`aggregate_explainer` turns the weights into an ``explain_func`` for the aggregate, so it can be evaluated
(and re-explained by the sensitivity and randomisation metrics) like any other method.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .complexity import entropy_complexity
from .core import call_explain
from .plan import plan_evaluation
from .robustness import perturbed_inputs, unit_rows

#: Exact support enumeration costs 2^M small solves; beyond this many methods it would be slow.
MAX_METHODS = 12


@dataclass
class AggregateRecord:
    """The weights, the aggregate maps, and the objective at the weights, at equal weights and per method."""

    weights: dict[str, float]
    aggregate: torch.Tensor  # (B, ...) sum_m w_m a_m / ||a_m||
    objective: str
    value: float
    uniform_value: float
    method_values: dict[str, float]
    params: dict = field(default_factory=dict)


def unit_maps(attributions: Mapping[str, Any]) -> tuple[tuple[str, ...], torch.Tensor]:
    """The methods' maps stacked (M, B, ...) as float64, each divided by its L2 norm per sample (zero maps stay)."""
    if not isinstance(attributions, Mapping) or len(attributions) < 1:
        raise ValueError("attributions must be a mapping of method name -> attribution maps (B, ...)")
    if len(attributions) > MAX_METHODS:
        raise ValueError(f"attributions: at most {MAX_METHODS} methods can be aggregated, got {len(attributions)}")
    names = tuple(attributions)
    maps = []
    for k in names:
        v = attributions[k]
        t = v.detach() if isinstance(v, torch.Tensor) else torch.as_tensor(v)
        if not (t.dtype.is_floating_point or t.dtype in (torch.int32, torch.int64)) or t.ndim < 2:
            raise ValueError(f"attributions[{k!r}] must be a real tensor (batch, ...), got dtype {t.dtype} shape {tuple(t.shape)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"attributions[{k!r}] has non-finite values (NaN or Inf)")
        maps.append(t)
    shapes = {tuple(m.shape) for m in maps}
    if len(shapes) > 1:
        raise ValueError(f"attributions: every method's maps must have one shape, got {sorted(shapes)}")
    devices = {m.device for m in maps}
    if len(devices) > 1:
        raise ValueError(f"attributions are on several devices: {sorted(map(str, devices))}")
    a = torch.stack([m.double() for m in maps])
    M, B = a.shape[:2]
    norms = torch.linalg.vector_norm(a.reshape(M, B, -1), dim=2).view(M, B, *[1] * (a.ndim - 2))
    return names, a / torch.where(norms > 0, norms, torch.ones_like(norms))


def simplex_quadratic_min(G: torch.Tensor) -> torch.Tensor:
    """argmin of w^T G w over the probability simplex, for a symmetric positive semi-definite G (M x M).

    For each support S the minimiser on the face {w_S >= 0, sum w_S = 1} is, if interior, w_S = G_SS^+ 1 / 1^T G_SS^+ 1
    (Lagrange); the global minimiser is the best feasible one over all supports (the problem is convex)."""
    M = G.shape[0]
    best_w, best_v = None, float("inf")
    for size in range(1, M + 1):
        for S in itertools.combinations(range(M), size):
            idx = torch.tensor(S)
            Gs = G[idx][:, idx]
            u = torch.linalg.pinv(Gs) @ torch.ones(size, dtype=G.dtype)
            tot = float(u.sum())
            if abs(tot) < 1e-300:
                continue
            ws = u / tot
            if float(ws.min()) < -1e-12:
                continue
            w = torch.zeros(M, dtype=G.dtype)
            w[idx] = ws.clamp_min(0)
            w = w / w.sum()
            v = float(w @ G @ w)
            if v < best_v - 1e-15:
                best_w, best_v = w, v
    return best_w


def _complexity_weights(unit: torch.Tensor, n_iter: int) -> torch.Tensor:
    M = unit.shape[0]

    def objective(w: torch.Tensor) -> torch.Tensor:
        return entropy_complexity(torch.einsum("m,mb...->b...", w, unit)).nanmean()

    # the weights live with the maps (the einsum with maps on a GPU needs them there)
    opts = {"dtype": torch.float64, "device": unit.device}
    candidates = [torch.full((M,), 1.0 / M, **opts)] + [torch.eye(M, **opts)[m] for m in range(M)]
    w = candidates[0].clone()
    for t in range(n_iter):
        wv = w.clone().requires_grad_(True)
        val = objective(wv)
        (g,) = torch.autograd.grad(val, wv)
        if not bool(torch.isfinite(g).all()):
            break
        scale = float(g.abs().max())
        if scale == 0:
            break
        w = w * torch.exp(-(g / scale) / (t + 1) ** 0.5)
        w = w / w.sum()
        candidates.append(w.detach().clone())
    values = [float(objective(c)) for c in candidates]
    return candidates[min(range(len(values)), key=lambda i: values[i] if values[i] == values[i] else float("inf"))]


def aggregate_attributions(attributions: Mapping[str, Any], *, objective: str = "complexity",
                           sensitivity_gram: Any = None, n_iter: int = 200) -> AggregateRecord:
    """Weights on the simplex and the aggregate sum_m w_m a_m / ||a_m|| of several methods' maps (see the module
    docstring for the objectives). ``sensitivity_gram``: (names, G) or G from
    :func:`~.robustness.sensitivity_gram`, for ``objective="sensitivity"``."""
    if objective not in ("complexity", "sensitivity", "mean"):
        raise ValueError(f"objective must be 'complexity', 'sensitivity' or 'mean'; got {objective!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ValueError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    names, unit = unit_maps(attributions)
    M = len(names)
    uniform = torch.full((M,), 1.0 / M, dtype=torch.float64)
    device = unit.device
    if objective == "sensitivity":
        if sensitivity_gram is None:
            raise ValueError("sensitivity_gram is required for objective='sensitivity': (names, G) from "
                             "sensitivity_gram(model, inputs, explain_funcs, ...) with the same methods")
        if isinstance(sensitivity_gram, tuple) and len(sensitivity_gram) == 2:
            g_names, G = sensitivity_gram
            if tuple(g_names) != names:
                raise ValueError(f"sensitivity_gram is for methods {tuple(g_names)}; the attributions are for {names} "
                                 "(same names, same order)")
        else:
            G = sensitivity_gram
        G = torch.as_tensor(G).detach().double().cpu()
        if tuple(G.shape) != (M, M) or not bool(torch.isfinite(G).all()):
            raise ValueError(f"sensitivity_gram must be a finite {M} x {M} matrix, got shape {tuple(G.shape)}")
        G = (G + G.T) / 2

        def value(w: torch.Tensor) -> float:
            return float(w @ G @ w)
        w = simplex_quadratic_min(G)
    elif objective == "complexity":
        def value(w: torch.Tensor) -> float:
            return float(entropy_complexity(torch.einsum("m,mb...->b...", w.to(device), unit)).nanmean())
        w = _complexity_weights(unit, n_iter).cpu()
    else:
        def value(w: torch.Tensor) -> float:
            return float(entropy_complexity(torch.einsum("m,mb...->b...", w.to(device), unit)).nanmean())
        w = uniform
    agg = torch.einsum("m,mb...->b...", w.to(device), unit)
    first = attributions[names[0]]
    out_dtype = first.dtype if isinstance(first, torch.Tensor) and first.dtype.is_floating_point else torch.float32
    eye = torch.eye(M, dtype=torch.float64)
    return AggregateRecord(weights={k: float(w[i]) for i, k in enumerate(names)}, aggregate=agg.to(out_dtype),
                           objective=objective, value=value(w), uniform_value=value(uniform),
                           method_values={k: value(eye[i]) for i, k in enumerate(names)},
                           params={"objective": objective, "n_iter": n_iter, "methods": list(names),
                                   "criterion": "mean complexity" if objective != "sensitivity"
                                   else "mean squared change of the aggregate under the gram's perturbations"})


def aggregate_explainer(explain_funcs: Mapping[str, Callable], weights: Mapping[str, float]) -> Callable:
    """An ``explain_func(model, inputs, target)`` for the aggregate: sum_m w_m g_m(x) / ||g_m(x)||."""
    missing = [k for k in weights if k not in explain_funcs]
    if missing:
        raise ValueError(f"explain_funcs lacks the methods {missing} that have weights")

    def explain(model: Callable, inputs: torch.Tensor, target: Any) -> torch.Tensor:
        total = None
        for k, w in weights.items():
            if w == 0:
                continue
            g = torch.as_tensor(explain_funcs[k](model, inputs, target)).detach()
            n = torch.linalg.vector_norm(g.reshape(g.shape[0], -1), dim=1).view(-1, *[1] * (g.ndim - 1))
            term = w * g / torch.where(n > 0, n, torch.ones_like(n))
            total = term if total is None else total + term
        if total is None:
            raise ValueError("weights are all zero")
        return total

    return explain


def sensitivity_gram(model: Callable, inputs: Any, explain_funcs: Mapping[str, Callable], *, target: Any = None,
                     n_samples: int = 10, radius: float = 0.02, seed: int = 0,
                     chunk_size: int | None = None) -> tuple[tuple[str, ...], torch.Tensor]:
    """G[m, n] = mean over samples and draws of <d_m, d_n>, where d_m = g_m(x) / ||g_m(x)|| - g_m(z) / ||g_m(z)|| is the
    change of method m's unit-norm map at a perturbed input z (uniform in the L-infinity ball of ``radius``; the
    same z for every method, drawn per (sample, draw) exactly as the max_sensitivity metric draws them).

    The aggregate explanation g_agg = sum_m w_m g_m / ||g_m|| (:func:`~.aggregate.aggregate_explainer`) then changes
    by sum_m w_m d_m, whose mean squared norm is w^T G w: what :func:`~.aggregate.aggregate_attributions`
    (objective="sensitivity") minimises. Returns (method names, G) with G in float64."""
    if not isinstance(explain_funcs, Mapping) or len(explain_funcs) < 1:
        raise ValueError("explain_funcs must be a mapping of method name -> explain_func(model, inputs, target)")
    for k, f in explain_funcs.items():
        if not callable(f):
            raise ValueError(f"explain_funcs[{k!r}] must be callable, got {type(f).__name__}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not radius > 0:
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    # a plan with no metrics checks the model, inputs, target and chunk_size (the inputs stand in for the maps)
    plan = plan_evaluation(model, inputs, inputs, target=target, metrics={}, chunk_size=chunk_size, seed=seed)
    names = tuple(explain_funcs)
    B, n = plan.batch, int(n_samples)
    idx = torch.arange(B, device=plan.device)
    maps, shapes = {}, {}
    for k in names:
        first = call_explain(explain_funcs[k], model, plan.inputs[:1], plan.targets(idx[:1]), None, plan.dtype, plan.device)
        shapes[k] = tuple(first.shape[1:])
        maps[k] = torch.cat([call_explain(explain_funcs[k], model, plan.inputs[a:a + plan.chunk_size],
                                          plan.targets(idx[a:a + plan.chunk_size]), shapes[k], plan.dtype, plan.device)
                             for a in range(0, B, plan.chunk_size)])
    G = torch.zeros((len(names), len(names)), dtype=torch.float64, device=plan.device)
    total = B * n
    for r0 in range(0, total, plan.chunk_size):
        r1 = min(total, r0 + plan.chunk_size)
        rows = torch.arange(r0, r1, device=plan.device)
        samples, draws = rows // n, rows % n
        z = perturbed_inputs(plan, "max_sensitivity", float(radius), None, samples, draws, r0)
        t = plan.targets(samples)
        diffs = []
        for k in names:
            a = maps[k][samples].reshape(r1 - r0, -1)
            e = call_explain(explain_funcs[k], model, z, t, shapes[k], plan.dtype, plan.device).reshape(r1 - r0, -1)
            diffs.append((unit_rows(a) - unit_rows(e)).double())
        if len({d.shape[1] for d in diffs}) > 1:
            raise ValueError("explain_funcs return maps of different sizes; an aggregate needs maps of one shape")
        D = torch.stack(diffs, 1)  # (rows, methods, features)
        G += torch.einsum("rmf,rnf->mn", D, D)
    return names, G / total
