"""AffinityHeatmap: a matrix on a canvas that fills in tile by tile, with hover, click and drag selection."""

from __future__ import annotations

import math
import threading
from typing import Any, Sequence

import numpy as np
import torch
import traitlets

from ..compute.reduce import block_factor, block_means
from ..results.affinity import AffinityResult, default_style
from ..runtime import Coalescer, Job
from ..runtime.codec import pack
from ..runtime.limits import MAX_MESSAGE_BYTES, MAX_RATE_HZ
from ..results.base import show_matrix
from ..results.colors import check_center
from .base import ColormapName, ColormapWidget, FiniteFloat, bundle, check_cmap, check_int, check_number, new_figure
from .linking import Linkable

#: Cells per side the browser draws. 4096^2 float32 is 64 MiB in the page; larger matrices are shown
#: as block means (the tooltip then asks the kernel for the exact value).
MAX_DISPLAY = 4096


def _labels(labels: Sequence[Any] | None, n: int, name: str) -> list[str]:
    if labels is None:
        return []
    labels = [str(v) for v in (labels.tolist() if hasattr(labels, "tolist") else labels)]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries but the matrix has {n}")
    return labels


def _merge_intervals(pending: list | None, update: tuple[int, int]) -> list[tuple[int, int]]:
    intervals = sorted((pending or []) + [update])
    merged: list[tuple[int, int]] = []
    for a, b in intervals:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


class AffinityHeatmap(Linkable, ColormapWidget):
    """An interactive heatmap of a matrix, static or streamed from a job.

    Hover shows row, column, value and labels; a click selects a cell and a drag selects a block, both
    landing in :attr:`selection` (full-matrix indices). Linked (``fx.link``), its selected rows are what it
    passes on, and rows selected elsewhere arrive as ``{"rows": [...], "cols": []}`` (drawn as row bands).
    """

    _esm = bundle("affinity_heatmap")

    page_writable = frozenset({"selection", "cmap", "vmin", "vmax", "center"})

    shape = traitlets.List(traitlets.Int(), [0, 0]).tag(sync=True)
    display_shape = traitlets.List(traitlets.Int(), [0, 0]).tag(sync=True)
    block = traitlets.List(traitlets.Int(), [1, 1]).tag(sync=True)
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    col_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: axis titles (the view says "row" / "column" when empty)
    row_title = traitlets.Unicode("").tag(sync=True)
    col_title = traitlets.Unicode("").tag(sync=True)
    cmap = ColormapName("viridis").tag(sync=True)
    vmin = FiniteFloat(None, allow_none=True).tag(sync=True)
    vmax = FiniteFloat(None, allow_none=True).tag(sync=True)
    #: the value drawn in a diverging map's middle colour; the colour range is made symmetric around it
    center = FiniteFloat(None, allow_none=True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    value_label = traitlets.Unicode("value").tag(sync=True)
    selection = traitlets.Dict({"rows": [], "cols": []}).tag(sync=True)

    def __init__(
        self,
        matrix: Any = None,
        *,
        job: Job | None = None,
        row_labels: Sequence[Any] | None = None,
        col_labels: Sequence[Any] | None = None,
        cmap: Any = "viridis",
        vmin: float | None = None,
        vmax: float | None = None,
        center: float | None = None,
        title: str = "",
        value_label: str = "value",
        row_title: str = "",
        col_title: str = "",
        max_display: int = MAX_DISPLAY,
        max_rate_hz: float = MAX_RATE_HZ,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if (matrix is None) == (job is None):
            raise TypeError("give AffinityHeatmap either a matrix or a job, not both")
        check_cmap(cmap, "cmap")
        center = check_center(center)
        vmin = check_number(vmin, "vmin", allow_none=True)
        vmax = check_number(vmax, "vmax", allow_none=True)
        max_rate_hz = check_number(max_rate_hz, "max_rate_hz", low=0.0, open_low=True)
        max_message_bytes = check_int(max_message_bytes, "max_message_bytes", low=64)
        if job is not None:
            n, m = job.state.plan.shape
        else:
            matrix = self._check_matrix(matrix)
            n, m = matrix.shape
        max_display = check_int(max_display, "max_display", low=1)
        fr, fc = block_factor(n, max_display), block_factor(m, max_display)
        h, w = -(-n // fr), -(-m // fc)
        super().__init__(
            shape=[n, m], display_shape=[h, w], block=[fr, fc],
            row_labels=_labels(row_labels, n, "row_labels"), col_labels=_labels(col_labels, m, "col_labels"),
            cmap=cmap, vmin=vmin, vmax=vmax, center=center, title=title, value_label=value_label,
            row_title=str(row_title), col_title=str(col_title),
        )
        self.max_message_bytes = int(max_message_bytes)
        self._display = np.full((h, w), np.nan, dtype=np.float32)
        self._rows_ready = 0  # display rows whose values are final
        self._display_lock = threading.Lock()
        self.messages_sent = 0
        self.bytes_sent = 0
        self.rpc.register("snapshot", self._rpc_snapshot)
        self.rpc.register("cell", self._rpc_cell)
        if job is None:
            self._values = matrix
            self._display[:] = block_means(matrix.numpy(), fr, fc)
            self._rows_ready = h
            self.status, self.progress = "done", 1.0
        else:
            self._attach(job, max_rate_hz)

    # -- what results and jobs open ------------------------------------------------------------------
    @classmethod
    def from_result(cls, result: AffinityResult, *, row_labels: Sequence[Any] | None = None,
                    col_labels: Sequence[Any] | None = None, **style: Any) -> "AffinityHeatmap":
        """The heatmap of a finished affinity matrix, coloured as its metric suggests."""
        kwargs = {**result.default_style(), "value_label": result.metric, **style}
        return cls(result.values, row_labels=row_labels, col_labels=col_labels, **kwargs)

    @classmethod
    def from_job(cls, job: Job, **kwargs: Any) -> "AffinityHeatmap":
        """The heatmap of an affinity job, filling in tile by tile."""
        plan = job.state.plan
        # The values do not exist yet: cosine of non-negative inputs (pixels, ReLU features) cannot go below 0.
        nonnegative = plan.metric == "cosine" and bool((plan.left >= 0).all()) and bool((plan.right >= 0).all())
        style = default_style(plan.metric, nonnegative=nonnegative)
        return cls(job=job, **{**style, "value_label": plan.metric, **kwargs})

    # -- inputs ------------------------------------------------------------------------------------
    @staticmethod
    def _check_matrix(matrix: Any) -> torch.Tensor:
        t = matrix.detach() if isinstance(matrix, torch.Tensor) else torch.as_tensor(np.asarray(matrix))
        if t.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {tuple(t.shape)}")
        if t.shape[0] == 0 or t.shape[1] == 0:
            raise ValueError(f"matrix is empty: shape {tuple(t.shape)}")
        if t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"matrix must be real numbers, got dtype {t.dtype}")
        if t.is_floating_point() and not bool(torch.isfinite(t).any()):
            raise ValueError("matrix has no finite value (NaN or Inf everywhere): nothing to draw")
        return t.to("cpu", torch.float32)


    @traitlets.validate("selection")
    def _valid_selection(self, proposal: Any) -> dict:
        sel = proposal["value"]
        if not isinstance(sel, dict) or set(sel) - {"rows", "cols"}:
            raise traitlets.TraitError(f"selection must be {{'rows': [...], 'cols': [...]}}, got {sel!r}")
        out = {}
        for key, limit in (("rows", self.shape[0]), ("cols", self.shape[1])):
            idx = sel.get(key, [])
            if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
                raise traitlets.TraitError(f"selection[{key!r}] must be a list of integers")
            if idx and (min(idx) < 0 or max(idx) >= limit):
                raise traitlets.TraitError(f"selection[{key!r}] has indices outside 0..{limit - 1}")
            out[key] = idx
        return out

    # -- linking: the rows of the matrix --------------------------------------------------------------
    link_source_traits = ("selection",)

    def link_rows(self) -> np.ndarray:
        return self.selected_rows

    def show_link_rows(self, rows: np.ndarray) -> None:
        self.selection = {"rows": [int(r) for r in rows], "cols": []}

    def link_n_rows(self) -> int:
        return self.shape[0]

    @property
    def selected_rows(self) -> np.ndarray:
        return np.asarray(self.selection.get("rows", []), dtype=np.int64)

    @property
    def selected_cols(self) -> np.ndarray:
        return np.asarray(self.selection.get("cols", []), dtype=np.int64)

    # -- streaming from a job ----------------------------------------------------------------------
    def _attach(self, job: Job, max_rate_hz: float) -> None:
        self.job = job
        self._values = job.state.values
        self._coalescer: Coalescer = Coalescer(_merge_intervals, self._flush, max_rate_hz=max_rate_hz)
        self.status = "running"
        self.progress = job.progress
        # Under the job's lock: catch up on the rows already computed, then listen for the rest.
        job.subscribe(self, on_attach=lambda: self._catch_up(job.state.rows_done))

    def _catch_up(self, rows_done: int) -> None:
        self._update_display(rows_done)

    def _update_display(self, rows_done: int) -> tuple[int, int] | None:
        """Fill display rows that became final once ``rows_done`` matrix rows exist."""
        n = self.shape[0]
        fr, fc = self.block
        h = self.display_shape[0]
        ready = h if rows_done >= n else rows_done // fr
        with self._display_lock:
            start = self._rows_ready
            if ready <= start:
                return None
            rows = self._values[start * fr : min(n, ready * fr)].detach().to("cpu", torch.float32).numpy()
            self._display[start:ready] = block_means(rows, fr, fc)
            self._rows_ready = ready
        return start, ready

    def on_item(self, job: Job, tile: Any) -> None:
        span = self._update_display(job.state.rows_done)
        if span is not None:
            self._coalescer.push(span)

    def on_end(self, job: Job) -> None:
        self._coalescer.close()
        self._show_job_end(job)

    def _flush(self, intervals: list[tuple[int, int]]) -> None:
        for a, b in intervals:
            self._send_rows(a, b)
        if self.job is not None:
            self.progress = self.job.progress

    def _send_rows(self, a: int, b: int) -> int:
        """Send display rows a:b as tile messages of at most ``max_message_bytes``; returns the count."""
        w = self.display_shape[1]
        rows_per_message = max(1, self.max_message_bytes // (w * 4))
        sent = 0
        for r0 in range(a, b, rows_per_message):
            r1 = min(b, r0 + rows_per_message)
            content, buffers = pack({"type": "tile", "r0": r0, "c0": 0, "data": self._display[r0:r1]})
            self._send_message(content, buffers)
            self.messages_sent += 1
            self.bytes_sent += sum(memoryview(buf).nbytes for buf in buffers)
            sent += 1
        return sent

    # -- requests from the view --------------------------------------------------------------------
    def _rpc_snapshot(self, _args: dict) -> dict:
        with self._display_lock:
            ready = self._rows_ready
        return {"tiles": self._send_rows(0, ready) if ready else 0, "rows": ready}

    def _rpc_cell(self, args: dict) -> dict:
        row, col = args.get("row"), args.get("col")
        for name, value, limit in (("row", row, self.shape[0]), ("col", col, self.shape[1])):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
                raise ValueError(f"{name} must be an integer in 0..{limit - 1}, got {value!r}")
        computed = self.job is None or row < self.job.state.rows_done
        if not computed:
            return {"row": row, "col": col, "value": None}
        value = float(self._values[row, col])
        if not math.isfinite(value):  # NaN/Inf are not JSON: say it in words
            return {"row": row, "col": col, "value": None, "nonfinite": str(value)}
        return {"row": row, "col": col, "value": value}

    # -- Python-side conveniences ------------------------------------------------------------------
    @property
    def display_values(self) -> np.ndarray:
        """What the browser draws (block means when the matrix is larger than ``max_display``)."""
        with self._display_lock:
            return self._display.copy()

    # -- pictures and standalone pages ---------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        values = self.display_values
        fig, ax = new_figure(5.2, 4.4)
        im = show_matrix(ax, values, cmap=self.colormap(), vmin=self.vmin, vmax=self.vmax, center=self.center)
        ax.set_title(self.title)
        ax.set_ylabel(self.row_title or "row")
        ax.set_xlabel(self.col_title or "column")
        for labels, set_ticks, n in ((self.row_labels, ax.set_yticks, values.shape[0]),
                                     (self.col_labels, ax.set_xticks, values.shape[1])):
            if labels and self.block == [1, 1] and n <= 40:
                set_ticks(range(n), labels)
        fig.colorbar(im, ax=ax, label=self.value_label)
        return fig

    def _standalone(self, page: Any) -> None:
        result, messages = self._captured(self._rpc_snapshot, {})
        page.answer("snapshot", {}, result, messages)
        if self.block != [1, 1]:  # hover asks for exact values only when a display cell is a block mean
            values = self._values.detach().to("cpu", torch.float32).numpy()
            page.cells(values, what="the exact value of a cell (the picture shows block means)")
