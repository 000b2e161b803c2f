"""Attributions: which inputs made the output.

``plan_attribution`` validates everything (and runs the model once on the inputs, to check the target and
record f(x)) before any long work; ``iter_attribution`` is the generator of partial results;
:class:`AttributionAccumulator` folds them. Pure torch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..memory import TILE_BYTES
from ..validate import check_choice, check_positive_int
from . import concepts as _concepts
from . import gradients as _gradients
from . import perturbation as _perturbation
from . import shapley as _shapley
from .core import (
    AttributionAccumulator,
    AttributionRecord,
    AttributionPlan,
    AttributionStep,
    as_baseline,
    as_inputs,
    as_target,
    feature_groups,
    select_output,
)
from .gradients import IG_RULES, quadrature

#: method -> (generator, defaults, stochastic). A parameter not in defaults is refused.
METHODS: dict[str, tuple[Callable[[AttributionPlan], Iterator[AttributionStep]], dict, bool]] = {
    "saliency": (_gradients.saliency, {"abs": True}, False),
    "input_x_gradient": (_gradients.input_x_gradient, {}, False),
    "integrated_gradients": (_gradients.integrated_gradients, {"baseline": None, "n_steps": 50, "rule": "gausslegendre"}, False),
    "smoothgrad": (_gradients.smoothgrad, {"n_samples": 25, "stdev": None, "base": "saliency", "noise": None}, True),
    "vargrad": (_gradients.vargrad, {"n_samples": 25, "stdev": None, "base": "saliency", "noise": None}, True),
    "gradient_shap": (_gradients.gradient_shap, {"baselines": None, "n_samples": 25, "stdev": 0.0}, True),
    "grad_cam": (_gradients.grad_cam, {"layer": None, "relu": True, "upsample": True}, False),
    "occlusion": (_perturbation.occlusion, {"sliding_window": None, "strides": None, "baseline": None}, False),
    "feature_ablation": (_perturbation.feature_ablation, {"feature_mask": None, "baseline": None}, False),
    "shapley_exact": (_shapley.shapley_exact, {"feature_mask": None, "baseline": None, "interactions": False}, False),
    "shapley_permutation": (_shapley.shapley_permutation, {"feature_mask": None, "baseline": None, "n_permutations": 50,
                                                           "antithetic": True}, True),
    "kernel_shap": (_shapley.kernel_shap, {"feature_mask": None, "baseline": None, "n_samples": None}, True),
    "concepts": (_concepts.concepts, {"layer": None, "n_concepts": 4, "n_iter": 200, "upsample": True}, True),
}

#: Short names people use.
ALIASES = {"ig": "integrated_gradients", "gradcam": "grad_cam", "expected_gradients": "gradient_shap",
           "gradientshap": "gradient_shap", "kernelshap": "kernel_shap", "dff": "concepts", "shapley": "shapley_permutation",
           "ablation": "feature_ablation", "input_x_grad": "input_x_gradient"}

MAX_DEFAULT_CHUNK = 1024


def _layer(model: Any, layer: Any) -> torch.nn.Module:
    if layer is None:
        raise ValueError("layer is required for this method: give the module (or its name in model.named_modules())")
    if isinstance(layer, str):
        if not isinstance(model, torch.nn.Module):
            raise ValueError("layer can be given by name only when model is a torch.nn.Module")
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.named_modules() if n][:12]
            raise ValueError(f"layer {layer!r} is not a submodule of the model; some names: {', '.join(names)}") from None
    if not isinstance(layer, torch.nn.Module):
        raise ValueError(f"layer must be a torch.nn.Module or its name, got {type(layer).__name__}")
    return layer


def _tuple(value: Any, ndim: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * ndim
    try:
        t = tuple(int(v) for v in value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a tuple of {ndim} ints, got {value!r}") from None
    if len(t) != ndim or any(v < 1 for v in t):
        raise ValueError(f"{name} must be {ndim} positive ints (one per input dimension after the batch), got {value!r}")
    return t


def plan_attribution(model: Any, inputs: Any, *, target: Any = None, method: str = "integrated_gradients",
                     chunk_size: int | None = None, seed: int | None = None, **params: Any) -> AttributionPlan:
    """Validate everything up front (raises naming the argument), run the model once on the inputs."""
    if not callable(model):
        raise TypeError(f"model must be callable (a torch.nn.Module or a function), got {type(model).__name__}")
    if not isinstance(method, str):
        raise ValueError(f"method must be a string, got {method!r}")
    method = ALIASES.get(method.lower(), method.lower())
    check_choice(method, "method", tuple(METHODS))
    _fn, defaults, stochastic = METHODS[method]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise TypeError(f"method {method!r} takes no parameter {', '.join(map(repr, unknown))}; "
                        f"its parameters: {', '.join(defaults) or '(none)'}")
    p = {**defaults, **params}
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    seed = (0 if seed is None else seed) if stochastic else None
    x = as_inputs(inputs, model)
    B = x.shape[0]
    if chunk_size is None:
        row_bytes = x[0].numel() * x.element_size()
        chunk_size = max(1, min(MAX_DEFAULT_CHUNK, TILE_BYTES // max(1, row_bytes)))

    # What a view needs to run the same method again for another target: the parameters as the caller gave them.
    extra: dict = {"call_params": dict(params)}
    # -- method parameters (cheap checks first, before touching the model) --------------------------------
    if method == "saliency":
        p["abs"] = bool(p["abs"])
    if method == "integrated_gradients":
        p["n_steps"] = check_positive_int(p["n_steps"], "n_steps", allow_none=False)
        check_choice(p["rule"], "rule", IG_RULES)
        quadrature(p["rule"], p["n_steps"])
        extra["baseline"] = as_baseline(p["baseline"], x)
    if method in ("smoothgrad", "vargrad"):
        p["n_samples"] = check_positive_int(p["n_samples"], "n_samples", allow_none=False)
        check_choice(p["base"], "base", ("saliency", "gradient", "input_x_gradient"))
        if p["noise"] is not None:
            noise = torch.as_tensor(p["noise"]).to(x.device, x.dtype)
            if tuple(noise.shape) != (p["n_samples"], *x.shape):
                raise ValueError(f"noise must have shape (n_samples, *inputs.shape) = {(p['n_samples'], *x.shape)}, "
                                 f"got {tuple(noise.shape)}")
            extra["noise"] = noise
            p["noise"] = "given"
            p["stdev"] = None
        else:
            if p["stdev"] is None:
                span = float(x.max() - x.min())
                p["stdev"] = 0.15 * span if span > 0 else 0.15
                p["stdev_rule"] = "0.15 x (max - min) of the inputs (Smilkov et al.)"
            elif float(p["stdev"]) < 0:
                raise ValueError(f"stdev must be >= 0, got {p['stdev']!r}")
            p["stdev"] = float(p["stdev"])
    if method == "gradient_shap":
        p["n_samples"] = check_positive_int(p["n_samples"], "n_samples", allow_none=False)
        if float(p["stdev"]) < 0:
            raise ValueError(f"stdev must be >= 0, got {p['stdev']!r}")
        p["stdev"] = float(p["stdev"])
        bl = p["baselines"]
        if bl is None:
            raise ValueError("baselines is required for gradient_shap: a (K, *input shape) tensor of reference inputs")
        bt = torch.as_tensor(bl.detach() if isinstance(bl, torch.Tensor) else bl)
        if isinstance(bl, torch.Tensor) and bl.device != x.device:
            raise ValueError(f"baselines are on {bl.device} but the inputs are on {x.device}")
        bt = bt.to(x.device, x.dtype)
        if tuple(bt.shape) == tuple(x.shape[1:]):
            bt = bt[None]
        if bt.ndim != x.ndim or tuple(bt.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(f"baselines have shape {tuple(bt.shape)}; expected (K, {', '.join(map(str, x.shape[1:]))})")
        extra["baselines"] = bt
        p["baselines"] = f"{bt.shape[0]} reference inputs"
    if method in ("grad_cam", "concepts"):
        extra["layer"] = _layer(model, p["layer"])
        p["layer"] = p["layer"] if isinstance(p["layer"], str) else type(extra["layer"]).__name__
        if method == "concepts":
            p["n_concepts"] = check_positive_int(p["n_concepts"], "n_concepts", allow_none=False)
            p["n_iter"] = check_positive_int(p["n_iter"], "n_iter", allow_none=False)
    if method == "occlusion":
        if p["sliding_window"] is None:
            raise ValueError(f"sliding_window is required for occlusion: a tuple of {x.ndim - 1} ints, e.g. "
                             f"{(x.shape[1],) + (8,) * (x.ndim - 2) if x.ndim > 2 else (1,)}")
        win = _tuple(p["sliding_window"], x.ndim - 1, "sliding_window")
        strides = win if p["strides"] is None else _tuple(p["strides"], x.ndim - 1, "strides")
        for w, s in zip(win, x.shape[1:]):
            if w > s:
                raise ValueError(f"sliding_window {win} is larger than one input {tuple(x.shape[1:])}")
        p["sliding_window"], p["strides"] = win, strides
        extra["baseline"] = as_baseline(p["baseline"], x)
    if method in ("feature_ablation", "shapley_exact", "shapley_permutation", "kernel_shap"):
        groups, n = feature_groups(p["feature_mask"], x)
        extra["groups"], extra["n_features"] = groups, n
        extra["baseline"] = as_baseline(p["baseline"], x)
        p["feature_mask"] = None if p["feature_mask"] is None else f"{n} groups"
        p["n_features"] = n
        if method == "shapley_exact" and n > _shapley.MAX_EXACT_FEATURES:
            raise ValueError(f"shapley_exact enumerates 2^n coalitions; n = {n} features is over the limit of "
                             f"{_shapley.MAX_EXACT_FEATURES}: group features with feature_mask, or use "
                             "method='shapley_permutation' or 'kernel_shap'")
        if method == "shapley_exact":
            p["interactions"] = bool(p["interactions"])
        if method == "shapley_permutation":
            p["n_permutations"] = check_positive_int(p["n_permutations"], "n_permutations", allow_none=False)
            p["antithetic"] = bool(p["antithetic"])
        if method == "kernel_shap":
            if p["n_samples"] is None:
                p["n_samples"] = min((1 << n) - 2, 2 * n + 2048) if n < 62 else 2 * n + 2048
            p["n_samples"] = check_positive_int(p["n_samples"], "n_samples", allow_none=False)
    for key in ("baseline",):
        if key in p and isinstance(p[key], torch.Tensor):
            p[key] = f"tensor {tuple(p[key].shape)}"

    # -- one pass of the model: target range, f(x), f(baseline) ------------------------------------------
    raw = []
    with torch.no_grad():
        for a in range(0, B, chunk_size):
            out = model(x[a:a + chunk_size])
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"model must return a tensor, got {type(out).__name__}")
            raw.append(out.detach())
    raw_out = torch.cat(raw)
    if raw_out.ndim not in (1, 2) or raw_out.shape[0] != B:
        raise ValueError(f"model must return (batch,) or (batch, n_outputs); it returned {tuple(raw_out.shape)} for {B} inputs")
    n_outputs = None if raw_out.ndim == 1 or (raw_out.shape[1] == 1 and target is None) else raw_out.shape[1]
    if method == "concepts" and target is None:  # a factorisation of a layer: no output is being explained
        t, output = None, raw_out.reshape(B, -1)[:, 0]
    else:
        t = as_target(target, n_outputs, B, x.device)
        output = select_output(raw_out, t)
    plan = AttributionPlan(model=model, inputs=x, target=t, method=method, chunk_size=chunk_size, seed=seed,
                           params=p, output=output, n_outputs=n_outputs, extra=extra)
    idx = torch.arange(B, device=x.device)
    if method == "integrated_gradients":
        extra["f_baseline"] = plan.forward(extra["baseline"], idx)
    if method == "gradient_shap":
        K = extra["baselines"].shape[0]
        fb = plan.forward(extra["baselines"].repeat_interleave(B, 0), idx.repeat(K)).view(K, B)
        extra["f_baselines_mean"] = fb.mean(0)
    if "groups" in extra:
        extra["x_flat"] = x.reshape(B, -1)
        extra["base_flat"] = extra["baseline"].reshape(B, -1)
        extra["v_empty"] = plan.forward(extra["baseline"], idx)
        extra["v_full"] = output
    p_record = {k: v for k, v in p.items() if k != "noise" or v is not None}
    plan.params = {**p_record, "method": method, "chunk_size": chunk_size, "device": str(x.device),
                   "dtype": str(x.dtype).replace("torch.", ""), "seed": seed}
    return plan


def iter_attribution(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """The partial results of the plan's method, in order; the last one has progress 1."""
    fn = METHODS[plan.method][0]
    # the IG/gradient generators read the raw params (rule, n_steps, ...) from plan.params
    yield from fn(plan)


__all__ = ["ALIASES", "METHODS", "AttributionAccumulator", "AttributionRecord", "AttributionPlan", "AttributionStep", "iter_attribution",
           "plan_attribution", "quadrature"]
