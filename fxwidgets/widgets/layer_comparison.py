"""LayerComparison: the layer x layer CKA heatmap, and the two layers' Gram matrices of a clicked cell.

Composed on the Python side from the foundation's AffinityHeatmap (no new front-end code): the matrix is an
AffinityHeatmap whose whole (small) matrix is re-sent after every batch; a click lands in its ``selection``
trait, which this widget observes to build the two sample-affinity heatmaps, sorted by the chosen order.
"""

from __future__ import annotations

from typing import Any

import ipywidgets
import numpy as np
import torch
import traitlets

from ..compute.reduce import block_means, robust_limit
from ..results.similarity import CompareResult
from ..runtime import Job
from .affinity_heatmap import AffinityHeatmap


class LayerSimilarityHeatmap(AffinityHeatmap):
    """An AffinityHeatmap fed by a compare job: every cell is a running estimate, so each update re-sends the
    whole matrix (a few layers squared: bytes, not megabytes) instead of only rows that became final."""

    def _update_display(self, rows_done: int) -> tuple[int, int] | None:
        if rows_done <= 0:
            return None
        h = self.display_shape[0]
        fr, fc = self.block
        with self._display_lock:
            values = self._values.detach().to("cpu", torch.float32).numpy()
            self._display[:] = block_means(values, fr, fc)
            self._rows_ready = h
        return 0, h


DATA_ORDER = "data order"
LABEL_ORDER = "label"


def _short(names: list[str]) -> list[str]:
    return [n if n else "(model)" for n in names]


class LayerComparison(ipywidgets.VBox):
    """The CKA matrix (``matrix``, an AffinityHeatmap) over two Gram-matrix panels (``panels``).

    Traits (Python side): ``pair`` is ``[row, col]`` of the cell whose Gram matrices are shown (``[]`` for none);
    ``sort_by`` is ``"label"`` or ``"data order"``; ``examples`` the number of examples seen so far.
    """

    pair = traitlets.List(traitlets.Int(), [])
    sort_by = traitlets.Unicode(DATA_ORDER)
    examples = traitlets.Int(0)

    def __init__(self, source: Any, *, sort_by: str | None = None, cmap: str = "viridis",
                 gram_cmap: str = "RdBu_r", title: str | None = None, model_names: tuple[str, str] | None = None) -> None:
        if isinstance(source, Job):
            self.job: Job | None = source
            plan = source.state.plan
            layers_a, layers_b, same = plan.layers_a, plan.layers_b, plan.params.get("same_model", False)
            self.result: CompareResult | None = None
        elif isinstance(source, CompareResult):
            self.job = None
            self.result = source
            layers_a, layers_b, same = source.layers_a, source.layers_b, source.params.get("same_model", False)
        else:
            raise TypeError(f"LayerComparison shows a compare job or a CompareResult, got {type(source).__name__}")
        self.model_names = model_names or (("model", "model") if same else ("model A", "model B"))
        self.gram_cmap = gram_cmap
        kwargs = dict(row_labels=_short(layers_a), col_labels=_short(layers_b), cmap=cmap, vmin=0.0, vmax=1.0,
                      title=title if title is not None else "CKA, layer × layer", value_label="CKA")
        if self.job is not None:
            self.matrix = LayerSimilarityHeatmap(job=self.job, **kwargs)
        else:
            self.matrix = AffinityHeatmap(self.result.values, **kwargs)
        self.layers_a, self.layers_b = list(layers_a), list(layers_b)
        self.sort_select = ipywidgets.Dropdown(options=[DATA_ORDER, LABEL_ORDER], value=DATA_ORDER,
                                               description="sort by", layout=ipywidgets.Layout(width="220px"))
        self.sort_select.add_class("fx-sort-by")
        self.info = ipywidgets.Label("")
        self.hint = ipywidgets.Label("Click a cell to see the two layers' Gram matrices (the sample affinities CKA "
                                     "compares) side by side.")
        self.panels = ipywidgets.HBox([])
        super().__init__([self.matrix, ipywidgets.HBox([self.sort_select, self.info]), self.hint, self.panels])
        self.add_class("fx-layer-comparison")
        self.sort_select.observe(self._on_sort_select, "value")
        self.matrix.observe(self._on_selection, "selection")
        if self.job is not None:
            self.job.subscribe(self)
        self._refresh_info()
        if self.job is not None:  # labels given, or maybe in the batches: known only once they arrive
            plan = self.job.state.plan
            expect_labels = plan.labels is not None or not isinstance(plan.source, torch.Tensor)
        else:
            expect_labels = self.result.gram_labels is not None
        if sort_by is not None:
            self.sort_by = sort_by
        elif expect_labels:
            self.sort_by = LABEL_ORDER

    # -- what results and jobs open ----------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: CompareResult, **kwargs: Any) -> "LayerComparison":
        return cls(result, **kwargs)

    @classmethod
    def from_job(cls, job: Job, **kwargs: Any) -> "LayerComparison":
        return cls(job, **kwargs)

    # -- the job --------------------------------------------------------------------------------------
    def on_item(self, job: Job, item: Any) -> None:
        self._refresh_info()

    def on_end(self, job: Job) -> None:
        self._refresh_info()
        if job.status == "done":
            self.result = job.completed_result()  # not job.result(): that waits for every on_end, this one included
            if self.pair:
                self._show_pair(*self.pair)

    def _state(self) -> tuple[int, int | None, Any, Any, Any, Any]:
        if self.result is not None:
            r = self.result
            return (r.examples, r.params.get("n_examples"), r.grams_a, r.grams_b, r.gram_index, r.gram_labels)
        with self.job.lock:
            s = self.job.state
            return (s.examples_seen, s.plan.n_examples, s.grams_a, s.grams_b, s.gram_index, s.gram_labels)

    def _gram_labels(self):
        return self._state()[5]

    def _refresh_info(self) -> None:
        seen, total, *_ = self._state()
        self.examples = int(seen)
        of = f" of {total}" if total else ""
        self.info.value = f"{seen}{of} examples seen"

    # -- selection and sorting --------------------------------------------------------------------------
    @traitlets.validate("sort_by")
    def _valid_sort(self, proposal: Any) -> str:
        if proposal["value"] not in (DATA_ORDER, LABEL_ORDER):
            raise traitlets.TraitError(f"sort_by must be {LABEL_ORDER!r} or {DATA_ORDER!r}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.observe("sort_by")
    def _on_sort_by(self, change: Any) -> None:
        self.sort_select.value = change["new"]
        if self.pair:
            self._show_pair(*self.pair)

    def _on_sort_select(self, change: Any) -> None:
        self.sort_by = change["new"]

    def _on_selection(self, change: Any) -> None:
        sel = change["new"] or {}
        rows, cols = sel.get("rows") or [], sel.get("cols") or []
        if not rows or not cols:
            return
        self.select(rows[0], cols[0])

    def select(self, row: int, col: int) -> None:
        """Show the Gram matrices of ``layers_a[row]`` and ``layers_b[col]`` (what a click on that cell does)."""
        if not (0 <= row < len(self.layers_a) and 0 <= col < len(self.layers_b)):
            raise ValueError(f"cell ({row}, {col}) is outside the {len(self.layers_a)} x {len(self.layers_b)} matrix")
        self._show_pair(row, col)
        self.pair = [int(row), int(col)]

    def _order(self, index: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
        if self.sort_by == LABEL_ORDER and labels is not None:
            order = np.lexsort((index, labels))  # by label, ties in data order
            return order, [str(v) for v in labels[order]]
        order = np.argsort(index, kind="stable")
        names = [f"#{i}" if labels is None else f"#{i} ({labels[j]})" for j, i in zip(order, index[order])]
        return order, names

    def _show_pair(self, row: int, col: int) -> None:
        seen, _total, ga, gb, index, labels = self._state()
        if ga is None:
            self.panels.children = [ipywidgets.Label("The Gram matrices appear once the first examples have gone "
                                                     "through both layers.")]
            return
        order, names = self._order(np.asarray(index), labels)
        idx = torch.from_numpy(order)
        views = []
        for side, grams, layers, r in (("a", ga, self.layers_a, row), ("b", gb, self.layers_b, col)):
            g = grams[r][idx][:, idx].float()
            lim = robust_limit(g)
            who = self.model_names[0 if side == "a" else 1]
            views.append(AffinityHeatmap(g, row_labels=names, col_labels=names, cmap=self.gram_cmap, vmin=-lim,
                                         vmax=lim, value_label="centred Gram",
                                         title=f"{who}: {_short([layers[r]])[0]} ({len(order)} examples)"))
        for v in views:
            v.layout.width = "50%"
        self.panels.children = views
        self.gram_views = views
