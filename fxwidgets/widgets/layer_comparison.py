"""LayerComparison: the layer x layer similarity (CKA) of two networks, and the two layers' Gram matrices of a
clicked cell (js/layer_comparison.ts).

Contract with the view (docs/protocol.md, "LayerComparison"):

- traits: ``layers_a`` / ``layers_b`` (row / column axis), ``model_names`` (the axes' titles), ``cka`` and
  ``cka_se`` (float32 little-endian bytes, ``len(layers_a) x len(layers_b)``, C order; NaN = not estimated yet),
  ``metric``, ``examples`` / ``n_examples``, ``pair`` (``[row, col]`` of the clicked cell or ``[]``; both sides
  write it), ``sort_by`` (``"label"`` or ``"data order"``; both), ``has_labels``, ``cmap`` / ``vmin`` / ``vmax``
  (None = the finite values' range, so CKA values between 0.8 and 1 keep their contrast), ``gram_cmap``,
  ``title`` and the StreamingWidget's ``progress`` / ``status`` / ``error``. While a job streams, ``cka`` and
  ``cka_se`` are re-sent after every coalesced batch (a few layers squared: bytes, not megabytes).
- RPC ``grams {"row", "col", "sort_by"}`` -> ``{"a", "b"`` (float32 (n, n): the centred Gram matrices of the two
  layers, examples in the shown order), ``"labels"`` (str per example or ``[]``), ``"index"`` (int32: the example
  numbers in that order), ``"lim_a", "lim_b"`` (symmetric colour limits), ``"layer_a", "layer_b"}``; an
  ``RpcError`` before the first examples went through both layers.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import torch
import traitlets

from ..compute.reduce import robust_limit
from ..results.base import show_matrix
from ..results.similarity import CompareResult
from ..runtime import Coalescer, Job
from ..runtime.limits import MAX_RATE_HZ
from ..runtime.rpc import RpcError
from .base import (Choice, ColormapName, ColormapWidget, FiniteFloat, bundle, check_choice_of, check_cmap, check_number,
                   new_figure)

DATA_ORDER = "data order"
LABEL_ORDER = "label"
SORT_ORDERS = (LABEL_ORDER, DATA_ORDER)


def _short(names: list[str]) -> list[str]:
    return [n if n else "(model)" for n in names]


def _float32_bytes(values: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(values, dtype="<f4")).tobytes()


class LayerComparison(ColormapWidget):
    """The CKA matrix of a compare job or a :class:`~fxwidgets.CompareResult`: layer names on both axes, the value
    in each cell when it fits, its standard error on hover; a click (or :meth:`select`) shows the two layers' Gram
    matrices (the example x example similarities CKA compares), sorted by label or in data order (``sort_by``).
    """

    _esm = bundle("layer_comparison")

    page_writable = frozenset({"pair", "sort_by", "cmap", "vmin", "vmax"})

    layers_a = traitlets.List(traitlets.Unicode()).tag(sync=True)
    layers_b = traitlets.List(traitlets.Unicode()).tag(sync=True)
    model_names = traitlets.List(traitlets.Unicode(), ["network A", "network B"]).tag(sync=True)
    cka = traitlets.Bytes(b"").tag(sync=True)
    cka_se = traitlets.Bytes(b"").tag(sync=True)
    metric = traitlets.Unicode("CKA").tag(sync=True)
    examples = traitlets.Int(0).tag(sync=True)
    n_examples = traitlets.Int(None, allow_none=True).tag(sync=True)
    pair = traitlets.List(traitlets.Int(), []).tag(sync=True)
    sort_by = Choice(SORT_ORDERS, DATA_ORDER).tag(sync=True)
    has_labels = traitlets.Bool(False).tag(sync=True)
    cmap = ColormapName("viridis").tag(sync=True)
    vmin = FiniteFloat(None, allow_none=True).tag(sync=True)
    vmax = FiniteFloat(None, allow_none=True).tag(sync=True)
    gram_cmap = ColormapName("RdBu_r", lut="gram_cmap_lut").tag(sync=True)
    gram_cmap_lut = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, source: Any, *, sort_by: str | None = None, cmap: Any = "viridis", gram_cmap: Any = "RdBu_r",
                 vmin: float | None = None, vmax: float | None = None, title: str | None = None,
                 model_names: tuple[str, str] | None = None, max_rate_hz: float = MAX_RATE_HZ) -> None:
        check_cmap(cmap, "cmap")
        check_cmap(gram_cmap, "gram_cmap")
        vmin = check_number(vmin, "vmin", allow_none=True)
        vmax = check_number(vmax, "vmax", allow_none=True)
        max_rate_hz = check_number(max_rate_hz, "max_rate_hz", low=0.0, open_low=True)
        if sort_by is not None:
            check_choice_of(sort_by, "sort_by", SORT_ORDERS)
        if isinstance(source, Job):
            job: Job | None = source
            plan = source.state.plan
            layers_a, layers_b, same = plan.layers_a, plan.layers_b, plan.params.get("same_model", False)
            result = None
            # labels given, or maybe in the batches: known only once they arrive
            has_labels = plan.labels is not None or not isinstance(plan.source, torch.Tensor)
            n_examples = plan.n_examples
            kernel = plan.kernel
        elif isinstance(source, CompareResult):
            job, result = None, source
            layers_a, layers_b, same = source.layers_a, source.layers_b, source.params.get("same_model", False)
            has_labels = source.gram_labels is not None
            n_examples = source.params.get("n_examples") or source.examples
            kernel = source.params.get("kernel", "linear")
        else:
            raise TypeError(f"LayerComparison shows a compare job or a CompareResult, got {type(source).__name__}")
        if model_names is None:
            model_names = ("network", "network") if same else ("network A", "network B")
        if isinstance(model_names, str) or not hasattr(model_names, "__len__") or len(model_names) != 2:
            raise ValueError(f"model_names must be two names (rows, columns), got {model_names!r}")
        self._lock = threading.RLock()
        self.result: CompareResult | None = result
        super().__init__(layers_a=_short(list(layers_a)), layers_b=_short(list(layers_b)),
                         model_names=[str(m) for m in model_names], metric=f"CKA ({kernel}, minibatch)",
                         n_examples=None if n_examples is None else int(n_examples), has_labels=bool(has_labels),
                         sort_by=sort_by or (LABEL_ORDER if has_labels else DATA_ORDER), cmap=cmap, gram_cmap=gram_cmap,
                         vmin=vmin, vmax=vmax, title="CKA, layer × layer" if title is None else str(title))
        self.job = job
        self.rpc.register("grams", self._rpc_grams)
        if job is None:
            self._refresh()
            self.status, self.progress = "done", 1.0
        else:
            self._coalescer: Coalescer = Coalescer(lambda _pending, update: update, self._flush,
                                                   max_rate_hz=max_rate_hz)
            self.status, self.progress = "running", job.progress
            job.subscribe(self, on_attach=self._refresh)

    # -- what results and jobs open ----------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: CompareResult, **kwargs: Any) -> "LayerComparison":
        return cls(result, **kwargs)

    @classmethod
    def from_job(cls, job: Job, **kwargs: Any) -> "LayerComparison":
        return cls(job, **kwargs)

    # -- the job --------------------------------------------------------------------------------------
    def on_item(self, job: Job, item: Any) -> None:
        self._coalescer.push(item)

    def on_end(self, job: Job) -> None:
        self._coalescer.close()
        if job.status == "done":
            self.result = job.completed_result()  # not job.result(): that waits for every on_end, this one included
        self._refresh()
        self._show_job_end(job)

    def _flush(self, _item: Any) -> None:
        self._refresh()
        if self.job is not None:
            self.progress = self.job.progress

    def _state(self) -> tuple[Any, Any, int, Any, Any, Any, Any]:
        """(values, se, examples seen, grams_a, grams_b, gram index, gram labels) now."""
        if self.result is not None:
            r = self.result
            return r.values.numpy(), r.se.numpy(), r.examples, r.grams_a, r.grams_b, r.gram_index, r.gram_labels
        with self.job.lock:
            s = self.job.state
            return (s.values.numpy().copy(), s.se(), s.examples_seen, s.grams_a, s.grams_b, s.gram_index,
                    s.gram_labels)

    def _refresh(self) -> None:
        values, se, seen, *_rest = self._state()
        labels = _rest[3]
        with self.hold_sync():
            self.cka = _float32_bytes(values)
            self.cka_se = _float32_bytes(se)
            self.examples = int(seen)
            if labels is not None and not self.has_labels:
                self.has_labels = True

    @property
    def values(self) -> np.ndarray:
        """The matrix the view draws (float32, NaN = not estimated yet)."""
        return np.frombuffer(self.cka, dtype="<f4").reshape(len(self.layers_a), len(self.layers_b)).copy()

    # -- selection and sorting --------------------------------------------------------------------------
    @traitlets.validate("pair")
    def _valid_pair(self, proposal: Any) -> list:
        p = proposal["value"]
        if p == []:
            return p
        if (len(p) != 2 or not 0 <= p[0] < len(self.layers_a) or not 0 <= p[1] < len(self.layers_b)):
            raise traitlets.TraitError(f"pair must be [] or [row, col] inside the {len(self.layers_a)} x "
                                       f"{len(self.layers_b)} matrix, got {p!r}")
        return p

    def select(self, row: int, col: int) -> None:
        """Show the Gram matrices of ``layers_a[row]`` and ``layers_b[col]`` (what a click on that cell does)."""
        for name, v, n in (("row", row, len(self.layers_a)), ("col", col, len(self.layers_b))):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < n:
                raise ValueError(f"cell ({row}, {col}) is outside the {len(self.layers_a)} x {len(self.layers_b)} "
                                 f"matrix ({name} must be in 0..{n - 1})")
        self.pair = [int(row), int(col)]

    def _order(self, index: np.ndarray, labels: np.ndarray | None, sort_by: str) -> np.ndarray:
        if sort_by == LABEL_ORDER and labels is not None:
            return np.lexsort((index, labels))  # by label, ties in data order
        return np.argsort(index, kind="stable")

    def grams(self, row: int, col: int, sort_by: str | None = None) -> dict:
        """What the view draws for cell (row, col): the two centred Gram matrices in the shown order, with each
        example's label and number and a symmetric colour limit per matrix."""
        sort_by = self.sort_by if sort_by is None else check_choice_of(sort_by, "sort_by", SORT_ORDERS)
        for name, v, n in (("row", row, len(self.layers_a)), ("col", col, len(self.layers_b))):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < n:
                raise ValueError(f"{name} must be an integer in 0..{n - 1}, got {v!r}")
        _v, _se, _seen, ga, gb, index, labels = self._state()
        if ga is None or gb is None:
            raise RpcError("the Gram matrices appear once the first examples have gone through both layers")
        index = np.asarray(index)
        labels = None if labels is None else np.asarray(labels)
        order = self._order(index, labels, sort_by)
        idx = torch.from_numpy(order)
        a = ga[row][idx][:, idx].float()
        b = gb[col][idx][:, idx].float()
        return {"a": a.numpy(), "b": b.numpy(),
                "labels": [] if labels is None else [str(v) for v in labels[order]],
                "index": index[order].astype(np.int32), "lim_a": float(robust_limit(a)), "lim_b": float(robust_limit(b)),
                "layer_a": self.layers_a[row], "layer_b": self.layers_b[col]}

    def _rpc_grams(self, args: dict) -> dict:
        return self.grams(args.get("row"), args.get("col"), args.get("sort_by", self.sort_by))

    # -- pictures and standalone pages ---------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        values = self.values
        fig, ax = new_figure(5.4, 4.6)
        im = show_matrix(ax, values, cmap=self.colormap(), vmin=self.vmin, vmax=self.vmax)
        ax.set_xticks(range(len(self.layers_b)), self.layers_b, rotation=90)
        ax.set_yticks(range(len(self.layers_a)), self.layers_a)
        ax.set_ylabel(f"{self.model_names[0]}: layer")
        ax.set_xlabel(f"{self.model_names[1]}: layer")
        ax.set_title(self.title)
        fig.colorbar(im, ax=ax, label=self.metric)
        return fig

    def _standalone(self, page: Any) -> None:
        if self._state()[3] is None:
            page.omit("the Gram matrices (no example had gone through both layers yet)")
            return
        orders = SORT_ORDERS if self.has_labels else (DATA_ORDER,)
        for sort_by in orders:
            for row in range(len(self.layers_a)):
                for col in range(len(self.layers_b)):
                    if not page.answer("grams", {"row": row, "col": col, "sort_by": sort_by},
                                       self.grams(row, col, sort_by)):
                        page.omit("the Gram matrices of some cells")
                        return
