"""Perturbation methods: occlusion (a sliding window replaced by a baseline) and feature ablation (each group of
a feature mask replaced by the baseline). Attribution = f(x) - f(x with the part replaced).

Occlusion follows Zeiler & Fergus and Captum's convention: an element's attribution is the mean output drop
over the windows that cover it. The windows start every ``strides`` step and the last one in each dimension
is cut at the edge, so every element is covered.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch

from .core import AttributionPlan, AttributionStep


def window_starts(shape: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Window corners: every stride step, the last window cut at the edge so the whole input is covered."""
    counts = [1 + -(-(s - w) // st) for s, w, st in zip(shape, window, strides)]
    return [tuple(i * st for i, st in zip(idx, strides)) for idx in itertools.product(*(range(c) for c in counts))]


def occlusion(plan: AttributionPlan) -> Iterator[AttributionStep]:
    x, base = plan.attributed, plan.extra["baseline"]
    B = plan.batch
    window, strides = plan.params["sliding_window"], plan.params["strides"]
    starts = window_starts(tuple(x.shape[1:]), window, strides)
    W = len(starts)
    total = torch.zeros(x.shape, dtype=plan.dtype, device=x.device)
    count = torch.zeros(x.shape[1:], dtype=plan.dtype, device=x.device)
    fx = plan.output
    per = max(1, plan.chunk_size // B)
    for a in range(0, W, per):
        b = min(W, a + per)
        masks = torch.zeros((b - a, *x.shape[1:]), dtype=torch.bool, device=x.device)
        for j, st in enumerate(starts[a:b]):
            masks[(j, *(slice(s, s + w) for s, w in zip(st, window)))] = True
        m = masks.repeat_interleave(B, 0)
        r = torch.arange(B, device=x.device).repeat(b - a)
        xs = torch.where(m, base[r], x[r])
        f = plan.forward(xs, r).view(b - a, B)
        drop = fx[None, :] - f  # (windows, B)
        for j, st in enumerate(starts[a:b]):  # add each window's drop over the elements it covers
            sl = tuple(slice(s, s + w) for s, w in zip(st, window))
            total[(slice(None), *sl)] += drop[j].view(-1, *([1] * len(window)))
            count[sl] += 1
        attr = torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))
        yield AttributionStep(attr, b / W, diagnostics={"windows_done": b, "windows": W})


def feature_ablation(plan: AttributionPlan) -> Iterator[AttributionStep]:
    x = plan.attributed
    B, n = plan.batch, plan.extra["n_features"]
    groups = plan.extra["groups"]  # (B, D)
    xf, bf = plan.extra["x_flat"], plan.extra["base_flat"]
    feats = torch.zeros((B, n), dtype=plan.dtype, device=x.device)
    per = max(1, plan.chunk_size // B)
    for a in range(0, n, per):
        b = min(n, a + per)
        g = torch.arange(a, b, device=x.device).repeat_interleave(B)
        r = torch.arange(B, device=x.device).repeat(b - a)
        off = groups[r] == g[:, None]
        xs = torch.where(off, bf[r], xf[r]).view(-1, *x.shape[1:])
        f = plan.forward(xs, r).view(b - a, B)
        feats[:, a:b] = (plan.output[None, :] - f).T
        yield AttributionStep(feats.gather(1, groups).view(x.shape), b / n, features=feats.clone(),
                              diagnostics={"features_done": b, "features": n})
