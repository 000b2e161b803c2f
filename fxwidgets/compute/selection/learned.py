"""Learned selection: Sequential Attention (greedy, = OMP for linear regression) and stochastic gates.

All models are linear (a probe): a linear regression for a continuous target, a multinomial logistic
regression for class labels. Training runs on X's device with a seeded generator.
"""

from __future__ import annotations

import math

import torch

from ._common import zscore


# ---- gate distributions (closed forms used by the tests) -----------------------------------------------
def hard_concrete_sample(log_alpha: torch.Tensor, beta: float, gamma: float, zeta: float, gen: torch.Generator,
                         n: int = 1) -> torch.Tensor:
    """Louizos et al. (2018): s = sigmoid((log u - log(1-u) + log alpha) / beta), z = clamp(s (zeta-gamma) + gamma, 0, 1)."""
    u = torch.rand((n, *log_alpha.shape), generator=gen, dtype=log_alpha.dtype).to(log_alpha.device).clamp(1e-12, 1 - 1e-12)
    s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / beta)
    return (s * (zeta - gamma) + gamma).clamp(0.0, 1.0)


def hard_concrete_l0(log_alpha: torch.Tensor, beta: float, gamma: float, zeta: float) -> torch.Tensor:
    """P(z != 0) per gate: sigmoid(log alpha - beta log(-gamma / zeta)); the expected L0 is its sum."""
    return torch.sigmoid(log_alpha - beta * math.log(-gamma / zeta))


def hard_concrete_mean(log_alpha: torch.Tensor, gamma: float, zeta: float) -> torch.Tensor:
    """The deterministic gate used after training: clamp(sigmoid(log alpha) (zeta - gamma) + gamma, 0, 1)."""
    return (torch.sigmoid(log_alpha) * (zeta - gamma) + gamma).clamp(0.0, 1.0)


def gumbel_sigmoid_sample(logits: torch.Tensor, tau: float, gen: torch.Generator, n: int = 1) -> torch.Tensor:
    """sigmoid((logit + L) / tau) with L ~ Logistic(0, 1) (the difference of two Gumbels); P(g > 1/2) = sigmoid(logit)."""
    u = torch.rand((n, *logits.shape), generator=gen, dtype=logits.dtype).to(logits.device).clamp(1e-12, 1 - 1e-12)
    return torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / tau)


def tau_schedule(step: int, n_steps: int, tau_start: float, tau_end: float) -> float:
    """Exponential annealing from tau_start to tau_end."""
    if n_steps <= 1:
        return tau_end
    return tau_start * (tau_end / tau_start) ** (step / (n_steps - 1))


# ---- the probe ---------------------------------------------------------------------------------------
def _loss(out: torch.Tensor, t: torch.Tensor, classification: bool) -> torch.Tensor:
    if classification:
        return torch.nn.functional.cross_entropy(out, t)
    return ((out[:, 0] - t) ** 2).mean()


def train_gates(x: torch.Tensor, t: torch.Tensor, n_out: int, classification: bool, *, kind: str, penalty: float,
                n_steps: int, lr: float, seed: int, batch_size: int, tau: tuple[float, float] = (1.0, 0.1),
                beta: float = 2 / 3, gamma: float = -0.1, zeta: float = 1.1):
    """Train a linear probe on gated standardised features; returns (P(gate open) per feature, params).

    kind "hard_concrete": loss + penalty * sum P(z != 0) (the expected L0, closed form above).
    kind "gumbel_sigmoid": loss + penalty * sum sigmoid(logit), temperature annealed tau[0] -> tau[1].
    """
    n, d = x.shape
    if n_steps < 1:  # nothing trained: there would be no loss to report (callers validate; this guards direct use)
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps}")
    if kind == "gumbel_sigmoid" and not (tau[0] > 0 and tau[1] > 0):
        raise ValueError(f"tau_start and tau_end must be > 0 (sigmoid(x / 0) is NaN), got {tau}")
    z = zscore(x)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    torch_state = torch.random.get_rng_state()
    init = torch.randn((d, n_out), generator=gen, dtype=x.dtype) * 0.01
    W = init.to(x.device).requires_grad_(True)
    b = torch.zeros(n_out, dtype=x.dtype, device=x.device, requires_grad=True)
    g = torch.full((d,), 1.0 if kind == "gumbel_sigmoid" else 2.0, dtype=x.dtype, device=x.device, requires_grad=True)
    opt = torch.optim.Adam([W, b, g], lr=lr)
    bs = min(batch_size, n)
    for step in range(n_steps):
        rows = torch.randint(0, n, (bs,), generator=gen).to(x.device)
        if kind == "hard_concrete":
            gate = hard_concrete_sample(g, beta, gamma, zeta, gen)[0]
            reg = hard_concrete_l0(g, beta, gamma, zeta).sum()
        else:
            gate = gumbel_sigmoid_sample(g, tau_schedule(step, n_steps, *tau), gen)[0]
            reg = torch.sigmoid(g).sum()
        out = (z[rows] * gate) @ W + b
        loss = _loss(out, t[rows], classification) + penalty * reg / d
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.random.set_rng_state(torch_state)
    with torch.no_grad():
        if kind == "hard_concrete":
            prob = hard_concrete_l0(g, beta, gamma, zeta)
        else:
            prob = torch.sigmoid(g)
    return prob.detach(), {"expected_l0": float(prob.sum()), "final_loss": float(loss.detach())}


# ---- Sequential Attention ------------------------------------------------------------------------------------
def _fit(z: torch.Tensor, t: torch.Tensor, n_out: int, classification: bool, iters: int = 25):
    """Least squares (regression) or L-BFGS logistic regression (classification) on z; returns predictions."""
    n = z.shape[0]
    ones = torch.ones(n, 1, dtype=z.dtype, device=z.device)
    zz = torch.cat([ones, z], 1)
    if not classification:
        coef = torch.linalg.lstsq(zz, t[:, None]).solution
        return zz @ coef
    W = torch.zeros(zz.shape[1], n_out, dtype=z.dtype, device=z.device, requires_grad=True)
    opt = torch.optim.LBFGS([W], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(zz @ W, t) + 1e-4 * (W[1:] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (zz @ W).detach()


def sequential_attention(x: torch.Tensor, t: torch.Tensor, n_out: int, classification: bool, depth: int):
    """Sequential Attention (Yasuda et al. 2023) in its one-gradient-step form: each round fits the probe on
    the chosen features, then adds the unchosen feature whose attention weight has the steepest loss
    gradient at zero, |d loss / d a_j| = |z_j' dL/d(out)| summed over outputs. For linear regression with
    squared loss that is |z_j' r| with r the least-squares residual: Orthogonal Matching Pursuit on the
    standardised features (the paper's equivalence theorem). Returns (order, gain at each pick, the last
    round's gradient magnitudes, which rank the features left after ``depth`` picks)."""
    n, d = x.shape
    z = zscore(x)
    chosen: list[int] = []
    gains = []
    avail = torch.ones(d, dtype=torch.bool, device=x.device)
    onehot = torch.nn.functional.one_hot(t, n_out).to(x.dtype) if classification else None
    for _ in range(min(depth, d)):
        if chosen:
            out = _fit(z[:, chosen], t, n_out, classification)
        else:
            out = _fit(z[:, :0], t, n_out, classification)
        if classification:
            resid = onehot - torch.softmax(out, 1)  # -dL/d(out) for cross-entropy
            grad = (z.T @ resid).abs().sum(1)
        else:
            grad = (z.T @ (t - out[:, 0])).abs()
        grad = torch.where(avail, grad, torch.full_like(grad, -math.inf))
        j = int(torch.argmax(grad))
        chosen.append(j)
        gains.append(float(grad[j]) / n)
        avail[j] = False
        last = grad / n
    return torch.tensor(chosen, dtype=torch.long), torch.tensor(gains, dtype=x.dtype), last
