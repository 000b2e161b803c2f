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
    total_flat, count_flat = total.view(B, -1), count.view(-1)
    masks = WindowMasks(tuple(x.shape[1:]), window, starts, x.device)
    # the occluded copies of every chunk are written into one buffer (the forward pass is done with a chunk
    # before the next overwrites it); rows are window-major, so the rows' input indices repeat 0..B-1
    buf = x.new_empty((min(per, W), *x.shape))
    index = torch.arange(B, device=x.device).repeat(min(per, W))
    for a in range(0, W, per):
        b = min(W, a + per)
        m = masks[a:b]  # (windows, *one input's shape)
        # window-major copies of the batch with each window at the baseline: one broadcast pass, no row gathers
        xs = torch.where(m[:, None], base, x, out=buf[:b - a])
        f = plan.forward(xs.view(-1, *x.shape[1:]), index[:(b - a) * B]).view(b - a, B)
        drop = (fx[None, :] - f).to(total.dtype)  # (windows, B)
        mf = m.view(b - a, -1).to(total.dtype)
        total_flat.addmm_(drop.T, mf)  # each window's drop added over the elements it covers
        count_flat.add_(mf.sum(0))
        # total is exactly 0 where no window has been yet, so dividing by count >= 1 leaves it 0 there
        attr = total / count.clamp_min(1)
        yield AttributionStep(attr, b / W, diagnostics={"windows_done": b, "windows": W})


class WindowMasks:
    """Boolean masks (n, *shape) of windows with the given corners (cut at the edges): one interval mask per
    dimension and window is kept, and a slice of windows is their outer product (no Python loop per window)."""

    def __init__(self, shape: tuple[int, ...], window: tuple[int, ...], starts: list[tuple[int, ...]],
                 device: torch.device) -> None:
        st = torch.tensor(starts, dtype=torch.long, device=device).view(len(starts), len(shape))
        self.per_dim = []
        for d, (size, w) in enumerate(zip(shape, window)):
            i = torch.arange(size, device=device)
            md = (i >= st[:, d:d + 1]) & (i < st[:, d:d + 1] + w)  # (n, size)
            self.per_dim.append(md.view(len(starts), *([1] * d), size, *([1] * (len(shape) - d - 1))))

    def __getitem__(self, window_slice: slice) -> torch.Tensor:
        mask = self.per_dim[0][window_slice]
        for md in self.per_dim[1:]:
            mask = mask & md[window_slice]
        return mask


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
