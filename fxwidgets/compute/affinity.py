"""Pairwise affinity matrices computed in row tiles.

Every metric is a function of a row tile of X against all of Y, so the matrix is produced tile by tile:
memory for the work stays O(tile_rows x M) and each tile can be streamed to a view as soon as it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from .distance import Points, prepare_points, sq_distances
from .memory import TILE_BYTES, check_fits
from .product import product_nt
from .validate import as_matrix, check_choice, check_positive_float, check_positive_int

METRICS = ("cosine", "dot", "rbf", "neg_sq_euclidean", "pearson")

#: Rows sampled (per side) to estimate the median distance for the RBF bandwidth.
MEDIAN_SAMPLE = 1024


@dataclass
class AffinityTile:
    """Rows ``row_start:row_stop`` of the affinity matrix."""

    row_start: int
    row_stop: int
    values: torch.Tensor
    n_rows: int

    @property
    def progress(self) -> float:
        return self.row_stop / self.n_rows


@dataclass
class AffinityRecord:
    """A pairwise affinity matrix (``values[i, j]`` = affinity of row i of X with row j of Y) and its making."""

    values: torch.Tensor
    metric: str
    params: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.values.shape)

    @property
    def device(self) -> torch.device:
        return self.values.device


@dataclass
class AffinityPlan:
    """Validated inputs, prepared (normalised/centred) operands and the parameters that made them."""

    left: torch.Tensor
    right: torch.Tensor
    metric: str
    symmetric: bool
    chunk_size: int
    params: dict = field(default_factory=dict)
    #: rbf / neg_sq_euclidean: the rows centred and scaled for exact distances (``left``/``right`` are their
    #: ``z``); distances come out in units of ``scale**2`` (see :mod:`fxwidgets.compute.distance`).
    left_points: Points | None = None
    right_points: Points | None = None
    #: rbf: gamma for distances in those scaled units, ``gamma * scale**2``
    gamma_scaled: float | None = None

    @property
    def scale(self) -> float:
        return 1.0 if self.left_points is None else self.left_points.scale

    @property
    def shape(self) -> tuple[int, int]:
        return self.left.shape[0], self.right.shape[0]

    @property
    def device(self) -> torch.device:
        return self.left.device

    @property
    def dtype(self) -> torch.dtype:
        return self.left.dtype


def _max_abs_rows(x: torch.Tensor) -> torch.Tensor:
    """Each row divided by its largest absolute value (zero rows stay zero): norms of the result neither
    overflow (|x| ~ 1e19 in float32) nor underflow (|x| ~ 1e-25), and directions are unchanged."""
    top = x.abs().amax(dim=1, keepdim=True)
    return x / torch.where(top > 0, top, torch.ones_like(top))


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    # A zero row has no direction: its cosine with anything is defined as 0 (as scikit-learn does).
    x = _max_abs_rows(x)
    norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    return x / torch.where(norms > 0, norms, torch.ones_like(norms))


def _centred_unit_rows(x: torch.Tensor, name: str) -> torch.Tensor:
    x = _max_abs_rows(x)
    centred = x - x.mean(dim=1, keepdim=True)
    norms = torch.linalg.vector_norm(centred, dim=1)
    # Scale-relative: after the max-abs scaling a row's norm is between 1 and sqrt(d) unless it is all zeros.
    scale = torch.linalg.vector_norm(x, dim=1).clamp_min(torch.finfo(x.dtype).tiny)
    constant = norms <= scale * torch.finfo(x.dtype).eps * x.shape[1]
    if bool(constant.any()):
        i = int(constant.nonzero()[0])
        raise ValueError(f"{name} row {i} is constant; its Pearson correlation with anything is undefined")
    return centred / norms[:, None]


def median_sq_distance(x: torch.Tensor, y: torch.Tensor | None = None, *, sample: int = MEDIAN_SAMPLE, seed: int = 0) -> float:
    """Median squared Euclidean distance between distinct pairs, on at most ``sample`` rows per side."""
    px, py = prepare_points(x, y)
    return _median_sq_scaled(px, py, sample=sample, seed=seed) * px.scale**2


def _median_sq_scaled(px: Points, py: Points | None, *, sample: int = MEDIAN_SAMPLE, seed: int = 0) -> float:
    """:func:`median_sq_distance` of prepared rows, in their scaled units (exact distances, see ``distance``)."""
    gen = torch.Generator().manual_seed(seed)

    def pick(p: Points) -> Points:
        if p.n <= sample:
            return p
        idx = torch.randperm(p.n, generator=gen)[:sample].to(p.z.device)
        return p[idx]

    a = pick(px)
    if py is None:
        d = sq_distances(a, a, diagonal_offset=0)
        iu = torch.triu_indices(a.n, a.n, offset=1, device=a.z.device)
        values = d[iu[0], iu[1]]
        if values.numel() == 0:  # a single row: no pairs
            return 0.0
    else:
        values = sq_distances(a, pick(py)).flatten()
    med = float(values.median())
    if med > 0:
        return med
    positive = values[values > 0]
    return float(positive.mean()) if positive.numel() else 0.0


def plan_affinity(
    X,
    Y=None,
    metric: str = "cosine",
    *,
    bandwidth: float | None = None,
    chunk_size: int | None = None,
) -> AffinityPlan:
    """Validate everything and prepare the operands; raises before any N x M work starts."""
    metric = check_choice(metric, "metric", METRICS)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    bandwidth = check_positive_float(bandwidth, "bandwidth")
    x = as_matrix(X, "X")
    y = None if Y is None else as_matrix(Y, "Y", device=x.device)
    if y is not None and x.shape[1] != y.shape[1]:
        raise ValueError(f"X has {x.shape[1]} features per row but Y has {y.shape[1]}; they must match")
    if bandwidth is not None and metric != "rbf":
        raise ValueError(f"bandwidth only applies to metric='rbf', not {metric!r}")
    n, m = x.shape[0], (x if y is None else y).shape[0]
    itemsize = torch.promote_types(x.dtype, x.dtype if y is None else y.dtype).itemsize
    check_fits(n * m * itemsize, f"the {n} x {m} {metric} affinity matrix", x.device)
    return prepare_operands(x, y, metric, bandwidth=bandwidth, chunk_size=chunk_size)


def prepare_operands(x: torch.Tensor, y: torch.Tensor | None, metric: str, *, bandwidth: float | None,
                     chunk_size: int | None) -> AffinityPlan:
    """The plan for operands already validated by :func:`as_matrix`, without the dense-matrix memory check.

    Computations that never form the N x M matrix (k-NN, zoom tiles, dense correspondence) start here, so
    every one of them computes exactly the metrics of :func:`plan_affinity`.
    """
    symmetric = y is None
    y = x if symmetric else y
    if x.dtype != y.dtype:  # compute in the wider of the two
        dtype = torch.promote_types(x.dtype, y.dtype)
        x, y = x.to(dtype), y.to(dtype)
    if bandwidth is not None and metric != "rbf":
        raise ValueError(f"bandwidth only applies to metric='rbf', not {metric!r}")
    n, m = x.shape[0], y.shape[0]
    itemsize = x.element_size()
    if chunk_size is None:
        # The tile, plus one temporary of the same size for the distance-based metrics.
        chunk_size = max(1, min(n, TILE_BYTES // max(1, 2 * m * itemsize)))

    params: dict = {"metric": metric, "shape": [n, m], "dtype": str(x.dtype).replace("torch.", ""),
                    "device": str(x.device), "chunk_size": chunk_size}
    plan = AffinityPlan(left=x, right=y, metric=metric, symmetric=symmetric, chunk_size=chunk_size, params=params)
    if metric == "cosine":
        plan.left = _unit_rows(x)
        plan.right = plan.left if symmetric else _unit_rows(y)
    elif metric == "pearson":
        plan.left = _centred_unit_rows(x, "X")
        plan.right = plan.left if symmetric else _centred_unit_rows(y, "Y")
    elif metric in ("rbf", "neg_sq_euclidean"):
        px, py = prepare_points(x, None if symmetric else y)
        plan.left_points = px
        plan.right_points = px if symmetric else py
        plan.left, plan.right = px.z, plan.right_points.z
        params["distances"] = ("exact: differences" if px.direct else
                               "exact: centred product, entries that may cancel recomputed from differences")
        if metric == "rbf":
            scale2 = px.scale**2
            if bandwidth is None:
                med = _median_sq_scaled(px, py)
                bandwidth = (med * scale2) ** 0.5 if med > 0 else 1.0
                params["bandwidth_rule"] = "median heuristic: sqrt(median squared distance between distinct pairs)"
            else:
                params["bandwidth_rule"] = "given"
            params["bandwidth"] = float(bandwidth)
            params["gamma"] = 1.0 / (2.0 * float(bandwidth) ** 2)
            # gamma in the scaled units the tiles are computed in: exp(-gamma d) = exp(-(gamma scale^2) d_scaled)
            plan.gamma_scaled = scale2 / (2.0 * float(bandwidth) ** 2)
    return plan


def affinity_tile(plan: AffinityPlan, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rows ``start:stop`` of the affinity matrix described by ``plan`` (written into ``out`` if given)."""
    a = plan.left[start:stop]
    if plan.metric in ("cosine", "pearson", "dot"):
        tile = product_nt(a, plan.right, out=out)
        if plan.metric != "dot":
            tile.clamp_(-1.0, 1.0)  # rounding can step just outside [-1, 1]
        return tile
    rows = plan.left_points[start:stop]
    # The product path writes straight into ``out``; the difference path (few features) has its own buffer, and
    # the conversion below is what lands in ``out``.
    d = distance_tile(plan, start, stop, out=None if rows.direct else out)
    return distances_to_affinity(plan, d, out=out)


def distance_tile(plan: AffinityPlan, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """rbf / neg_sq_euclidean: exact squared distances of rows ``start:stop`` in the plan's units (the data divided
    by ``plan.scale``). A point is at distance exactly 0 from itself and from any copy of itself. Ranking on
    these (smallest first) is ranking on the affinity, with no overflow or underflow at 1e19 or 1e-25 and no
    ``exp`` of a whole tile: a top-k converts only what it keeps (:func:`distances_to_affinity`)."""
    return sq_distances(plan.left_points[start:stop], plan.right_points,
                        diagonal_offset=start if plan.symmetric else None, out=out)


def distances_to_affinity(plan: AffinityPlan, d: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """Squared distances in plan units -> the affinity, in place (or into ``out``): ``-d scale^2`` (a power of two:
    exact; +-inf or 0 when the true distance leaves the dtype's range, the correctly rounded result) or
    ``exp(-gamma scale^2 d)``."""
    factor = -(plan.scale**2) if plan.metric == "neg_sq_euclidean" else -plan.gamma_scaled
    v = d.mul_(factor) if out is None or d.data_ptr() == out.data_ptr() else torch.mul(d, factor, out=out)
    return v.exp_() if plan.metric == "rbf" else v


def iter_affinity_tiles(plan: AffinityPlan, out: torch.Tensor | None = None) -> Iterator[AffinityTile]:
    """The affinity matrix as a generator of row tiles, in order.

    With ``out`` (the preallocated n x m matrix) each tile is computed in place and yielded as a view of
    it, which saves copying the whole matrix once.
    """
    n = plan.shape[0]
    for start in range(0, n, plan.chunk_size):
        stop = min(n, start + plan.chunk_size)
        dest = None if out is None else out[start:stop]
        yield AffinityTile(start, stop, affinity_tile(plan, start, stop, dest), n)


class AffinityAccumulator:
    """Writes tiles into the preallocated matrix; ``rows_done`` says how far it is filled."""

    def __init__(self, plan: AffinityPlan) -> None:
        self.plan = plan
        self.values = torch.empty(plan.shape, dtype=plan.dtype, device=plan.device)
        self.rows_done = 0

    def add(self, tile: AffinityTile) -> None:
        dest = self.values[tile.row_start : tile.row_stop]
        if tile.values.data_ptr() != dest.data_ptr():  # computed elsewhere, not in place
            dest.copy_(tile.values)
        self.rows_done = max(self.rows_done, tile.row_stop)

    def result(self) -> AffinityRecord:
        if self.rows_done < self.plan.shape[0]:
            raise RuntimeError(f"affinity matrix is incomplete: {self.rows_done} of {self.plan.shape[0]} rows")
        return AffinityRecord(values=self.values, metric=self.plan.metric, params=dict(self.plan.params))
