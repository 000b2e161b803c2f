"""The attribution family's verb: ``fx.attribute``, one call for every method."""

from __future__ import annotations

from typing import Any

from ..compute.attribution import AttributionAccumulator, iter_attribution, plan_attribution
from ..compute.attribution.blocks import check_row_method, iter_attribution_blocks
from ..compute.engines import dataset_engine, read_dataset
from ..results.attribution import AttributionResult
from ..widgets.attribution_view import AttributionView
from ..widgets.linking import linked_factory
from ._run import check_stream, drain_or_stream


def attribute(
    model: Any,
    inputs: Any,
    *,
    target: Any = None,
    method: str = "integrated_gradients",
    chunk_size: int | None = None,
    seed: int | None = None,
    forward_args: Any = None,
    column: str | None = None,
    engine: Any = None,
    stream: bool = False,
    **params: Any,
) -> AttributionResult | Any:
    """Attribute ``model``'s output for ``inputs`` (batch first) to the input features.

    Parameters
    ----------
    model:
        A ``torch.nn.Module`` or callable returning ``(batch, n_outputs)`` (or ``(batch,)``). Its mode
        (``eval()``/``train()``) is left as it is. The attributions are computed on the model's device.
    inputs:
        A batch (first dimension = rows) as a tensor, an array or nested lists, cast to the dtype and device of the
        model's first floating parameter; or a tuple of such tensors for a model with several inputs (the values
        then come back as a tuple of the same shapes). Integer inputs to a model with an ``nn.Embedding`` are token
        ids: gradient methods attribute at the embedding's output (``layer=`` to choose another layer) and sum over
        the embedding dimension, giving one value per token (B, T); perturbation and Shapley methods replace tokens
        by ``baseline_token`` (default 0).
    target:
        The output index to explain: an int, or one per input row. Required when the model has several outputs.
    method:
        ``saliency`` (``abs``), ``input_x_gradient``, ``integrated_gradients`` (``baseline``, ``n_steps``,
        ``rule`` in riemann_left/right/middle/trapezoid, gausslegendre), ``smoothgrad``/``vargrad``
        (``n_samples``, ``stdev``, ``base``, ``noise``), ``gradient_shap`` = expected gradients (``background``:
        K reference rows, ``n_samples``, ``stdev``), ``grad_cam`` (``layer``, ``relu``, ``upsample``),
        ``occlusion`` (``sliding_window``, ``strides``, ``baseline``), ``feature_ablation`` (``feature_mask``,
        ``baseline``), ``shapley_exact`` (``feature_mask``, ``baseline`` or ``background``, ``interactions``),
        ``shapley_permutation`` (``n_permutations``, ``antithetic``), ``kernel_shap`` (``n_samples``),
        ``concepts`` (Deep Feature Factorization: ``layer``, ``n_concepts``, ``n_iter``).

        ``background=`` (K rows) makes the Shapley methods and expected gradients *interventional*: a coalition's
        value is the mean over the background of f(x on the coalition, background elsewhere), so the values sum
        to f(x) - E[f(background)] (``result.base_values``). ``layer=`` (a module or its name) with
        ``layer_side="output"|"input"`` attributes the gradient methods and IG to that layer's output or input,
        as Captum's layer methods do (IG then interpolates at the layer).
    chunk_size:
        The one memory knob: model rows per forward/backward pass. Chunking never changes the answer.
    seed:
        For the sampling methods (default 0); recorded in the result.
    forward_args:
        Extra, non-attributed arguments passed to the model after the inputs: a tuple, a dict of keywords, or one
        value; a tensor whose first dimension is the batch is taken row by row (Captum's
        ``additional_forward_args``).
    column:
        When ``inputs`` is a ``ray.data.Dataset``: the column holding the inputs (a fixed-shape numeric tensor
        column, one row per input). Default: the Dataset's one column that ``target`` does not name. ``target``
        may then name a column of integer labels (``target="y"``) or be an int or one per row, as for a tensor.
        The columns are read in the Dataset's order and checked as they arrive (a missing column, rows of
        different shapes, NaN or inf raise naming ``inputs``/``target``, the column and the row) before any
        attribution runs; the rows are then attributed on ``engine`` (default ``"ray"``) exactly as the same rows
        given as a tensor (``ds.take_all()`` order). Needs ``pip install fxwidgets[ray]`` (Ray Data, pyarrow).
    engine:
        ``None``/``"local"`` (here; ``"ray"`` when ``inputs`` is a Dataset), or ``"ray"`` /
        :class:`fxwidgets.RayEngine` for a dataset: blocks of rows
        run as Ray tasks on the cluster's workers (on their GPUs when the cluster has some), the model shipped
        once through the object store, and each block's rows streamed back as it finishes. The answer is the
        local answer: every block runs the same plan with the same ``chunk_size`` and seed (needs
        ``pip install fxwidgets[ray]``). Rows must be independent, so ``smoothgrad``, ``vargrad``,
        ``gradient_shap`` and ``concepts`` (whose draws or factorisation span the batch) run locally only.
        The plan (argument checks and one model pass over the rows) runs here first, as locally.
    stream:
        ``True`` starts a background :class:`~fxwidgets.runtime.Job` and returns it: ``job.show()`` is an
        :class:`AttributionView` that converges live with a Cancel button; ``job.result()`` waits.

    Bad input (a target out of range, inputs on another device than the model, a baseline of the wrong shape,
    a feature mask that does not cover the input, an unknown parameter) raises before any long work starts.
    """
    stream = check_stream(stream)
    runner = dataset_engine(engine, inputs)
    if runner is not None:
        check_row_method(method)
    read = read_dataset(inputs, "inputs", column, named={"target": (target, "labels")} if isinstance(target, str) else None)
    if read is not None:
        inputs, target = read["inputs"], read.get("target", target)
    plan = plan_attribution(model, inputs, target=target, method=method, chunk_size=chunk_size, seed=seed,
                            forward_args=forward_args, **params)
    if runner is None:
        source = iter_attribution(plan)
    else:
        source = iter_attribution_blocks(plan, runner, forward_args=forward_args, params=params)
        plan.params.update(runner.describe())
    return drain_or_stream(source, AttributionAccumulator(plan), stream=stream,
                           finish=AttributionResult.from_record, name=plan.method,
                           view_factory=linked_factory(AttributionView.from_job), params=plan.params)


__all__ = ["attribute"]
