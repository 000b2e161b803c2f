"""Gradient methods: saliency, input x gradient, Integrated Gradients, SmoothGrad/VarGrad, expected
gradients (GradientSHAP) and Grad-CAM. Each is a generator of :class:`AttributionStep`.

Model rows are evaluated ``plan.chunk_size`` at a time; running sums are folded in a fixed order (step by
step, sample by sample), so the result does not depend on the chunk size beyond the model's own rounding.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np
import torch

from .core import AttributionPlan, AttributionStep, chunks
from .forward import layer_hook

_REUSE = True
IG_RULES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")

#: Gauss-Legendre nodes cost O(n^2) to compute (Newton's method on the three-term recurrence); a few hundred
#: nodes already integrate any smooth path to float64 precision, so larger requests are refused.
MAX_GAUSS_LEGENDRE_STEPS = 10_000

#: Up to this many nodes NumPy's Golub-Welsch eigenvalue solution is used, as Captum does (identical nodes).
_NUMPY_LEGGAUSS_MAX = 100


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in (-1, 1) (ascending) and weights of n-point Gauss-Legendre quadrature."""
    if n <= _NUMPY_LEGGAUSS_MAX:
        return np.polynomial.legendre.leggauss(n)
    m = (n + 1) // 2
    k = np.arange(1, m + 1)
    x = np.cos(np.pi * (k - 0.25) / (n + 0.5))  # Tricomi's first-order guess of the k-th largest root
    for _ in range(50):
        p0, p1 = np.ones_like(x), x.copy()
        for j in range(2, n + 1):  # P_j from P_{j-1}, P_{j-2}
            p0, p1 = p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j
        dp = n * (x * p1 - p0) / (x * x - 1)
        dx = p1 / dp
        x = x - dx
        if np.abs(dx).max() < 1e-15:
            break
    p0, p1 = np.ones_like(x), x.copy()
    for j in range(2, n + 1):
        p0, p1 = p1, ((2 * j - 1) * x * p1 - (j - 1) * p0) / j
    dp = n * (x * p1 - p0) / (x * x - 1)
    w = 2.0 / ((1 - x * x) * dp * dp)
    nodes = np.concatenate([-x, x[::-1][n % 2:]])
    weights = np.concatenate([w, w[::-1][n % 2:]])
    return nodes, weights


def quadrature(rule: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes alpha in [0, 1] and weights summing to 1 for the path integral of Integrated Gradients."""
    if rule not in IG_RULES:
        raise ValueError(f"rule must be one of {', '.join(map(repr, IG_RULES))}; got {rule!r}")
    if rule == "gausslegendre":
        x, w = gauss_legendre(n_steps)
        return (x + 1.0) / 2.0, w / 2.0
    a, w = nodes(rule, n_steps, torch.arange(n_steps))
    return a.numpy(), w.numpy()


def nodes(rule: str, n: int, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights (float64) of the Riemann rules at step indices ``k``, computed without holding all n."""
    k = k.to(torch.float64)
    if rule == "riemann_left":
        return k / n, torch.full_like(k, 1.0 / n)
    if rule == "riemann_right":
        return (k + 1) / n, torch.full_like(k, 1.0 / n)
    if rule == "riemann_middle":
        return (k + 0.5) / n, torch.full_like(k, 1.0 / n)
    if rule == "riemann_trapezoid":
        if n < 2:
            raise ValueError("n_steps must be at least 2 for rule='riemann_trapezoid'")
        w = torch.full_like(k, 1.0 / (n - 1))
        w[(k == 0) | (k == n - 1)] = 0.5 / (n - 1)
        return k / (n - 1), w
    raise ValueError(f"rule {rule!r} has no closed-form nodes")


def _simple(plan: AttributionPlan, kind: str) -> Iterator[AttributionStep]:
    x = plan.attributed
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
    """x * df/dx (at a layer: activation x gradient, Captum's LayerGradientXActivation)."""
    yield from _simple(plan, "input_x_gradient")


def integrated_gradients(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """(x - x') * sum_k w_k df/dx(x' + alpha_k (x - x')) (Sundararajan et al. 2017), with the completeness gap
    sum(attr) - (f(x) - f(x')) per row in the diagnostics. At a layer, x and x' are the layer's values at the
    input and the baseline and the path runs there (LayerIntegratedGradients).

    The Riemann nodes are computed per chunk of model rows, so memory does not grow with ``n_steps``."""
    x, base = plan.attributed, plan.extra["baseline"]
    rule, n = plan.params["rule"], plan.params["n_steps"]
    table = None
    if rule == "gausslegendre":  # cast once, not per chunk
        table = tuple(t.to(x.device, x.dtype) for t in _gauss_legendre_table(n))
    B = plan.batch
    diff = x - base
    grad_sum = torch.zeros_like(x)
    grad_flat = grad_sum.view(-1)
    idx = torch.arange(B, device=x.device)
    f_base = plan.extra["f_baseline"]
    gap_of = _CompletenessGap(plan.output, f_base)
    total = n * B
    shape1 = (-1, *([1] * (x.ndim - 1)))
    # Rows are (step, input row) pairs in step-major order; each chunk is a slice of that order, built by one
    # fused multiply-add per step (no row gathers) into one buffer reused by every chunk (the gradient is taken
    # before the next chunk overwrites it). A chunk of whole steps is folded by one matrix-vector product,
    # grad_sum += sum_k w_k g_k, without a weighted copy of the chunk's gradients.
    buf = x.new_empty((min(plan.chunk_size, total), *x.shape[1:])) if _REUSE else None
    for a, b in chunks(total, plan.chunk_size):
        k0, k1 = a // B, (b - 1) // B
        if table is not None:
            alpha, weight = table[0][k0:k1 + 1], table[1][k0:k1 + 1]
        else:
            alpha, weight = (t.to(x.device, x.dtype) for t in nodes(rule, n, torch.arange(k0, k1 + 1)))
        z = _path_rows(base, diff, alpha, a - k0 * B, b - k0 * B, buf[:b - a] if _REUSE else x.new_empty((b - a, *x.shape[1:])))
        whole = a % B == 0 and b % B == 0
        r = idx.repeat(k1 - k0 + 1) if whole else torch.arange(a, b, device=x.device) % B
        g, _ = plan.gradient(z, r)
        if whole:
            grad_flat.addmv_(g.reshape(k1 - k0 + 1, -1).T, weight)
        else:
            k = torch.arange(a, b, device=x.device) // B - k0
            grad_sum.index_add_(0, r, weight[k].view(shape1) * g)  # g may be an expanded view: not in place
        attr = grad_sum * diff
        yield AttributionStep(attr, b / total, diagnostics=gap_of(attr))


class _CompletenessGap:
    """:func:`_completeness` for a run of steps with the same f(x) and f(baseline): their lists are made once, and
    each step costs one reduction and one copy to the host (the full form took ~0.13 ms a chunk, 1.5 % of IG on a
    small CNN)."""

    def __init__(self, f_x: torch.Tensor, f_base: torch.Tensor) -> None:
        self.f_x, self.f_base = f_x, f_base
        self.delta = f_x - f_base
        self.output, self.baseline_output = f_x.detach().cpu().tolist(), f_base.detach().cpu().tolist()

    def __call__(self, attr: torch.Tensor) -> dict:
        gap = (attr.reshape(attr.shape[0], -1).sum(1) - self.delta).detach().cpu().tolist()
        worst = float("nan") if any(v != v for v in gap) else max(abs(v) for v in gap)  # NaN as torch's max gives it
        return {"completeness_gap": gap, "max_abs_completeness_gap": worst,
                "output": list(self.output), "baseline_output": list(self.baseline_output)}


@functools.lru_cache(maxsize=32)
def _gauss_legendre_table(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Legendre nodes and weights on [0, 1] (float64), computed once per n (NumPy's eigenvalue solution
    costs about a millisecond, several percent of a small batch's attribution). Read only: callers slice them."""
    al, w = quadrature("gausslegendre", n)
    return torch.as_tensor(al), torch.as_tensor(w)


def _path_rows(base: torch.Tensor, diff: torch.Tensor, alpha: torch.Tensor, a: int, b: int,
               out: torch.Tensor) -> torch.Tensor:
    """Rows a..b (step-major) of base + alpha_k * diff over the steps k of ``alpha``, written into ``out``
    (b - a rows): one fused multiply-add per step slice (row gathers cost more than the model on small batches)."""
    B = base.shape[0]
    if a % B == 0 and b - a == len(alpha) * B:  # whole steps: one broadcast multiply-add over (steps, B, ...)
        torch.addcmul(base, alpha.view(-1, *([1] * base.ndim)), diff, out=out.view(len(alpha), *base.shape))
        return out
    pos = a
    while pos < b:  # one slice per step the chunk touches
        k, r0 = divmod(pos, B)
        r1 = min(B, r0 + b - pos)
        torch.addcmul(base[r0:r1], alpha[k], diff[r0:r1], out=out[pos - a:pos - a + r1 - r0])
        pos += r1 - r0
    return out


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


class _PerSample:
    """Random draws of sample s (one value per input row), made in sample order from one generator when a chunk
    first needs them and dropped once passed: memory is O(chunk), and the numbers do not depend on the chunk size."""

    def __init__(self, seed: int, draw) -> None:
        self.gen = torch.Generator().manual_seed(int(seed))
        self.draw = draw  # generator -> tuple of tensors with the batch first
        self.cache: dict[int, tuple] = {}
        self.next = 0

    def rows(self, s: torch.Tensor, r: torch.Tensor) -> tuple:
        """The draws for model rows (sample s[i], input row r[i])."""
        s0, s1 = int(s[0]), int(s[-1])
        for old in [k for k in self.cache if k < s0]:
            del self.cache[old]
        while self.next <= s1:
            self.cache[self.next] = self.draw(self.gen)
            self.next += 1
        parts = list(zip(*(self.cache[k] for k in range(s0, s1 + 1))))
        local = (s - s0).to(r.device)
        return tuple(torch.stack(p).to(r.device)[local, r] for p in parts)


class _SampleFolder:
    """Collects per-row values of whole samples, in order, whatever the chunk boundaries, into moments."""

    def __init__(self, like: torch.Tensor, batch: int, fourth: bool) -> None:
        self.buf = torch.zeros_like(like)
        self.acc = _Moments(like, fourth)
        self.batch = batch

    def add(self, v: torch.Tensor, a: int, b: int) -> None:
        B, pos = self.batch, a
        while pos < b:  # segments of one sample each
            end = min(b, (pos // B + 1) * B)
            self.buf[pos % B:(end - 1) % B + 1] = v[pos - a:end - a]
            if end % B == 0:
                self.acc.add(self.buf)
            pos = end


def _base_value(kind: str, g: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    if kind == "saliency":
        return g.abs()
    if kind == "input_x_gradient":
        return g * xs
    return g


def _reduce(plan: AttributionPlan):
    """Token inputs: each sample's values are summed per token before its moments (so the standard error is the
    standard error of the per-token value)."""
    return plan.extra.get("reduce") or (lambda v: v)


def _noisy(plan: AttributionPlan, variance: bool) -> Iterator[AttributionStep]:
    x = plan.attributed
    p = plan.params
    S, B = p["n_samples"], plan.batch
    given = plan.extra.get("noise")
    stdev = p["stdev"]
    draws = _PerSample(plan.seed, lambda gen: ((torch.randn(x.shape, generator=gen, dtype=torch.float64) * stdev)
                                               .to(x.dtype),))
    reduce = _reduce(plan)
    fold = _SampleFolder(reduce(x), B, variance)
    idx = torch.arange(B, device=x.device)
    total = S * B
    for a, b in chunks(total, plan.chunk_size):
        rows = torch.arange(a, b)
        s, r = rows // B, (rows % B).to(x.device)
        noise = given[s.to(x.device), r] if given is not None else draws.rows(s, r)[0]
        xs = x[r] + noise
        g, _ = plan.gradient(xs, idx[r])
        fold.add(reduce(_base_value(p["base"], g, xs)), a, b)
        acc = fold.acc
        if b % B == 0 and acc.n:
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
    """Expected gradients (Erion et al. 2021; Captum GradientShap, shap GradientExplainer): the mean over samples
    of df/dx(b + alpha (x + eps - b)) * (x + eps - b), b drawn uniformly from the K background rows, alpha ~ U(0, 1),
    eps ~ N(0, stdev^2), with the standard error of the mean. Its expectation (stdev = 0) is the background mean of
    Integrated Gradients from each background row, so the values sum to f(x) - E_b f(b) in expectation: the base
    value is the mean model output over the background. At a layer, b and x are the layer's values."""
    x = plan.attributed
    p = plan.params
    S, B = p["n_samples"], plan.batch
    K = plan.extra["n_background"]
    background_z = plan.extra["background_z"]
    stdev = p["stdev"]

    def draw(gen):
        pick = torch.randint(K, (B,), generator=gen)
        alpha = torch.rand(B, generator=gen, dtype=torch.float64)
        eps = torch.randn(x.shape, generator=gen, dtype=torch.float64) * stdev if stdev > 0 else torch.zeros(B)
        return pick, alpha, eps

    draws = _PerSample(plan.seed, draw)
    reduce = _reduce(plan)
    fold = _SampleFolder(reduce(x), B, False)
    idx = torch.arange(B, device=x.device)
    total = S * B
    shape1 = (-1, *([1] * (x.ndim - 1)))
    for a, b in chunks(total, plan.chunk_size):
        rows = torch.arange(a, b)
        s, r = rows // B, (rows % B).to(x.device)
        pick, alpha, eps = draws.rows(s, r)
        xn = x[r] + eps.to(x.dtype).view(-1, *x.shape[1:]) if stdev > 0 else x[r]
        bb = background_z(pick.to(x.device), r)
        delta = xn - bb
        g, _ = plan.gradient(bb + alpha.to(x.dtype).view(shape1) * delta, idx[r])
        fold.add(reduce(g * delta), a, b)
        acc = fold.acc
        if b % B == 0 and acc.n:
            se = acc.stderr_mean()
            attr = acc.mean()
            yield AttributionStep(attr.clone(), acc.n / S, stderr=se,
                                  diagnostics={"n_samples_done": acc.n,
                                               "mean_stderr": float(se.mean()) if acc.n > 1 else None,
                                               **_completeness(attr, plan.output, plan.extra["f_baselines_mean"])})


def grad_cam(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """Grad-CAM (Selvaraju et al.): ReLU(sum_c mean_hw(dy/dA_c) A_c) on a layer's activations A (B, C, ...),
    upsampled bilinearly to the input's spatial size when ``upsample=True``."""
    x = plan.attributed
    layer = plan.extra["layer"]
    B = plan.batch
    idx = torch.arange(B, device=x.device)
    cams: list[torch.Tensor] = []
    for a, b in chunks(B, plan.chunk_size):
        store: dict = {}
        # the hook acts only in this thread and is removed on leaving the block
        with layer_hook(layer, "output", lambda out, store=store: store.__setitem__("act", out)), torch.enable_grad():
            y = plan.select(plan.call.run(x[a:b], idx[a:b]), plan.rows_target(idx[a:b]))
            act = store.get("act")
            if not isinstance(act, torch.Tensor) or act.ndim < 3:
                raise ValueError(f"layer must output a (batch, channels, ...) tensor for Grad-CAM, got "
                                 f"{type(act).__name__ if not isinstance(act, torch.Tensor) else tuple(act.shape)}")
            if not y.requires_grad or not act.requires_grad:
                raise ValueError("model: the output has no gradient with respect to the layer's activations")
            (g,) = torch.autograd.grad(y.sum(), act, allow_unused=True)
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
