"""The evaluation family's verb: ``fx.evaluate``, how far attributions can be trusted, one method or several."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..compute.engines import dataset_engine, read_dataset
from ..compute.evaluation.blocks import check_blocks, iter_comparison_blocks
from ..compute.evaluation.comparison import ComparisonAccumulator, iter_comparison, plan_comparison
from ..results.evaluation import EvaluationResult
from ..widgets.metrics_table import MetricsTable
from ._run import check_stream, drain_or_stream


def evaluate(
    model: Any,
    inputs: Any,
    attributions: Any,
    *,
    target: Any = None,
    metrics: Any = None,
    explain_func: Any = None,
    perturb_func: Callable | None = None,
    mask: Any = None,
    aggregate: Any = None,
    chunk_size: int | None = None,
    seed: int = 0,
    column: str | None = None,
    engine: Any = None,
    stream: bool = False,
) -> EvaluationResult | Any:
    """Score attributions of ``model`` on ``inputs``: faithfulness, robustness, complexity, randomisation sanity
    checks and, given a ground-truth ``mask``, precision against the truly relevant features.

    Parameters
    ----------
    model:
        A ``torch.nn.Module`` or callable returning ``(batch, n_outputs)`` (or ``(batch,)``).
    inputs:
        Batch-first inputs on the model's device.
    attributions:
        What to score: a tensor or array of maps with the inputs' shape (or with some dimensions after the batch
        of size 1, e.g. ``(B, 1, H, W)`` for one value per pixel); an :class:`~fxwidgets.AttributionResult` (its
        target and, where its parameters can be rebuilt, its method as ``explain_func`` are the defaults); or, to
        compare methods, a dict ``{name: tensor or AttributionResult}`` or a list of AttributionResults. Every
        method is scored on the same draws (the seed keys every draw by metric and sample, not by method).
    target:
        The output index explained (an int or one per row); default: the one the AttributionResults explain.
    metrics:
        None (for each method, every metric its arguments allow), a name, a list of names, or a dict
        ``{name: {parameter: value}}``. When several methods are compared, one without an ``explain_func`` leaves
        the metrics that need one empty (``result.params["skipped"]`` says which and why). Names: ``faithfulness_correlation``, ``deletion``, ``insertion``,
        ``infidelity``, ``max_sensitivity``, ``avg_sensitivity``, ``complexity``, ``sparseness``,
        ``model_randomisation``, ``random_target``, ``top_k_precision``, ``mass_in_mask`` (and Quantus'/Captum's
        names as aliases); ``fx.EVALUATION_METRICS[name].defaults`` lists each one's parameters.
    explain_func:
        ``explain_func(model, inputs, target) -> attributions``, the method that made the maps, for the metrics
        that re-explain (sensitivity, randomisation, random target): a callable for one method, a dict
        ``{name: callable}`` for several. ``fx.attribution_explainer(method, **params)`` makes one from
        fxwidgets' own methods.
    perturb_func:
        The default perturbation of every perturbation metric, with Captum's conventions (one can also be given
        per metric in ``metrics``). It is called for every method; it is run under a generator seeded per chunk,
        so one that draws from torch's generator gives every method the same perturbations.
    mask:
        Ground truth, True where a feature is truly relevant (one sample's shape or the batch's): enables
        ``top_k_precision`` and ``mass_in_mask``.
    aggregate:
        Add Bhatt et al.'s aggregate as the row ``"aggregate"`` (needs two methods or more): ``"sensitivity"``
        (weights lowering the aggregate's change under the ``max_sensitivity`` draws; needs every method's
        ``explain_func``), ``"complexity"`` (lowering its entropy) or ``"mean"``; or a dict with ``objective`` and
        ``n_samples`` / ``radius`` (sensitivity; default: those of the requested sensitivity metric) or ``n_iter``
        (complexity). The weights are in ``result.aggregate``.
    chunk_size:
        The one memory knob: model rows (or rows given to ``explain_func``) at once. It never changes the answer.
    seed:
        Seeds every random draw (perturbations, subsets, re-initialised layers, other targets).
    column:
        When ``inputs`` is a ``ray.data.Dataset``: the column holding the inputs (default: the Dataset's one column
        that ``attributions`` and ``target`` do not name). ``attributions`` may then name a column of maps
        (``attributions="attr"``, read as a tensor of maps) and ``target`` a column of integer labels; an
        AttributionResult of ``fx.attribute`` on the same Dataset lines up with its rows. The columns are read in the
        Dataset's order and checked as they arrive (missing column, rows of different shapes, NaN or inf raise
        naming the argument, the column and the row) before any metric runs; the scores are then those of the
        same rows given as tensors, computed on ``engine`` (default ``"ray"``).
    engine:
        ``None``/``"local"`` (here; ``"ray"`` when ``inputs`` is a Dataset), or ``"ray"`` / :class:`fxwidgets.RayEngine` for a dataset: blocks of samples
        (a multiple of ``chunk_size`` each) are evaluated as Ray tasks on the cluster's workers, the model and the
        explain functions shipped once, each block's scores streamed back as it finishes. Every draw is keyed by
        (seed, metric, sample, draw) and a block knows its first sample, so the answer is the local answer
        (needs ``pip install fxwidgets[ray]``). ``aggregate`` (fitted on all samples together) runs locally only.
    stream:
        ``True`` starts a background :class:`~fxwidgets.runtime.Job` and returns it at once; ``job.result()``
        waits for the same :class:`EvaluationResult` the blocking call returns (``job.state.partial()`` is the
        table so far); ``job.show()`` is the :class:`~fxwidgets.MetricsTable`, filling in as values arrive.

    Bad input (attributions of the wrong shape, methods with maps of different shapes, an unknown metric or
    parameter, a metric whose ``explain_func`` or ``mask`` is missing, a target out of range, ``stream`` not a
    bool) raises naming the argument before any long work starts.
    """
    stream = check_stream(stream)
    runner = dataset_engine(engine, inputs)
    named = {arg: (v, kind) for arg, v, kind in (("attributions", attributions, "numbers"), ("target", target, "labels"))
             if isinstance(v, str)}
    read = read_dataset(inputs, "inputs", column, named=named)
    if read is not None:
        inputs, attributions, target = read["inputs"], read.get("attributions", attributions), read.get("target", target)
    plan = plan_comparison(model, inputs, attributions, target=target, metrics=metrics, explain_func=explain_func,
                           perturb_func=perturb_func, mask=mask, chunk_size=chunk_size, seed=seed, aggregate=aggregate)
    if runner is None:
        source = iter_comparison(plan)
    else:
        check_blocks(plan)
        source = iter_comparison_blocks(plan, runner)
        plan.params.update(runner.describe())
    return drain_or_stream(source, ComparisonAccumulator(plan), stream=stream,
                           finish=EvaluationResult.from_record, name="evaluate", view_factory=MetricsTable.from_job,
                           params=plan.params)


__all__ = ["evaluate"]
