"""Attributions of a dataset in row blocks on an engine's workers (Ray), assembled into the local answer.

The caller plans the whole batch as a local run would (:func:`plan_attribution`: every argument validated, the
model run once); each block of rows is then planned and run on a worker with the same method, parameters,
``chunk_size`` and seed, and its final step comes back. :func:`iter_attribution_blocks` yields, as blocks
finish, :class:`AttributionStep` items for the whole batch (rows of unfinished blocks are 0, ``progress`` is the
share of rows done), so :class:`AttributionAccumulator` and the attribution view take them as they take the
local steps, and the last item is the local answer.

Only methods whose rows are independent run this way: a row's values depend on that row alone (gradients,
Integrated Gradients, Grad-CAM, occlusion, ablation) or on draws every row shares (the permutations of
permutation Shapley and the coalitions of KernelSHAP come from the seed alone, one sequence for all rows).
SmoothGrad, VarGrad and expected gradients draw each sample's noise for the whole batch at once, and concept
factorisation couples the rows: a block would not reproduce them, so they are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from ..engines import RayEngine, map_blocks, take_rows, to_device
from .core import AttributionPlan, AttributionStep, present
from .forward import per_row
from .planning import ALIASES, METHODS, plan_attribution

#: Methods whose values for a row do not depend on the other rows of the batch.
ROW_METHODS = ("saliency", "input_x_gradient", "integrated_gradients", "grad_cam", "occlusion", "feature_ablation",
               "shapley_exact", "shapley_permutation", "kernel_shap")

_WHY_NOT = {
    "smoothgrad": "draws each sample's noise for the whole batch at once, so a row's noise depends on the batch",
    "vargrad": "draws each sample's noise for the whole batch at once, so a row's noise depends on the batch",
    "gradient_shap": "draws each sample's background rows and noise for the whole batch at once",
    "concepts": "factorises the activations of all rows together",
}


def check_row_method(method: str) -> str:
    """The canonical method name, or a ValueError saying why it cannot run in row blocks."""
    name = ALIASES.get(method.lower(), method.lower()) if isinstance(method, str) else method
    if name in _WHY_NOT:
        raise ValueError(f"method {name!r} cannot run on engine='ray': it {_WHY_NOT[name]}; run it locally (engine="
                         f"'local'), or use one of {', '.join(ROW_METHODS)}")
    return name


def _slice_forward_args(forward_args: Any, a: int, b: int, n: int) -> Any:
    if isinstance(forward_args, dict):
        return {k: v[a:b] if per_row(v, n) else v for k, v in forward_args.items()}
    if isinstance(forward_args, (tuple, list)):
        return type(forward_args)(v[a:b] if per_row(v, n) else v for v in forward_args)
    return forward_args[a:b] if per_row(forward_args, n) else forward_args


def _slice_param(key: str, value: Any, inputs: Any, a: int, b: int, n: int) -> Any:
    """A method parameter for rows a:b: a per-row baseline or feature mask (the inputs' full shape) is cut; a
    background (K reference rows, shared by every row) and everything else is passed whole."""
    if key not in ("baseline", "feature_mask"):
        return value
    xs = inputs if isinstance(inputs, tuple) else (inputs,)
    if isinstance(value, (tuple, list)) and len(xs) > 1:
        return type(value)(_slice_param(key, v, x, a, b, n) for v, x in zip(value, xs))
    x = xs[0]
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) == x.ndim and shape[0] == n:
        return take_rows(value, a, b, n)
    return value


def _block_call(plan: AttributionPlan, forward_args: Any, params: dict, a: int, b: int) -> dict:
    n = plan.batch
    inputs = plan.inputs
    rows = tuple(x[a:b] for x in inputs) if isinstance(inputs, tuple) else inputs[a:b]
    return {"inputs": rows, "target": None if plan.target is None else plan.target[a:b],
            "forward_args": _slice_forward_args(forward_args, a, b, n),
            "params": {k: _slice_param(k, v, inputs, a, b, n) for k, v in params.items()}}


def run_attribution_block(shared: dict, call: dict, device: torch.device) -> AttributionStep:
    """On a worker: plan rows a:b as the whole was planned, run the method to the end, return its final step."""
    model = shared["model"]
    if device.type == "cuda" and isinstance(model, torch.nn.Module):
        model = model.to(device)
        call = to_device(call, device)
    plan = plan_attribution(model, call["inputs"], target=call["target"], method=shared["method"],
                            chunk_size=shared["chunk_size"], seed=shared["seed"], forward_args=call["forward_args"],
                            **call["params"])
    last = None
    for step in METHODS[plan.method][0](plan):  # what iter_attribution runs
        last = step
    return present(plan, last)


class _Assembly:
    """Whole-batch tensors filled block by block (allocated from the first block's shapes)."""

    def __init__(self, n: int, device: torch.device) -> None:
        self.n, self.device = n, device
        self.buffers: dict[str, Any] = {}

    def put(self, name: str, value: Any, a: int, b: int) -> Any:
        if value is None:
            return self.buffers.get(name)
        if isinstance(value, tuple):
            return tuple(self.put(f"{name}[{i}]", v, a, b) for i, v in enumerate(value))
        if not isinstance(value, torch.Tensor) or value.ndim == 0 or value.shape[0] != b - a:
            self.buffers.setdefault(name, value)
            return self.buffers[name]
        buf = self.buffers.get(name)
        if buf is None:
            buf = torch.zeros((self.n, *value.shape[1:]), dtype=value.dtype, device=self.device)
            self.buffers[name] = buf
        buf[a:b] = value.to(self.device)
        return buf


def _merge_diagnostics(merged: dict, diag: dict, a: int, b: int, n: int) -> None:
    """Per-row lists are placed at rows a:b (NaN where no block has run yet); ``max_abs_*`` are maxima over the
    blocks; every other entry (counts of steps, permutations, windows) is the same in every block."""
    for key, v in diag.items():
        if isinstance(v, list) and len(v) == b - a:
            out = merged.setdefault(key, [float("nan")] * n)
            out[a:b] = v
        elif key.startswith("max_abs_") and isinstance(v, (int, float)):
            merged[key] = max(merged.get(key, float("-inf")), float(v))
        elif key == "mean_stderr":
            continue  # recomputed from the assembled standard errors
        else:
            merged.setdefault(key, v)


def iter_attribution_blocks(plan: AttributionPlan, engine: RayEngine, *, forward_args: Any = None,
                            params: dict | None = None) -> Iterator[AttributionStep]:
    """The plan's attributions computed in row blocks on ``engine``; ``forward_args`` and ``params`` are the
    call's own (per-row ones are cut per block). Yields whole-batch steps as blocks finish; the last is the
    local answer."""
    check_row_method(plan.method)
    n = plan.batch
    blocks = engine.blocks(n)
    shared = {"model": plan.model, "method": plan.method, "chunk_size": plan.chunk_size, "seed": plan.seed}
    params = dict(params or {})
    asm = _Assembly(n, plan.device)
    diag: dict = {}
    extras: dict = {}
    done = 0
    for _i, step in map_blocks(engine, run_attribution_block, shared, blocks,
                               lambda a, b: _block_call(plan, forward_args, params, a, b)):
        a, b = blocks[_i]
        done += b - a
        values = asm.put("values", step.values, a, b)
        stderr = asm.put("stderr", step.stderr, a, b)
        features = asm.put("features", step.features, a, b)
        base_values = asm.put("base_values", step.base_values, a, b)
        outputs = asm.put("outputs", step.outputs, a, b)
        feature_values = asm.put("feature_values", step.feature_values, a, b)
        for k, v in step.extras.items():
            extras[k] = asm.put(f"extras.{k}", v, a, b)
        _merge_diagnostics(diag, step.diagnostics, a, b, n)
        out = dict(diag)
        if stderr is not None and "mean_stderr" in step.diagnostics:
            se = stderr if not isinstance(stderr, tuple) else torch.cat([s.reshape(n, -1) for s in stderr], 1)
            out["mean_stderr"] = float(se.mean()) if done == n else None
        yield AttributionStep(values=values, progress=done / n, stderr=stderr, features=features, diagnostics=out,
                              extras=dict(extras), base_values=base_values, outputs=outputs,
                              feature_values=feature_values)
