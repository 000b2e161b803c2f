"""Multi-resolution tiles of an N x N affinity matrix that is never formed.

Level L shows the matrix in cells of ``2**L`` x ``2**L`` entries (rows in a given order); a tile is ``tile``
x ``tile`` cells. Each cell holds the mean of the affinities in its block:

* ``dot``, ``cosine``, ``pearson``: the affinity is an inner product of prepared rows, and the mean over a block
  I x J of ``<x_i, y_j>`` is ``<mean_I x, mean_J y>``: the block means of the rows give every level *exactly*
  (each level's row means come from the previous level's, weighted by block sizes);
* ``neg_sq_euclidean``: the mean of ``|x_i - y_j|^2`` over a block I x J is ``|m_I - m_J|^2 + v_I + v_J``, with
  ``m`` the block's mean row and ``v`` its mean squared distance to it (exact algebra, and free of the
  cancellation of ``mean|x|^2 + mean|y|^2 - 2 <m_I, m_J>``). Block means and ``v`` are kept in float64, ``v`` merged
  level by level by the parallel-variance rule ``v = (n1 v1 + n2 v2)/n + n1 n2/n^2 |m1 - m2|^2``, and
  ``|m_I - m_J|^2`` comes from :func:`fxwidgets.compute.distance.sq_distances` (near pairs recomputed exactly);
* ``rbf``: ``exp`` is not linear, no block summary is exact. A coarse cell is *estimated* by the mean of the
  kernel over ``samples x samples`` entries drawn uniformly from its block (seeded by level and tile), with a
  standard error from their spread; level 0 is exact.
"""

from __future__ import annotations

import math
import threading

import torch

from .affinity import AffinityPlan
from .distance import Points, sq_distances
from .validate import check_index

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
        self._means: dict[int, tuple] = {}
        if self.metric in ("neg_sq_euclidean", "rbf"):
            # Level 0: the rows prepared for exact distances (centred, scaled by plan.scale), in order.
            self._points0 = plan.left_points[self.order]
            x = self._points0.z
            self._means[0] = (self._points0, torch.zeros(self.n, dtype=torch.float64, device=x.device),
                              torch.ones(self.n, dtype=torch.float64, device=x.device))
        else:
            x = plan.left[self.order]
            self._means[0] = (x, None, torch.ones(self.n, dtype=x.dtype, device=x.device))

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
        prev_mean, prev_v, prev_count = self._level_means_unlocked(level - 1)
        if isinstance(prev_mean, Points):  # level 0 of a distance metric: the exact rows in float64
            prev_mean = prev_mean.z64()[0]
        m = prev_mean.shape[0]
        pairs = (m + 1) // 2
        if pairs * 2 - m:
            prev_mean = torch.cat([prev_mean, torch.zeros_like(prev_mean[:1])])
            prev_count = torch.cat([prev_count, torch.zeros_like(prev_count[:1])])
            if prev_v is not None:
                prev_v = torch.cat([prev_v, torch.zeros_like(prev_v[:1])])
        w = prev_count.reshape(pairs, 2)
        count = w.sum(1)
        halves = prev_mean.reshape(pairs, 2, -1)
        mean = (halves * w[:, :, None]).sum(1) / count[:, None]
        if prev_v is None:
            self._means[level] = (mean, None, count)
        else:  # parallel-variance merge of the two halves' spreads, with their means' distance as a difference
            gap = ((halves[:, 0] - halves[:, 1]) ** 2).sum(1)
            v = ((prev_v.reshape(pairs, 2) * w).sum(1) + w[:, 0] * w[:, 1] / count * gap) / count
            self._means[level] = (mean, v, count)
        return self._means[level]

    def _mean_points(self, level: int, lo: int, hi: int) -> tuple[Points, torch.Tensor]:
        """Cells ``lo:hi`` of ``level`` as exact-distance points (scaled units) and their spreads ``v``."""
        mean, v, _ = self._level_means(level)
        if isinstance(mean, Points):
            return mean[lo:hi], v[lo:hi]
        z = mean[lo:hi]
        return Points(z=z, sq=(z * z).sum(1), raw=z, centre=torch.zeros_like(z[0]), scale=1.0), v[lo:hi]

    def check(self, level, ti, tj) -> tuple[int, int, int]:
        level = check_index(level, "level", self.levels)
        n_tiles = math.ceil(self.cells(level) / self.tile)
        where = f" at level {level}"
        return level, check_index(ti, "ti", n_tiles, where=where), check_index(tj, "tj", n_tiles, where=where)

    def compute(self, level: int, ti: int, tj: int) -> dict:
        """Tile (ti, tj) of ``level``: ``values`` (h, w) float32 block means, plus ``se`` for estimated tiles."""
        level, ti, tj = self.check(level, ti, tj)
        cells = self.cells(level)
        r0, r1 = ti * self.tile, min(cells, (ti + 1) * self.tile)
        c0, c1 = tj * self.tile, min(cells, (tj + 1) * self.tile)
        out: dict = {"level": level, "ti": ti, "tj": tj, "block": 2**level}
        if self.metric in EXACT or level == 0:
            if self.metric in ("neg_sq_euclidean", "rbf"):
                a, va = self._mean_points(level, r0, r1)
                b, vb = self._mean_points(level, c0, c1)
                # mean over the block of |x_i - y_j|^2 = |m_I - m_J|^2 + v_I + v_J (v = 0 at level 0), scaled units
                d = sq_distances(a, b, diagonal_offset=(r0 - c0) if level == 0 else None)
                if level:
                    d = d + va[:, None] + vb[None, :]
                if self.metric == "neg_sq_euclidean":
                    v = d.to(torch.float64).mul_(-self.plan.scale**2)
                else:
                    v = torch.exp(-self.plan.gamma_scaled * d)
            else:
                mean, _, _ = self._level_means(level)
                v = mean[r0:r1] @ mean[c0:c1].T
                if self.metric in ("cosine", "pearson"):
                    v.clamp_(-1.0, 1.0)
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
            return (starts[:, None] + (u * sizes[:, None]).long()).reshape(-1).to(self._points0.z.device)

        ri, ci = pick(r0, r1), pick(c0, c1)
        d = sq_distances(self._points0[ri], self._points0[ci])  # a row drawn twice is at distance exactly 0
        k = torch.exp(-self.plan.gamma_scaled * d).reshape(r1 - r0, s, c1 - c0, s)
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
