"""The public calls: one per method, data first, parameters by keyword."""

from __future__ import annotations

from typing import Any

from .compute.affinity import AffinityAccumulator, iter_affinity_tiles, plan_affinity
from .results import AffinityResult, default_style
from .runtime import Job


def _affinity_view(job: Job, **kwargs: Any):
    from .widgets.heatmap import AffinityHeatmap

    plan = job.state.plan
    metric = plan.metric
    # The values do not exist yet: cosine of non-negative inputs (pixels, ReLU features) cannot go below 0.
    nonnegative = metric == "cosine" and bool((plan.left >= 0).all()) and bool((plan.right >= 0).all())
    style = default_style(metric, nonnegative=nonnegative)
    return AffinityHeatmap(job=job, **{**style, "value_label": metric, **kwargs})


def affinity(
    X: Any,
    Y: Any = None,
    metric: str = "cosine",
    *,
    bandwidth: float | None = None,
    chunk_size: int | None = None,
    stream: bool = False,
) -> AffinityResult | Job:
    """Pairwise affinity between the rows of ``X`` (and ``Y``), computed in row tiles.

    Parameters
    ----------
    X, Y:
        (n, d) and (m, d) tensors or arrays. ``Y=None`` compares ``X`` with itself. The result lives on
        X's device, in float64 if either input is float64, else float32.
    metric:
        ``"cosine"``, ``"dot"``, ``"rbf"`` (``exp(-|x-y|^2 / (2 bandwidth^2))``), ``"neg_sq_euclidean"``
        (``-|x-y|^2``) or ``"pearson"`` (correlation of each pair of rows).
    bandwidth:
        RBF length scale. Default: the median heuristic, ``sqrt(median |x-y|^2)`` over distinct pairs of
        up to 1024 sampled rows per side (seed 0); the value used is in ``result.params``.
    chunk_size:
        Rows per tile: the memory knob. Default: tiles of about 32 MiB.
    stream:
        ``False`` computes now and returns an :class:`AffinityResult`. ``True`` starts a background
        :class:`~fxwidgets.runtime.Job` and returns it at once: ``job.show()`` is a heatmap that fills in
        tile by tile (with a Cancel button), ``job.result()`` waits for the :class:`AffinityResult`.

    Every input problem (NaN, wrong shape, mismatched features or devices, unknown metric, a matrix over
    the memory budget) raises before any work starts.
    """
    plan = plan_affinity(X, Y, metric, bandwidth=bandwidth, chunk_size=chunk_size)
    accumulator = AffinityAccumulator(plan)
    if stream:
        return Job(iter_affinity_tiles(plan, out=accumulator.values), accumulator, name=f"{metric}-affinity", view_factory=_affinity_view,
                   params=plan.params)
    for tile in iter_affinity_tiles(plan, out=accumulator.values):
        accumulator.add(tile)
    return accumulator.result()
