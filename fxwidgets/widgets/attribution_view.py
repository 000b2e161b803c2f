"""AttributionView: attributions of one input, for images (overlay), text (coloured tokens) and tabular rows
(waterfall), several methods side by side, converging live, with a target selector that recomputes.

Data: each panel's values for the shown input travel as a ``panel`` message (one packed float32 array); the
input image as a ``background`` message (uint8 H x W x 3). Sign mode, colour map, opacity and outlier clipping
are applied in the browser; changing them never calls the kernel.

Contract (kernel <-> js/attribution_view.ts):

- traits: ``n_rows`` (inputs in the batch) and ``row`` (the one shown; both ways: the view's ◀ ▶, or a linked
  view's selection), ``kind`` (image/text/tabular), ``titles`` (one per panel), ``shape`` ([H, W] or [n]), ``tokens``,
  ``feature_names``, ``target`` (written by the view's selector; the kernel then recomputes every panel and bumps
  ``generation``), ``target_names``, ``can_recompute``, ``sign``, ``cmap``, ``opacity``, ``clip`` (percentile of
  |value| that maps to full colour), ``panels`` (per panel: method, status, progress, stderr, stderr_history,
  base_value, output, gap, done), ``generation``, ``title`` and the StreamingWidget's progress/status/error;
- kernel -> view: ``{"type": "panel", "index", "generation", "values": float32 array}`` and
  ``{"type": "background", "image": uint8 (H, W, 3)}``; a panel message of an older generation is ignored;
- view -> kernel RPC: ``snapshot {}`` (re-sends the background and every panel), ``cancel {}`` (every panel);
- ``panel_metrics`` (Python): under each panel, its evaluation values for the shown row (widgets/_panel_metrics.py),
  from ``metrics=`` (a finished ``fx.evaluate`` result) or computed after the panels finish (``evaluate=``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import traitlets

from ..compute.attribution import AttributionAccumulator, as_inputs, iter_attribution, plan_attribution
from ..results.attribution import AttributionResult
from ..runtime import Coalescer, Job
from ..runtime.codec import pack
from ..runtime.limits import MAX_RATE_HZ
from ._panel_metrics import evaluation_job, metric_request, request_names, strips_from_evaluation, strips_from_records
from .base import (BoundedInt, Choice, ColormapName, ColormapWidget, FiniteFloat, bundle, check_choice_of, check_cmap,
                   check_number, new_figure)
from .linking import Linkable

SIGNS = ("all", "positive", "negative", "absolute_value")

#: Method ids as the titles the view shows (js/lib/format.ts, methodTitle), for kernel-side pictures.
METHOD_TITLES = {"saliency": "Saliency", "input_x_gradient": "Input × Gradient",
                 "integrated_gradients": "Integrated Gradients", "smoothgrad": "SmoothGrad", "vargrad": "VarGrad",
                 "gradient_shap": "GradientSHAP", "grad_cam": "Grad-CAM", "occlusion": "Occlusion",
                 "feature_ablation": "Feature Ablation", "shapley_exact": "Shapley Values (exact)",
                 "shapley_permutation": "Shapley Values (permutation sampling)", "kernel_shap": "Kernel SHAP"}
KINDS = ("image", "text", "tabular")


def _merge(pending: set | None, update: int) -> set:
    out = set(pending or ())
    out.add(update)
    return out


def _display(values: torch.Tensor, row: int, kind: str) -> np.ndarray:
    v = values[row].detach().to("cpu", torch.float32)
    if kind == "image":
        while v.ndim > 2:  # channels (or concepts) summed
            v = v.sum(0)
        if v.ndim == 1:
            v = v[None]
    else:
        v = v.reshape(v.shape[0], -1).sum(1) if v.ndim > 1 else v.reshape(-1)
    return np.ascontiguousarray(v.numpy())


def _background(image: Any) -> np.ndarray:
    """An input image (C, H, W) or (H, W[, 3]) as uint8 (H, W, 3), min-max scaled."""
    a = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image, dtype=np.float32)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise ValueError(f"image must be (C, H, W) or (H, W[, C]) with 1 or 3 channels, got shape {a.shape}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, -1)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.ascontiguousarray((a * 255).round().astype(np.uint8))


def _token_ids(inputs: Any, results: Any) -> bool:
    """Whether the inputs (or, for finished results, the inputs they explain) are integer token ids."""
    if isinstance(inputs, torch.Tensor):
        return not inputs.is_floating_point() and not inputs.is_complex() and inputs.dtype != torch.bool
    first = results[0] if isinstance(results, (list, tuple)) and results else results
    params = getattr(first, "params", None) or {}
    return str(params.get("input_dtype", "")).startswith(("int", "uint"))


class _Panel:
    def __init__(self, method: str, params: dict, title: str) -> None:
        self.method, self.params, self.title = method, dict(params), title
        self.job: Job | None = None
        self.values: np.ndarray | None = None
        self.info: dict = {"method": method, "title": title, "status": "idle", "progress": 0.0}
        self.stderr_history: list[float] = []


class AttributionView(Linkable, ColormapWidget):
    """Attributions of one input (row ``index`` of the inputs), one panel per method.

    Build it from a model (``AttributionView(model, inputs, target=..., methods=[...])``: every method runs as
    a job and the target selector recomputes them), from a streamed job (``fx.attribute(..., stream=True).show()``)
    or from finished results (``result.show(inputs)``; no recompute). :attr:`row` is the input shown (of
    :attr:`n_rows`); linked to a scatter or heatmap (``fx.link``), it shows the first row selected there. ``kind`` is inferred: inputs of shape
    (C, H, W) are images, 1-D inputs with ``tokens`` are text, other 1-D inputs are tabular rows.
    """

    _esm = bundle("attribution_view")

    page_writable = frozenset({"sign", "cmap", "opacity", "clip", "target", "row"})

    kind = traitlets.Unicode("tabular").tag(sync=True)
    titles = traitlets.List(traitlets.Unicode()).tag(sync=True)
    shape = traitlets.List(traitlets.Int()).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    feature_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    target = BoundedInt(0, low=0, allow_none=True).tag(sync=True)
    target_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    can_recompute = traitlets.Bool(False).tag(sync=True)
    #: inputs in the batch (the view shows "input k of n" with previous/next when > 1)
    n_rows = traitlets.Int(1).tag(sync=True)
    #: the input shown, 0-based (written by the view's previous/next buttons, or from Python)
    row = traitlets.Int(0).tag(sync=True)
    #: optional caption per input, e.g. "cat (p = 0.91)"
    row_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sign = Choice(SIGNS, "all").tag(sync=True)
    cmap = ColormapName("RdBu_r").tag(sync=True)
    opacity = FiniteFloat(0.7, low=0.0, high=1.0).tag(sync=True)
    #: percentile of |value| that maps to full colour
    clip = FiniteFloat(99.0, low=50.0, high=100.0).tag(sync=True)
    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    generation = traitlets.Int(0).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    panel_metrics = traitlets.List(traitlets.List(traitlets.Dict())).tag(sync=True)

    def __init__(
        self,
        model: Any = None,
        inputs: Any = None,
        *,
        target: Any = None,
        methods: Sequence[str] | dict | None = None,
        job: Job | None = None,
        results: Any = None,
        index: int = 0,
        kind: str | None = None,
        tokens: Sequence[Any] | None = None,
        feature_names: Sequence[Any] | None = None,
        target_names: Sequence[Any] | None = None,
        image: Any = None,
        row_names: Sequence[Any] | None = None,
        sign: str = "all",
        cmap: Any = "RdBu_r",
        opacity: float = 0.7,
        clip: float = 99.0,
        title: str = "",
        chunk_size: int | None = None,
        max_rate_hz: float = MAX_RATE_HZ,
        evaluate: Any = None,
        metrics: Any = None,
    ) -> None:
        if isinstance(model, AttributionResult) or (isinstance(model, (list, tuple)) and model
                                                     and isinstance(model[0], AttributionResult)):
            results, model = model, None
        given = [model is not None, job is not None, results is not None]
        if sum(given) != 1:
            raise TypeError("give AttributionView a model (with inputs and methods), a job, or results; exactly one")
        check_cmap(cmap, "cmap")
        sign = check_choice_of(sign, "sign", SIGNS)
        opacity = check_number(opacity, "opacity", low=0.0, high=1.0)
        clip = check_number(clip, "clip", low=50.0, high=100.0)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"index must be an integer, got {index!r}")
        index = int(index)
        self._lock = threading.RLock()
        self._generation = 0  # of the panel messages: bumped by every recompute and every change of row
        self._job_generation = 0  # of the jobs feeding the panels: bumped by every recompute
        self._source_job: Job | None = job
        self._entries: list | None = None
        self._auto_target = target is None
        self._image, self._image_row = image, index
        self._chunk_size = chunk_size
        self._model = None
        self._row = 0
        self._all_inputs: Any = None
        if job is not None:
            plan = job.state.plan
            self._model = plan.model
            if not 0 <= index < plan.batch:
                raise ValueError(f"index {index} is out of range for {plan.batch} inputs")
            self._all_inputs = plan.inputs
            self._inputs = plan.inputs[index:index + 1]
            self._row = index
            specs = [(plan.method, plan.extra.get("call_params", {}))]
            target = None if plan.target is None else int(plan.target[index])
            n_outputs = plan.n_outputs
        elif model is not None:
            if inputs is None:
                raise TypeError("inputs are required with a model")
            x = as_inputs(inputs, model, keep_integer=True)  # token ids stay ids: the model embeds them
            if not 0 <= index < x.shape[0]:
                raise ValueError(f"index {index} is out of range for {x.shape[0]} inputs")
            self._model, self._inputs = model, x[index:index + 1]
            self._all_inputs = x
            self._row = index
            if methods is None:
                methods = ["integrated_gradients"]
            if isinstance(methods, str):
                methods = [methods]
            specs = list(methods.items()) if isinstance(methods, dict) else [(m, {}) for m in methods]
            with torch.no_grad():
                out = model(self._inputs)
            n_outputs = out.shape[1] if out.ndim == 2 and out.shape[1] > 1 else None
            if n_outputs is not None and target is None:
                target = int(out[0].argmax())
        else:
            res = list(results) if isinstance(results, (list, tuple)) else [results]
            if inputs is not None and not isinstance(inputs, torch.Tensor):
                inputs = torch.as_tensor(np.asarray(inputs))
            n_batch = res[0].values.shape[0]
            if not 0 <= index < n_batch:
                raise ValueError(f"index {index} is out of range for {n_batch} inputs")
            if inputs is not None and inputs.shape[0] != n_batch:
                raise ValueError(f"inputs has {inputs.shape[0]} rows but the results have {n_batch}")
            self._all_inputs = inputs
            self._inputs = None if inputs is None else inputs[index:index + 1]
            self._all_inputs = inputs
            self._row = index
            # Deep Feature Factorization: one panel per concept, its heat map over the image
            entries = []
            for r in res:
                if r.method == "concepts":
                    entries += [(f"concept {j}", r.values[:, j], r) for j in range(r.values.shape[1])]
                else:
                    entries.append((r.method, r.values, r))
            specs = [(name, {}) for name, _, _ in entries]
            self._entries = entries
            target = None if not res[0].target else int(res[0].target[index])
            n_outputs = None
        shape_row = tuple(self._inputs.shape[1:]) if self._inputs is not None else tuple(res[0].values.shape[1:])
        if kind is None and tokens is None and len(shape_row) == 1 and _token_ids(self._inputs, results):
            kind = "text"  # a model of token ids: its values are one per token
        if kind is None:
            kind = "image" if len(shape_row) >= 2 and tokens is None else ("text" if tokens is not None else "tabular")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
        if kind == "text" and tokens is not None and len(tokens) != shape_row[0]:
            raise ValueError(f"tokens has {len(tokens)} entries but each input has {shape_row[0]} tokens: give one "
                             f"string per token position (tokens[i] labels position i of the shown input)")
        self._check_label_lengths(kind, shape_row, specs, tokens, feature_names, target_names, n_outputs, target,
                                  results, index)
        names = [str(m) for m, _ in specs]
        titles = [f"{n} ({i + 1})" if names.count(n) > 1 else n for i, n in enumerate(names)]
        tokens = [str(t) for t in tokens] if tokens is not None else []
        feature_names = [str(f) for f in feature_names] if feature_names is not None else []
        target_names = [str(t) for t in target_names] if target_names is not None else (
            [str(i) for i in range(n_outputs)] if n_outputs else [])
        n_rows = self._all_inputs.shape[0] if self._all_inputs is not None else res[0].values.shape[0]
        row_names = [str(r) for r in row_names] if row_names is not None else []
        if row_names and len(row_names) != n_rows:
            raise ValueError(f"row_names has {len(row_names)} entries for {n_rows} inputs")
        super().__init__(kind=kind, titles=titles, tokens=tokens, feature_names=feature_names,
                         target=target, target_names=target_names, can_recompute=self._model is not None and bool(n_outputs),
                         n_rows=int(n_rows), row=index, row_names=row_names,
                         sign=sign, cmap=cmap, opacity=opacity, clip=clip, title=title)
        self._panels = [_Panel(m, p, t) for (m, p), t in zip(specs, titles)]
        self._background = None
        if kind == "image":
            self._background = self._row_background(index)
        self._coalescer: Coalescer = Coalescer(_merge, self._flush, max_rate_hz=max_rate_hz)
        self._evaluate = metric_request(evaluate)
        if self._evaluate is not None and self._model is None:
            raise TypeError("evaluate= needs the model (AttributionView(model, inputs, ...)); for finished results "
                            "give metrics=fx.evaluate(model, inputs, results, ...)")
        self._evaluation, self._metrics_job, self._metrics_row = metrics, None, index
        if metrics is not None:
            self._strips_from_evaluation()
            if self.has_trait("row"):  # a view that browses rows: the strip follows the row shown
                self.observe(lambda _change: self._strips_from_evaluation(), names="row")
        self.rpc.register("snapshot", self._rpc_snapshot)
        self.observe(self._on_target, names="target")
        self.observe(self._on_row, names="row")
        if job is not None:
            self._attach(0, job, self._job_generation)
        elif model is not None:
            self._start_all()
        else:
            self._values_from_entries(index)
            self.status, self.progress = "done", 1.0
            self._publish_info()

    def _check_label_lengths(self, kind: str, shape_row: tuple, specs: list, tokens: Any, feature_names: Any,
                             target_names: Any, n_outputs: int | None, target: Any, results: Any, index: int) -> None:
        """Labels of the wrong length would label the wrong bars, tokens or classes: refused by name, before any
        panel is computed."""
        for name, labels in (("tokens", tokens), ("feature_names", feature_names), ("target_names", target_names)):
            if labels is not None and (isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__")):
                raise TypeError(f"{name} must be a list of strings, got {type(labels).__name__}")
        if feature_names is not None and kind == "tabular":
            grouped = any(isinstance(p, dict) and p.get("feature_mask") is not None for _, p in specs)
            if self._entries is not None:
                _, vals, r = self._entries[0]
                shown = _display(r.features if r.features is not None else vals, index, kind).shape[0]
            else:
                shown = None if grouped or not shape_row else int(shape_row[0])
            if shown is not None and len(feature_names) != shown:
                raise ValueError(f"feature_names has {len(feature_names)} names but each input has {shown} features: "
                                 "give one name per feature")
        if target_names is not None:
            if n_outputs is not None and len(target_names) != n_outputs:
                raise ValueError(f"target_names has {len(target_names)} names but the model has {n_outputs} outputs: "
                                 "give one name per output")
            if isinstance(target, (int, np.integer)) and not 0 <= int(target) < len(target_names):
                raise ValueError(f"target_names has {len(target_names)} names but the target is {int(target)}")

    # -- what results and jobs open ----------------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: Any, inputs: Any = None, **kwargs: Any) -> "AttributionView":
        """The view of finished attributions (``result.show(inputs)``; no recompute)."""
        return cls(result, inputs=inputs, **kwargs)

    @classmethod
    def from_job(cls, job: Job, **kwargs: Any) -> "AttributionView":
        """The live view of an attribution job."""
        return cls(job=job, **kwargs)

    # -- jobs ------------------------------------------------------------------------------------------------
    def _start_all(self) -> None:
        with self._lock:
            self._generation += 1
            self._job_generation += 1
            self._source_job = None  # the panels are now fed by this view's own jobs
            gen = self._job_generation
            for p in self._panels:
                if p.job is not None:
                    p.job.cancel()
            self._cancel_metrics()
        tgt = self.target if self.target_names else None
        for i, p in enumerate(self._panels):
            p.values, p.stderr_history = None, []
            p.info = {"method": p.method, "title": p.title, "status": "running", "progress": 0.0}
            plan = plan_attribution(self._model, self._inputs, target=tgt, method=p.method,
                                    chunk_size=self._chunk_size, **p.params)
            job = Job(iter_attribution(plan), AttributionAccumulator(plan), finish=AttributionResult.from_record,
                      name=plan.method, params=plan.params)
            self._attach(i, job, gen)
        self._publish_info()

    def _attach(self, i: int, job: Job, gen: int) -> None:
        panel = self._panels[i]
        panel.job = job
        self.job = job  # Cancel (base class) cancels the last; _rpc_cancel below cancels all
        self.status = "running"
        view = self

        class Listener:
            def on_item(self, job: Job, step: Any) -> None:
                if gen != view._job_generation:
                    return
                row = view._row if job.state.plan.batch > 1 else 0
                use = step.features if step.features is not None and view.kind == "tabular" else step.values
                view._set_values(i, use, row)
                panel.info.update(view._info_from(step.diagnostics, step.stderr, step.progress, "running", row))
                se = panel.info.get("stderr")
                if se is not None:
                    panel.stderr_history.append(se)
                    if len(panel.stderr_history) > 128:  # keep a bounded, evenly thinned history
                        panel.stderr_history = panel.stderr_history[::2]
                view._coalescer.push(i)

            def on_end(self, job: Job) -> None:
                if gen != view._job_generation:
                    return
                panel.info.update({"status": job.status, "error": job.error_text})
                view._coalescer.push(i)
                view._update_status()

        listener = Listener()

        def catch_up() -> None:  # under the job's lock: what it computed before this view existed
            step = job.state.latest
            if step is not None:
                listener.on_item(job, step)

        job.subscribe(listener, on_attach=catch_up)

    def _info_from(self, diag: dict, stderr: Any, progress: float, status: str, row: int = 0) -> dict:
        info: dict = {"progress": float(progress), "status": status}
        for key in ("base_value", "baseline_output", "output"):
            if key in diag and diag[key] is not None:
                info["base_value" if key != "output" else "output"] = float(diag[key][min(row, len(diag[key]) - 1)])
        for key in ("max_abs_completeness_gap", "max_abs_efficiency_gap"):
            if key in diag:
                info["gap"] = float(diag[key])
        if stderr is not None and diag.get("mean_stderr") is not None:
            info["stderr"] = float(diag["mean_stderr"])
        for key in ("permutations_done", "n_samples_done", "coalitions_evaluated", "windows_done", "iteration"):
            if key in diag:
                info["done"] = int(diag[key])
                info["done_label"] = key.replace("_done", "").replace("_", " ")
        return info

    def _set_values(self, i: int, values: torch.Tensor, row: int) -> None:
        with self._lock:
            self._panels[i].values = _display(values, row, self.kind)
            if self.kind == "image" and not self.shape:
                self.shape = list(self._panels[i].values.shape)
            elif self.kind != "image" and not self.shape:
                self.shape = [int(self._panels[i].values.shape[0])]

    def _update_status(self) -> None:
        statuses = [p.info.get("status", "idle") for p in self._panels]
        if "running" in statuses:
            return
        for s in ("error", "cancelled"):
            if s in statuses:
                self.status = s
                self.error = "; ".join(p.info.get("error", "") for p in self._panels if p.info.get("error"))
                return
        self.status, self.progress = "done", 1.0
        if self._evaluate is not None:
            self._start_metrics()

    # -- the metrics strip -------------------------------------------------------------------------------------------
    def _shown_row(self) -> int:
        """The data row shown: what a finished evaluation's per-sample values are indexed by."""
        return int(getattr(self, "row", self._metrics_row))

    def _strips_from_evaluation(self) -> None:
        self.panel_metrics = strips_from_evaluation(self._evaluation, self.titles, [p.method for p in self._panels],
                                                    self._shown_row())

    def _cancel_metrics(self) -> None:
        if self._metrics_job is not None:
            self._metrics_job.cancel()
            self._metrics_job = None
        if self._evaluation is None:
            self.panel_metrics = []

    def _start_metrics(self) -> None:
        """Score every finished panel on the shown row (after the panels of this generation are all done)."""
        with self._lock:  # two panels ending at once both see "all done": start once per generation
            gen = self._generation
            if getattr(self, "_metrics_generation", None) == gen:
                return
            self._metrics_generation = gen
        results = {}
        for i, p in enumerate(self._panels):
            if p.job is not None and p.job.status == "done":
                results[i] = p.job.completed_result()
        names = request_names(self._evaluate)
        tgt = self.target if self.target_names else None
        try:
            job, errors = evaluation_job(self._model, self._inputs, results, self.titles, self._evaluate, target=tgt)
        except Exception as exc:  # noqa: BLE001 - shown under the panels, not lost in a log
            job, errors = None, {i: f"{type(exc).__name__}: {exc}" for i in range(len(self._panels))}
        view = self

        class Listener:
            def on_item(self, job: Job, item: Any) -> None:
                pass

            def on_end(self, job: Job) -> None:
                if gen != view._generation:
                    return
                if job.status == "done":
                    view.panel_metrics = strips_from_records(job.completed_result(), errors, len(view._panels), names)
                else:
                    why = job.error_text or job.status
                    view.panel_metrics = strips_from_records({}, {i: why for i in range(len(view._panels))},
                                                             len(view._panels), names)

        if job is None:
            self.panel_metrics = strips_from_records({}, errors, len(self._panels), names)
            return
        self._metrics_job = job
        job.subscribe(Listener())

    def _flush(self, indices: set) -> None:
        for i in sorted(indices):
            self._send_panel(i)
        self._publish_info()

    def _publish_info(self) -> None:
        infos = []
        for p in self._panels:
            info = dict(p.info)
            info["stderr_history"] = list(p.stderr_history[-64:])
            infos.append(info)
        self.panels = infos
        running = [p.info.get("progress", 0.0) for p in self._panels]
        self.progress = float(min(running)) if running else 1.0
        self.generation = self._generation

    def _send_panel(self, i: int) -> None:
        with self._lock:
            values = self._panels[i].values
        if values is None:
            return
        content, buffers = pack({"type": "panel", "index": i, "generation": self._generation, "values": values})
        self._send_message(content, buffers)

    # -- kernel side of the controls -------------------------------------------------------------------------
    def _on_target(self, change: dict) -> None:
        if getattr(self, "_retarget", False):  # set while showing another row: that row's own target, no recompute
            return
        if change["old"] == change["new"] or not self.can_recompute:
            return
        self._auto_target = False
        n = len(self.target_names)
        if change["new"] is None or not 0 <= change["new"] < n:
            self.error = f"target must be in 0..{n - 1}, got {change['new']!r}"
            return
        self.error = ""
        try:
            self._start_all()
        except Exception as exc:  # noqa: BLE001 - a failed recompute is shown in the view, not lost in a log
            self.status, self.error = "error", f"{type(exc).__name__}: {exc}"

    # -- linking: a follower, it shows the first selected row --------------------------------------------------
    def show_link_rows(self, rows: np.ndarray) -> None:
        if len(rows) > 0 and int(rows[0]) != self.row:
            self.row = int(rows[0])

    def link_n_rows(self) -> int:
        return self.n_rows

    def _jobs_to_cancel(self) -> list[Job]:
        return [p.job for p in self._panels if p.job is not None]

    def _cancel_status(self) -> dict:
        return {"status": self.status}

    def cancel(self) -> None:
        for p in self._panels:
            if p.job is not None:
                p.job.cancel()
        if self._metrics_job is not None:
            self._metrics_job.cancel()

    def _rpc_snapshot(self, _args: dict) -> dict:
        self._send_background()
        for i in range(len(self._panels)):
            self._send_panel(i)
        return {"panels": len(self._panels)}

    def _send_background(self) -> None:
        if self._background is not None:
            content, buffers = pack({"type": "background", "image": self._background})
            self._send_message(content, buffers)

    # -- browsing the rows of a batch ------------------------------------------------------------------------
    @traitlets.validate("row")
    def _valid_row(self, proposal: Any) -> int:
        v = proposal["value"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < max(1, self.n_rows):
            raise traitlets.TraitError(f"row must be an integer in 0..{self.n_rows - 1}, got {v!r}")
        return v

    def _row_background(self, row: int) -> np.ndarray | None:
        """The grey-scale input under the maps of ``row``: the ``image`` given for the first row shown, else the
        input itself."""
        if self._image is not None and row == self._image_row:
            return _background(self._image)
        if self._all_inputs is None:
            return None
        return _background(self._all_inputs[row])

    def _values_from_entries(self, row: int) -> None:
        for i, (_name, vals, r) in enumerate(self._entries or []):
            if self.kind == "tabular" and r.features is not None:
                vals = r.features
            self._set_values(i, vals, row)
            self._panels[i].info.update(self._info_from(r.diagnostics, r.stderr, 1.0, "done", row))

    def _on_row(self, change: dict) -> None:
        if change["old"] == change["new"]:
            return
        try:
            self._show_row(int(change["new"]))
        except Exception as exc:  # noqa: BLE001 - a failed recompute is shown in the view, not lost in a log
            self.status, self.error = "error", f"{type(exc).__name__}: {exc}"

    def _show_row(self, row: int) -> None:
        """Show input ``row``: finished results and a batch job re-send that row's values; a view built from a
        model recomputes every panel for it (as a target change does)."""
        with self._lock:
            self._row = row
            if self._all_inputs is not None:
                self._inputs = self._all_inputs[row:row + 1]
            if self.kind == "image":
                self._background = self._row_background(row)
        if self._entries is not None or self._source_job is not None:
            with self._lock:
                self._generation += 1
            if self._entries is not None:
                self._values_from_entries(row)
            else:
                job = self._source_job
                with job.lock:
                    step = job.state.latest
                    plan = job.state.plan
                if step is not None:
                    use = step.features if step.features is not None and self.kind == "tabular" else step.values
                    self._set_values(0, use, row)
                    self._panels[0].info.update(self._info_from(step.diagnostics, step.stderr, step.progress,
                                                                self._panels[0].info.get("status", "running"), row))
                if plan.target is not None:
                    self._retarget = True
                    try:
                        self.target = int(plan.target[row])
                    finally:
                        self._retarget = False
            self._publish_info()
            self._rpc_snapshot({})
            return
        if self._auto_target and self.target_names:
            with torch.no_grad():
                out = self._model(self._inputs)
            self._retarget = True
            try:
                self.target = int(out.reshape(out.shape[0], -1)[0].argmax())
            finally:
                self._retarget = False
        self._send_background()
        self._start_all()

    # -- pictures and standalone pages -----------------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        from ..results.base import show_matrix

        with self._lock:
            shown = [(p.title, p.values) for p in self._panels]
        k = max(1, len(shown))
        image = self.kind == "image"
        fig, _ = new_figure(3.2 * k if image else 4.5 * k, 3.2 if image else max(2.4, 0.25 * (self.shape or [8])[0] + 1))
        fig.clear()
        axes = fig.subplots(1, k, squeeze=False)[0]
        names = self.feature_names or self.tokens
        for ax, (title, v) in zip(axes, shown):
            ax.set_title(METHOD_TITLES.get(title, title), fontsize=9)
            if v is None:
                ax.text(0.5, 0.5, "not computed yet", ha="center", va="center")
                ax.set_axis_off()
            elif image:
                finite = v[np.isfinite(v)]
                lim = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
                im = show_matrix(ax, v, cmap=self.colormap(), vmin=-lim, vmax=lim)
                ax.set_axis_off()
                fig.colorbar(im, ax=ax, fraction=0.046)
            else:
                y = np.arange(len(v))
                ax.barh(y, v, color=["#c0392b" if a > 0 else "#2e86c1" for a in v])
                ax.set_yticks(y, [str(n) for n in names] if len(names) == len(v) else [str(i) for i in y], fontsize=7)
                ax.invert_yaxis()
                ax.axvline(0, color="0.5", lw=0.8)
        if self.title:
            fig.suptitle(self.title)
        return fig

    def _row_payload(self, row: int, generation: int) -> tuple[list, list]:
        """(panel infos, messages) showing ``row`` of finished results or of the batch job, as the view would
        be sent them after a change of ``row``."""
        infos, messages = [], []
        bg = self._row_background(row) if self.kind == "image" else None
        if bg is not None:
            messages.append(pack({"type": "background", "image": bg}))
        if self._entries is not None:
            sources = [(r.features if self.kind == "tabular" and r.features is not None else vals, r.diagnostics,
                        r.stderr, 1.0, "done") for _, vals, r in self._entries]
        else:
            step = self._source_job.state.latest
            if step is None:
                return [], messages
            use = step.features if step.features is not None and self.kind == "tabular" else step.values
            sources = [(use, step.diagnostics, step.stderr, step.progress, self._panels[0].info.get("status", "done"))]
        for i, (vals, diag, stderr, progress, status) in enumerate(sources):
            messages.append(pack({"type": "panel", "index": i, "generation": generation,
                                  "values": _display(vals, row, self.kind)}))
            infos.append({**self._panels[i].info, **self._info_from(diag, stderr, progress, status, row),
                          "stderr_history": list(self._panels[i].stderr_history[-64:])})
        return infos, messages

    def _standalone(self, page: Any) -> None:
        result, messages = self._captured(self._rpc_snapshot, {})
        page.answer("snapshot", {}, result, messages)
        if self.n_rows > 1 and (self._entries is not None or self._source_job is not None):
            for row in range(self.n_rows):
                infos, msgs = self._row_payload(row, self._generation)
                if not page.react("row", row, traits={"generation": self._generation, "panels": infos},
                                  packed_messages=msgs):
                    page.omit(f"input {row + 1} and the ones after it")
                    break
        elif self.n_rows > 1:
            page.omit("the other inputs of the batch (they are computed by the kernel)")
        if self.can_recompute:
            page.omit("another target (the kernel recomputes the attributions)")

    # -- Python-side conveniences -------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every panel's job (and the metrics strip's evaluation, when one was started); True when all
        finished."""
        ok = True
        for p in self._panels:
            if p.job is not None:
                ok = p.job.wait(timeout) and ok
        metrics_job = self._metrics_job
        if metrics_job is not None:
            ok = metrics_job.wait(timeout) and ok
        return ok

    def display_values(self, i: int = 0) -> np.ndarray | None:
        with self._lock:
            v = self._panels[i].values
            return None if v is None else v.copy()

    def results(self) -> list:
        return [p.job.result() for p in self._panels if p.job is not None]
