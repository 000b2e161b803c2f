"""k nearest neighbours through a faiss index: exact (flat) or approximate (IVF, HNSW), CPU or GPU, sharded.

A faiss index is a compute backend for :func:`fxwidgets.knn` when the rows outgrow the exact tiled search
(:mod:`fxwidgets.compute.knn`, O(n m d) work): an IVF or HNSW index searches 10^7 rows and beyond in
sub-linear time per query. The search runs in chunks of ``chunk_size`` query rows, each yielded as a tile of
neighbours exactly like the exact search's, so a streamed search, its accumulator and everything downstream
(:func:`~fxwidgets.compute.knn.knn_graph`, mutual neighbours, spectral orders) work unchanged.

Metrics map onto faiss's two: ``cosine`` is the inner product of unit rows (the rows are normalised before they
reach the index), ``dot`` the inner product of the rows as given, ``neg_sq_euclidean`` minus faiss's squared L2
distance and ``rbf`` ``exp(-gamma d^2)`` of it (a decreasing function of the distance, so its neighbours are the
L2 neighbours). ``pearson`` is refused: a given index holds rows fx cannot centre.

Values: faiss's distances are float32 and, for compressed indices (PQ), approximate; the affinity of every
returned pair is therefore recomputed from the rows in the input's dtype with the exact search's formula (for
the L2 metrics the exact squared distance of :func:`~fxwidgets.compute.distance.pair_sq_distances`) and the k
pairs re-sorted as the exact search ranks them. So a flat index gives exactly the neighbours (ties aside) and the
values of the exact search.

Rows handed to faiss: for the L2 metrics an index fx builds (``index`` a string) holds the rows centred and
scaled by a power of two (the exact search's prepared rows: L2 neighbours do not change, and float32 squares
neither overflow nor underflow); an index given as an object holds, or is trained and filled with, the rows as
given, so that it stays the user's index of the user's rows (one trained on them keeps its lists valid).

Recall: the exact search is run on a seeded sample of ``recall_sample`` query rows (their rows of the exact
k-NN, computed by fx's own tiled search as the chunk holding them passes), and recall@k, the mean over those
rows of |ANN top k ∩ exact top k| / k, is reported with its standard error (the sample standard deviation over
sqrt(s), times the finite-population correction sqrt((n - s) / (n - 1)); 0 when every row is checked).

References: Johnson, Douze & Jégou, "Billion-scale similarity search with GPUs" (IEEE TBD 2019) for IVF and
the GPU indices; Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
Hierarchical Navigable Small World graphs" (TPAMI 2020) for HNSW.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from .affinity import METRICS, AffinityPlan, affinity_tile, distance_tile, distances_to_affinity
from .distance import pair_sq_distances
from .drain import drain
from .knn import KnnAccumulator, KnnPlan, KnnRecord, plan_knn
from .memory import TILE_BYTES
from .optional import require
from .validate import check_choice, check_seed

#: fx metric -> the faiss metric its search runs under.
FAISS_METRIC = {"cosine": "inner_product", "dot": "inner_product", "neg_sq_euclidean": "l2", "rbf": "l2"}

#: Index kinds fx builds from a short name; any other string goes to ``faiss.index_factory``.
INDEX_KINDS = ("flat", "ivf", "hnsw")

#: Query rows whose exact neighbours are computed for recall@k, by default.
DEFAULT_RECALL_SAMPLE = 1000

#: HNSW graph degree (faiss's M) of ``index="hnsw"``; 32 is faiss's own recommendation for recall above 0.9.
HNSW_M = 32

#: Training rows per IVF list, and at least this many in all: faiss warns under 39 per centroid, and k-means on
#: more than a few hundred per centroid changes the lists little (faiss samples 256 per centroid by default).
TRAIN_ROWS_PER_LIST = 64
MIN_TRAIN_ROWS = 65_536

#: Rows added to an index per ``index.add`` call (bounds the float32 copy of the database made for faiss). An
#: HNSW graph is added in one call: faiss builds a much worse graph from many smaller adds (measured on 10^6
#: clustered rows: recall@10 0.69 after adds of 65 536 rows, 0.988 after one add, efSearch 64).
ADD_ROWS = 65_536

#: For the indices fx builds from "ivf" and "hnsw": the search breadth (nprobe, efSearch) starts small and is
#: doubled until recall@k on TUNE_ROWS seeded query rows (apart from the recall sample) reaches TARGET_RECALL, or
#: the breadth its limit (every list; efSearch 4096). An index given as an object keeps its own parameters.
TARGET_RECALL = 0.95
TUNE_ROWS = 256
MAX_EF_SEARCH = 4096

INSTALL_HINT = "pip install fxwidgets[faiss] (faiss-cpu), or faiss-gpu for CUDA indices"


def require_faiss() -> Any:
    """The faiss module, or an ImportError saying how to install it."""
    return require("faiss", "index=", INSTALL_HINT)


def faiss_gpus(faiss: Any) -> int:
    """GPUs this faiss build can use (0 for faiss-cpu)."""
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


@dataclass
class AnnPlan:
    """A validated search: the exact k-NN plan (prepared operands, k, exclude_self), the index and how it is
    built, the query chunking and the recall sample."""

    knn: KnnPlan
    index: Any
    shards: list = field(default_factory=list)  # populated by fx: the shards of an IndexShards it assembles
    fill: bool = False  # fx adds the database rows (and trains the index first if needed)
    built_here: bool = False  # fx made the index from a string: L2 rows may be the prepared (centred, scaled) ones
    train_rows: int = 0
    chunk_size: int = 1
    recall_rows: torch.Tensor | None = None  # sorted query rows checked against the exact search
    tune: tuple | None = None  # (faiss parameter, first value, largest value) widened until TARGET_RECALL
    tune_rows: torch.Tensor | None = None  # query rows the search breadth is tuned on
    seed: int = 0
    params: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.knn.n

    @property
    def m(self) -> int:
        return self.knn.affinity.shape[1]


@dataclass
class AnnBuildStep:
    """Progress while fx trains the index and adds the database rows (no neighbours yet)."""

    stage: str
    progress: float


@dataclass
class AnnTile:
    """Neighbours of query rows ``row_start:row_stop`` (best first), and the recall sample so far."""

    row_start: int
    row_stop: int
    indices: torch.Tensor
    values: torch.Tensor
    n_rows: int
    progress: float
    recall_checked: int = 0  # sampled rows checked so far
    recall: float | None = None  # their mean recall@k
    recall_stderr: float | None = None


def _check_recall_sample(value: Any) -> int:
    if value is None:
        return DEFAULT_RECALL_SAMPLE
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"recall_sample must be a non-negative integer (0: no recall check), got {value!r}")
    return int(value)


def _ivf_lists(faiss: Any, index: Any) -> int | None:
    """nlist of an IVF index (also inside a pre-transform), else None."""
    try:
        return int(faiss.extract_index_ivf(index).nlist)
    except (RuntimeError, AttributeError, TypeError):
        return None


def _min_train_rows(faiss: Any, index: Any) -> int:
    """The fewest training rows faiss accepts: one per IVF list, 2^nbits per product-quantiser codebook."""
    need = _ivf_lists(faiss, index) or 1
    inner = index
    try:
        inner = faiss.extract_index_ivf(index)
    except (RuntimeError, AttributeError, TypeError):
        pass
    pq = getattr(faiss.downcast_index(inner) if hasattr(faiss, "downcast_index") else inner, "pq", None)
    if pq is not None:
        need = max(need, int(getattr(pq, "ksub", 256)))
    return need


def _metric_name(faiss: Any, index: Any) -> str:
    mt = int(index.metric_type)
    if mt == int(faiss.METRIC_INNER_PRODUCT):
        return "inner_product"
    if mt == int(faiss.METRIC_L2):
        return "l2"
    return f"faiss metric {mt}"


def _default_ivf_lists(m: int) -> int:
    # faiss's guideline: about 4 sqrt(m) lists, with at least 39 training rows per list
    return max(1, min(int(round(4 * math.sqrt(m))), m // 39))


def build_index(spec: str, d: int, m: int, kind: str, k: int, faiss: Any) -> tuple[Any, dict]:
    """An empty index from a short name (flat, ivf, hnsw) or a faiss index_factory string, with the search
    parameters fx sets for its short names; and what it is, for the record."""
    metric = faiss.METRIC_INNER_PRODUCT if kind == "inner_product" else faiss.METRIC_L2
    info: dict = {}
    key = spec.strip().lower()
    if key == "flat":
        factory = "Flat"
    elif key == "ivf":
        nlist = _default_ivf_lists(m)
        factory = f"IVF{nlist},Flat"
    elif key == "hnsw":
        factory = f"HNSW{HNSW_M}"
    else:
        factory = spec
    try:
        index = faiss.index_factory(d, factory, metric)
    except RuntimeError as exc:
        raise ValueError(f"index {spec!r} is not a faiss index_factory string ({str(exc).splitlines()[-1]}); "
                         f"give one of {', '.join(map(repr, INDEX_KINDS))}, a factory string such as "
                         "'IVF1024,PQ32' or 'HNSW32,Flat', or a faiss index") from None
    info["factory"] = factory
    params = faiss.ParameterSpace()
    if key == "ivf":
        # start at 1/32 of the lists; tuned upward on the data (see TARGET_RECALL)
        nprobe = max(1, min(nlist, int(math.ceil(nlist / 32))))
        params.set_index_parameter(index, "nprobe", nprobe)
        info["nprobe"] = nprobe
        info["tune"] = ("nprobe", nprobe, nlist)
    elif key == "hnsw":
        ef = max(32, 2 * k)
        params.set_index_parameter(index, "efSearch", ef)
        info["efSearch"] = ef
        info["tune"] = ("efSearch", ef, max(ef, MAX_EF_SEARCH))
    return index, info


def _to_gpu(faiss: Any, index: Any, device: torch.device) -> tuple[Any, bool]:
    """The index on the input's GPU when this faiss can (HNSW has no GPU version and stays on the CPU)."""
    if device.type != "cuda" or faiss_gpus(faiss) == 0:
        return index, False
    try:
        res = faiss.StandardGpuResources()
        gpu = faiss.index_cpu_to_gpu(res, device.index or 0, index)
        gpu.fx_resources = res  # keep the resources alive as long as the index
        return gpu, True
    except (RuntimeError, AttributeError):
        return index, False


def _on_gpu(faiss: Any, index: Any) -> bool:
    gpu_cls = getattr(faiss, "GpuIndex", None)
    return gpu_cls is not None and isinstance(index, gpu_cls)


def plan_ann(X: Any, Y: Any = None, k: int = 10, metric: str = "cosine", *, index: Any,
             exclude_self: bool | None = None, bandwidth: float | None = None, chunk_size: int | None = None,
             recall_sample: int | None = None, seed: int = 0) -> AnnPlan:
    """Validate everything (the index's dimension and metric included) before any training or search.

    ``index``: a faiss index (empty: fx trains it if needed and adds the rows of ``Y``, or of ``X`` when
    ``Y`` is None; or already holding exactly those rows, in order), a list of faiss indices (the shards of
    the rows, in order; all empty, then fx splits the rows evenly among them, or all filled), or a string:
    ``"flat"``, ``"ivf"``, ``"hnsw"`` or a faiss ``index_factory`` string, built here.
    """
    metric = check_choice(metric, "metric", METRICS)
    if metric not in FAISS_METRIC:
        raise ValueError(f"metric={metric!r} cannot be searched with a faiss index (faiss ranks by inner product or "
                         f"L2 distance); use one of {', '.join(map(repr, FAISS_METRIC))}, or index=None for the "
                         "exact search (for Pearson: centre and normalise the rows, then metric='cosine')")
    recall_sample = _check_recall_sample(recall_sample)
    seed = check_seed(seed)
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    faiss = require_faiss()
    knn = plan_knn(X, Y, k, metric, exclude_self=exclude_self, bandwidth=bandwidth, chunk_size=chunk_size)
    a = knn.affinity
    n, m = a.shape
    d = a.left.shape[1]
    kind = FAISS_METRIC[metric]
    info: dict = {}
    shards: list = []
    tune = None
    built_here = isinstance(index, str)
    if built_here:
        index, info = build_index(index, d, m, kind, knn.k, faiss)
        tune = info.pop("tune", None)
        index, on_gpu = _to_gpu(faiss, index, a.device)
        given = [index]
    elif isinstance(index, (list, tuple)):
        if not index:
            raise ValueError("index is an empty list; give faiss indices (one per shard), one index or a string")
        given = list(index)
        on_gpu = False
    else:
        given = [index]
        on_gpu = False
    for i, ix in enumerate(given):
        name = "index" if len(given) == 1 else f"index[{i}]"
        if not isinstance(ix, faiss.Index):
            raise TypeError(f"{name} must be a faiss index, a list of them or a string ('flat', 'ivf', 'hnsw' or a "
                            f"faiss index_factory string), got {type(ix).__name__}")
        if int(ix.d) != d:
            raise ValueError(f"{name} holds {ix.d}-dimensional vectors but the rows have {d} features")
        got = _metric_name(faiss, ix)
        if got != kind:
            want = "faiss.METRIC_INNER_PRODUCT" if kind == "inner_product" else "faiss.METRIC_L2"
            raise ValueError(f"{name} ranks by {got} but metric={metric!r} needs an index built with {want}"
                             + (" over unit rows" if metric == "cosine" else ""))
    totals = [int(ix.ntotal) for ix in given]
    fill = all(t == 0 for t in totals)
    if not fill and sum(totals) != m:
        what = "Y" if Y is not None else "X"
        raise ValueError(f"index holds {sum(totals)} vectors but {what} (the rows searched) has {m}; give an empty index "
                         f"(fx adds the rows) or one holding exactly the rows of {what}, in order")
    if not fill and any(t == 0 for t in totals):
        raise ValueError("index: the shards must be all empty (fx fills them) or all filled, not a mix")
    train_rows = 0
    if fill:
        per_shard = [len(r) for r in np.array_split(np.arange(m), len(given))]
        for i, (ix, rows) in enumerate(zip(given, per_shard)):
            if not ix.is_trained:
                need = _min_train_rows(faiss, ix)
                if rows < need:
                    name = "index" if len(given) == 1 else f"index[{i}]"
                    lists = _ivf_lists(faiss, ix)
                    what = f"nlist={lists} lists" if lists else "its quantiser"
                    raise ValueError(f"{name} is untrained and needs at least {need} training rows ({what}), but only "
                                     f"{rows} rows are there to train it on; train it beforehand (index.train), use "
                                     "fewer IVF lists, or index='flat'")
                train_rows = max(train_rows, min(rows, max(MIN_TRAIN_ROWS, TRAIN_ROWS_PER_LIST * need)))
    if len(given) > 1:
        shards = given
        index = faiss.IndexShards(d, True, True)  # threaded, labels numbered across shards in order
        if not fill:
            for ix in given:
                index.add_shard(ix)
    else:
        index = given[0]
    on_gpu = on_gpu or any(_on_gpu(faiss, ix) for ix in given)

    itemsize = a.left.element_size()
    if chunk_size is None:
        # the float32 queries, (k + 1) labels and distances, and the gathered rows whose affinity is recomputed
        per_row = (knn.k + 1) * 16 + d * 4 + (knn.k + 1) * d * itemsize
        chunk_size = max(1, min(n, TILE_BYTES // per_row))
    s = min(recall_sample, n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    recall_rows = perm[:s].sort().values if s > 0 else None
    tune_rows = None
    if tune is not None:  # rows apart from the recall sample, so the reported recall is not the tuned-on one
        rest = perm[s:] if n - s >= min(n, TUNE_ROWS) else perm
        tune_rows = rest[:TUNE_ROWS].sort().values
    params = dict(knn.params)
    params.pop("memory", None)
    params.update({
        "chunk_size": int(chunk_size), "engine": "faiss", "faiss_metric": kind,
        "index": type(faiss.downcast_index(index) if hasattr(faiss, "downcast_index") else index).__name__,
        "index_device": "gpu" if on_gpu else "cpu", "shards": len(given), "seed": seed,
        "built_by": "fxwidgets" if fill else "given", "recall_sample": s,
        "memory": "O(n k + chunk_size (k d + d)) besides the index",
        **info,
    })
    if fill and train_rows:
        params["train_rows"] = train_rows
    if tune is not None:
        params.update({"target_recall": TARGET_RECALL, "tune_rows": int(tune_rows.numel())})
    return AnnPlan(knn=knn, index=index, shards=shards, fill=fill, built_here=built_here,
                   train_rows=train_rows, chunk_size=int(chunk_size),
                   recall_rows=recall_rows, tune=tune, tune_rows=tune_rows, seed=seed, params=params)


def _float32_rows(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


def _is_hnsw(faiss: Any, index: Any) -> bool:
    inner = faiss.downcast_index(index) if hasattr(faiss, "downcast_index") else index
    return "HNSW" in type(inner).__name__


def index_rows(plan: AnnPlan, side: str) -> torch.Tensor:
    """The rows of one side (``"left"``: queries, ``"right"``: the database) as the index holds them: the exact
    search's prepared rows, except for the L2 metrics with an index given as an object, which holds the user's
    rows as given (prepared rows are centred and scaled, which that index's vectors and lists are not)."""
    a = plan.knn.affinity
    points = a.left_points if side == "left" else a.right_points
    if points is not None and not plan.built_here:
        return points.raw
    return a.left if side == "left" else a.right


def _fill(plan: AnnPlan, faiss: Any) -> Iterator[AnnBuildStep]:
    """Train (on a seeded sample of each shard's rows) and add the rows, shard by shard, in order."""
    right = index_rows(plan, "right")
    m = right.shape[0]
    targets = plan.shards or [plan.index]
    bounds = np.array_split(np.arange(m), len(targets))
    gen = torch.Generator().manual_seed(plan.seed)
    added = 0
    for ix, rows in zip(targets, bounds):
        lo, hi = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        if not ix.is_trained:
            take = min(hi - lo, plan.train_rows)
            pick = torch.randperm(hi - lo, generator=gen)[:take].sort().values + lo
            ix.train(_float32_rows(right[pick.to(right.device)]))
            yield AnnBuildStep("trained", 0.3 * added / m)
        step = max(1, hi - lo) if _is_hnsw(faiss, ix) else ADD_ROWS
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            ix.add(_float32_rows(right[a:b]))
            added += b - a
            yield AnnBuildStep(f"added {added} of {m} rows", 0.3 * added / m)
    if plan.shards:
        for ix in plan.shards:
            plan.index.add_shard(ix)


def exact_rows(plan: KnnPlan, rows: torch.Tensor) -> torch.Tensor:
    """The exact top-k neighbour indices of query ``rows`` (fx's tiled search on those rows only, ranked as it
    ranks: on exact distances for the L2 metrics, on the affinity otherwise)."""
    a = plan.affinity
    m = a.shape[1]
    step = max(1, TILE_BYTES // max(1, 2 * m * a.left.element_size()))
    out = []
    for s in range(0, rows.numel(), step):
        r = rows[s:s + step].to(a.device)
        sub = replace(a, left=a.left[r], symmetric=False, chunk_size=r.numel(),
                      left_points=None if a.left_points is None else a.left_points[r])
        own = (torch.arange(r.numel(), device=r.device), r)
        if a.left_points is not None:
            d = distance_tile(sub, 0, r.numel())
            if plan.exclude_self:
                d[own] = torch.inf
            out.append(torch.topk(d, plan.k, dim=1, largest=False, sorted=True).indices)
            continue
        tile = affinity_tile(sub, 0, r.numel())
        if plan.exclude_self:
            tile[own] = -torch.inf
        out.append(torch.topk(tile, plan.k, dim=1, largest=True, sorted=True).indices)
    return torch.cat(out) if out else torch.empty((0, plan.k), dtype=torch.int64, device=a.device)


def pair_distances(a: AffinityPlan, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """L2 metrics: exact squared distance (in the plan's scaled units) of query row ``rows[i]`` with database rows
    ``cols[i, j]``, (r, c) in the plan's dtype: what the exact search ranks on."""
    ia = rows[:, None].expand_as(cols).reshape(-1)
    d = pair_sq_distances(a.left_points, a.right_points, ia, cols.reshape(-1))
    return d.view(cols.shape).to(a.dtype)


def pair_affinity(a: AffinityPlan, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Affinity of query row ``rows[i]`` with database rows ``cols[i, j]``: (r, c), the values of
    :func:`~fxwidgets.compute.affinity.affinity_tile` on the same prepared operands (exact distances converted
    for the L2 metrics)."""
    if a.left_points is not None:
        return distances_to_affinity(a, pair_distances(a, rows, cols))
    dots = torch.einsum("rd,rcd->rc", a.left[rows], a.right[cols])
    return dots.clamp_(-1.0, 1.0) if a.metric == "cosine" else dots


def _drop_self(labels: torch.Tensor, rows: torch.Tensor, k: int) -> torch.Tensor:
    """k of the k + 1 labels per row: without the row itself, or without the last when it is not there."""
    is_self = labels == rows[:, None]
    drop = is_self.clone()
    missing = ~is_self.any(1)
    drop[missing, -1] = True
    return labels[~drop].view(labels.shape[0], k)


def _search(plan: AnnPlan, rows: torch.Tensor, *, strict: bool = True) -> torch.Tensor:
    """The index's k neighbours of query ``rows`` (without the row itself when excluded), unsorted by affinity.
    ``strict``: a missing neighbour (label -1: too little of the index searched) is an error; otherwise it counts
    as a miss."""
    knn, a = plan.knn, plan.knn.affinity
    k = knn.k
    kk = k + 1 if knn.exclude_self else k
    _dist, lab = plan.index.search(_float32_rows(index_rows(plan, "left")[rows.to(a.device)]), kk)
    labels = torch.from_numpy(np.asarray(lab, dtype=np.int64)).to(a.device)
    if strict and bool((labels < 0).any()):
        row = int(rows[(labels < 0).any(1).nonzero()[0]])
        raise RuntimeError(f"index returned fewer than {kk} neighbours for row {row} (label -1): it searched too "
                           "little of the data; raise nprobe (IVF) or efSearch (HNSW), or use index='flat'")
    if knn.exclude_self:
        labels = _drop_self(labels, rows.to(a.device), k)
    return labels


def _hits(labels: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Per row: the share of the exact k neighbours among ``labels`` (recall@k of that row)."""
    return (labels[:, :, None] == exact[:, None, :]).any(2).sum(1).cpu().double() / exact.shape[1]


def _tune(plan: AnnPlan, faiss: Any) -> Iterator[AnnBuildStep]:
    """Double the search breadth until recall@k on the tuning rows reaches TARGET_RECALL (or the limit)."""
    name, value, limit = plan.tune
    exact = exact_rows(plan.knn, plan.tune_rows)
    space = faiss.ParameterSpace()
    while True:
        space.set_index_parameter(plan.index, name, int(value))
        recall = float(_hits(_search(plan, plan.tune_rows, strict=False), exact).mean())
        if recall >= TARGET_RECALL or value >= limit:
            break
        value = min(limit, 2 * value)
    plan.params.update({name: int(value), "tuned_recall": recall})
    yield AnnBuildStep(f"{name}={value}: recall@{plan.knn.k} {recall:.3f} on {plan.tune_rows.numel()} rows", 0.3)


def iter_ann(plan: AnnPlan) -> Iterator[AnnTile | AnnBuildStep]:
    """Build the index if fx fills it (and tune its search breadth when fx chose it), then search ``chunk_size``
    query rows at a time, yielding each chunk's neighbours (re-ranked by their exact affinity) and the running
    recall of the sampled rows."""
    faiss = require_faiss()
    knn, a = plan.knn, plan.knn.affinity
    n, k = plan.n, knn.k
    if plan.fill:
        yield from _fill(plan, faiss)
    if plan.tune is not None:
        yield from _tune(plan, faiss)
    base = 0.3 if plan.fill else 0.0
    sample = plan.recall_rows
    s_total = 0 if sample is None else int(sample.numel())
    hits: list[torch.Tensor] = []
    for start in range(0, n, plan.chunk_size):
        stop = min(n, start + plan.chunk_size)
        rows = torch.arange(start, stop, device=a.device)
        labels = _search(plan, rows)
        # ranked as the exact search ranks: on exact distances (smallest first) for the L2 metrics, converted to
        # affinities after the sort (rbf's exp may tie far pairs at 0), on the affinity otherwise
        by_distance = a.left_points is not None
        key = torch.empty(labels.shape, dtype=a.dtype, device=a.device)
        sub = max(1, TILE_BYTES // max(1, k * a.left.shape[1] * a.left.element_size()))
        for s in range(0, stop - start, sub):
            e = min(stop - start, s + sub)
            key[s:e] = (pair_distances if by_distance else pair_affinity)(a, rows[s:e], labels[s:e])
        key, order = torch.sort(key, dim=1, descending=not by_distance, stable=True)
        values = distances_to_affinity(a, key) if by_distance else key
        labels = labels.gather(1, order)
        tile = AnnTile(start, stop, labels, values, n, progress=base + (1.0 - base) * stop / n)
        if s_total:
            lo, hi = torch.searchsorted(sample, torch.tensor([start, stop])).tolist()
            if hi > lo:
                check = sample[lo:hi]
                hits.append(_hits(labels[(check - start).to(a.device)], exact_rows(knn, check)))
            if hits:
                tile.recall_checked, tile.recall, tile.recall_stderr = recall_estimate(torch.cat(hits), n)
        yield tile


def recall_estimate(per_row: torch.Tensor, n: int) -> tuple[int, float, float]:
    """(rows checked, mean recall, standard error with the finite-population correction for a sample of n rows)."""
    s = per_row.numel()
    mean = float(per_row.mean())
    if s < 2:
        return s, mean, float("nan") if s < n else 0.0
    fpc = math.sqrt(max(0.0, (n - s) / (n - 1)))
    return s, mean, float(per_row.std(unbiased=True)) / math.sqrt(s) * fpc


class AnnAccumulator(KnnAccumulator):
    """The exact search's accumulator, plus the recall of the sampled rows; build steps only report progress."""

    def __init__(self, plan: AnnPlan) -> None:
        super().__init__(plan.knn)
        self.ann = plan
        self.recall: tuple[int, float | None, float | None] = (0, None, None)

    def add(self, item: AnnTile | AnnBuildStep) -> None:
        if isinstance(item, AnnBuildStep):
            return
        super().add(item)
        if item.recall_checked:
            self.recall = (item.recall_checked, item.recall, item.recall_stderr)

    def result(self) -> KnnRecord:
        record = super().result()
        params = dict(self.ann.params)
        checked, recall, se = self.recall
        params.update({"recall": recall, "recall_stderr": se, "recall_checked": checked,
                       "recall_reference": "fx's exact tiled search on the sampled query rows"})
        record.params = params
        return record


def ann_search(X: Any, k: int = 10, metric: str = "cosine", *, index: Any, Y: Any = None,
               exclude_self: bool | None = None, bandwidth: float | None = None, chunk_size: int | None = None,
               recall_sample: int | None = None, seed: int = 0) -> KnnRecord:
    """:func:`fxwidgets.knn` with ``index=``, drained on this thread."""
    plan = plan_ann(X, Y, k, metric, index=index, exclude_self=exclude_self, bandwidth=bandwidth,
                    chunk_size=chunk_size, recall_sample=recall_sample, seed=seed)
    return drain(iter_ann(plan), AnnAccumulator(plan))
