"""Verbs of the datasets family: embeddings, data (sample) selection, dataset distances, histogram comparisons."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
import torch

from ..compute import dataset_distance as distances
from ..compute import sample_selection as selections
from ..compute.dsir_blocks import engine_hasher
from ..compute.engines import dataset_engine, is_ray_dataset, read_dataset
from ..compute.embedding import METHODS as EMBEDDING_METHODS
from ..compute.embedding import EmbeddingAccumulator, iter_embedding, plan_embedding
from ..compute.validate import as_indices, check_choice, check_positive_int
from ..results.datasets import (ActivationHistogramsResult, DatasetDistanceResult, EmbeddingResult,
                                PairScoreHistogramsResult, SampleSelectionResult)
from ..widgets.scatter import Scatter
from ._run import check_stream, drain_or_stream

SELECTION_METHODS = selections.METHODS
DISTANCE_MEASURES = distances.MEASURES


def embed(X: Any, method: str = "pca", n_components: int = 2, *, seed: int = 0, stream: bool = False,
          **options: Any) -> EmbeddingResult | Any:
    """Coordinates for every row of ``X`` (n, d), for a scatter: ``result.coordinates`` is (n, n_components).

    Methods and their ``options`` (defaults):

    - ``"pca"`` (torch): ``solver="auto"`` (``"full"`` SVD, ``"covariance_eigh"`` float64 covariance summed over
      row chunks, ``"randomized"`` Halko et al. with a seeded sketch; ``"auto"`` picks as scikit-learn does),
      ``chunk_size=None``, ``n_oversamples=10``, ``n_iter="auto"``. Deterministic except the randomized solver;
      signs as scikit-learn's. ``diagnostics``: explained variance (ratio), singular values, components, mean.
    - ``"spectral"`` (torch): Laplacian eigenmap of the symmetrised k-NN graph; ``n_neighbors=15``,
      ``metric="neg_sq_euclidean"`` (any :func:`fxwidgets.knn` metric). ``diagnostics`` warn when the graph is
      disconnected.
    - ``"tsne"`` (openTSNE, ``pip install fxwidgets[tsne]``): ``perplexity=30``, ``n_iter=500``,
      ``early_exaggeration_iter=250``, ``early_exaggeration=12``, ``learning_rate="auto"``,
      ``initialization="pca"``, ``metric="euclidean"``, ``n_jobs=1``, ``report_every=50`` (iterations between
      streamed layouts). The final layout equals ``openTSNE.TSNE(...).fit(X)``.
    - ``"umap"`` (umap-learn, ``pip install fxwidgets[umap]``): ``n_neighbors=15``, ``min_dist=0.1``,
      ``metric="euclidean"``, ``n_epochs=None``; one update at the end.

    ``stream=True`` returns a :class:`~fxwidgets.runtime.Job` at once; its accumulator holds the rows placed so
    far (PCA projects chunk by chunk; t-SNE moves the whole layout every ``report_every`` iterations) and
    ``job.result()`` is the same :class:`EmbeddingResult` the blocking call returns. An unknown method or option,
    a bad value, or a computation over the memory budget raises before any work starts, naming the argument.
    """
    plan = plan_embedding(X, method, n_components, seed=seed, **options)
    accumulator = EmbeddingAccumulator(plan)
    return drain_or_stream(iter_embedding(plan), accumulator, stream=check_stream(stream),
                           finish=EmbeddingResult.from_record, name=f"{plan.method}-embedding", params=plan.params,
                           view_factory=Scatter.from_job)


# ------------------------------------------------------------------------------------------------
# Sample selection
# ------------------------------------------------------------------------------------------------

#: method -> (generator, options the caller must give, keyword parameters the verb sets itself)
_SELECTORS: dict[str, tuple[Callable[..., Any], tuple[str, ...], frozenset]] = {
    "k_center": (selections.iter_k_center, (), frozenset({"seed"})),
    "sensitivity": (selections.iter_sensitivity_sampling, (), frozenset({"seed"})),
    "hierarchical_kmeans": (selections.iter_hierarchical_kmeans_curation, (), frozenset({"seed"})),
    "dsir": (selections.iter_dsir, ("target",), frozenset({"seed", "hasher"})),
    "anchoral": (selections.iter_anchoral_subpool, ("labelled",), frozenset({"seed", "n_neighbours"})),
    "class_representatives": (selections.iter_class_representatives, (), frozenset({"seed"})),
}

#: Methods that read class labels, and what ``y`` is for each.
_USES_Y = {"anchoral": "the labels of the labelled rows (one per labelled row, or one per row of X)",
           "class_representatives": "one class label per row of X"}


def _keyword_options(fn: Callable[..., Any], routed: frozenset) -> tuple[str, ...]:
    return tuple(p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in routed)


def selection_options(method: str) -> tuple[str, ...]:
    """The options ``select_samples(..., method=method, **options)`` accepts (required ones first)."""
    method = check_choice(method, "method", SELECTION_METHODS)
    fn, required, routed = _SELECTORS[method]
    return required + _keyword_options(fn, routed)


def _check_options(options: dict, allowed: tuple[str, ...], what: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        listed = ", ".join(map(repr, allowed)) if allowed else "none"
        raise TypeError(f"{what} has no option(s) {', '.join(map(repr, unknown))}; its options are {listed}")


def _rows(X: Any) -> int | None:
    if isinstance(X, str):
        return None  # refused by the method itself, with its own message
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        return None


def _labelled_y(y: Any, labelled: Any, n: int | None) -> Any:
    """AnchorAL's labels: one per labelled row, or one per row of X (then the labelled rows' are taken)."""
    if n is None:
        return y
    lab = as_indices(labelled, "labelled", n)
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if a.ndim == 1 and a.shape[0] == n and lab.numel() != n:
        return a[lab.numpy()]
    return a


def select_samples(X: Any, k: int, method: str = "k_center", *, y: Any = None, seed: int = 0,
                   column: str | None = None, engine: Any = None, stream: bool = False, **options: Any) -> SampleSelectionResult | Any:
    """Which rows of a dataset to keep, and the method's own evidence for the choice.

    ``X``: (n, d) embeddings (a tensor or array), except for DSIR (raw texts or n-gram counts). ``k``: how many
    (per method, below). ``y``: class labels, for the methods that read them. ``seed``: every random choice.
    ``result.indices`` are the chosen rows; ``result.scores`` (one per row), ``result.groups`` (one per row) and
    ``result.weights`` (one per chosen row) are what a scatter colours and sizes by; ``result.diagnostics``
    holds the method's evidence, ``result.summary()`` says it in words.

    Methods, what ``k`` means, and their ``options`` (defaults):

    - ``"k_center"`` — farthest-first traversal (Gonzalez 1985; Sener & Savarese 2018 core-sets): ``k`` centres
      whose covering radius ``max_i min_c ‖x_i − x_c‖`` is at most twice the best possible. Options:
      ``initial=None`` (rows already chosen, e.g. the labelled set), ``first=None`` (the first centre; default a
      seeded draw), ``metric="euclidean"`` (or ``"cosine"``), ``chunk_size=None``, ``report_every=None``.
      Reports ``radius`` and ``radius_history``; ``scores`` = each row's distance to the selection.
    - ``"sensitivity"`` — k-means sensitivity sampling (Bachem et al. 2018; Axiotis et al. 2024): ``k`` i.i.d.
      draws with ``p_i = ½ cost_i/Φ + ½/(K|C(i)|)`` and ``weights = draws/(k p_i)``, so weighted means are
      unbiased; within (1 ± ε) of the full mean loss (+ ε λ Φ/N) for a λ-Hölder loss, ε = 1/√(k − K). Options:
      ``n_clusters=None`` (⌈√k⌉), ``power=2``, ``loss=None`` (one value per row: its weighted-mean error is then
      reported), ``max_iter=100``, ``chunk_size=None``.
    - ``"hierarchical_kmeans"`` — balanced curation over a k-means hierarchy (Vo et al. 2024): ``k`` rows split
      evenly from the top clusters down. Options: ``n_clusters=None`` (clusters per level, finest first),
      ``sampling="random"`` (or ``"closest"``), ``max_iter=100``, ``chunk_size=None``. Reports the entropy
      (balance) of the data and of the selection over clusters.
    - ``"dsir"`` — importance resampling on hashed n-grams (Xie et al. 2023): ``X`` is the raw pool (a list of
      texts or an (n, buckets) count matrix), ``target=`` the target set in the same form (required); ``k``
      examples drawn without replacement ∝ the importance weight (Gumbel top-k). Options: ``target``,
      ``n_buckets=10000``, ``ngrams=2``, ``top_k=False``, ``smoothing=1e-8``. Reports the KL reduction
      ``KL(target‖raw) − KL(target‖selected)`` and the same for a random subset.
    - ``"anchoral"`` — the AnchorAL subpool (Lesci & Vlachos 2024): ``labelled=`` (row indices, required) and
      ``y`` (their labels); per class up to ``n_anchors`` anchors retrieve their ``k`` nearest unlabelled rows;
      the subpool is the union. Options: ``labelled``, ``n_anchors=10``, ``anchor_strategy="kmeans"`` (or
      ``"random"``), ``metric="cosine"``, ``chunk_size=None``.
    - ``"class_representatives"`` — ``k`` rows per class (``y`` required): nearest the class mean
      (``how="centroid"``), the medoids (``"medoid"``) or nearest the centres of a per-class k-means
      (``"kmeans"``, SelectNAdapt). Options: ``how="centroid"``, ``max_iter=100``, ``chunk_size=None``.

    ``engine="ray"`` (or a :class:`fxwidgets.RayEngine`) hashes DSIR's texts in blocks on the Ray cluster's
    workers, the per-text part of its work (needs ``pip install fxwidgets[ray]``); the weights, the seeded draw and
    the diagnostics are then computed here from the blocks in row order, so the selection is the local one. The
    other methods couple the rows (a farthest-first traversal, k-means) and run locally only.

    For DSIR, ``X`` may be a ``ray.data.Dataset`` with a text column (``column=``: which one; default the only
    column), and ``target=`` a Dataset with one text column; the texts are read in the Dataset's order (a text
    that is not a str raises naming ``X``/``target``, the column and the row) and hashed on ``engine`` (default
    ``"ray"``), so the selection is the local one on the same texts (``ds.take_all()`` order); ``indices`` are
    row numbers in that order.

    ``stream=True`` returns a :class:`~fxwidgets.runtime.Job` (k-center yields growing prefixes of the
    selection; hierarchical curation and DSIR report their stages) whose ``result()`` equals the blocking
    result. Bad input raises before any work starts and names the argument: an unknown method or option, a
    missing ``y``/``target``/``labelled``, ``y`` given to a method that does not read it, ``k`` over the rows.
    """
    method = check_choice(method, "method", SELECTION_METHODS)
    k = check_positive_int(k, "k", allow_none=False)
    runner = dataset_engine(engine, X)
    if runner is not None and method != "dsir":
        given = "X as a ray.data.Dataset" if is_ray_dataset(X) and engine is None else f"engine={engine!r}"
        raise ValueError(f"{given} runs DSIR's per-text hashing on workers; method={method!r} couples the rows "
                         "(farthest points, k-means, neighbours) and runs locally only: give X as a tensor or an "
                         "array" + ("" if engine is None else " and drop engine=") + (", or keep the Dataset with engine='local' "
                         "(its rows are then read here)" if is_ray_dataset(X) else ""))
    fn, required, _ = _SELECTORS[method]
    _check_options(options, selection_options(method), f"method={method!r}")
    for name in required:
        if name not in options:
            what = {"target": "the target set, in the same form as X (texts or counts)",
                    "labelled": "the row indices of the labelled set"}[name]
            raise TypeError(f"method={method!r} needs {name}= ({what})")
    if method in _USES_Y and y is None:
        raise ValueError(f"method={method!r} needs y: {_USES_Y[method]}")
    if method not in _USES_Y and y is not None:
        raise ValueError(f"method={method!r} does not read y; y is for 'anchoral' ({_USES_Y['anchoral']}) and "
                         f"'class_representatives' ({_USES_Y['class_representatives']})")
    read = read_dataset(X, "X", column, kind="texts" if method == "dsir" else "numbers")
    if read is not None:
        X = read["X"]
    if method == "dsir" and is_ray_dataset(options.get("target")):
        options = {**options, "target": read_dataset(options["target"], "target", kind="texts")["target"]}
    n = _rows(X)
    if n is not None and method != "sensitivity" and k > n:  # sensitivity draws with replacement
        raise ValueError(f"k={k} is more than the {n} rows of X")
    if method == "dsir":
        opts = dict(options)
        hasher = None if runner is None else engine_hasher(runner)
        source = fn(X, opts.pop("target"), k, seed=seed, hasher=hasher, **opts)
    elif method == "anchoral":
        opts = dict(options)
        labelled = opts.pop("labelled")
        source = fn(X, labelled, _labelled_y(y, labelled, n), n_neighbours=k, seed=seed, **opts)
    elif method == "class_representatives":
        source = fn(X, y, k, seed=seed, **options)
    else:
        source = fn(X, k, seed=seed, **options)
    return drain_or_stream(source, selections.SelectionAccumulator(), stream=check_stream(stream),
                           finish=SampleSelectionResult.from_record, name=f"{method}-selection",
                           params={"method": method, "k": k, "seed": seed})


# ------------------------------------------------------------------------------------------------
# Dataset distances and histogram comparisons
# ------------------------------------------------------------------------------------------------

_MEASURES = {"frechet": distances.iter_frechet_distance, "mmd2": distances.iter_mmd2,
             "sinkhorn": distances.iter_sinkhorn_divergence}


def distance_options(measure: str) -> tuple[str, ...]:
    """The options ``dataset_distance(..., measure=measure, **options)`` accepts."""
    measure = check_choice(measure, "measure", DISTANCE_MEASURES)
    return _keyword_options(_MEASURES[measure], frozenset({"seed"}))


def dataset_distance(A: Any, B: Any, measure: str = "frechet", *, seed: int = 0, stream: bool = False,
                     **options: Any) -> DatasetDistanceResult | Any:
    """How far apart two sets of embeddings are (rows = examples, the same columns in A and B).

    Measures and their ``options`` (defaults):

    - ``"frechet"`` — ``‖μ_A − μ_B‖² + Tr(Σ_A + Σ_B − 2(Σ_A Σ_B)^½)`` between the fitted Gaussians (FID's formula),
      float64, deterministic (no seed, no SE). Options: ``chunk_size=None``.
    - ``"mmd2"`` — the unbiased RBF MMD² (Gretton et al. 2012, Lemma 6), with its first-order standard error
      ``se``; ≈ 0 on average (and possibly negative) when A and B share a distribution. Options:
      ``bandwidth=None`` (median heuristic on a seeded subsample), ``chunk_size=None``.
    - ``"sinkhorn"`` — the debiased Sinkhorn divergence ``OT_ε(A,B) − ½OT_ε(A,A) − ½OT_ε(B,B)`` with cost
      ½‖x − y‖² (Feydy et al. 2019): ≥ 0, 0 only for equal sets. Options: ``epsilon=None`` (5% of the median
      cost), ``max_iter=1000``, ``tol=1e-6``, ``scaling=0.5``, ``chunk_size=None``, ``report_every=10``.

    ``stream=True`` returns a Job (MMD² reports tile by tile, Sinkhorn its running value). A/B with different
    numbers of features, too few rows, an unknown measure or option raise before any work, naming the argument.
    """
    measure = check_choice(measure, "measure", DISTANCE_MEASURES)
    _check_options(options, distance_options(measure), f"measure={measure!r}")
    fn = _MEASURES[measure]
    source = fn(A, B, **options) if measure == "frechet" else fn(A, B, seed=seed, **options)
    return drain_or_stream(source, distances.LatestAccumulator(), stream=check_stream(stream),
                           finish=DatasetDistanceResult.from_record, name=f"{measure}-distance",
                           params={"measure": measure, "seed": seed})


def activation_histograms(A: Any, B: Any, *, bins: int = 32, distance: str = "wasserstein", value_range: Any = None,
                          chunk_size: int | None = None, stream: bool = False) -> ActivationHistogramsResult | Any:
    """Every feature ("neuron") of A and of B histogrammed on the same ``bins`` equal-width bins (pooled range,
    or ``value_range=(low, high)``), and compared feature by feature (Visual DNA, Ramtoula et al. 2023).

    ``distance`` (``"wasserstein"``, ``"total_variation"`` or ``"kl"``) orders ``result.order``, the features
    most different first; ``result.distances`` holds all three per feature. ``result.plot()`` draws the top
    features' histograms side by side.
    """
    source = distances.iter_activation_histograms(A, B, bins=bins, distance=distance, value_range=value_range,
                                                  chunk_size=chunk_size)
    return drain_or_stream(source, distances.LatestAccumulator(), stream=check_stream(stream),
                           finish=ActivationHistogramsResult.from_record, name="activation-histograms",
                           params={"bins": bins, "distance": distance})


def pair_score_histograms(embeddings: Any, positive_pairs: Any, *, bins: int = 50, metric: str = "cosine",
                          negatives: int | str | None = None, value_range: Any = None, seed: int = 0,
                          chunk_size: int | None = None, stream: bool = False) -> PairScoreHistogramsResult | Any:
    """Positive-pair and negative-pair score histograms at each training checkpoint (Zhu et al. 2021: as
    training goes on, positive scores should move right of the negative ones).

    ``embeddings``: one (N, d) matrix per checkpoint (a list, a dict name -> matrix, or a (C, N, d) array), the
    same rows at every checkpoint. ``positive_pairs``: (P, 2) row indices. ``negatives``: ``"all"`` other pairs
    (the default up to 2·10⁷ pairs) or that many seeded draws of non-positive pairs. ``metric``: ``"cosine"``
    (bins on [−1, 1]) or ``"dot"``. ``result.stats`` per checkpoint: means, stds, histogram overlap and the
    separation d′. ``stream=True`` yields after every checkpoint.
    """
    source = distances.iter_pair_score_histograms(embeddings, positive_pairs, bins=bins, metric=metric,
                                                  negatives=negatives, value_range=value_range, seed=seed,
                                                  chunk_size=chunk_size)
    return drain_or_stream(source, distances.LatestAccumulator(), stream=check_stream(stream),
                           finish=PairScoreHistogramsResult.from_record, name="pair-score-histograms",
                           params={"bins": bins, "metric": metric, "seed": seed})


__all__ = ["DISTANCE_MEASURES", "EMBEDDING_METHODS", "SELECTION_METHODS", "activation_histograms",
           "dataset_distance", "distance_options", "embed", "pair_score_histograms", "select_samples",
           "selection_options"]
