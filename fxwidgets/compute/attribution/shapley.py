"""Shapley values over features or feature groups.

The game of input row b is ``v_b(S) = f(x_b on the features in S, baseline elsewhere)``. Three estimators:

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
from collections.abc import Iterator

import numpy as np
import torch

from .core import AttributionPlan, AttributionStep

#: Largest n for exhaustive enumeration (2^n model rows per input row).
MAX_EXACT_FEATURES = 24


def game(plan: AttributionPlan, Z: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """v_{r_i}(Z_i) for coalition rows Z (R, n) bool and input rows r (R,), chunked by ``chunk_size``."""
    x, base, groups = plan.extra["x_flat"], plan.extra["base_flat"], plan.extra["groups"]
    out = []
    cs = plan.chunk_size
    for a in range(0, Z.shape[0], cs):
        z, rr = Z[a:a + cs], r[a:a + cs]
        elem = z.gather(1, groups[rr])
        xs = torch.where(elem, x[rr], base[rr]).view(-1, *plan.inputs.shape[1:])
        with torch.no_grad():
            out.append(plan.select(plan.model(xs), plan.rows_target(rr)))
    return torch.cat(out)


def _expand_rows(Z: torch.Tensor, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Coalitions x input rows, coalition-major: (m*B, n) and the input row of each."""
    m = Z.shape[0]
    r = torch.arange(B, device=Z.device).repeat(m)
    return Z.repeat_interleave(B, dim=0), r


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
    return phi.to(plan.dtype).gather(1, plan.extra["groups"]).view_as(plan.inputs)


def _step(plan, phi, progress, stderr=None, diagnostics=None, extras=None) -> AttributionStep:
    v0, v1 = _endpoints(plan)
    gap = phi.sum(1) - (v1 - v0)
    diag = {"efficiency_gap": gap.cpu().tolist(), "max_abs_efficiency_gap": float(gap.abs().max()),
            "base_value": v0.cpu().tolist(), "output": v1.cpu().tolist(), **(diagnostics or {})}
    se = None if stderr is None else stderr.to(plan.dtype)
    return AttributionStep(_broadcast_features(plan, phi), progress, stderr=se, features=phi.to(plan.dtype),
                           diagnostics=diag, extras=extras or {})


def shapley_exact(plan: AttributionPlan) -> Iterator[AttributionStep]:
    n, B, dev = plan.extra["n_features"], plan.batch, plan.device
    total = 1 << n
    w = shapley_weights(n).to(dev)
    inter = plan.params.get("interactions", False)
    w2 = _interaction_weights(n).to(dev) if inter else None
    phi = torch.zeros((B, n), dtype=torch.float64, device=dev)
    sii = torch.zeros((B, n, n), dtype=torch.float64, device=dev) if inter else None
    per = max(1, plan.chunk_size // B)
    for a in range(0, total, per):
        b = min(total, a + per)
        Z = _bits(torch.arange(a, b, device=dev), n)
        Zr, r = _expand_rows(Z, B)
        v = game(plan, Zr, r).double().view(b - a, B).T  # (B, m)
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
    n, B, dev = plan.extra["n_features"], plan.batch, plan.device
    p = plan.params
    antithetic = p["antithetic"]
    n_perm = p["n_permutations"]
    n_units = math.ceil(n_perm / 2) if antithetic else n_perm  # independent estimates
    gen = torch.Generator().manual_seed(int(plan.seed))
    perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(n_units)]).to(dev)
    v0, v1 = _endpoints(plan)
    s1 = torch.zeros((B, n), dtype=torch.float64, device=dev)
    s2 = torch.zeros_like(s1)
    rows_per_unit = (2 if antithetic else 1) * max(n - 1, 0) * B
    per = max(1, plan.chunk_size // max(1, rows_per_unit))
    done = 0
    tri = torch.tril(torch.ones((n - 1, n), dtype=torch.bool, device=dev)) if n > 1 else None
    for a in range(0, n_units, per):
        b = min(n_units, a + per)
        orders = []
        for u in range(a, b):
            orders.append(perms[u])
            if antithetic:
                orders.append(perms[u].flip(0))
        if n > 1:  # every coalition on every path of this group of permutations, in one batch of model rows
            Z = torch.zeros((len(orders), n - 1, n), dtype=torch.bool, device=dev)
            for k, order in enumerate(orders):
                Z[k][:, order] = tri  # row j: the first j+1 features of the order
            Zr, r = _expand_rows(Z.view(-1, n), B)
            v = game(plan, Zr, r).double().view(len(orders), n - 1, B).permute(0, 2, 1)  # (orders, B, n-1)
        est = []
        per_unit = 2 if antithetic else 1
        for u in range(b - a):
            contrib = torch.zeros((B, n), dtype=torch.float64, device=dev)
            for k in range(u * per_unit, (u + 1) * per_unit):
                inner = [v[k]] if n > 1 else []
                path = torch.cat([v0[:, None], *inner, v1[:, None]], dim=1)  # (B, n+1)
                marg = torch.empty((B, n), dtype=torch.float64, device=dev)
                marg[:, orders[k]] = path[:, 1:] - path[:, :-1]
                contrib += marg
            est.append(contrib / per_unit)
        for e in est:
            s1 += e
            s2 += e * e
        done = b
        mean = s1 / done
        if done > 1:
            var = (s2 / done - mean * mean).clamp_min(0) * done / (done - 1)
            se = (var / done).sqrt()
        else:
            se = torch.full_like(mean, float("nan"))
        evals = done * rows_per_unit // max(B, 1) + 2
        yield _step(plan, mean, done / n_units, stderr=se,
                    diagnostics={"permutations_done": done * (2 if antithetic else 1), "model_evaluations_per_row": evals,
                                 "mean_stderr": float(se.mean()) if done > 1 else None})


def _kernel_all(n: int, dev) -> tuple[torch.Tensor, torch.Tensor]:
    codes = torch.arange(1, (1 << n) - 1, device=dev)
    Z = _bits(codes, n)
    s = Z.sum(1).double()
    logc = torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64)) - torch.lgamma(s + 1) - torch.lgamma(n - s + 1)
    w = (n - 1) / (torch.exp(logc) * s * (n - s))
    return Z, w


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


def kernel_shap(plan: AttributionPlan) -> Iterator[AttributionStep]:
    n, B, dev = plan.extra["n_features"], plan.batch, plan.device
    v0, v1 = _endpoints(plan)
    delta = v1 - v0
    if n == 1:
        yield _step(plan, delta[:, None].clone(), 1.0, stderr=torch.zeros((B, 1), dtype=torch.float64, device=dev))
        return
    budget = plan.params["n_samples"]
    enumerate_all = budget >= (1 << n) - 2
    if enumerate_all:
        Z_all, w_all = _kernel_all(n, dev)
        total = Z_all.shape[0]
    else:
        gen = torch.Generator().manual_seed(int(plan.seed))
        total = budget + (budget % 2)
        Z_all = _kernel_sample(n, total, gen).to(dev)
        w_all = torch.ones(total, dtype=torch.float64, device=dev)
    k = n - 1
    A = torch.zeros((k, k), dtype=torch.float64, device=dev)
    c = torch.zeros((B, k), dtype=torch.float64, device=dev)
    yy = torch.zeros(B, dtype=torch.float64, device=dev)
    wsum = 0.0
    per = max(2, (plan.chunk_size // B) // 2 * 2)
    for a in range(0, total, per):
        b = min(total, a + per)
        Z, w = Z_all[a:b], w_all[a:b]
        Zr, r = _expand_rows(Z, B)
        v = game(plan, Zr, r).double().view(b - a, B).T  # (B, m)
        zf = Z.double()
        X = zf[:, :k] - zf[:, k:]  # (m, k)
        y = v - v0[:, None] - zf[:, k][None, :] * delta[:, None]  # (B, m)
        A += X.T @ (w[:, None] * X)
        c += (y * w) @ X
        yy += (y * y * w).sum(1)
        wsum += float(w.sum())
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
