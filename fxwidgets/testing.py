"""Jobs with controllable pace and failures, for tests, demos of Cancel, and the browser tests."""

from __future__ import annotations

import time
from typing import Iterator

import torch

from .compute.affinity import AffinityAccumulator, AffinityTile, iter_affinity_tiles, plan_affinity
from .results.affinity import AffinityResult
from .runtime import Job
from .widgets.affinity_heatmap import AffinityHeatmap


def paced(tiles: Iterator[AffinityTile], delay: float, fail_at: int | None) -> Iterator[AffinityTile]:
    for i, tile in enumerate(tiles):
        if fail_at is not None and i == fail_at:
            raise RuntimeError(f"deliberate failure at tile {i}")
        time.sleep(delay)
        yield tile


def slow_affinity_job(n: int = 512, delay: float = 0.05, *, metric: str = "rbf", chunk_size: int = 16,
                      fail_at: int | None = None, seed: int = 0, start: bool = True) -> Job:
    """An affinity job over ``n`` random points that sleeps ``delay`` s per tile (and fails at ``fail_at``)."""
    X = torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))
    plan = plan_affinity(X, metric=metric, chunk_size=chunk_size)
    return Job(paced(iter_affinity_tiles(plan), delay, fail_at), AffinityAccumulator(plan),
               finish=AffinityResult.from_record, name=f"slow-{metric}-affinity",
               view_factory=AffinityHeatmap.from_job, params=plan.params, start=start)
