"""MetricsTable: which attribution method to trust, as a method x metric table you can sort and open.

Each cell is the mean ± standard error of one metric for one method over the samples, with the spread of the
per-sample values drawn beside it (a box from the 25th to the 75th percentile, whiskers to the extremes, and the
values as dots). Each column is coloured from the worst to the best method by the metric's direction (the same
rule as ``EvaluationResult.plot``) and its best method is marked. Clicking a column header sorts the rows by it
(best first, again to reverse); clicking a cell writes :attr:`selected` and opens that cell's detail: the mean
deletion / insertion curve with a ± 1 s.e. band and some samples' curves (other methods' mean curves behind it),
the similarity per randomised layer for the model-randomisation check, or the per-sample values for the others;
for the randomisation checks also the first sample's map before and after each randomisation, as small heatmaps.
Fed by a finished :class:`~fxwidgets.EvaluationResult` or by the job of ``fx.evaluate(..., stream=True)``, whose
partial table fills the cells as per-sample values arrive.

Contract with js/metrics_table.ts (the shared rules of docs/protocol.md apply: arrays as binary buffers):

- synced traits: ``methods``, ``metric_names``, ``higher_is_better`` (per metric: true, false or null),
  ``curve_metrics`` (metrics whose detail is a curve), ``n_samples``, ``title`` (Python); ``sort_by`` ("" = the
  order given, ``"method"``, or a metric name) and ``sort_ascending`` (both); ``selected``
  (``{"method": str, "metric": str}`` or null; written by the page, validated here);
  ``progress``/``status``/``error``.
- kernel -> view: ``{"type": "table", ...T}`` whenever the table changes (at a bounded rate while streaming), with
  T = ``{methods, means, stderrs (float32 M x K), n_valid (int32 M x K), goodness (float32 M x K in [0, 1], NaN:
  no direction or no value), best (int32 K, -1: none), quantiles (float32 M x K x 5: min, q25, median, q75,
  max), samples (float32 M x K x S, S <= MAX_STRIP_SAMPLES, NaN-padded), progress}``.
- view -> kernel RPC: ``table {}`` -> T; ``detail {"method", "metric"}`` -> D = ``{method, metric, kind: "curve" |
  "layers" | "values", higher_is_better, mean, stderr, n_valid, params}`` plus for curves ``x`` (float32 P),
  ``labels`` (layer names or null), ``axis``, ``y_label``, ``curve_mean``/``curve_stderr`` (float32 P),
  ``curves`` (float32 S x P, at most MAX_DETAIL_CURVES samples), ``others`` ([{method, curve_mean}]); and for
  every kind ``values`` (float32, per sample, at most MAX_DETAIL_SAMPLES) with ``sample_index`` (int32); for the
  randomisation checks (model_randomisation, random_target) also ``maps`` (float32, steps + 1 maps of shape
  (H, W) or (d,): the original map, then the map after each randomised layer or of the other class; image maps
  with their channels summed), ``map_labels`` (steps + 1 str) and ``map_row`` (the sample, int);
  ``cancel {}`` as every view.
- DOM for tests: root ``div.fx-metrics`` with ``data-rows`` (the methods in the order shown, joined by "|"),
  ``data-sort``, ``data-selected`` ("method|metric"), ``data-detail`` (the cell whose detail is drawn),
  ``data-tables`` (table messages received), ``data-status``, ``data-maps`` (maps drawn in the detail);
  ``table.fx-mtable`` (several when the columns are
  split to fit the width) with ``th.fx-mhead[data-metric]``, ``tr[data-method]``, ``td.fx-mcell[data-method]
  [data-metric]`` holding ``canvas.fx-strip``; ``canvas.fx-detail``.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import traitlets

from ..results.evaluation import CURVE_METRICS, EvaluationResult, column_goodness
from ..runtime import Coalescer, Job
from ..runtime.codec import pack
from ..runtime.limits import MAX_RATE_HZ
from .base import StreamingWidget, bundle, new_figure

#: Per-sample values drawn as dots in each cell (an evenly spaced subset beyond this; the box and whiskers use
#: every sample). A cell is ~100 px wide: more dots only overdraw.
MAX_STRIP_SAMPLES = 256
#: Per-sample values the detail panel draws (one dot each, with its sample index in the tooltip).
MAX_DETAIL_SAMPLES = 4096
#: Per-sample curves drawn thinly behind a method's mean deletion / insertion curve.
MAX_DETAIL_CURVES = 32


def _merge(_pending: Any, _update: Any) -> bool:
    return True


def _spaced(n: int, most: int) -> np.ndarray:
    """At most ``most`` indices evenly spread over 0..n-1 (all of them when n <= most)."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def _plain(value: Any) -> Any:
    """A parameter as JSON: numbers, strings, booleans, None, lists and dicts of those; anything else as text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def table_message(result: EvaluationResult, methods: list[str], metrics: list[str]) -> dict:
    """The table of ``result`` laid out on rows ``methods`` and columns ``metrics`` (NaN where a row or cell has
    nothing yet), as the ``table`` message's fields."""
    M, K = len(methods), len(metrics)
    S = min(result.n_samples, MAX_STRIP_SAMPLES)
    pick = _spaced(result.n_samples, MAX_STRIP_SAMPLES)
    means = np.full((M, K), np.nan)
    ses = np.full((M, K), np.nan)
    n_valid = np.zeros((M, K), dtype=np.int32)
    quant = np.full((M, K, 5), np.nan)
    samples = np.full((M, K, S), np.nan)
    for i, m in enumerate(methods):
        rec = result.records.get(m)
        if rec is None:
            continue
        for j, k in enumerate(metrics):
            r = rec.metrics.get(k)
            if r is None:
                continue
            v = r.values.detach().double().cpu().numpy()
            means[i, j], ses[i, j], n_valid[i, j] = r.mean, r.stderr, r.n_valid
            finite = v[np.isfinite(v)]
            if finite.size:
                quant[i, j] = np.quantile(finite, [0.0, 0.25, 0.5, 0.75, 1.0])
            samples[i, j] = v[pick]
    hib = [_direction(result, k) for k in metrics]
    goodness = column_goodness(means, hib)
    best = np.full(K, -1, dtype=np.int32)
    for j in range(K):
        col = goodness[:, j]
        if np.isfinite(col).any() and np.nanmax(col) > 0:
            # the method the figure and result.best name: the best mean (a tie: the first of them)
            best[j] = int(np.nanargmax(np.where(np.isfinite(col), col, -np.inf)))
    return {"methods": list(methods), "means": means.astype(np.float32), "stderrs": ses.astype(np.float32),
            "n_valid": n_valid, "goodness": goodness.astype(np.float32), "best": best,
            "quantiles": quant.astype(np.float32), "samples": samples.astype(np.float32),
            "progress": float(result.progress)}


def _direction(result: EvaluationResult, metric: str) -> bool | None:
    for rec in result.records.values():
        if metric in rec.metrics:
            return rec.metrics[metric].higher_is_better
    return None


def detail_message(result: EvaluationResult, method: str, metric: str) -> dict:
    """What the detail panel draws for one cell (see the module docstring, D)."""
    rec = result.records.get(method)
    r = None if rec is None else rec.metrics.get(metric)
    if r is None:
        raise ValueError(f"no values for method {method!r} and metric {metric!r} (yet)")
    v = r.values.detach().double().cpu().numpy()
    pick = _spaced(v.shape[0], MAX_DETAIL_SAMPLES)
    out: dict = {"method": method, "metric": metric, "higher_is_better": r.higher_is_better,
                 "mean": float(r.mean), "stderr": float(r.stderr), "n_valid": int(r.n_valid),
                 "params": _plain(dict(r.params)), "values": v[pick].astype(np.float32),
                 "sample_index": pick.astype(np.int32), "kind": "values"}
    out.update(_maps(r))
    if r.curves is None or r.curve_x is None:
        return out
    curves = r.curves.detach().double().cpu().numpy()
    mean, se = _curve_stats(curves)
    rows = np.flatnonzero(np.isfinite(curves).all(1))
    rows = rows[_spaced(rows.size, MAX_DETAIL_CURVES)]
    layers = metric == "model_randomisation"
    axis = r.curve_axis if isinstance(r.curve_axis, str) else (
        next(iter(r.curve_axis.values())) if isinstance(r.curve_axis, dict) and r.curve_axis else "")
    others = []
    for m, other in result.records.items():
        o = other.metrics.get(metric)
        if m != method and o is not None and o.curves is not None:
            others.append({"method": m, "curve_mean": _curve_stats(o.curves.detach().double().cpu().numpy())[0].astype(np.float32)})
    similarity = r.params.get("similarity", "similarity") if layers else ""
    out.update({"kind": "layers" if layers else "curve", "x": r.curve_x.detach().double().cpu().numpy().astype(np.float32),
                "labels": None if r.curve_labels is None else [str(s) for s in r.curve_labels], "axis": axis,
                "y_label": f"{similarity} with the original map" if layers else "model output at the target",
                "curve_mean": mean.astype(np.float32), "curve_stderr": se.astype(np.float32),
                "curves": curves[rows].astype(np.float32), "others": others})
    return out


def _maps(r: Any) -> dict:
    """The randomisation checks' kept maps of the first sample (see the module docstring): ``maps`` (float32,
    steps + 1 maps, channels summed for images), ``map_labels`` and ``map_row``; {} when the record keeps none."""
    kept = r.extras.get("maps")
    if kept is None or kept.shape[0] == 0:
        return {}
    m = kept.detach().float().cpu().numpy()
    done = np.flatnonzero(np.isfinite(m.reshape(m.shape[0], -1)).all(1))
    if done.size == 0:  # a partial record whose first samples are not done yet
        return {}
    row = int(done[0])
    maps = m[row]
    if maps.ndim == 4:  # (steps + 1, C, H, W): the channels summed, as the attribution view draws images
        maps = maps.sum(1)
    elif maps.ndim > 4:
        maps = maps.reshape(maps.shape[0], -1)
    if r.name == "random_target":
        other = r.extras.get("other_target")
        labels = ["original", "class " + (str(int(other[row])) if other is not None else "?")]
    else:
        labels = ["original", *(f"after {n}" for n in (r.curve_labels or ()))]
    return {"maps": np.ascontiguousarray(maps, dtype=np.float32), "map_labels": labels[:maps.shape[0]], "map_row": row}


def _curve_stats(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over samples at each point of the curves and its standard error (NaN-aware)."""
    n = np.isfinite(curves).sum(0)
    safe = np.where(np.isfinite(curves), curves, 0.0)
    mean = np.where(n > 0, safe.sum(0) / np.maximum(n, 1), np.nan)
    dev = np.where(np.isfinite(curves), curves - mean, 0.0)
    var = np.where(n > 1, (dev ** 2).sum(0) / np.maximum(n - 1, 1), np.nan)
    return mean, np.sqrt(var / np.maximum(n, 1))


class MetricsTable(StreamingWidget):
    """The method x metric table of an evaluation: ``MetricsTable(result)``, ``result.show()`` or, live,
    ``fx.evaluate(..., stream=True).show()``. ``selected`` is the cell last clicked (``{"method", "metric"}``)."""

    _esm = bundle("metrics_table")

    page_writable = frozenset({"sort_by", "sort_ascending", "selected"})

    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    metric_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    higher_is_better = traitlets.List(traitlets.Bool(allow_none=True)).tag(sync=True)
    curve_metrics = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_samples = traitlets.Int(0).tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    sort_ascending = traitlets.Bool(True).tag(sync=True)
    selected = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, result: EvaluationResult | None = None, *, job: Job | None = None, title: str = "",
                 sort_by: str = "", selected: dict | None = None, max_rate_hz: float = MAX_RATE_HZ) -> None:
        if (result is None) == (job is None):
            raise TypeError("give MetricsTable an EvaluationResult (result=) or the job of fx.evaluate(..., "
                            "stream=True) (job=); exactly one")
        self._lock = threading.RLock()
        self._job = job
        if job is not None:
            plan = getattr(job.state, "plan", None)
            if plan is None or not hasattr(job.state, "partial"):
                raise TypeError("job must be the job of fx.evaluate(..., stream=True), whose state has a partial table")
            methods = [str(m) for m in plan.params["methods"]]
            metrics = [str(k) for k in plan.metric_names]
            n = int(plan.batch)
            with job.lock:
                self._result = EvaluationResult.from_record(job.state.partial())
        else:
            if not isinstance(result, EvaluationResult):
                raise TypeError(f"result must be an EvaluationResult (what fx.evaluate returns), got {type(result).__name__}")
            methods, metrics, n = list(result.methods), list(result.metric_names), int(result.n_samples)
            self._result = result
        hib = [_direction(self._result, k) for k in metrics]
        for j, k in enumerate(metrics):  # a streamed table: directions before any value, from the plans
            if hib[j] is None and job is not None:
                hib[j] = next((s.higher_is_better for p in job.state.plan.plans.values() for s in p.metrics
                               if s.name == k), None)
        super().__init__(methods=methods, metric_names=metrics, higher_is_better=hib,
                         curve_metrics=[k for k in metrics if k in CURVE_METRICS], n_samples=n,
                         title=title or f"Which attributions to trust: {len(methods)} method(s) x {len(metrics)} "
                                        f"metric(s), mean ± s.e. over {n} samples")
        self.sort_by = sort_by
        self.selected = selected
        self._table = table_message(self._result, methods, metrics)
        self._coalescer: Coalescer = Coalescer(_merge, self._flush, max_rate_hz=max_rate_hz)
        self.rpc.register("table", self._rpc_table)
        self.rpc.register("detail", self._rpc_detail)
        if job is not None:
            self._attach(job)
        else:
            self.status, self.progress = "done", 1.0

    # -- what results and jobs open ----------------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: EvaluationResult, **kwargs: Any) -> "MetricsTable":
        """The view of a finished evaluation (``result.show()``)."""
        return cls(result, **kwargs)

    @classmethod
    def from_job(cls, job: Job, **kwargs: Any) -> "MetricsTable":
        """The live view of ``fx.evaluate(..., stream=True)``: cells fill as per-sample values arrive."""
        return cls(job=job, **kwargs)

    @property
    def result(self) -> EvaluationResult:
        """The table shown: the final result, or the partial one of a running job."""
        with self._lock:
            return self._result

    # -- validation ------------------------------------------------------------------------------------------
    @traitlets.validate("selected")
    def _valid_selected(self, proposal: Any) -> dict | None:
        v = proposal["value"]
        if v is None:
            return None
        if not isinstance(v, dict) or set(v) != {"method", "metric"}:
            raise traitlets.TraitError(f"selected must be None or {{'method': ..., 'metric': ...}}; got {v!r}")
        if v["method"] not in self.methods:
            raise traitlets.TraitError(f"selected['method'] must be one of {self.methods}; got {v['method']!r}")
        if v["metric"] not in self.metric_names:
            raise traitlets.TraitError(f"selected['metric'] must be one of {self.metric_names}; got {v['metric']!r}")
        return {"method": str(v["method"]), "metric": str(v["metric"])}

    @traitlets.validate("sort_by")
    def _valid_sort_by(self, proposal: Any) -> str:
        v = proposal["value"]
        if v not in ("", "method", *self.metric_names):
            raise traitlets.TraitError(f"sort_by must be '', 'method' or one of the metrics {self.metric_names}; got {v!r}")
        return v

    # -- streaming -------------------------------------------------------------------------------------------
    def _attach(self, job: Job) -> None:
        self.job = job
        self.status = "running"
        view = self

        class Listener:
            def on_item(self, job: Job, _item: Any) -> None:
                view._coalescer.push(True)

            def on_end(self, job: Job) -> None:
                view._coalescer.push(True)
                view._coalescer.close()
                view.error = job.error_text
                view.status = job.status
                view.progress = 1.0 if job.status == "done" else float(job.progress)

        job.subscribe(Listener())

    def _flush(self, _pending: Any) -> None:
        job = self._job
        if job is None:
            return
        with job.lock:
            record = job.state.result() if job.status == "done" else job.state.partial()
        result = EvaluationResult.from_record(record)
        methods = [m for m in self.methods] + [m for m in result.methods if m not in self.methods]
        table = table_message(result, methods, list(self.metric_names))
        with self._lock:
            self._result, self._table = result, table
        if methods != list(self.methods):
            self.methods = methods
        if job.status == "running":
            self.progress = float(record.progress)
        self._send_table()

    def _send_table(self) -> None:
        with self._lock:
            table = dict(self._table)
        content, buffers = pack({"type": "table", **table})
        self._send_message(content, buffers)

    # -- RPC -------------------------------------------------------------------------------------------------
    def _rpc_table(self, _args: dict) -> dict:
        with self._lock:
            return dict(self._table)

    def _rpc_detail(self, args: dict) -> dict:
        method, metric = args.get("method"), args.get("metric")
        if method not in self.methods:
            raise ValueError(f"method must be one of {self.methods}; got {method!r}")
        if metric not in self.metric_names:
            raise ValueError(f"metric must be one of {self.metric_names}; got {metric!r}")
        return detail_message(self.result, method, metric)

    # -- pictures and standalone pages ---------------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        """The table as ``EvaluationResult.plot`` draws it (mean ± s.e. per cell, each column coloured from its
        worst to its best method, ↑/↓ directions on the metric names) and the selected
        cell's curve (deletion / insertion / model randomisation: every method's mean with a ± 1 s.e. band) below."""
        result = self.result
        names = [k for k in self.metric_names if k in result.metric_names]  # a streamed table: those with values
        sel = self.selected
        curve = sel["metric"] if sel and sel["metric"] in self.curve_metrics and any(
            r.curves is not None for r in result.metric(sel["metric"]).values()) else None
        M, K = len(result.methods), max(1, len(names))
        table_h = 0.42 * M + 1.3
        fig, _ = new_figure(max(6.0, 1.35 * K + 2.2), table_h + (3.4 if curve else 0.0))
        fig.clear()
        grid = fig.add_gridspec(2 if curve else 1, 1, height_ratios=[table_h, 3.4] if curve else [1])
        ax = fig.add_subplot(grid[0, 0])
        if names and M:
            result._draw_table(ax, names, "RdYlGn")
        else:
            ax.text(0.5, 0.5, "no values yet", ha="center", va="center")
            ax.set_axis_off()
        if curve:
            result._draw_curves(fig.add_subplot(grid[1, 0]), curve)
        fig.suptitle(self.title, fontsize=10)
        return fig

    def _standalone(self, page: Any) -> None:
        """The page answers ``table`` and the ``detail`` of every cell that has values (a cell that does not fit
        the page's budget is listed as left out)."""
        page.answer("table", {}, self._rpc_table({}))
        result = self.result
        missing = 0
        for method in self.methods:
            for metric in self.metric_names:
                try:
                    detail = detail_message(result, method, metric)
                except ValueError:  # no value for this cell (yet): the view draws nothing to open
                    continue
                if not page.answer("detail", {"method": method, "metric": metric}, detail):
                    missing += 1
        if missing:
            page.omit(f"the detail of {missing} cell(s) (over the page's budget)")
        if self.job is not None and self.status == "running":
            page.omit("the rest of the evaluation (it was still running when the page was saved)")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job feeding the table (True at once for a finished result)."""
        return True if self._job is None else self._job.wait(timeout)


__all__ = ["MetricsTable", "detail_message", "table_message"]
