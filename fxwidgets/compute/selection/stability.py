"""Ranking stability over bootstrap resamples and the held-out accuracy probe, both as generators."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def kuncheva(a: set, b: set, d: int) -> float:
    """Kuncheva (2007) consistency of two subsets of size k out of d: (r d - k^2) / (k (d - k)), r = |a & b|."""
    k = len(a)
    if len(b) != k:
        raise ValueError("Kuncheva's index compares subsets of equal size")
    if k == 0 or k == d:
        return float("nan")  # undefined: every subset of that size is the same
    return (len(a & b) * d - k * k) / (k * (d - k))


def jaccard(a: set, b: set) -> float:
    u = len(a | b)
    return len(a & b) / u if u else 1.0


def topk_stability(rankings: torch.Tensor, ks: list[int]) -> dict:
    """Mean pairwise Kuncheva and Jaccard of the top-k sets over B rankings (B x d), with standard errors
    (over the B(B-1)/2 pairs, treated as independent: a lower bound). Vectorised through membership masks."""
    B, d = rankings.shape
    pos = torch.empty_like(rankings)
    pos.scatter_(1, rankings, torch.arange(d, device=rankings.device).expand(B, d))
    iu = torch.triu_indices(B, B, 1)
    out = {"k": [], "kuncheva": [], "kuncheva_se": [], "jaccard": [], "jaccard_se": []}
    for k in ks:
        m = (pos < k).double()
        inter = (m @ m.T)[iu[0], iu[1]]
        union = 2 * k - inter
        jac = inter / union
        kun = (inter * d - k * k) / (k * (d - k)) if 0 < k < d else torch.full_like(inter, float("nan"))
        npairs = inter.numel()
        se = lambda v: float(v.std(unbiased=True) / math.sqrt(npairs)) if npairs > 1 else float("nan")  # noqa: E731
        out["k"].append(k)
        out["kuncheva"].append(float(kun.mean()))
        out["kuncheva_se"].append(se(kun))
        out["jaccard"].append(float(jac.mean()))
        out["jaccard_se"].append(se(jac))
    return out


@dataclass
class ProbePoint:
    k: int
    score: float
    progress: float


def split_indices(n: int, test_fraction: float, seed: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    n_test = max(1, int(round(n * test_fraction)))
    return perm[n_test:].to(device), perm[:n_test].to(device)


def probe_score(xtr, ttr, xte, tte, classification: bool, n_classes: int, ridge: float = 1e-3) -> float:
    """Held-out accuracy (classes: a one-vs-rest ridge probe on standardised features, argmax) or R^2
    (regression: ridge). Closed form, so each k costs one small solve on the data's device."""
    mu, sd = xtr.mean(0), xtr.std(0, unbiased=False)
    sd = torch.where(sd > 0, sd, torch.ones_like(sd))
    a, b = (xtr - mu) / sd, (xte - mu) / sd
    ones_a = torch.ones(a.shape[0], 1, dtype=a.dtype, device=a.device)
    ones_b = torch.ones(b.shape[0], 1, dtype=a.dtype, device=a.device)
    a, b = torch.cat([ones_a, a], 1), torch.cat([ones_b, b], 1)
    target = torch.nn.functional.one_hot(ttr, n_classes).to(a.dtype) if classification else ttr[:, None]
    reg = ridge * a.shape[0] * torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    reg[0, 0] = 0
    coef = torch.linalg.solve(a.T @ a + reg, a.T @ target)
    pred = b @ coef
    if classification:
        return float((pred.argmax(1) == tte).double().mean())
    resid = ((pred[:, 0] - tte) ** 2).sum()
    total = ((tte - tte.mean()) ** 2).sum()
    return float(1 - resid / total) if float(total) > 0 else float("nan")


def iter_probe_curve(x: torch.Tensor, t: torch.Tensor, ranking: torch.Tensor, ks: list[int], classification: bool,
                     n_classes: int, test_fraction: float = 0.25, seed: int = 0):
    """Held-out score of the probe on the top-k features, one k at a time (a generator of ProbePoint)."""
    tr, te = split_indices(x.shape[0], test_fraction, seed, x.device)
    for i, k in enumerate(ks):
        cols = ranking[:k].to(x.device)
        s = probe_score(x[tr][:, cols], t[tr], x[te][:, cols], t[te], classification, n_classes)
        yield ProbePoint(k=k, score=s, progress=(i + 1) / len(ks))


def default_ks(d: int, max_points: int = 40) -> list[int]:
    """1..d when d is small, else about ``max_points`` values spaced geometrically (all distinct)."""
    if d <= max_points:
        return list(range(1, d + 1))
    ks = np.unique(np.round(np.geomspace(1, d, max_points)).astype(int))
    return [int(k) for k in ks]


def spearman_agreement(rankings: dict[str, torch.Tensor]) -> np.ndarray:
    """Spearman correlation between the rank positions that each pair of methods gives the features."""
    names = list(rankings)
    d = int(next(iter(rankings.values())).numel())
    pos = np.empty((len(names), d))
    for i, m in enumerate(names):
        p = np.empty(d)
        p[rankings[m].cpu().numpy()] = np.arange(d)
        pos[i] = p
    if d < 2 or len(names) < 2:
        return np.ones((len(names), len(names)))
    return np.atleast_2d(np.corrcoef(pos))
