"""FeatureRanking: features as bars sorted by score; drag the cut-off or click a bar to choose k.

Python owns the maths: the rankings of every method, their bootstrap bands, the agreement between
methods and the held-out probe curve (a Job per method, streamed k by k). The view draws and sends back
``k`` (and ``method``); ``selected`` follows in Python.

Contract with js/feature_ranking.ts (the shared rules of docs/protocol.md apply: arrays as binary buffers):

- synced traits: ``names``, ``methods``, ``n_features``, ``max_bars``, ``curve_label``, ``title``, ``n_rows``
  (rows of X) and ``rows_ranked`` (rows the rankings use: fewer after :meth:`FeatureRanking.rank_rows`, e.g. a
  linked scatter's lasso) (Python);
  ``method`` and ``k`` (both); ``selected`` (Python: the top-k indices of ``method``'s ranking);
  ``progress``/``status``/``error`` (the probe job of the current method).
- RPC ``state {}`` -> ``{"ranking": R, "curve": C?, "agreement": {"methods", "matrix" (m x m float32)}}``;
  ``cancel {}`` as every view.
- kernel -> view messages: ``ranking`` R = ``{method, larger_is_better, scores (float32 d), order (int32 d),
  lo?, hi? (bootstrap 10th/90th percentiles of the score), stab_k?, stab_jaccard?}`` when the method changes;
  ``curve`` C = ``{method, done, k (int32), score (float32)}``, the whole curve so far, at a bounded rate;
  a ``ranking`` again for every method once its bootstrap bands (``stability=B``) are ready.
- DOM for tests: root ``div.fx-ranking`` with ``data-ready``, ``data-k``, ``data-method``, ``data-curve-points``,
  ``data-curve-done``, ``data-status``; ``div.fx-bars > div.fx-row[data-pos][data-index]`` 18 px high;
  ``canvas.fx-curve``, ``canvas.fx-agree``, ``select.fx-method``.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, Sequence

import numpy as np
import torch
import traitlets

from ..compute.selection import plan_selection
from ..compute.selection._common import features, is_continuous, labels, target
from ..compute.selection.ranking import bootstrap_summary, rank_features
from ..compute.selection.stability import default_ks, iter_probe_curve, spearman_agreement
from ..compute.validate import names_for
from ..results.selection import SelectionResult
from ..runtime import Coalescer, Job
from ..runtime.codec import pack
from ..runtime.limits import MAX_RATE_HZ
from .base import StreamingWidget, bundle, check_int, check_number, new_figure
from .linking import Linkable, as_rows

DEFAULT_METHODS = ("fisher", "mi", "relieff", "inf_fs", "ilfs")
REGRESSION_METHODS = ("pearson", "mi", "mrmr", "sequential_attention")

#: Bars the view lists (the rest are reachable by setting k from Python).
MAX_BARS = 300

#: Fewest selected rows the held-out curve is computed on (a quarter of them is held out).
MIN_PROBE_ROWS = 40


class _Curve:
    """Accumulator of a probe curve: (k, score) pairs in order."""

    def __init__(self) -> None:
        self.ks: list[int] = []
        self.values: list[float] = []

    def add(self, point: Any) -> None:
        self.ks.append(point.k)
        self.values.append(point.score)

    def result(self) -> dict:
        return {"k": list(self.ks), "score": list(self.values)}


class FeatureRanking(Linkable, StreamingWidget):
    """Interactive top-k feature selection.

    ``FeatureRanking(X, y, methods=("fisher", "mi"), k=10, feature_names=names, stability=20)``:
    bars sorted by the current method's score (names as text), a method switch, a draggable cut-off
    (or click a bar) that sets :attr:`k`, :attr:`selected` = the top-k feature indices, a held-out
    accuracy (R^2 for a continuous y) curve against k streamed while it is computed, a bootstrap band on
    every bar and a stability (Jaccard of top-k sets) curve, and the rank agreement between methods.

    :meth:`rank_rows` ranks again on some rows of X only (in a background job); linked to a scatter
    (``fx.link``), the rows lassoed there are the ones ranked.
    """

    _esm = bundle("feature_ranking")

    page_writable = frozenset({"k", "method"})

    names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    methods = traitlets.List(traitlets.Unicode()).tag(sync=True)
    method = traitlets.Unicode("").tag(sync=True)
    k = traitlets.Int(1).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    n_features = traitlets.Int(0).tag(sync=True)
    max_bars = traitlets.Int(MAX_BARS).tag(sync=True)
    curve_label = traitlets.Unicode("held-out accuracy").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    n_rows = traitlets.Int(0).tag(sync=True)
    rows_ranked = traitlets.Int(0).tag(sync=True)

    @classmethod
    def from_result(cls, result: SelectionResult, X: Any = None, y: Any = None, **kwargs: Any) -> "FeatureRanking":
        """The view of one finished selection (give X and y for the held-out accuracy curve)."""
        return cls(X, y, results={result.method: result}, method=result.method, k=result.k,
                   feature_names=kwargs.pop("feature_names", result.feature_names), **kwargs)

    def __init__(self, X: Any = None, y: Any = None, *, methods: Sequence[str] | None = None, method: str | None = None,
                 k: int | None = None, feature_names: Sequence[Any] | None = None, stability: int = 0,
                 results: dict | None = None, probe: bool = True, test_fraction: float = 0.25, seed: int = 0,
                 title: str = "", max_bars: int = MAX_BARS, **params: Any) -> None:
        # A held-out share outside (0, 1) leaves no rows to fit or none to score (test_fraction=0 would report
        # the accuracy of a single example as the curve).
        test_fraction = check_number(test_fraction, "test_fraction", low=0.0, high=1.0, open_low=True, open_high=True)
        stability = check_int(stability, "stability", low=0)
        max_bars = check_int(max_bars, "max_bars", low=1)
        seed = check_int(seed, "seed", low=0)
        if k is not None:
            k = check_int(k, "k", low=1)
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, got {type(title).__name__}")
        if results is None:
            if X is None:
                raise TypeError("give FeatureRanking the data X (and y), or results={method: SelectionResult}")
            if methods is None:
                methods = (("variance", "laplacian", "inf_fs") if y is None
                           else REGRESSION_METHODS if is_continuous(y) else DEFAULT_METHODS)
            methods = list(methods)
            results = {m: SelectionResult.from_record(rank_features(X, y, m, k=k, seed=seed, **params.get(m, {})))
                       for m in methods}
        for m, r in results.items():
            if not isinstance(r, SelectionResult):
                raise TypeError(f"results[{m!r}] must be a SelectionResult, got {type(r).__name__}")
        methods = list(results)
        first = results[methods[0]]
        d = first.n_features
        if any(r.n_features != d for r in results.values()):
            raise ValueError("every result must rank the same number of features")
        method = method or methods[0]
        if method not in results:
            raise ValueError(f"method must be one of {methods}; got {method!r}")
        names = names_for(feature_names, X, d) or first.feature_names or [f"x{i}" for i in range(d)]
        k = first.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= d:
            raise ValueError(f"k must be an integer in 1..{d}, got {k!r}")
        self._results = results
        self._full_results = dict(results)
        self._params = {m: dict(p) for m, p in params.items() if isinstance(p, dict)}
        self._lock = threading.RLock()
        n_rows = int(features(X).shape[0]) if X is not None else 0
        super().__init__(names=names, methods=methods, method=method, k=k, n_features=d, title=title,
                         max_bars=int(max_bars), n_rows=n_rows, rows_ranked=n_rows)
        self._rank_job: Job | None = None
        self._rows: np.ndarray | None = None  # rows of X the rankings use (None: all)
        self.selected = [int(i) for i in results[method].ranking[:k].tolist()]
        self._bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._stability: dict[str, dict] = {}
        self.agreement = spearman_agreement({m: r.ranking for m, r in results.items()})
        self._X, self._y, self._seed, self._test_fraction = X, y, seed, test_fraction
        self._probe = probe and X is not None and y is not None
        self._curves: dict[str, Job] = {}
        self.rpc.register("state", self._rpc_state)
        self._stability_job: Job | None = None
        if stability:
            self._start_stability(int(stability), params)
        if self._probe:
            self.curve_label = "held-out R²" if is_continuous(y) else "held-out accuracy"
            self._start_curve(method)
        self.observe(self._on_k, names="k")
        self.observe(self._on_method, names="method")

    # -- Python-side conveniences --------------------------------------------------------------------
    @property
    def result(self):
        """The SelectionResult of the current method."""
        return self._results[self.method]

    @property
    def mask(self) -> np.ndarray:
        m = np.zeros(self.n_features, dtype=bool)
        m[self.selected] = True
        return m

    def curve(self, method: str | None = None, timeout: float | None = None) -> dict:
        """The finished probe curve of ``method`` (waits for its job)."""
        return self._curves[method or self.method].result(timeout)

    # -- traits ----------------------------------------------------------------------------------------
    @traitlets.validate("k")
    def _valid_k(self, proposal: Any) -> int:
        k = proposal["value"]
        if not 1 <= k <= max(1, self.n_features):
            raise traitlets.TraitError(f"k must be in 1..{self.n_features}, got {k}")
        return k

    @traitlets.validate("method")
    def _valid_method(self, proposal: Any) -> str:
        if self.methods and proposal["value"] not in self.methods:
            raise traitlets.TraitError(f"method must be one of {self.methods}; got {proposal['value']!r}")
        return proposal["value"]

    def _update_selected(self) -> None:
        self.selected = [int(i) for i in self._results[self.method].ranking[: self.k].tolist()]

    def _on_k(self, _change: Any) -> None:
        self._update_selected()

    def _on_method(self, _change: Any) -> None:
        self._update_selected()
        self._send_ranking(self.method)
        if self._probe:
            self._start_curve(self.method)

    # -- stability -----------------------------------------------------------------------------------
    def _start_stability(self, n_resamples: int, params: dict) -> None:
        """Bootstrap bands and top-k stability of every method, computed in the background; each method's
        ranking is sent again once its bands exist."""
        if self._X is None:
            return
        plans = {m: plan_selection(self._X, self._y if r.params.get("task") != "unsupervised" else None, m,
                                   seed=self._seed, constant=r.params.get("constant", "raise"), **params.get(m, {}))
                 for m, r in self._results.items()}
        ks = default_ks(self.n_features)

        def summaries():
            for i, (m, plan) in enumerate(plans.items()):
                yield _MethodItem(m, bootstrap_summary(plan, n_resamples, self._seed, ks), (i + 1) / len(plans))

        view = self

        class Listener:
            def on_item(self, _job: Job, item: _MethodItem) -> None:
                summary = item.value
                view._bands[item.method] = (summary["lo"], summary["hi"])
                view._stability[item.method] = summary
                if item.method == view.method:
                    view._send_ranking(item.method)

            def on_end(self, _job: Job) -> None:
                pass

        job = Job(summaries(), _ByMethod(), name="bootstrap-stability", start=False,
                  params={"n_resamples": n_resamples, "seed": self._seed})
        job.subscribe(Listener())
        self._stability_job = job
        job.start()

    def wait_stability(self, timeout: float | None = None) -> bool:
        """Wait for the bootstrap bands (``stability=B``); True when they are all there."""
        return self._stability_job is None or self._stability_job.wait(timeout)

    # -- the probe curve -------------------------------------------------------------------------------
    def _start_curve(self, method: str) -> None:
        with self._lock:
            # A curve still running for a method the user left is work nobody looks at: cancel it and forget it
            # (it starts again if that method is chosen again); finished curves stay, so switching back is free.
            for other, running in list(self._curves.items()):
                if other != method and not running.finished:
                    running.cancel()
                    del self._curves[other]
            if method in self._curves:
                self._send_curve(method)
                return
            X, Y = self._X, self._y
            if self._rows is not None:
                X, Y = _take(X, self._rows), _take(Y, self._rows)
            x = features(X)
            if is_continuous(Y):
                t, classification, n_classes = target(Y, x.shape[0], x.device, x.dtype), False, 1
            else:
                lab = labels(Y, x.shape[0], x.device, "probe")
                t, classification, n_classes = lab.codes, True, lab.n_classes
            ranking = self._results[method].ranking
            ks = default_ks(self.n_features)
            acc = _Curve()
            job = Job(iter_probe_curve(x, t, ranking, ks, classification, n_classes, self._test_fraction, self._seed),
                      acc, name=f"probe-{method}", start=False, params={"method": method, "ks": ks})
            self._curves[method] = job
            listener = _CurveListener(self, method)
            job.subscribe(listener)
            self.job = job
            self.status, self.progress = "running", 0.0
            job.start()

    def _send_curve(self, method: str) -> None:
        job = self._curves.get(method)
        if job is None:
            return
        with job.lock:
            ks = list(job.state.ks)
            vals = list(job.state.values)
        content, buffers = pack({"type": "curve", "method": method, "done": job.finished,
                                 "k": np.asarray(ks, dtype=np.int32), "score": np.asarray(vals, dtype=np.float32)})
        self._send_message(content, buffers)

    # -- messages ---------------------------------------------------------------------------------------
    def _ranking_payload(self, method: str) -> dict:
        r = self._results[method]
        scores = r.scores.detach().cpu().double().numpy()
        payload = {"type": "ranking", "method": method, "larger_is_better": r.larger_is_better,
                   "scores": scores.astype(np.float32), "order": r.ranking.cpu().numpy().astype(np.int32)}
        if method in self._bands and self._rows is None:  # the bootstrap bands describe all rows
            lo, hi = self._bands[method]
            payload["lo"], payload["hi"] = lo.astype(np.float32), hi.astype(np.float32)
        if method in self._stability and self._rows is None:
            st = self._stability[method]
            payload["stab_k"] = np.asarray(st["k"], dtype=np.int32)
            payload["stab_jaccard"] = np.asarray(st["jaccard"], dtype=np.float32)
        return payload

    def _send_ranking(self, method: str) -> None:
        content, buffers = pack(self._ranking_payload(method))
        self._send_message(content, buffers)

    # -- ranking on some rows (a linked selection) ---------------------------------------------------------
    def rank_rows(self, rows: Any) -> Job | None:
        """Rank every method again on rows ``rows`` of X only (indices or a boolean mask; empty or None: all
        rows), in a background job; the bars, ``selected`` and the held-out curve follow when it is done.
        Returns the job (None when going back to all rows, which needs no computation)."""
        if self._X is None:
            raise ValueError("this FeatureRanking was built from results without X: it cannot rank other rows")
        idx = as_rows(rows, self.n_rows, "rows")
        if self._rank_job is not None:
            self._rank_job.cancel()
        if idx.size == 0 or idx.size == self.n_rows:
            self._rank_job = None
            self._use_results(dict(self._full_results), None)
            return None
        xs, ys = _take(self._X, idx), (None if self._y is None else _take(self._y, idx))
        methods = list(self._full_results)
        supervised = [m for m in methods if self._full_results[m].params.get("task") != "unsupervised"]
        if supervised and ys is not None and not is_continuous(ys) and _n_classes(ys) < 2:
            # A lasso around one cluster is the common case: say what is wrong with the selection, keep the bars.
            self.error = (f"the {idx.size} selected rows hold a single class, and {', '.join(supervised)} rank "
                          f"features by how they separate classes: select rows of two classes or more (the bars "
                          f"still show the ranking on {self.rows_ranked} rows)")
            return None

        def rankings():
            for i, m in enumerate(methods):
                r = self._full_results[m]
                # a subset often has columns constant on it: they rank last whatever the full ranking was told
                params = {**self._params.get(m, {}), "constant": "last"}
                rec = rank_features(xs, ys if r.params.get("task") != "unsupervised" else None, m, k=self.k,
                                    seed=self._seed, **params)
                yield _MethodItem(m, SelectionResult.from_record(rec), (i + 1) / len(methods))

        view = self

        class Listener:
            def on_item(self, _job: Job, _item: Any) -> None:
                pass

            def on_end(self, job: Job) -> None:
                if view._rank_job is not job:
                    return  # a newer selection replaced this one
                if job.status == "done":
                    view._use_results(job.completed_result(), idx)
                elif job.status == "error":
                    view.error = f"ranking on {idx.size} selected rows failed: {job.error_text}"

        job = Job(rankings(), _ByMethod(), name="rank-rows", start=False, params={"rows": int(idx.size)})
        job.subscribe(Listener())
        self._rank_job = job
        job.start()
        return job

    def wait_ranking(self, timeout: float | None = None) -> bool:
        """Wait for the ranking :meth:`rank_rows` started; True when there is none left running."""
        return self._rank_job is None or self._rank_job.wait(timeout)

    def _use_results(self, results: dict, rows: np.ndarray | None) -> None:
        with self._lock:
            self._results = results
            self._rows = rows
            old, self._curves = self._curves, {}  # the curves belong to the rows ranked
        for job in old.values():
            job.cancel()
        self.error = ""
        self.rows_ranked = self.n_rows if rows is None else int(rows.size)
        self.agreement = spearman_agreement({m: r.ranking for m, r in results.items()})
        self._update_selected()
        self._send_ranking(self.method)
        if self._probe and (rows is None or rows.size >= MIN_PROBE_ROWS):
            self._start_curve(self.method)
        elif self._probe:  # too few rows to hold some out: no curve rather than a meaningless one
            content, buffers = pack({"type": "curve", "method": self.method, "done": True,
                                     "k": np.zeros(0, np.int32), "score": np.zeros(0, np.float32)})
            self._send_message(content, buffers)
            self.status, self.progress = "done", 1.0

    # -- linking: a follower, it ranks on the selected rows ---------------------------------------------------
    def show_link_rows(self, rows: np.ndarray) -> None:
        self.rank_rows(rows)

    def link_n_rows(self) -> int:
        return self.n_rows

    def _rpc_state(self, _args: dict) -> dict:
        """Everything the view needs to draw now: the ranking, the curve so far, the agreement matrix."""
        method = self.method
        out = {"ranking": self._ranking_payload(method),
               "agreement": {"methods": list(self._results), "matrix": self.agreement.astype(np.float32)}}
        job = self._curves.get(method)
        if job is not None:
            with job.lock:
                out["curve"] = {"method": method, "done": job.finished,
                                "k": np.asarray(job.state.ks, dtype=np.int32),
                                "score": np.asarray(job.state.values, dtype=np.float32)}
        return out


    # -- pictures and standalone pages ---------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        r = self.result
        top = min(30, self.n_features)
        fig, ax = new_figure(5.5, max(2.0, 0.22 * top + 0.8))
        # the view's k and names, which may differ from the result's own
        r = dataclasses.replace(r, k=self.k, feature_names=list(self.names))
        r.plot(ax=ax, top=top)
        if self.title:
            ax.set_title(self.title)
        return fig

    def _standalone(self, page: Any) -> None:
        page.answer("state", {}, self._rpc_state({}))
        for method in self._results:
            _, messages = self._captured(lambda m=method: (self._send_ranking(m), self._send_curve(m)))
            page.react("method", method, messages=messages,
                       traits={"selected": [int(i) for i in self._results[method].ranking[: self.k].tolist()]})


def _take(data: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of an array, tensor, DataFrame/Series or list."""
    if isinstance(data, torch.Tensor):
        # a copy: the rows may be a read-only view (a selection trait), which torch warns about sharing
        return data[torch.tensor(rows, device=data.device)]
    if hasattr(data, "iloc"):
        return data.iloc[rows]
    if isinstance(data, np.ndarray):
        return data[rows]
    return [data[int(i)] for i in rows]


class _MethodItem:
    """What a per-method job yields: one method's answer (a ranking or a bootstrap summary) and the progress."""

    def __init__(self, method: str, value: Any, progress: float) -> None:
        self.method, self.value, self.progress = method, value, progress


class _ByMethod:
    """Accumulator of a per-method job (rank_rows' rankings, the bootstrap's summaries): every answer by method."""

    def __init__(self) -> None:
        self.by_method: dict[str, Any] = {}

    def add(self, item: _MethodItem) -> None:
        self.by_method[item.method] = item.value

    def result(self) -> dict:
        return dict(self.by_method)


def _n_classes(y: Any) -> int:
    """How many distinct labels ``y`` holds (a tensor, array or list)."""
    a = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    return len(np.unique(a.astype(str) if a.dtype == object else a))


class _CurveListener:
    def __init__(self, view: FeatureRanking, method: str) -> None:
        self.view = view
        self.method = method
        self.coalescer = Coalescer(lambda _pending, update: update, self._flush, max_rate_hz=MAX_RATE_HZ)

    def _flush(self, _update: Any) -> None:
        self.view._send_curve(self.method)
        job = self.view._curves.get(self.method)
        if job is not None and self.view.job is job:
            self.view.progress = job.progress

    def on_item(self, job: Job, item: Any) -> None:
        self.coalescer.push(item.k)

    def on_end(self, job: Job) -> None:
        self.coalescer.close()
        self.view._send_curve(self.method)
        if self.view.job is job:
            self.view._show_job_end(job)
