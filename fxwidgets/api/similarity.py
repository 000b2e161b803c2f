"""Verbs of the representation-similarity family: one score for two representations, or a layer x layer matrix."""

from __future__ import annotations

from typing import Any

import torch

from ..compute.compare import CompareAccumulator, iter_compare, plan_compare
from ..compute.similarity import MEASURES, plan_similarity, run_similarity
from ..results.similarity import CompareResult, SimilarityResult
from ..widgets.layer_comparison import LayerComparison
from ._run import check_stream, drain_or_stream


def similarity(X: Any, Y: Any = None, measure: str = "cka", **params: Any) -> SimilarityResult:
    """How alike two representations ``X`` (n x p) and ``Y`` (n x q) of the same n examples are.

    measure (parameters, defaults first):

    - ``"cka"``: centred kernel alignment. ``kernel="linear"|"rbf"``; ``threshold=1.0`` (RBF bandwidth as a
      fraction of the median distance); ``unbiased=False`` (True: debiased CKA with U-centred Grams);
      ``batch_size=None`` (an int: minibatch CKA with the unbiased HSIC over batches of a ``seed``-ed shuffle,
      ``shuffle=True, seed=0``, with a jackknife standard error in ``result.se``).
    - ``"hsic"``: ``kernel``, ``threshold``, ``unbiased`` as above; biased ``tr(KHLH)/(n-1)^2`` or HSIC1.
    - ``"distance_covariance"``, ``"distance_correlation"``: ``unbiased=False``, ``squared=False``
      (the unbiased statistics are squared ones and can be negative, so they need ``squared=True``).
    - ``"cca"``: mean-squared canonical correlation; ``center=True``.
    - ``"jaccard"``: mean over items of the Jaccard overlap of their ``k=10`` nearest neighbours in X and in Y
      (``metric="cosine"|"euclidean"``, ``chunk_size``); per-item values in ``result.per_item``.
    - ``"alignment"``: ``E|x_i - y_i|^alpha`` over positive pairs (rows of X and Y), ``alpha=2``,
      ``normalize=True`` (put rows on the unit sphere first).
    - ``"uniformity"``: ``log E_{i<j} exp(-t |x_i - x_j|^2)`` of X alone (``Y=None``), ``t=2``, ``normalize``.

    Bad input (NaN/Inf, different numbers of examples, a constant representation where the measure is a ratio,
    an unknown measure or parameter) raises before any work starts.
    """
    plan = plan_similarity(X, Y, measure, **params)
    out = run_similarity(plan)
    return SimilarityResult(value=float(out["value"]), measure=plan.measure, params={**plan.params, **out["extra"]},
                            se=out["se"], per_item=out["per_item"])


def compare(
    model_a: torch.nn.Module,
    model_b: torch.nn.Module | None = None,
    data: Any = None,
    *,
    layers: Any = None,
    layers_b: Any = None,
    labels: Any = None,
    batch_size: int = 64,
    kernel: str = "linear",
    threshold: float = 1.0,
    shuffle: bool = True,
    seed: int = 0,
    gram_samples: int = 256,
    stream: bool = False,
) -> CompareResult | Any:
    """Minibatch CKA between the layers of ``model_a`` and those of ``model_b`` (or ``model_a`` again).

    Parameters
    ----------
    model_a, model_b:
        torch modules; ``model_b=None`` compares ``model_a``'s layers with each other. Both run in eval mode
        under ``torch.no_grad()`` (their train/eval flags are restored afterwards), each on its own device.
    data:
        Inputs: a tensor/array whose first dimension is the examples (batched here, shuffled with ``seed`` when
        ``shuffle``), or an iterable of batches such as a DataLoader (a batch may be ``(inputs, labels, ...)``;
        the labels then sort the Gram matrices in the view).
    layers, layers_b:
        Module names (``dict(model.named_modules())`` keys). Default: every leaf module; ``layers_b`` defaults to
        ``layers`` when model B has those names. An unknown name raises with the list of valid ones.
    labels:
        One label per example (tensor/array data) to sort the sample-affinity matrices by.
    batch_size:
        Examples per forward pass and per CKA minibatch (at least 4; a remainder under 4 joins the last batch).
    kernel, threshold:
        ``"linear"`` or ``"rbf"`` Grams per batch (RBF bandwidth = ``threshold`` x the batch's median distance).
    gram_samples:
        How many of the first examples keep their per-layer Gram matrix for the view (0: none).
    stream:
        ``True`` starts a background :class:`~fxwidgets.runtime.Job` at once; ``job.show()`` is the live view (the
        matrix fills in batch by batch, with the number of examples seen), ``job.result()`` the
        :class:`CompareResult`.
    """
    plan = plan_compare(model_a, model_b, data, layers=layers, layers_b=layers_b, labels=labels,
                        batch_size=batch_size, kernel=kernel, threshold=threshold, shuffle=shuffle, seed=seed,
                        gram_samples=gram_samples)
    return drain_or_stream(iter_compare(plan), CompareAccumulator(plan), stream=check_stream(stream),
                           finish=CompareResult.from_record, name="compare-cka", view_factory=LayerComparison.from_job,
                           params=plan.params)


__all__ = ["MEASURES", "compare", "similarity"]
