"""Shapley values over features or feature groups.

The game of input row b is ``v_b(S) = f(x_b on the features in S, baseline elsewhere)``, or with a background
set of K rows the interventional game ``v_b(S) = (1/K) sum_k f(x_b on S, background_k elsewhere)`` (Janzing et
al. 2020; shap's Independent masker): values then sum to f(x_b) - E_k f(background_k). Model rows are the
(coalition, input row, background row) triples, evaluated ``chunk_size`` at a time; coalitions are built per chunk,
so memory is O(chunk) whatever the number of permutations or samples. Three estimators:

- ``shapley_exact``: all 2^n coalitions, in batches; phi = sum_S v(S) c(S) with the closed-form
  coefficients c_i(S) = w(|S|-1) if i in S else -w(|S|), w(s) = s!(n-s-1)!/n!. Optional pairwise
  Shapley interaction values.
- ``shapley_permutation``: random permutations, each paired with its reverse (antithetic); the mean of the
  pair averages streams with its standard error. Every permutation telescopes, so sum(phi) = v(N) - v(0)
  holds exactly at every budget.
- ``kernel_shap``: weighted least squares on coalitions drawn from the Shapley kernel, with efficiency held
  exactly by eliminating the last feature; the normal equations are running sums, refitted after each batch.
  With a budget of at least 2^n - 2 every coalition is enumerated with its exact kernel weight (= exact Shapley).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

from .core import AttributionPlan, AttributionStep, chunks

#: Largest n for exhaustive enumeration (2^n model rows per input row).
MAX_EXACT_FEATURES = 24


def game(plan: AttributionPlan, m: int, coalitions: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """v_b(Z_i) for m coalitions and every input row b: (m, B) float64, the mean over the references.

    ``coalitions(i)`` gives the rows i (a tensor of coalition indices) of the (m, n) boolean coalition matrix, so
    the matrix is never held whole. Model rows run coalition-major, then input row, then reference row."""
    x, refs, groups = plan.extra["x_flat"], plan.extra["refs"], plan.extra["groups"]
    K, per_row_refs = refs.shape[0], refs.shape[1] > 1
    B = plan.batch
    out = torch.empty(m * B * K, dtype=torch.float64, device=plan.device)
    shape = plan.attributed.shape[1:]
    for a, b in chunks(m * B * K, plan.chunk_size):
        t = torch.arange(a, b, device=plan.device)
        i, rem = t // (B * K), t % (B * K)
        r, k = rem // K, rem % K
        elem = coalitions(i).gather(1, groups[r])
        xs = torch.where(elem, x[r], refs[k, r if per_row_refs else 0]).view(-1, *shape)
        with torch.no_grad():
            out[a:b] = plan.select(plan.call.run(xs, r), plan.rows_target(r)).double()
    return out.view(m, B, K).mean(2)


def _bits(codes: torch.Tensor, n: int) -> torch.Tensor:
    return ((codes[:, None] >> torch.arange(n, device=codes.device)) & 1).bool()


def shapley_weights(n: int) -> torch.Tensor:
    """w(s) = s!(n-s-1)!/n! for s = 0..n-1 (float64), padded with a 0 at s = n."""
    s = np.arange(n)
    w = np.exp([math.lgamma(k + 1) + math.lgamma(n - k) - math.lgamma(n + 1) for k in s])
    return torch.tensor(np.append(w, 0.0), dtype=torch.float64)


def _interaction_weights(n: int) -> torch.Tensor:
    """w2(s) = s!(n-s-2)!/(n-1)! for s = 0..n-2, padded with zeros to length n+1."""
    w = [math.exp(math.lgamma(k + 1) + math.lgamma(n - k - 1) - math.lgamma(n)) for k in range(n - 1)]
    return torch.tensor(w + [0.0, 0.0], dtype=torch.float64)


def _endpoints(plan: AttributionPlan) -> tuple[torch.Tensor, torch.Tensor]:
    return plan.extra["v_empty"].double(), plan.extra["v_full"].double()


def _broadcast_features(plan: AttributionPlan, phi: torch.Tensor) -> torch.Tensor:
    """Per-feature values (B, n) spread over the inputs' shape (each element gets its group's value)."""
    return phi.to(plan.dtype).gather(1, plan.extra["groups"]).view(plan.attributed.shape)


def _step(plan, phi, progress, stderr=None, diagnostics=None, extras=None) -> AttributionStep:
    v0, v1 = _endpoints(plan)
    gap = phi.sum(1) - (v1 - v0)
    diag = {"efficiency_gap": gap.cpu().tolist(), "max_abs_efficiency_gap": float(gap.abs().max()),
            "base_value": v0.cpu().tolist(), "output": v1.cpu().tolist(), **(diagnostics or {})}
    se = None if stderr is None else stderr.to(plan.dtype)
    return AttributionStep(_broadcast_features(plan, phi), progress, stderr=se, features=phi.to(plan.dtype),
                           diagnostics=diag, extras=extras or {})


def shapley_exact(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """phi_i = sum_S c_i(S) v(S) over all 2^n coalitions, streamed in batches of coalitions."""
    n, B, dev = plan.extra["n_features"], plan.batch, plan.device
    K = plan.extra["refs"].shape[0]
    total = 1 << n
    w = shapley_weights(n).to(dev)
    inter = plan.params.get("interactions", False)
    w2 = _interaction_weights(n).to(dev) if inter else None
    phi = torch.zeros((B, n), dtype=torch.float64, device=dev)
    sii = torch.zeros((B, n, n), dtype=torch.float64, device=dev) if inter else None
    per = max(1, plan.chunk_size // (B * K))
    for a in range(0, total, per):
        b = min(total, a + per)
        Z = _bits(torch.arange(a, b, device=dev), n)
        v = game(plan, b - a, lambda i, Z=Z: Z[i]).T  # (B, m)
        size = Z.sum(1)
        coef = torch.where(Z, w[(size - 1).clamp_min(0)][:, None], -w[size][:, None])
        phi += v @ coef
        if inter:
            zf = Z.double()
            nz = 1.0 - zf
            both = v * w2[(size - 2).clamp_min(0)] * (size >= 2)
            one = v * w2[(size - 1).clamp_min(0)] * (size >= 1)
            none = v * w2[size.clamp_max(n)]
            sii += torch.einsum("bm,mi,mj->bij", both, zf, zf)
            sii -= torch.einsum("bm,mi,mj->bij", one, zf, nz) + torch.einsum("bm,mi,mj->bij", one, nz, zf)
            sii += torch.einsum("bm,mi,mj->bij", none, nz, nz)
        extras = {}
        if inter and b == total:
            extras["interactions"] = interaction_matrix(phi, sii).to(plan.dtype)
        yield _step(plan, phi.clone(), b / total, stderr=torch.zeros_like(phi), extras=extras,
                    diagnostics={"coalitions_evaluated": b})


def interaction_matrix(phi: torch.Tensor, sii: torch.Tensor) -> torch.Tensor:
    """shap's convention: off-diagonal = SII_ij / 2, diagonal = phi_i - sum_{j != i} SII_ij / 2, so each row
    sums to phi_i and the whole matrix to f(x) - f(baseline)."""
    n = phi.shape[1]
    eye = torch.eye(n, dtype=torch.bool, device=phi.device)
    off = torch.where(eye, torch.zeros_like(sii), sii / 2)
    return off + torch.diag_embed(phi - off.sum(2))


def shapley_permutation(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """The mean over random orderings of each feature's marginal contribution (Castro et al. 2009), each ordering
    paired with its reverse when ``antithetic`` (Mitchell et al. 2022); the standard error is over the independent
    units (pairs). Permutations are drawn in order from the seed as they are needed."""
    n, B, dev = plan.extra["n_features"], plan.batch, plan.device
    K = plan.extra["refs"].shape[0]
    p = plan.params
    antithetic = p["antithetic"]
    n_perm = p["n_permutations"]
    per_unit = 2 if antithetic else 1
    n_units = math.ceil(n_perm / 2) if antithetic else n_perm  # independent estimates
    gen = torch.Generator().manual_seed(int(plan.seed))
    v0, v1 = _endpoints(plan)
    s1 = torch.zeros((B, n), dtype=torch.float64, device=dev)
    s2 = torch.zeros_like(s1)
    rows_per_unit = per_unit * max(n - 1, 0) * B * K
    per = max(1, plan.chunk_size // max(1, rows_per_unit))
    for a in range(0, n_units, per):
        b = min(n_units, a + per)
        perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(a, b)]).to(dev)
        orders = torch.stack([perms, perms.flip(1)], 1).reshape(-1, n) if antithetic else perms  # (O, n)
        O = orders.shape[0]
        if n > 1:  # every coalition on every path: row (o, j) holds the first j+1 features of order o
            pos = torch.empty_like(orders).scatter_(1, orders, torch.arange(n, device=dev).expand(O, n))
            v = game(plan, O * (n - 1), lambda i, pos=pos: pos[i // (n - 1)] <= (i % (n - 1))[:, None])
            inner = v.view(O, n - 1, B).permute(0, 2, 1)  # (O, B, n-1)
        else:
            inner = torch.zeros((O, B, 0), dtype=torch.float64, device=dev)
        path = torch.cat([v0.expand(O, B)[..., None], inner, v1.expand(O, B)[..., None]], 2)  # (O, B, n+1)
        marg = torch.empty((O, B, n), dtype=torch.float64, device=dev)
        marg.scatter_(2, orders[:, None, :].expand(O, B, n), path[..., 1:] - path[..., :-1])
        est = marg.view(b - a, per_unit, B, n).mean(1)
        for e in est:  # one unit at a time: the sums do not depend on how units are grouped
            s1 += e
            s2 += e * e
        mean = s1 / b
        if b > 1:
            var = (s2 / b - mean * mean).clamp_min(0) * b / (b - 1)
            se = (var / b).sqrt()
        else:
            se = torch.full_like(mean, float("nan"))
        evals = b * per_unit * max(n - 1, 0) + 2
        yield _step(plan, mean, b / n_units, stderr=se,
                    diagnostics={"permutations_done": b * per_unit, "model_evaluations_per_row": evals * K,
                                 "mean_stderr": float(se.mean()) if b > 1 else None})


#: Coalitions KernelSHAP draws at a time from its generator: fixed, so the draws do not depend on chunk_size.
KERNEL_BLOCK = 1024


def _kernel_weights(Z: torch.Tensor) -> torch.Tensor:
    """The Shapley kernel (n-1) / (C(n, s) s (n-s)) of each coalition (float64)."""
    n = Z.shape[1]
    s = Z.sum(1).double()
    logc = torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64)) - torch.lgamma(s + 1) - torch.lgamma(n - s + 1)
    return (n - 1) / (torch.exp(logc) * s * (n - s))


def _kernel_sample(n: int, m: int, gen: torch.Generator) -> torch.Tensor:
    """m coalitions (m even): sizes from the Shapley kernel's size distribution, each with its complement."""
    sizes = torch.arange(1, n)
    p = (n - 1) / (sizes * (n - sizes)).double()
    half = m // 2
    s = sizes[torch.multinomial(p / p.sum(), half, replacement=True, generator=gen)]
    keys = torch.rand((half, n), generator=gen)
    ranks = keys.argsort(1).argsort(1)
    Z = ranks < s[:, None]
    return torch.cat([Z, ~Z]).view(2, half, n).transpose(0, 1).reshape(m, n)


class _KernelDraws:
    """Sampled coalitions in order, drawn KERNEL_BLOCK at a time."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.gen = n, torch.Generator().manual_seed(int(seed))
        self.buf = torch.zeros((0, n), dtype=torch.bool)

    def take(self, m: int) -> torch.Tensor:
        while self.buf.shape[0] < m:
            self.buf = torch.cat([self.buf, _kernel_sample(self.n, KERNEL_BLOCK, self.gen)])
        out, self.buf = self.buf[:m], self.buf[m:]
        return out


def kernel_shap(plan: AttributionPlan) -> Iterator[AttributionStep]:
    """KernelSHAP (Lundberg & Lee 2017): weighted least squares on coalitions from the Shapley kernel, efficiency
    held exactly by eliminating the last feature; the normal equations are running sums refitted after each batch."""
    n, B, dev = plan.extra["n_features"], plan.batch, plan.device
    K = plan.extra["refs"].shape[0]
    v0, v1 = _endpoints(plan)
    delta = v1 - v0
    if n == 1:
        yield _step(plan, delta[:, None].clone(), 1.0, stderr=torch.zeros((B, 1), dtype=torch.float64, device=dev))
        return
    budget = plan.params["n_samples"]
    enumerate_all = budget >= (1 << n) - 2
    total = (1 << n) - 2 if enumerate_all else budget + (budget % 2)
    draws = None if enumerate_all else _KernelDraws(n, plan.seed)
    k = n - 1
    A = torch.zeros((k, k), dtype=torch.float64, device=dev)
    c = torch.zeros((B, k), dtype=torch.float64, device=dev)
    yy = torch.zeros(B, dtype=torch.float64, device=dev)
    per = max(2, (plan.chunk_size // (B * K)) // 2 * 2)
    for a in range(0, total, per):
        b = min(total, a + per)
        if enumerate_all:
            Z = _bits(torch.arange(1 + a, 1 + b, device=dev), n)
            w = _kernel_weights(Z)
        else:
            Z = draws.take(b - a).to(dev)
            w = torch.ones(b - a, dtype=torch.float64, device=dev)
        v = game(plan, b - a, lambda i, Z=Z: Z[i]).T  # (B, m)
        zf = Z.double()
        X = zf[:, :k] - zf[:, k:]  # (m, k)
        y = v - v0[:, None] - zf[:, k][None, :] * delta[:, None]  # (B, m)
        A += X.T @ (w[:, None] * X)
        c += (y * w) @ X
        yy += (y * y * w).sum(1)
        sol = torch.linalg.lstsq(A, c.T, driver="gelsd" if dev.type == "cpu" else None).solution.T  # (B, k)
        phi = torch.cat([sol, (delta - sol.sum(1))[:, None]], 1)
        if enumerate_all:
            se = torch.zeros_like(phi)
        else:
            dof = max(1, b - k)
            rss = (yy - 2 * (sol * c).sum(1) + ((sol @ A) * sol).sum(1)).clamp_min(0)
            sigma2 = rss / dof
            Ainv = torch.linalg.pinv(A)
            var_k = torch.diagonal(Ainv)[None, :] * sigma2[:, None]
            var_last = Ainv.sum() * sigma2
            se = torch.cat([var_k, var_last[:, None]], 1).sqrt()
        yield _step(plan, phi, b / total, stderr=se,
                    diagnostics={"coalitions_evaluated": b, "enumerated": enumerate_all,
                                 "mean_stderr": float(se.mean())})
