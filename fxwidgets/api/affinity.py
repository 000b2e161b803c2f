"""Verbs of the affinity family: dense matrices, k-NN lists and graphs, graph analysis, dense correspondence."""

from __future__ import annotations

import functools
from typing import Any, Callable

from ..compute import dense, graph
from ..compute.affinity import AffinityAccumulator, iter_affinity_tiles, plan_affinity
from ..compute.ann import AnnAccumulator, iter_ann, plan_ann
from ..compute.knn import KnnAccumulator, iter_knn, knn_graph, mutual_nn, plan_knn
from ..results.affinity import AffinityResult, GraphResult, KnnResult, LabelNoiseResult, PropagationResult
from ..widgets.affinity_heatmap import AffinityHeatmap
from ..widgets.linking import linked_factory
from ._run import check_stream, drain_or_stream


def affinity(
    X: Any,
    Y: Any = None,
    metric: str = "cosine",
    *,
    bandwidth: float | None = None,
    chunk_size: int | None = None,
    stream: bool = False,
) -> AffinityResult | Any:
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
    return drain_or_stream(iter_affinity_tiles(plan, out=accumulator.values), accumulator,
                           stream=check_stream(stream), finish=AffinityResult.from_record, name=f"{metric}-affinity",
                           view_factory=linked_factory(AffinityHeatmap.from_job), params=plan.params)


def knn(X: Any, k: int = 10, metric: str = "cosine", *, Y: Any = None, exclude_self: bool | None = None,
        bandwidth: float | None = None, chunk_size: int | None = None, index: Any = None,
        recall_sample: int | None = None, seed: int = 0, stream: bool = False) -> KnnResult | Any:
    """The k rows of ``Y`` (default: rows of ``X``, each row excluding itself) with the largest affinity to each
    row of ``X``, best first.

    Parameters
    ----------
    X, Y:
        (n, d) and (m, d) tensors or arrays (``Y`` by keyword); the result lives on X's device.
    k:
        Neighbours per row (at most m, or m - 1 when a row's own index is excluded).
    metric:
        Any metric of :func:`fxwidgets.affinity` (``cosine``, ``dot``, ``rbf``, ``neg_sq_euclidean``,
        ``pearson``); "nearest" means "largest affinity" (so smallest distance for ``neg_sq_euclidean``).
    exclude_self:
        Default: True when ``Y`` is None (a row is not its own neighbour), False otherwise.
    chunk_size:
        Rows per tile, the memory knob: one ``chunk_size x m`` tile of affinities exists at a time, so memory is
        O(n k + chunk_size m) whatever n. Default: tiles of about 32 MiB. With ``index=``: query rows per faiss
        search call (default: about 32 MiB of queries, results and re-ranked rows).
    index:
        Search with faiss instead of the exact tiled search (needs ``pip install fxwidgets[faiss]``), for
        millions of rows and beyond:

        - ``"flat"`` (exact), ``"ivf"`` (about 4 sqrt(m) inverted lists, trained here on a seeded sample),
          ``"hnsw"`` (HNSW32), or any faiss ``index_factory`` string (``"IVF4096,PQ32"``, ``"OPQ16,IVF1024,PQ16"``,
          searched with faiss's default parameters): fxwidgets builds it, on the input's GPU when X is on CUDA and
          faiss has GPUs (HNSW stays on the CPU). For ``"ivf"`` and ``"hnsw"`` the search breadth (nprobe,
          efSearch) is doubled from a small start until recall@k reaches 0.95 on 256 seeded query rows apart
          from the recall sample (``params["tuned_recall"]``);
        - a faiss index: empty (fxwidgets trains it if needed and adds the rows of ``Y``, or of ``X``), or
          already holding exactly those rows in order (for ``cosine``, unit rows); CPU or GPU, or an
          ``IndexShards``;
        - a list of faiss indices: the shards of the rows in order (all empty: the rows are split evenly among
          them), searched as one ``faiss.IndexShards``.

        ``cosine`` is searched as the inner product of unit rows, ``dot`` as the inner product, ``neg_sq_euclidean``
        and ``rbf`` by L2 distance; ``pearson`` is refused. The affinity of every returned pair is recomputed from
        the rows in the input's dtype and the k re-sorted by it, so a flat index gives the exact search's answer
        (ties aside). ``result.params["recall"]`` is recall@k against the exact search on ``recall_sample`` seeded
        query rows, with its standard error ``recall_stderr``.
    recall_sample:
        With ``index=``: query rows whose exact neighbours are computed to measure recall@k (default 1000; 0
        skips the check; each costs one exact row search, O(m d)).
    seed:
        With ``index=``: seeds the recall sample and the training sample of an index trained here.
    stream:
        ``True`` runs the tiles in a background :class:`~fxwidgets.runtime.Job` (cancellable; ``job.result()``
        waits for the :class:`KnnResult`).

    Every input problem raises before the search starts (with ``index=``: a metric faiss cannot rank by, an
    index of another dimension or metric, an index holding a different number of rows, an untrained index with
    too few rows to train on). Where entries tie with a row's k-th best affinity, which of the tied
    columns is returned is unspecified (the affinities returned are exact).
    """
    stream = check_stream(stream)
    if index is not None:
        ann = plan_ann(X, Y, k, metric, index=index, exclude_self=exclude_self, bandwidth=bandwidth,
                       chunk_size=chunk_size, recall_sample=recall_sample, seed=seed)
        return drain_or_stream(iter_ann(ann), AnnAccumulator(ann), stream=stream, finish=KnnResult.from_record,
                               name=f"{ann.knn.affinity.metric}-faiss-knn", params=ann.params)
    if recall_sample is not None:
        raise ValueError("recall_sample applies only with index= (the exact search needs no recall check)")
    plan = plan_knn(X, Y, k, metric, exclude_self=exclude_self, bandwidth=bandwidth, chunk_size=chunk_size)
    return drain_or_stream(iter_knn(plan), KnnAccumulator(plan), stream=stream,
                           finish=KnnResult.from_record, name=f"{plan.affinity.metric}-knn", params=plan.params)


def _returning(result_type: type, compute_fn: Callable[..., Any]) -> Callable[..., Any]:
    """The public verb of ``compute_fn``: the same parameters and documentation, its record as ``result_type``."""

    @functools.wraps(compute_fn)
    def verb(*args: Any, **kwargs: Any) -> Any:
        return result_type.from_record(compute_fn(*args, **kwargs))

    verb.__module__ = __name__
    return verb


eigenvector_centrality = _returning(GraphResult, graph.eigenvector_centrality)
spectral_embedding = _returning(GraphResult, graph.spectral_embedding)
spectral_clustering = _returning(GraphResult, graph.spectral_clustering)
spectral_order = _returning(GraphResult, graph.spectral_order)
propagate = _returning(PropagationResult, dense.propagate)
label_noise = _returning(LabelNoiseResult, dense.label_noise)
location_affinity = dense.location_affinity

__all__ = ["affinity", "eigenvector_centrality", "knn", "knn_graph", "label_noise", "location_affinity", "mutual_nn",
           "propagate", "spectral_clustering", "spectral_embedding", "spectral_order"]
