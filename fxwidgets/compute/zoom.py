"""Multi-resolution tiles of an N x N affinity matrix that is never formed.

Level L shows the matrix in cells of ``2**L`` x ``2**L`` entries (rows in a given order); a tile is ``tile``
x ``tile`` cells. Each cell holds the mean of the affinities in its block:

* ``dot``, ``cosine``, ``pearson``: the affinity is an inner product of prepared rows, and the mean over a block
  I x J of ``<x_i, y_j>`` is ``<mean_I x, mean_J y>``: the block means of the rows give every level *exactly*
  (each level's row means come from the previous level's, weighted by block sizes);
* ``neg_sq_euclidean``: ``-|x_i - y_j|^2 = -(|x_i|^2 + |y_j|^2 - 2 <x_i, y_j>)`` is linear in the same terms, so the
  block mean is ``-(mean_I |x|^2 + mean_J |y|^2 - 2 <mean_I x, mean_J y>)``: exact as well;
* ``rbf``: ``exp`` is not linear, no block summary is exact. A coarse cell is *estimated* by the mean of the
  kernel over ``samples x samples`` entries drawn uniformly from its block (seeded by level and tile), with a
  standard error from their spread; level 0 is exact.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from .affinity import AffinityPlan

EXACT = ("cosine", "dot", "pearson", "neg_sq_euclidean")


def n_levels(n: int, tile: int) -> int:
    """Levels 0..L-1, where level L-1 is the first whose cells fit the whole matrix in one tile."""
    level = 0
    while math.ceil(n / 2**level) > tile:
        level += 1
    return level + 1


class BlockPyramid:
    """Tiles of block means of the square affinity ``plan`` (rows and columns both in ``order``)."""

    def __init__(self, plan: AffinityPlan, order: torch.Tensor | None = None, *, tile: int = 256, samples: int = 4,
                 seed: int = 0) -> None:
        if not plan.symmetric:
            raise ValueError("the zoomable heatmap shows X against itself (Y=None)")
        self.plan = plan
        self.n = plan.shape[0]
        self.tile = int(tile)
        self.samples = int(samples)
        self.seed = int(seed)
        self.metric = plan.metric
        self.order = torch.arange(self.n, device=plan.device) if order is None else order.to(plan.device)
        self.levels = n_levels(self.n, self.tile)
        self._lock = threading.Lock()
        x = plan.left[self.order]
        self._means: dict[int, tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = {}
        sq = (x * x).sum(1) if self.metric in ("neg_sq_euclidean", "rbf") else None
        self._means[0] = (x, sq, torch.ones(self.n, dtype=x.dtype, device=x.device))
        self._x0 = x
        self._sq0 = sq

    @property
    def estimate(self) -> str:
        if self.metric in EXACT:
            return "exact: block mean = inner product of the blocks' mean rows"
        return (f"level 0 exact; coarser cells estimated by the mean of {self.samples}x{self.samples} entries "
                "sampled uniformly from each block (seeded), standard error reported per tile")

    def cells(self, level: int) -> int:
        return math.ceil(self.n / 2**level)

    def _level_means(self, level: int):
        with self._lock:
            return self._level_means_unlocked(level)

    def _level_means_unlocked(self, level: int):
        if level in self._means:
            return self._means[level]
        # Each level's means are the count-weighted means of pairs of the level below (called with the lock held).
        prev_mean, prev_sq, prev_count = self._level_means_unlocked(level - 1)
        m = prev_mean.shape[0]
        pairs = (m + 1) // 2
        if pairs * 2 - m:
            prev_mean = torch.cat([prev_mean, torch.zeros_like(prev_mean[:1])])
            prev_count = torch.cat([prev_count, torch.zeros_like(prev_count[:1])])
            if prev_sq is not None:
                prev_sq = torch.cat([prev_sq, torch.zeros_like(prev_sq[:1])])
        w = prev_count.reshape(pairs, 2)
        count = w.sum(1)
        mean = (prev_mean.reshape(pairs, 2, -1) * w[:, :, None]).sum(1) / count[:, None]
        sq = None if prev_sq is None else (prev_sq.reshape(pairs, 2) * w).sum(1) / count
        self._means[level] = (mean, sq, count)
        return self._means[level]

    def check(self, level, ti, tj) -> tuple[int, int, int]:
        for name, v in (("level", level), ("ti", ti), ("tj", tj)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {v!r}")
        if not 0 <= level < self.levels:
            raise ValueError(f"level must be in 0..{self.levels - 1}, got {level}")
        n_tiles = math.ceil(self.cells(level) / self.tile)
        for name, v in (("ti", ti), ("tj", tj)):
            if not 0 <= v < n_tiles:
                raise ValueError(f"{name} must be in 0..{n_tiles - 1} at level {level}, got {v}")
        return int(level), int(ti), int(tj)

    def compute(self, level: int, ti: int, tj: int) -> dict:
        """Tile (ti, tj) of ``level``: ``values`` (h, w) float32 block means, plus ``se`` for estimated tiles."""
        level, ti, tj = self.check(level, ti, tj)
        cells = self.cells(level)
        r0, r1 = ti * self.tile, min(cells, (ti + 1) * self.tile)
        c0, c1 = tj * self.tile, min(cells, (tj + 1) * self.tile)
        out: dict = {"level": level, "ti": ti, "tj": tj, "block": 2**level}
        if self.metric in EXACT or level == 0:
            mean, sq, _ = self._level_means(level)
            a, b = mean[r0:r1], mean[c0:c1]
            v = a @ b.T
            if self.metric in ("cosine", "pearson"):
                v.clamp_(-1.0, 1.0)
            elif self.metric in ("neg_sq_euclidean", "rbf"):
                d = (sq[r0:r1, None] + sq[None, c0:c1] - 2.0 * v).clamp_min_(0.0)
                if level == 0:
                    rows = torch.arange(r0, r1, device=d.device)
                    inside = (rows >= c0) & (rows < c1)
                    d[(rows - r0)[inside], (rows - c0)[inside]] = 0.0
                v = -d if self.metric == "neg_sq_euclidean" else torch.exp(-self.plan.params["gamma"] * d)
            out["values"] = v.to(torch.float32).cpu()
            out["exact"] = True
            return out
        # rbf at a coarse level: sampled block means
        b = 2**level
        s = self.samples
        gen = torch.Generator().manual_seed(hash((self.seed, level, ti, tj)) & 0x7FFFFFFF)

        def pick(c_lo: int, c_hi: int) -> torch.Tensor:
            starts = torch.arange(c_lo, c_hi) * b
            sizes = torch.clamp(torch.full_like(starts, b), max=self.n - starts)
            u = torch.rand(c_hi - c_lo, s, generator=gen)
            return (starts[:, None] + (u * sizes[:, None]).long()).reshape(-1).to(self._x0.device)

        ri, ci = pick(r0, r1), pick(c0, c1)
        xa, xb = self._x0[ri], self._x0[ci]
        d = (self._sq0[ri, None] + self._sq0[None, ci] - 2.0 * xa @ xb.T).clamp_min_(0.0)
        d[ri[:, None] == ci[None, :]] = 0.0
        k = torch.exp(-self.plan.params["gamma"] * d).reshape(r1 - r0, s, c1 - c0, s)
        mean = k.mean(dim=(1, 3))
        se = k.permute(0, 2, 1, 3).reshape(r1 - r0, c1 - c0, s * s).std(dim=2) / s
        out["values"] = mean.to(torch.float32).cpu()
        out["exact"] = False
        out["se"] = float(se.mean())
        return out

    def value(self, row: int, col: int) -> float:
        """The exact affinity of ordered rows ``row`` and ``col``."""
        tile = self.compute(0, row // self.tile, col // self.tile)["values"]
        return float(tile[row % self.tile, col % self.tile])
