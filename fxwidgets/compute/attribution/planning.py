"""Planning an attribution: every argument checked (the error names it), inputs cast to the model's dtype and
device, the model run once (to check the target and record f(x)), and the memory a method must hold checked
against the budget — all before any long work.

The plan decides what the values are attributions *of* (see forward.py): the inputs, several inputs packed into
one row, or a layer's activation (``layer=``; integer token ids are attributed at their embedding layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..memory import TILE_BYTES, check_fits
from ..validate import check_choice, check_positive_int, check_seed
from . import concepts as _concepts
from . import gradients as _gradients
from . import perturbation as _perturbation
from . import shapley as _shapley
from .core import (
    AttributionPlan,
    AttributionStep,
    Layout,
    as_background,
    as_baseline,
    as_inputs,
    as_target,
    feature_groups,
    select_output,
)
from .forward import ModelCall, as_forward_args, find_embedding, is_integer, to_tensor
from .gradients import IG_RULES, MAX_GAUSS_LEGENDRE_STEPS
from .params import check_scalars

#: Attribution to a layer's output or input instead of the model's inputs (Captum's layer methods).
LAYER = {"layer": None, "layer_side": "output"}

#: method -> (generator, defaults, stochastic). A parameter not in defaults is refused.
METHODS: dict[str, tuple[Callable[[AttributionPlan], Iterator[AttributionStep]], dict, bool]] = {
    "saliency": (_gradients.saliency, {"abs": True, **LAYER}, False),
    "input_x_gradient": (_gradients.input_x_gradient, {**LAYER}, False),
    "integrated_gradients": (_gradients.integrated_gradients,
                             {"baseline": None, "n_steps": 50, "rule": "gausslegendre", **LAYER, "baseline_token": None},
                             False),
    "smoothgrad": (_gradients.smoothgrad, {"n_samples": 25, "stdev": None, "base": "saliency", "noise": None, **LAYER},
                   True),
    "vargrad": (_gradients.vargrad, {"n_samples": 25, "stdev": None, "base": "saliency", "noise": None, **LAYER}, True),
    "gradient_shap": (_gradients.gradient_shap, {"background": None, "baselines": None, "n_samples": 25, "stdev": 0.0,
                                                 **LAYER, "baseline_token": None}, True),
    "grad_cam": (_gradients.grad_cam, {"layer": None, "relu": True, "upsample": True}, False),
    "occlusion": (_perturbation.occlusion, {"sliding_window": None, "strides": None, "baseline": None,
                                            "baseline_token": None}, False),
    "feature_ablation": (_perturbation.feature_ablation, {"feature_mask": None, "baseline": None,
                                                         "baseline_token": None}, False),
    "shapley_exact": (_shapley.shapley_exact, {"feature_mask": None, "baseline": None, "background": None,
                                               "interactions": False, "baseline_token": None}, False),
    "shapley_permutation": (_shapley.shapley_permutation, {"feature_mask": None, "baseline": None, "background": None,
                                                           "n_permutations": 50, "antithetic": True,
                                                           "baseline_token": None}, True),
    "kernel_shap": (_shapley.kernel_shap, {"feature_mask": None, "baseline": None, "background": None,
                                           "n_samples": None, "baseline_token": None}, True),
    "concepts": (_concepts.concepts, {"layer": None, "n_concepts": 4, "n_iter": 200, "upsample": True}, True),
}

#: Short names people use.
ALIASES = {"ig": "integrated_gradients", "gradcam": "grad_cam", "expected_gradients": "gradient_shap",
           "gradientshap": "gradient_shap", "kernelshap": "kernel_shap", "dff": "concepts", "shapley": "shapley_permutation",
           "ablation": "feature_ablation", "input_x_grad": "input_x_gradient"}

GRADIENT_METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "smoothgrad", "vargrad", "gradient_shap")
SHAPLEY_METHODS = ("shapley_exact", "shapley_permutation", "kernel_shap")
GROUP_METHODS = ("feature_ablation", *SHAPLEY_METHODS)

MAX_DEFAULT_CHUNK = 1024

#: Running tensors of the attributed tensor's size each gradient method holds (values, sums, moments).
_COPIES = {"saliency": 1, "input_x_gradient": 1, "integrated_gradients": 2, "smoothgrad": 4, "vargrad": 6,
           "gradient_shap": 4}


def layer_module(model: Any, layer: Any) -> torch.nn.Module:
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
    if isinstance(model, torch.nn.Module) and not any(m is layer for m in model.modules()):
        raise ValueError("layer is not a module of this model (give one of model.modules() or its name)")
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


def _default_chunk(row_bytes: int) -> int:
    return max(1, min(MAX_DEFAULT_CHUNK, TILE_BYTES // max(1, row_bytes)))


def _describe(value: Any) -> Any:
    """A parameter as the record keeps it: tensors and modules by what they are, not their contents."""
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)}"
    if isinstance(value, tuple) and any(isinstance(v, torch.Tensor) for v in value):
        return tuple(_describe(v) for v in value)
    if isinstance(value, torch.nn.Module):
        return type(value).__name__
    return value


class _Inputs:
    """The inputs as the model takes them, and what each reference (baseline, background) is in the attributed
    tensor's layout."""

    def __init__(self, call: ModelCall, xs: tuple[torch.Tensor, ...], ids: bool, chunk_size: int) -> None:
        self.call, self.xs, self.ids, self.chunk = call, xs, ids, chunk_size

    @property
    def several(self) -> bool:
        return len(self.xs) > 1

    def baselines(self, value: Any, name: str, token: int | None) -> tuple[torch.Tensor, ...]:
        """One reference row per input row, in input space, one tensor per input."""
        if value is None and self.ids:
            value = 0 if token is None else token
        if not self.several:
            return (as_baseline(value, self.xs[0], name),)
        if value is None or isinstance(value, (int, float)):
            return tuple(as_baseline(value, x, name) for x in self.xs)
        if not isinstance(value, (tuple, list)) or len(value) != len(self.xs):
            raise ValueError(f"{name} must be a number or a tuple of {len(self.xs)} baselines, one per input")
        return tuple(as_baseline(v, x, f"{name}[{i}]") for i, (v, x) in enumerate(zip(value, self.xs)))

    def background(self, value: Any, name: str) -> tuple[torch.Tensor, ...]:
        """K reference rows, in input space, one tensor per input."""
        if not self.several:
            return (as_background(value, self.xs[0], name),)
        if not isinstance(value, (tuple, list)) or len(value) != len(self.xs):
            raise ValueError(f"{name} must be a tuple of {len(self.xs)} tensors (K rows each), one per input")
        bg = tuple(as_background(v, x, f"{name}[{i}]") for i, (v, x) in enumerate(zip(value, self.xs)))
        if len({b.shape[0] for b in bg}) != 1:
            raise ValueError(f"{name}: every input's background must have the same number of rows K, "
                             f"got {[b.shape[0] for b in bg]}")
        return bg

    def attributed(self, refs: tuple[torch.Tensor, ...], index: torch.Tensor) -> torch.Tensor:
        """Reference rows in the attributed tensor's layout (for a layer: its value at the reference inputs,
        with the extra arguments of input rows ``index``)."""
        if self.call.mode == "direct":
            return refs[0]
        if self.call.mode == "packed":
            return self.call.pack(refs)
        parts = []
        for a in range(0, refs[0].shape[0], self.chunk):
            b = min(refs[0].shape[0], a + self.chunk)
            parts.append(self.call.capture(tuple(t[a:b] for t in refs), index[a:b])[0])
        return torch.cat(parts)


def _mean_output(plan: AttributionPlan, refs: tuple[torch.Tensor, ...], *, per_row: bool) -> torch.Tensor:
    """Per input row: f at the reference inputs (``per_row``: row b's own reference) or the mean of f over K
    background rows, at that row's target; float64."""
    call, B, cs = plan.call, plan.batch, plan.chunk_size
    idx = torch.arange(B, device=plan.device)
    with torch.no_grad():
        if per_row:
            outs = [plan.select(call.run_inputs(tuple(t[a:b] for t in refs), idx[a:b]), plan.rows_target(idx[a:b]))
                    for a, b in _bounds(B, cs)]
            return torch.cat(outs).double()
        K = refs[0].shape[0]
        if not call.per_row_extras:  # f(background) does not depend on the row: K passes, then each row's target
            raw = torch.cat([call.run_inputs(tuple(t[a:b] for t in refs), idx[:b - a]) for a, b in _bounds(K, cs)])
            raw = raw.double()
            if plan.target is None:
                return plan.select(raw, None).mean().expand(B).clone()
            return raw[:, plan.target].mean(0)
        total = torch.zeros(B, dtype=torch.float64, device=plan.device)
        for a, b in _bounds(B * K, cs):  # rows (b, k), k fastest
            t = torch.arange(a, b, device=plan.device)
            r, k = t // K, t % K
            f = plan.select(call.run_inputs(tuple(x[k] for x in refs), r), plan.rows_target(r)).double()
            total.index_add_(0, r, f)
        return total / K


def _bounds(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def _choose_layer(model: Any, method: str, p: dict, raw: tuple[torch.Tensor, ...]) -> torch.nn.Module | None:
    """The layer a gradient method attributes to: the one given, or for integer token ids the model's first
    ``nn.Embedding``. Integer inputs to a model without an embedding are numbers (cast to the model's dtype)."""
    if method not in GRADIENT_METHODS:
        return None
    if p["layer"] is not None:
        return layer_module(model, p["layer"])
    if len(raw) == 1 and is_integer(raw[0]):
        return find_embedding(model)
    return None


def plan_attribution(model: Any, inputs: Any, *, target: Any = None, method: str = "integrated_gradients",
                     chunk_size: int | None = None, seed: int | None = None, forward_args: Any = None,
                     **params: Any) -> AttributionPlan:
    """Validate everything up front (raises naming the argument), run the model once on the inputs.

    ``inputs``: one batch-first tensor (or array, list), or a tuple of them for a model with several inputs
    (values come back as a tuple). ``forward_args``: extra, non-attributed arguments passed to the model after
    the inputs (a tuple, a dict of keywords, or one value); a tensor whose first dimension is the batch is
    taken per row. Integer inputs are token ids: gradient methods attribute them at the first embedding layer
    (or ``layer=``) and sum per token; perturbation and Shapley methods replace tokens by ``baseline_token``.
    """
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
    auto_samples = method == "kernel_shap" and p["n_samples"] is None  # chosen from the number of features later
    p = check_scalars({k: v for k, v in p.items() if not (auto_samples and k == "n_samples")})
    if auto_samples:
        p["n_samples"] = None
    if method == "integrated_gradients":
        check_choice(p["rule"], "rule", IG_RULES)
        if p["rule"] == "gausslegendre":
            check_fits(16 * p["n_steps"], f"the Gauss-Legendre nodes and weights of n_steps={p['n_steps']}",
                       torch.device("cpu"), hint="lower n_steps, or use rule='riemann_middle' (its nodes are computed per chunk)")
            if p["n_steps"] > MAX_GAUSS_LEGENDRE_STEPS:
                raise ValueError(f"n_steps must be at most {MAX_GAUSS_LEGENDRE_STEPS} for rule='gausslegendre' (its nodes "
                                 f"cost O(n_steps^2) to compute; a few hundred are exact for any smooth path), got "
                                 f"{p['n_steps']}; use rule='riemann_middle' for more steps")
        if p["rule"] == "riemann_trapezoid" and p["n_steps"] < 2:
            raise ValueError("n_steps must be at least 2 for rule='riemann_trapezoid'")
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    if seed is not None:
        seed = check_seed(seed)
    seed = (0 if seed is None else seed) if stochastic else None

    # -- inputs: as the model takes them -------------------------------------------------------------------
    several = isinstance(inputs, tuple)
    if several and len(inputs) == 0:
        raise ValueError("inputs is an empty tuple; give one tensor or a tuple of tensors")
    raw = tuple(to_tensor(t, f"inputs[{i}]" if several else "inputs") for i, t in enumerate(inputs if several else (inputs,)))
    layer = _choose_layer(model, method, p, raw)
    side = p.get("layer_side", "output")
    ids = not several and is_integer(raw[0]) and (layer is not None or (method not in GRADIENT_METHODS
                                                                        and find_embedding(model) is not None))
    xs = tuple(as_inputs(t, model, keep_integer=ids or layer is not None, name=f"inputs[{i}]" if several else "inputs")
               for i, t in enumerate(raw))
    B = xs[0].shape[0]
    if any(x.shape[0] != B for x in xs):
        raise ValueError(f"inputs: every input must have the same number of rows, got {[x.shape[0] for x in xs]}")
    if several and method == "occlusion":
        raise ValueError("inputs: occlusion slides a window over one input tensor; with several inputs use "
                         "method='feature_ablation' or a Shapley method with a feature_mask per input")
    if p.get("baseline_token") is not None and not ids:
        raise ValueError("baseline_token applies to integer token-id inputs only; give baseline= for other inputs")
    if ids:
        _check_token_ids(xs[0], p.get("baseline_token"), layer if layer is not None else find_embedding(model))
    fargs, fkwargs = as_forward_args(forward_args, B, xs[0].device)
    mode = "layer" if layer is not None else ("packed" if several else "direct")
    call = ModelCall(model, xs, fargs, fkwargs, mode, layer, side)
    ctx = _Inputs(call, xs, ids, chunk_size or _default_chunk(sum(x[0].numel() * x.element_size() for x in xs)))
    idx = torch.arange(B, device=xs[0].device)

    # -- one pass of the model: the attributed tensor, the outputs (target range, f(x)) ---------------------
    raw_out = []
    if mode == "layer":
        acts = []
        for a, b in _bounds(B, ctx.chunk):
            act, out = call.capture(tuple(x[a:b] for x in xs), idx[a:b], finish=True)
            if act.ndim == 0 or act.shape[0] != b - a:
                raise ValueError(f"layer: its {side} has shape {tuple(act.shape)} for {b - a} input rows; a layer "
                                 "attributed to must be batch-first (one row per input row)")
            if a == 0:
                check_fits(act[0].numel() * act.element_size() * B * (1 + _COPIES[method]),
                           f"{method} at the layer ({tuple(act.shape[1:])} per row) for {B} rows", act.device,
                           hint="attribute fewer rows at a time")
            acts.append(act)
            raw_out.append(out)
        attributed = torch.cat(acts)
        if not attributed.is_floating_point():
            raise ValueError(f"layer: its {side} is {attributed.dtype}, which cannot be differentiated; attribute at a "
                             "layer whose value is floating (for token ids: the embedding's output, layer_side='output')")
    else:
        attributed = xs[0] if mode == "direct" else call.pack(xs)
        with torch.no_grad():
            for a, b in _bounds(B, ctx.chunk):
                raw_out.append(call.run(attributed[a:b], idx[a:b]))
    for out in raw_out:
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"model must return a tensor, got {type(out).__name__}")
    raw_out = torch.cat([o.detach() for o in raw_out])
    if raw_out.ndim not in (1, 2) or raw_out.shape[0] != B:
        raise ValueError(f"model must return (batch,) or (batch, n_outputs); it returned {tuple(raw_out.shape)} for {B} inputs")
    n_outputs = None if raw_out.ndim == 1 or (raw_out.shape[1] == 1 and target is None) else raw_out.shape[1]
    if method == "concepts" and target is None:  # a factorisation of a layer: no output is being explained
        t, output = None, raw_out.reshape(B, -1)[:, 0]
    else:
        t = as_target(target, n_outputs, B, attributed.device)
        output = select_output(raw_out, t)
    if chunk_size is None:
        chunk_size = _default_chunk(attributed[0].numel() * attributed.element_size())
    ctx.chunk = chunk_size
    token_sum = ids and mode == "layer" and attributed.ndim > 2 and tuple(attributed.shape[:2]) == tuple(xs[0].shape[:2])
    layout = Layout(tuple(attributed.shape), tuple(tuple(x.shape[1:]) for x in xs) if mode == "packed" else (), token_sum)
    value_dtype = attributed.dtype if attributed.is_floating_point() else (output.dtype if output.is_floating_point()
                                                                           else torch.float32)
    # call_params: what a view needs to run the same method again for another target (the parameters as given)
    extra: dict = {"mode": mode, "call_params": dict(params, **({} if forward_args is None else {"forward_args": forward_args}))}
    plan = AttributionPlan(model=model, attributed=attributed, target=t, method=method, chunk_size=chunk_size, seed=seed,
                           params=p, output=output, n_outputs=n_outputs, extra=extra, call=call,
                           inputs=xs if several else xs[0], layout=layout, value_dtype=value_dtype)
    if token_sum:
        extra["reduce"] = lambda v: v.sum(dim=tuple(range(2, v.ndim)))

    # -- method parameters ----------------------------------------------------------------------------------
    if method in GRADIENT_METHODS:
        check_fits(attributed.numel() * attributed.element_size() * _COPIES[method], f"{method} over {B} rows",
                   attributed.device, hint="attribute fewer rows at a time")
    if method == "integrated_gradients":
        refs = ctx.baselines(p["baseline"], "baseline", p["baseline_token"])
        extra["baseline"] = ctx.attributed(refs, idx)
        extra["f_baseline"] = plan.forward(extra["baseline"], idx)
        extra["base_value"] = extra["f_baseline"]
    if method in ("smoothgrad", "vargrad"):
        if p["noise"] is not None:
            noise = to_tensor(p["noise"], "noise").to(attributed.device, plan.dtype)
            if tuple(noise.shape) != (p["n_samples"], *attributed.shape):
                what = "inputs.shape" if mode == "direct" else "the attributed shape"
                raise ValueError(f"noise must have shape (n_samples, *{what}) = {(p['n_samples'], *attributed.shape)}, "
                                 f"got {tuple(noise.shape)}")
            extra["noise"] = noise
            p["noise"] = "given"
            p["stdev"] = None
        elif p["stdev"] is None:
            span = float(attributed.max() - attributed.min())
            p["stdev"] = 0.15 * span if span > 0 else 0.15
            p["stdev_rule"] = "0.15 x (max - min) of the inputs (Smilkov et al.)"
    if method == "gradient_shap":
        _plan_expected_gradients(plan, ctx, p, idx)
    if method in ("grad_cam", "concepts"):
        extra["layer"] = layer_module(model, p["layer"])
        p["layer"] = p["layer"] if isinstance(p["layer"], str) else type(extra["layer"]).__name__
    if method == "occlusion":
        x = attributed
        if p["sliding_window"] is None:
            raise ValueError(f"sliding_window is required for occlusion: a tuple of {x.ndim - 1} ints, e.g. "
                             f"{(x.shape[1],) + (8,) * (x.ndim - 2) if x.ndim > 2 else (1,)}")
        win = _tuple(p["sliding_window"], x.ndim - 1, "sliding_window")
        strides = win if p["strides"] is None else _tuple(p["strides"], x.ndim - 1, "strides")
        for w, s in zip(win, x.shape[1:]):
            if w > s:
                raise ValueError(f"sliding_window {win} is larger than one input {tuple(x.shape[1:])}")
        p["sliding_window"], p["strides"] = win, strides
        extra["baseline"] = ctx.baselines(p["baseline"], "baseline", p["baseline_token"])[0]
    if method in GROUP_METHODS:
        _plan_groups(plan, ctx, p, idx)
    if layer is not None and method in GRADIENT_METHODS:
        p["layer"] = p["layer"] if isinstance(p["layer"], str) else type(layer).__name__
        p["layer_side"] = side

    # -- the record of what was done ------------------------------------------------------------------------
    p_record = {k: _describe(v) for k, v in p.items() if k not in ("noise", "baselines") or v is not None}
    plan.params = {**p_record, "method": method, "chunk_size": chunk_size, "device": str(attributed.device),
                   "dtype": str(plan.dtype).replace("torch.", ""), "seed": seed,
                   "input_dtype": [str(r.dtype).replace("torch.", "") for r in raw] if several
                   else str(raw[0].dtype).replace("torch.", ""), "attributed_to": _attributed_to(mode, side, ids)}
    if forward_args is not None:
        plan.params["forward_args"] = f"{len(fargs)} positional, {len(fkwargs)} keyword"
    return plan


def _check_token_ids(ids: torch.Tensor, token: int | None, embedding: Any) -> None:
    """Token ids (and the baseline token) must index the embedding table."""
    size = getattr(embedding, "num_embeddings", None)
    if size is None:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= size:
        raise ValueError(f"inputs hold token ids from {lo} to {hi}, outside the embedding's {size} entries (0..{size - 1})")
    if token is not None and token >= size:
        raise ValueError(f"baseline_token {token} is outside the embedding's {size} entries (0..{size - 1})")


def _attributed_to(mode: str, side: str, ids: bool) -> str:
    if mode == "layer":
        return f"layer {side}" + (" (summed per token)" if ids else "")
    return "token ids" if ids else ("several inputs" if mode == "packed" else "inputs")


def _plan_expected_gradients(plan: AttributionPlan, ctx: _Inputs, p: dict, idx: torch.Tensor) -> None:
    """gradient_shap: the background (K reference rows) and E_b f(b), the base value of every row."""
    if p["background"] is not None and p["baselines"] is not None:
        raise ValueError("give background= or its older name baselines=, not both")
    name = "baselines" if p["baselines"] is not None else "background"
    value = p[name]
    if value is None:
        if not ctx.ids:
            raise ValueError("background is required for gradient_shap: a (K, *input shape) tensor of reference inputs "
                             "(expected gradients average over them; baselines= is accepted as an older name)")
        value = torch.full_like(ctx.xs[0][:1], 0 if p["baseline_token"] is None else p["baseline_token"])
    bg = ctx.background(value, name)
    K = bg[0].shape[0]
    extra = plan.extra
    if plan.call.mode != "layer":
        z_bg = ctx.attributed(bg, idx[:1].expand(K))
        extra["background_z"] = lambda k, r: z_bg[k]
    elif not plan.call.per_row_extras:
        first = ctx.attributed(tuple(t[:1] for t in bg), idx[:1])
        check_fits(first.numel() * first.element_size() * K, f"the layer's value at {K} background rows", plan.device,
                   hint="use fewer background rows (a summary such as k-means centres)")
        z_bg = ctx.attributed(bg, idx[:1].expand(K))
        extra["background_z"] = lambda k, r: z_bg[k]
    else:  # the layer's value at a background row depends on the row's extra arguments: computed per chunk
        extra["background_z"] = lambda k, r: plan.call.capture(tuple(t[k] for t in bg), r)[0]
    extra["n_background"] = K
    extra["f_baselines_mean"] = _mean_output(plan, bg, per_row=False).to(plan.dtype)
    extra["base_value"] = extra["f_baselines_mean"]
    p["background"] = f"{K} reference rows"
    p.pop("baselines", None)


def _plan_groups(plan: AttributionPlan, ctx: _Inputs, p: dict, idx: torch.Tensor) -> None:
    """Feature-group methods: groups, the inputs and references flattened, v(empty) and v(full)."""
    method, extra, B = plan.method, plan.extra, plan.batch
    groups, n = feature_groups(p["feature_mask"], ctx.xs if ctx.several else ctx.xs[0])
    extra["groups"], extra["n_features"] = groups, n
    p["feature_mask"] = None if p["feature_mask"] is None else f"{n} groups"
    p["n_features"] = n
    if method == "shapley_exact" and n > _shapley.MAX_EXACT_FEATURES:
        raise ValueError(f"shapley_exact enumerates 2^n coalitions; n = {n} features is over the limit of "
                         f"{_shapley.MAX_EXACT_FEATURES}: group features with feature_mask, or use "
                         "method='shapley_permutation' or 'kernel_shap'")
    hint = "group features with feature_mask (fewer features), or attribute fewer rows at a time"
    check_fits(8 * B * n * 8, f"{method}'s running values for {B} rows x {n} features", plan.device, hint=hint)
    if method == "shapley_exact" and p["interactions"]:
        check_fits(2 * 8 * B * n * n, f"the {n} x {n} interaction matrices of {B} rows", plan.device,
                   hint="attribute fewer rows at a time, or group features with feature_mask")
    if method == "kernel_shap":
        check_fits(8 * (3 * n * n + 6 * B * n), f"kernel_shap's {n - 1} x {n - 1} normal equations", plan.device,
                   hint="group features with feature_mask (n features need an n x n system)")
        if p["n_samples"] is None:
            p["n_samples"] = min((1 << n) - 2, 2 * n + 2048) if n < 62 else 2 * n + 2048
    x_flat = plan.attributed.reshape(B, -1)
    extra["x_flat"] = x_flat
    counts = torch.zeros((B, n), dtype=plan.dtype, device=plan.device).scatter_add_(
        1, groups, torch.ones_like(x_flat, dtype=plan.dtype))
    extra["feature_values"] = torch.zeros((B, n), dtype=plan.dtype, device=plan.device).scatter_add_(
        1, groups, x_flat.to(plan.dtype)) / counts
    background = p.get("background")
    if background is not None and p["baseline"] is not None:
        raise ValueError("give baseline= (one reference per row) or background= (K reference rows), not both")
    if background is not None:
        bg = ctx.background(background, "background")
        K = bg[0].shape[0]
        extra["refs"] = ctx.attributed(bg, idx[:1].expand(K)).reshape(K, 1, -1)
        extra["v_empty"] = _mean_output(plan, bg, per_row=False)
        p["background"] = f"{K} reference rows"
    else:
        refs = ctx.baselines(p["baseline"], "baseline", p["baseline_token"])
        extra["refs"] = ctx.attributed(refs, idx).reshape(1, B, -1)
        extra["v_empty"] = _mean_output(plan, refs, per_row=True)
        extra["baseline"] = refs[0] if not ctx.several else None
    extra["v_full"] = plan.output
    if method in SHAPLEY_METHODS:
        extra["base_value"] = extra["v_empty"].to(plan.dtype)
    else:  # feature ablation: each feature replaced by the per-row baseline
        extra["base_flat"] = extra["refs"][0].expand(B, -1)


__all__ = ["ALIASES", "GRADIENT_METHODS", "METHODS", "plan_attribution"]
