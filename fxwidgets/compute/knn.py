"""k nearest neighbours without the N x M matrix: row tiles of the affinity, each cut to its top k.

The metrics are those of :mod:`fxwidgets.compute.affinity` (the same prepared operands and the same
``affinity_tile``), so a k-NN list is the top k of a row of ``fx.affinity(X, Y, metric)``. Only one tile of
``chunk_size x M`` affinities exists at a time: memory is O(N k + chunk_size M).

One exception to "the same ``affinity_tile``": float32 product metrics (cosine, dot, pearson) on the CPU take their
tile from oneDNN (:func:`product_tile`), the same products in float32 with another kernel's summation order
(agreement within float32 rounding, tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from .validate import as_matrix, check_bool, check_choice, check_positive_float, check_positive_int
from .affinity import METRICS, AffinityPlan, affinity_tile, distance_tile, distances_to_affinity, prepare_operands
from .product import onednn_usable


# The affinity module's preparation without its dense-matrix memory check: a k-NN search never forms it.
prepare = prepare_operands


@dataclass
class KnnPlan:
    affinity: AffinityPlan
    k: int
    exclude_self: bool
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.affinity.shape[0]


@dataclass
class KnnTile:
    row_start: int
    row_stop: int
    indices: torch.Tensor
    values: torch.Tensor
    n_rows: int

    @property
    def progress(self) -> float:
        return self.row_stop / self.n_rows


def plan_knn(X, Y=None, k: int = 10, metric: str = "cosine", *, exclude_self: bool | None = None,
             bandwidth: float | None = None, chunk_size: int | None = None) -> KnnPlan:
    """Validate everything and prepare the operands; raises before any search starts."""
    metric = check_choice(metric, "metric", METRICS)
    k = check_positive_int(k, "k", allow_none=False)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    bandwidth = check_positive_float(bandwidth, "bandwidth")
    if bandwidth is not None and metric != "rbf":
        raise ValueError(f"bandwidth only applies to metric='rbf', not {metric!r}")
    x = as_matrix(X, "X")
    y = None if Y is None else as_matrix(Y, "Y", device=x.device)
    if y is not None and x.shape[1] != y.shape[1]:
        raise ValueError(f"X has {x.shape[1]} features per row but Y has {y.shape[1]}; they must match")
    if exclude_self is None:
        exclude_self = y is None
    exclude_self = check_bool(exclude_self, "exclude_self")
    if exclude_self and y is not None:
        raise ValueError("exclude_self=True needs Y=None (a row can only be its own neighbour within X)")
    m = x.shape[0] if y is None else y.shape[0]
    available = m - (1 if exclude_self else 0)
    if k > available:
        raise ValueError(f"k={k} but each row has only {available} candidate neighbour(s)"
                         + (" (itself excluded)" if exclude_self else ""))
    plan = prepare(x, y, metric, bandwidth=bandwidth, chunk_size=chunk_size)
    params = dict(plan.params)
    params.update({"k": k, "exclude_self": bool(exclude_self),
                   "memory": "O(n k + chunk_size m): one chunk_size x m tile of affinities at a time"})
    return KnnPlan(affinity=plan, k=k, exclude_self=bool(exclude_self), params=params)


#: Columns per group of :func:`row_top_k`'s pre-selection: 16 made the selection about 3x cheaper than a
#: ``torch.topk`` over whole rows of 20 000 (one thread); larger groups make the candidate set grow faster than
#: the group extremes shrink.
TOP_K_GROUP = 16


def row_top_k(tile: torch.Tensor, k: int, *, largest: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk(tile, k, dim=1, sorted=True)`` (values, column indices), found in two cheap passes.

    The columns are split into groups of ``g`` (column ``c`` of the first ``w * g`` lies in group ``c mod w``, so
    the extreme of every group is one elementwise max over ``g`` contiguous slices). Each of a row's k best
    entries is at least its k-th best value v, so its group's extreme is too, and at most k groups have an
    extreme beyond v: the k groups with the best extremes hold the k best entries. ``topk`` then runs on the
    ``w`` group extremes and on the ``k g`` (+ the < g leftover columns) candidates instead of on all m
    columns. The values are exactly those of ``torch.topk`` on the whole row; where several entries tie with
    the k-th value, which of the tied columns is returned may differ.
    """
    r, m = tile.shape
    g = TOP_K_GROUP
    w = m // g
    if w <= k:  # too few groups to gain anything
        return torch.topk(tile, k, dim=1, largest=largest, sorted=True)
    m0 = w * g
    groups = tile[:, :m0].unflatten(1, (g, w))  # [i, j, c] = tile[i, j * w + c]
    extremes = groups.amax(dim=1) if largest else groups.amin(dim=1)
    best_groups = torch.topk(extremes, k, dim=1, largest=largest, sorted=False).indices  # (r, k)
    # Candidates in column order, so that ties among them are broken as a topk over the whole row would: with the
    # k groups in increasing order, column j w + c (j < g, c < w) runs through j first, so sorting the k groups
    # sorts all g k candidates (a sort of k per row instead of g k; it was 2.4 % of the search).
    best_groups = best_groups.sort(dim=1).values
    offsets = torch.arange(0, m0, w, device=tile.device)
    cols = (best_groups[:, None, :] + offsets[None, :, None]).reshape(r, g * k)
    if m0 < m:  # the leftover columns come after every group's
        cols = torch.cat([cols, torch.arange(m0, m, device=tile.device).expand(r, m - m0)], dim=1)
    values, pos = torch.topk(tile.gather(1, cols), k, dim=1, largest=largest, sorted=True)
    return values, cols.gather(1, pos)


def product_tile(plan: AffinityPlan, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rows ``start:stop`` of a product metric's affinity (cosine, dot, pearson). Where the product goes through
    oneDNN (:func:`~fxwidgets.compute.product.onednn_usable`) it comes as a new tile, so the tile is used as it is
    rather than copied into the scratch ``out``."""
    direct = onednn_usable(plan.left, plan.right)
    return affinity_tile(plan, start, stop, out=None if direct else out)


def knn_tile(plan: KnnPlan, start: int, stop: int, out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k neighbours (largest affinity first) of rows ``start:stop``; ``out``: scratch of at least that many rows
    x m for the tile of affinities or distances (reused from tile to tile: no allocation per tile)."""
    aff = plan.affinity
    n_rows = stop - start
    if out is not None:
        out = out[:n_rows]
    if aff.metric in ("rbf", "neg_sq_euclidean"):
        # Ranked on exact distances of the rescaled data (smallest first: the largest affinity); only the k kept
        # per row are converted to affinities.
        d = distance_tile(aff, start, stop, out=out)
        if plan.exclude_self:
            d.diagonal(offset=start).fill_(torch.inf)
        dist, indices = row_top_k(d, plan.k, largest=False)
        return indices, distances_to_affinity(aff, dist)
    tile = product_tile(aff, start, stop, out=out)
    if plan.exclude_self:
        tile.diagonal(offset=start).fill_(-torch.inf)
    values, indices = row_top_k(tile, plan.k, largest=True)
    return indices, values


def iter_knn(plan: KnnPlan) -> Iterator[KnnTile]:
    n = plan.n
    step = plan.affinity.chunk_size
    a = plan.affinity
    # the product metrics on oneDNN return a new tile each: no scratch for them
    onednn = a.metric in ("cosine", "dot", "pearson") and onednn_usable(a.left, a.right)
    scratch = None if onednn else torch.empty((min(n, step), a.shape[1]), dtype=a.dtype, device=a.device)
    for start in range(0, n, step):
        stop = min(n, start + step)
        idx, val = knn_tile(plan, start, stop, out=scratch)
        yield KnnTile(start, stop, idx, val, n)


class KnnAccumulator:
    def __init__(self, plan: KnnPlan) -> None:
        self.plan = plan
        a = plan.affinity
        self.indices = torch.empty((plan.n, plan.k), dtype=torch.int64, device=a.device)
        self.values = torch.empty((plan.n, plan.k), dtype=a.dtype, device=a.device)
        self.rows_done = 0

    def add(self, tile: KnnTile) -> None:
        self.indices[tile.row_start:tile.row_stop] = tile.indices
        self.values[tile.row_start:tile.row_stop] = tile.values
        self.rows_done = max(self.rows_done, tile.row_stop)

    def result(self) -> KnnRecord:
        if self.rows_done < self.plan.n:
            raise RuntimeError(f"k-NN is incomplete: {self.rows_done} of {self.plan.n} rows")
        return KnnRecord(indices=self.indices, values=self.values, metric=self.plan.affinity.metric,
                         n_cols=self.plan.affinity.shape[1], params=dict(self.plan.params))


@dataclass
class KnnRecord:
    """``indices[i]`` are the k rows of Y (or X) with the largest affinity to row i, best first; ``values[i]``
    their affinities."""

    indices: torch.Tensor
    values: torch.Tensor
    metric: str
    n_cols: int
    params: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    @property
    def n(self) -> int:
        return self.indices.shape[0]

    @property
    def device(self) -> torch.device:
        return self.indices.device


def knn_search(X, k: int = 10, metric: str = "cosine", *, Y=None, exclude_self: bool | None = None,
               bandwidth: float | None = None, chunk_size: int | None = None) -> KnnRecord:
    """The k best neighbours of every row of ``X`` among the rows of ``Y`` (default ``X``, itself excluded), drained
    on this thread; the parameters are ``fx.knn``'s. Memory O(n k + chunk_size m)."""
    plan = plan_knn(X, Y, k, metric, exclude_self=exclude_self, bandwidth=bandwidth, chunk_size=chunk_size)
    acc = KnnAccumulator(plan)
    for tile in iter_knn(plan):
        acc.add(tile)
    return acc.result()


def knn_softmax(result: KnnRecord, temperature: float = 1.0) -> torch.Tensor:
    temperature = check_positive_float(temperature, "temperature", allow_none=False)
    return torch.softmax(result.values / temperature, dim=1)


def _check_square(result: KnnRecord, what: str) -> None:
    if result.n_cols != result.n:
        raise ValueError(f"{what} needs a k-NN of X with itself (Y=None); this one is {result.n} x {result.n_cols}")


def mutual_mask(result: KnnRecord) -> torch.Tensor:
    _check_square(result, "mutual neighbours")
    n, k = result.indices.shape
    rows = torch.arange(n, device=result.device)[:, None].expand(n, k)
    back = result.indices[result.indices]  # (n, k, k): the neighbours of each neighbour
    return (back == rows[:, :, None]).any(dim=2)


def mutual_nn(X, Y=None, k: int = 1, metric: str = "cosine", *, chunk_size: int | None = None) -> torch.Tensor:
    """Mutual k-nearest-neighbour pairs ``(i, j)`` as a (P, 2) int64 tensor: j is among the k best of X[i] in Y
    and i among the k best of Y[j] in X. With ``Y=None``: pairs within X (i != j), each listed once (i < j)."""
    if Y is None:
        r = knn_search(X, k, metric, chunk_size=chunk_size)
        keep = mutual_mask(r)
        rows = torch.arange(r.n, device=r.device)[:, None].expand_as(r.indices)
        pairs = torch.stack([rows[keep], r.indices[keep]], dim=1)
        return pairs[pairs[:, 0] < pairs[:, 1]]
    fwd = knn_search(X, k, metric, Y=Y, chunk_size=chunk_size)
    bwd = knn_search(Y, k, metric, Y=X, chunk_size=chunk_size)
    n, m = fwd.n, bwd.n
    rows = torch.arange(n, device=fwd.device)[:, None].expand_as(fwd.indices)
    key_f = rows * m + fwd.indices
    cols = torch.arange(m, device=bwd.device)[:, None].expand_as(bwd.indices)
    key_b = bwd.indices * m + cols
    hit = torch.isin(key_f, key_b)
    return torch.stack([rows[hit], fwd.indices[hit]], dim=1)


SYMMETRIZE = ("max", "mean", "mutual", "none")
WEIGHTS = ("affinity", "binary", "softmax")


def knn_graph(result: KnnRecord, *, symmetrize: str = "max", weights: str = "affinity",
              temperature: float = 1.0) -> torch.Tensor:
    """The k-NN affinity graph as a coalesced (n, n) ``torch.sparse_coo_tensor``.

    ``weights``: the affinities themselves, 1 for every edge, or the row softmax at ``temperature``.
    ``symmetrize``: ``max`` (edge if either end lists the other; weight the larger), ``mean`` ((W + Wᵀ)/2),
    ``mutual`` (edge only if both ends list each other; weight the smaller), ``none`` (the directed graph).
    """
    _check_square(result, "a k-NN graph")
    symmetrize = check_choice(symmetrize, "symmetrize", SYMMETRIZE)
    weights = check_choice(weights, "weights", WEIGHTS)
    n, k = result.indices.shape
    if weights == "affinity":
        w = result.values
    elif weights == "binary":
        w = torch.ones_like(result.values)
    else:
        w = knn_softmax(result, temperature)
    rows = torch.arange(n, device=result.device)[:, None].expand(n, k).reshape(-1)
    cols = result.indices.reshape(-1)
    w = w.reshape(-1)
    if symmetrize == "none":
        return torch.sparse_coo_tensor(torch.stack([rows, cols]), w, (n, n), check_invariants=True).coalesce()
    if symmetrize == "mean":
        both = torch.sparse_coo_tensor(torch.stack([torch.cat([rows, cols]), torch.cat([cols, rows])]),
                                       torch.cat([w, w]) / 2, (n, n), check_invariants=True)
        return both.coalesce()
    # max / mutual: reduce duplicates of each undirected key with amax / amin, keeping counts for mutual
    r2, c2, w2 = torch.cat([rows, cols]), torch.cat([cols, rows]), torch.cat([w, w])
    key = r2 * n + c2
    uniq, inv = torch.unique(key, return_inverse=True)
    reduce = "amax" if symmetrize == "max" else "amin"
    init = torch.full((uniq.numel(),), -torch.inf if reduce == "amax" else torch.inf, dtype=w2.dtype, device=w2.device)
    vals = init.scatter_reduce(0, inv, w2, reduce=reduce, include_self=True)
    if symmetrize == "mutual":
        count = torch.zeros(uniq.numel(), dtype=torch.int64, device=w2.device).scatter_add_(0, inv, torch.ones_like(inv))
        keep = count >= 2  # listed from both ends
        uniq, vals = uniq[keep], vals[keep]
    idx = torch.stack([uniq // n, uniq % n])
    return torch.sparse_coo_tensor(idx, vals, (n, n), check_invariants=True).coalesce()
