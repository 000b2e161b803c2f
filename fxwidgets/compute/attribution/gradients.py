"""Gradient methods: saliency, input x gradient, Integrated Gradients, SmoothGrad/VarGrad, expected
gradients (GradientSHAP) and Grad-CAM. Each is a generator of :class:`AttributionStep`.

Model rows are evaluated ``plan.chunk_size`` at a time; running sums are folded in a fixed order (step by
step, sample by sample), so the result does not depend on the chunk size beyond the model's own rounding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from .core import AttributionPlan, AttributionStep, chunks

IG_RULES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def quadrature(rule: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes alpha in [0, 1] and weights summing to 1 for the path integral of Integrated Gradients."""
    n = n_steps
    if rule == "riemann_left":
        return np.arange(n) / n, np.full(n, 1.0 / n)
    if rule == "riemann_right":
        return np.arange(1, n + 1) / n, np.full(n, 1.0 / n)
    if rule == "riemann_middle":
        return (np.arange(n) + 0.5) / n, np.full(n, 1.0 / n)
    if rule == "riemann_trapezoid":
        if n < 2:
            raise ValueError("n_steps must be at least 2 for rule='riemann_trapezoid'")
        w = np.full(n, 1.0 / (n - 1))
        w[0] = w[-1] = 0.5 / (n - 1)
        return np.linspace(0.0, 1.0, n), w
    if rule == "gausslegendre":
        x, w = np.polynomial.legendre.leggauss(n)
        return (x + 1.0) / 2.0, w / 2.0
    raise ValueError(f"rule must be one of {', '.join(map(repr, IG_RULES))}; got {rule!r}")


def _simple(plan: AttributionPlan, kind: str) -> Iterator[AttributionStep]:
    x = plan.inputs
    B = plan.batch
    out = torch.zeros_like(x)
    idx = torch.arange(B, device=x.device)
    for a, b in chunks(B, plan.chunk_size):
        g, _ = plan.gradient(x[a:b], idx[a:b])
        if kind == "saliency":
            out[a:b] = g.abs() if plan.params["abs"] else g
        else:
            out[a:b] = g * x[a:b]
        yield AttributionStep(out, b / B)


def saliency(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """|df/dx| (``abs=True``, Simonyan et al.) or the signed gradient."""
    yield from _simple(plan, "saliency")


def input_x_gradient(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """x * df/dx."""
    yield from _simple(plan, "input_x_gradient")


def integrated_gradients(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """(x - x') * sum_k w_k df/dx(x' + alpha_k (x - x')), with the completeness gap
    sum(attr) - (f(x) - f(x')) per row in the diagnostics."""
    x, base = plan.inputs, plan.extra["baseline"]
    alphas, weights = quadrature(plan.params["rule"], plan.params["n_steps"])
    B, n = plan.batch, len(alphas)
    diff = x - base
    grad_sum = torch.zeros_like(x)
    idx = torch.arange(B, device=x.device)
    f_base = plan.extra["f_baseline"]
    total = n * B
    done = 0
    # Rows are (step, input row) pairs in step-major order; each chunk is a slice of that order.
    for a, b in chunks(total, plan.chunk_size):
        rows = torch.arange(a, b, device=x.device)
        k, r = rows // B, rows % B
        al = torch.as_tensor(alphas, dtype=x.dtype, device=x.device)[k].view(-1, *([1] * (x.ndim - 1)))
        g, _ = plan.gradient(base[r] + al * diff[r], idx[r])
        w = torch.as_tensor(weights, dtype=x.dtype, device=x.device)[k].view_as(al)
        grad_sum.index_add_(0, r, w * g)
        done = b
        attr = grad_sum * diff
        yield AttributionStep(attr, done / total, diagnostics=_completeness(attr, plan.output, f_base))


def _completeness(attr: torch.Tensor, f_x: torch.Tensor, f_base: torch.Tensor) -> dict:
    total = attr.reshape(attr.shape[0], -1).sum(1)
    gap = total - (f_x - f_base)
    return {"completeness_gap": gap.detach().cpu().tolist(),
            "max_abs_completeness_gap": float(gap.abs().max()),
            "output": f_x.detach().cpu().tolist(), "baseline_output": f_base.detach().cpu().tolist()}


class _Moments:
    """Running sums over samples for a mean, its standard error and (VarGrad) the variance's."""

    def __init__(self, like: torch.Tensor, fourth: bool = False) -> None:
        self.n = 0
        self.s = [torch.zeros_like(like) for _ in range(4 if fourth else 2)]

    def add(self, v: torch.Tensor) -> None:  # v: one sample's value for every input row
        self.n += 1
        p = v
        for i in range(len(self.s)):
            self.s[i] += p
            p = p * v

    def mean(self) -> torch.Tensor:
        return self.s[0] / self.n

    def var(self) -> torch.Tensor:  # population variance (as VarGrad defines it)
        m = self.mean()
        return (self.s[1] / self.n - m * m).clamp_min(0)

    def stderr_mean(self) -> torch.Tensor:
        if self.n < 2:
            return torch.full_like(self.s[0], float("nan"))
        return (self.var() * self.n / (self.n - 1)).sqrt() / math.sqrt(self.n)

    def stderr_var(self) -> torch.Tensor:
        if self.n < 2:
            return torch.full_like(self.s[0], float("nan"))
        m = self.mean()
        e2, e3, e4 = (s / self.n for s in self.s[1:])
        m4 = e4 - 4 * m * e3 + 6 * m * m * e2 - 3 * m**4
        var = self.var()
        return ((m4 - var * var).clamp_min(0) / self.n).sqrt()


def _noise(plan: AttributionPlan, n_samples: int, stdev: float) -> torch.Tensor:
    """(n_samples, B, ...) Gaussian noise drawn on the CPU from the seed (so every device sees the same)."""
    gen = torch.Generator().manual_seed(int(plan.seed))
    eps = torch.randn((n_samples, *plan.inputs.shape), generator=gen, dtype=torch.float64)
    return (eps * stdev).to(plan.device, plan.dtype)


def _base_value(kind: str, g: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    if kind == "saliency":
        return g.abs()
    if kind == "input_x_gradient":
        return g * xs
    return g


def _noisy(plan: AttributionPlan, variance: bool) -> Iterator[AttributionStep]:
    x = plan.inputs
    p = plan.params
    S, B = p["n_samples"], plan.batch
    noise = plan.extra.get("noise")
    if noise is None:
        noise = _noise(plan, S, p["stdev"])
    acc = _Moments(x, fourth=variance)
    idx = torch.arange(B, device=x.device)
    total = S * B
    per_sample = torch.zeros_like(x)
    filled = 0
    for a, b in chunks(total, plan.chunk_size):
        rows = torch.arange(a, b, device=x.device)
        s, r = rows // B, rows % B
        xs = x[r] + noise[s, r]
        g, _ = plan.gradient(xs, idx[r])
        v = _base_value(p["base"], g, xs)
        # fold whole samples in order, whatever the chunk boundaries
        for j in range(b - a):
            per_sample[r[j]] = v[j]
            filled += 1
            if filled == B:
                acc.add(per_sample)
                filled = 0
        if filled == 0 and acc.n:
            est = acc.var() if variance else acc.mean()
            se = acc.stderr_var() if variance else acc.stderr_mean()
            yield AttributionStep(est.clone(), acc.n / S, stderr=se,
                                  diagnostics={"n_samples_done": acc.n, "mean_stderr": float(se.mean()) if acc.n > 1 else None})


def smoothgrad(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """Mean of the base attribution over Gaussian-perturbed inputs (Smilkov et al. 2017), with its standard error."""
    yield from _noisy(plan, variance=False)


def vargrad(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """Variance of the base attribution over Gaussian-perturbed inputs (Adebayo et al. 2018)."""
    yield from _noisy(plan, variance=True)


def gradient_shap(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """Expected gradients: E over baseline b ~ baselines, alpha ~ U(0, 1), noise eps of
    df/dx(b + alpha (x + eps - b)) * (x + eps - b), with the standard error of the mean."""
    x = plan.inputs
    p = plan.params
    S, B = p["n_samples"], plan.batch
    bases = plan.extra["baselines"]  # (K, ...)
    gen = torch.Generator().manual_seed(int(plan.seed))
    pick = torch.randint(bases.shape[0], (S, B), generator=gen)
    alpha = torch.rand((S, B), generator=gen, dtype=torch.float64).to(x.device, x.dtype)
    noise = (torch.randn((S, *x.shape), generator=gen, dtype=torch.float64) * p["stdev"]).to(x.device, x.dtype)
    pick = pick.to(x.device)
    acc = _Moments(x)
    idx = torch.arange(B, device=x.device)
    total = S * B
    per_sample = torch.zeros_like(x)
    filled = 0
    shape1 = (-1, *([1] * (x.ndim - 1)))
    for a, b in chunks(total, plan.chunk_size):
        rows = torch.arange(a, b, device=x.device)
        s, r = rows // B, rows % B
        xn = x[r] + noise[s, r]
        bb = bases[pick[s, r]]
        delta = xn - bb
        g, _ = plan.gradient(bb + alpha[s, r].view(shape1) * delta, idx[r])
        v = g * delta
        for j in range(b - a):
            per_sample[r[j]] = v[j]
            filled += 1
            if filled == B:
                acc.add(per_sample)
                filled = 0
        if filled == 0 and acc.n:
            se = acc.stderr_mean()
            attr = acc.mean()
            yield AttributionStep(attr.clone(), acc.n / S, stderr=se,
                                  diagnostics={"n_samples_done": acc.n,
                                               "mean_stderr": float(se.mean()) if acc.n > 1 else None,
                                               **_completeness(attr, plan.output, plan.extra["f_baselines_mean"])})


def grad_cam(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """Grad-CAM (Selvaraju et al.): ReLU(sum_c mean_hw(dy/dA_c) A_c) on a layer's activations A (B, C, ...),
    upsampled bilinearly to the input's spatial size when ``upsample=True``."""
    x = plan.inputs
    layer = plan.extra["layer"]
    B = plan.batch
    idx = torch.arange(B, device=x.device)
    cams: list[torch.Tensor] = []
    for a, b in chunks(B, plan.chunk_size):
        store: dict = {}

        def hook(_m, _inp, out):
            store["act"] = out

        handle = layer.register_forward_hook(hook)
        try:
            with torch.enable_grad():
                y = plan.select(plan.model(x[a:b]), plan.rows_target(idx[a:b]))
                act = store.get("act")
                if not isinstance(act, torch.Tensor) or act.ndim < 3:
                    raise ValueError(f"layer must output a (batch, channels, ...) tensor for Grad-CAM, got "
                                     f"{type(act).__name__ if not isinstance(act, torch.Tensor) else tuple(act.shape)}")
                if not y.requires_grad or not act.requires_grad:
                    raise ValueError("model: the output has no gradient with respect to the layer's activations")
                (g,) = torch.autograd.grad(y.sum(), act, allow_unused=True)
        finally:
            handle.remove()
        if g is None:
            raise ValueError("layer: the target output does not depend on this layer's activations")
        w = g.mean(dim=tuple(range(2, g.ndim)), keepdim=True)
        cam = (w * act.detach()).sum(1, keepdim=True)
        if plan.params["relu"]:
            cam = cam.clamp_min(0)
        cams.append(cam.detach())
        done = torch.cat(cams)
        if b < B:
            done = torch.cat([done, done.new_zeros((B - b, *done.shape[1:]))])
        shown = done
        if plan.params["upsample"] and x.ndim == done.ndim and x.ndim >= 3:
            shown = upsample_cam(done, tuple(x.shape[2:]))
        yield AttributionStep(shown[:, 0], b / B, extras={"layer_map": done[:, 0]})

def upsample_cam(cam: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(size)]
    return torch.nn.functional.interpolate(cam, size=size, mode=mode, align_corners=False)
