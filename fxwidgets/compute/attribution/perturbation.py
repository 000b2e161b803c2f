"""Perturbation methods: occlusion (a sliding window replaced by a baseline) and feature ablation (each group of
a feature mask replaced by the baseline). Attribution = f(x) - f(x with the part replaced).

Occlusion follows Zeiler & Fergus and Captum's convention: an element's attribution is the mean output drop
over the windows that cover it. The windows start every ``strides`` step and the last one in each dimension
is cut at the edge, so every element is covered.
"""

from __future__ import annotations

import functools
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
    masks = _window_masks(tuple(x.shape[1:]), window, strides, x.device, plan.dtype)
    W = masks.n
    # floating inputs: x + m (base - x) by lerp, exact for a 0/1 mask (lerp computes base - (base - x)(1 - m) where
    # m >= 0.5) and four times faster than a select on a broadcast boolean mask; token ids: a select
    blend = x.is_floating_point() and x.dtype == plan.dtype
    fx = plan.output
    per = max(1, plan.chunk_size // B)
    D = x[0].numel()
    # rows 0..B-1: the running sum of each row's output drops over the windows covering an element; row B: how
    # many windows cover it. Both are folded by one matrix product per chunk (a row of ones appended to the drops).
    sums = torch.zeros((B + 1, D), dtype=plan.dtype, device=x.device)
    total, count = sums[:B].view(x.shape), sums[B].view(x.shape[1:])
    # the occluded copies of every chunk are written into one buffer (the forward pass is done with a chunk
    # before the next overwrites it); rows are window-major, so the rows' input indices repeat 0..B-1
    buf = x.new_empty((min(per, W), *x.shape))
    index = torch.arange(B, device=x.device).repeat(min(per, W))
    drops = torch.ones((min(per, W), B + 1), dtype=plan.dtype, device=x.device)
    for a in range(0, W, per):
        b = min(W, a + per)
        m = masks[a:b]  # (windows, *one input's shape), 1 inside the window, 0 elsewhere
        # window-major copies of the batch with each window at the baseline: one broadcast pass, no row gathers
        if blend:
            xs = torch.lerp(x, base, m[:, None], out=buf[:b - a])
        else:
            xs = torch.where(m[:, None] > 0, base, x, out=buf[:b - a])
        f = plan.forward(xs.view(-1, *x.shape[1:]), index[:(b - a) * B]).view(b - a, B)
        drops[:b - a, :B] = fx[None, :] - f  # (windows, B): each window's output drop per row
        sums.addmm_(drops[:b - a].T, m.view(b - a, -1))  # drops (and counts) over the covered elements
        # total is exactly 0 where no window has been yet, so dividing by count >= 1 leaves it 0 there
        attr = total / count.clamp_min(1)
        yield AttributionStep(attr, b / W, diagnostics={"windows_done": b, "windows": W})


@functools.lru_cache(maxsize=16)
def _window_masks(shape: tuple[int, ...], window: tuple[int, ...], strides: tuple[int, ...],
                  device: torch.device, dtype: torch.dtype) -> WindowMasks:
    """The window masks of one geometry, built once (their setup is a few percent of a small attribution);
    read only."""
    return WindowMasks(shape, window, window_starts(shape, window, strides), device, dtype)


class WindowMasks:
    """0/1 masks (n, *shape) of windows with the given corners (cut at the edges), in ``dtype``: one interval
    mask per dimension and window is kept, and a slice of windows is their outer product (no Python loop per
    window; a floating product is several times faster than a boolean one)."""

    def __init__(self, shape: tuple[int, ...], window: tuple[int, ...], starts: list[tuple[int, ...]],
                 device: torch.device, dtype: torch.dtype = torch.bool) -> None:
        self.n = len(starts)
        st = torch.tensor(starts, dtype=torch.long, device=device).view(len(starts), len(shape))
        self.per_dim = []
        for d, (size, w) in enumerate(zip(shape, window)):
            i = torch.arange(size, device=device)
            md = (i >= st[:, d:d + 1]) & (i < st[:, d:d + 1] + w)  # (n, size)
            self.per_dim.append(md.to(dtype).view(len(starts), *([1] * d), size, *([1] * (len(shape) - d - 1))))

    def __getitem__(self, window_slice: slice) -> torch.Tensor:
        mask = self.per_dim[0][window_slice]
        for md in self.per_dim[1:]:
            mask = mask * md[window_slice]
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
