"""Scatter: up to millions of points in WebGL (regl-scatterplot), coloured by class or by score, with hover,
lasso and box selection landing in Python, points streaming in from a job and updated in place.

Contract with js/scatter.ts (docs/protocol.md, "Scatter"; the shared rules of the protocol apply):

- synced traits, Python -> view: ``n_points``, ``bounds`` ([xmin, xmax, ymin, ymax] of the finite coordinates),
  ``aspect`` ("equal": one scale on both axes, "auto"), ``classes`` (class names, code i = classes[i]),
  ``palette`` (one "#rrggbb" per class), ``has_scores``, ``label_name``, ``score_name``, ``x_label``,
  ``y_label``, ``title``, ``has_images``, ``value_names`` (per-row values the hover shows); both ways:
  ``color_by`` ("label", "score", "none"), ``hidden_classes`` (codes the legend hides), ``cmap``/``vmin``/``vmax``
  (score colours), ``point_size`` (CSS px), ``opacity``, ``selection`` (int32 little-endian bytes on the wire: the
  selected rows, ascending; a NumPy int64 array in Python); ``link_id``/``link_map`` (linking.py).
- kernel -> view messages: ``{"type": "points", "start": s, "xy": float32 (k, 2)}`` (rows s..s+k, in place; NaN =
  not placed yet), ``{"type": "codes"|"scores"|"sizes", "start": s, "values": int32/float32 (k,)}`` (class code
  per row, -1 = none; score per row; size weight per row); every message at most ``max_message_bytes``.
- RPC: ``snapshot {}`` -> sends every column, answers ``{"rows": N, "messages": m}``; ``row {"index": i}`` ->
  ``{index, label?, score?, x, y, values: {name: number|str|null}, image?: uint8 (h, w, 3)}`` (the hover; the
  image is a thumbnail of at most ``THUMBNAIL_PX`` per side, made when asked); ``cancel {}``.
- DOM for tests: root ``div.fx-scatter`` (``data-ready``, ``data-draws``, ``data-points``, ``data-selected``,
  ``data-hidden``, ``data-mode``, ``data-color-by``, ``data-first-frame-ms``, ``data-thumbnails``), the plot
  ``canvas.fx-scatter-canvas`` (a 2-D canvas the WebGL frame is copied onto), ``button.fx-mode[data-mode]``,
  ``div.fx-legend .fx-legend-item[data-code]``, ``select.fx-color-by``, ``div.fx-info``.
"""

from __future__ import annotations

import colorsys
import math
import threading
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import traitlets

from ..runtime import Coalescer, Job
from ..runtime.codec import pack
from ..runtime.limits import MAX_MESSAGE_BYTES, MAX_RATE_HZ
from .base import (Choice, ColormapName, ColormapWidget, FiniteFloat, bundle, check_choice_of, check_cmap, check_int,
                   check_number, new_figure)
from .linking import EMPTY_ROWS, Linkable, as_rows, join

#: Longest side of a hover thumbnail (px). Small enough that a hover answer stays a few kB.
THUMBNAIL_PX = 64

#: Rows whose hover answer (values, thumbnail) a standalone page carries: values only, and with a thumbnail
#: (~12 kB each). The points themselves are always shipped whole (within the page's budget).
STANDALONE_ROWS = 5000
STANDALONE_THUMBNAIL_ROWS = 1000
#: Points the kernel-side picture draws at most (an even subset beyond: the picture of 10^6 points is a blot anyway).
FIGURE_POINTS = 200_000

COLOR_BY = ("label", "score", "none")
ASPECTS = ("equal", "auto")

#: matplotlib's tab10 and tab20 (the colours EmbeddingResult.plot uses for classes, in the same order).
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
TAB20 = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd", "#c5b0d5",
         "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d", "#17becf", "#9edae5")


def class_palette(k: int) -> list[str]:
    """One colour per class: tab10 up to 10 classes, tab20 up to 20, then hues a golden angle apart."""
    if k <= 10:
        return list(TAB10[:k])
    if k <= 20:
        return list(TAB20[:k])
    out = []
    for i in range(k):
        r, g, b = colorsys.hls_to_rgb((i * 0.618033988749895) % 1.0, (0.42, 0.58, 0.5)[i % 3], 0.65)
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out


def default_style(n: int) -> tuple[float, float]:
    """(point size in CSS px, opacity) that keep 100 points readable and 10^6 points from becoming one blot."""
    size = float(np.clip(24.0 / max(n, 1) ** 0.25, 1.5, 8.0))
    opacity = 1.0 if n <= 1000 else float(np.clip((1000.0 / n) ** 0.3, 0.15, 1.0))
    return round(size, 2), round(opacity, 3)


# ---- inputs ----------------------------------------------------------------------------------------------------


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def check_coordinates(coordinates: Any, name: str = "coordinates", *, allow_missing: bool = False) -> np.ndarray:
    """(N, 2) finite float32 coordinates (``allow_missing``: NaN rows are rows not placed yet)."""
    a = _numpy(coordinates)
    if a.dtype == bool or a.dtype.kind in "cOUS":
        raise TypeError(f"{name} must be real numbers, got dtype {a.dtype}")
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) (one x, y per row), got shape {a.shape}"
                         + (" — pick two columns, e.g. coordinates[:, :2]" if a.ndim == 2 and a.shape[1] > 2 else ""))
    if a.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    a = a.astype(np.float32)
    bad = ~np.isfinite(a)
    if allow_missing:
        bad = np.isinf(a)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        what = "infinite" if allow_missing else "NaN or infinite"
        raise ValueError(f"{name} has {len(rows)} row(s) with {what} values (first: row {int(rows[0])}); "
                         "every row needs a finite x and y")
    if np.abs(a[np.isfinite(a)]).max(initial=0.0) > 1e30:
        raise ValueError(f"{name} has values beyond 1e30, which float32 drawing cannot place; rescale them")
    return np.ascontiguousarray(a)


def check_labels(labels: Any, n: int, name: str = "labels") -> tuple[list[str], np.ndarray]:
    """(class names, int32 code per row; -1 = no label). Classes in sorted order (np.unique's)."""
    seq = labels.tolist() if isinstance(labels, (np.ndarray, torch.Tensor)) else list(labels)
    if len(seq) != n:
        raise ValueError(f"{name} has {len(seq)} entries, but there are {n} rows (one label per row)")

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))

    present = [v for v in seq if not missing(v)]
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present)
    keys = sorted(set(present)) if numeric else sorted({str(v) for v in present})
    code_of = {k: i for i, k in enumerate(keys)}
    codes = np.fromiter((-1 if missing(v) else code_of[v if numeric else str(v)] for v in seq), dtype=np.int32, count=n)
    names = [str(int(k)) if numeric and float(k).is_integer() else str(k) for k in keys]
    return names, codes


def check_per_row(values: Any, n: int, name: str) -> np.ndarray:
    """One number per row as float32 (NaN allowed: "none")."""
    a = _numpy(values)
    if a.dtype == bool:
        a = a.astype(np.float32)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be numbers, got dtype {a.dtype}")
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(f"{name} must hold one value per row ({n}), got shape {a.shape}")
    return np.ascontiguousarray(a.astype(np.float32))


def thumbnail(image: Any, max_px: int = THUMBNAIL_PX) -> np.ndarray:
    """An image (C, H, W), (H, W, C) or (H, W) as uint8 (h, w, 3) with max(h, w) <= max_px (block means).

    uint8 images keep their values; any other dtype is min-max scaled to 0..255 per image.
    """
    a = _numpy(image)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image must be (C, H, W), (H, W, C) or (H, W) with 1, 3 or 4 channels, got shape {a.shape}")
    a = a[..., :3]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    was_uint8 = a.dtype == np.uint8
    a = a.astype(np.float32)
    h, w = a.shape[:2]
    f = max(1, math.ceil(max(h, w) / max_px))
    if f > 1:
        hh, ww = max(f, h // f * f), max(f, w // f * f)
        a = np.pad(a, ((0, max(0, hh - h)), (0, max(0, ww - w)), (0, 0)), mode="edge")[:hh, :ww]
        a = a.reshape(hh // f, f, ww // f, f, 3).mean(axis=(1, 3))
    if not was_uint8:
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        a = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
    return np.ascontiguousarray(np.nan_to_num(a).round().clip(0, 255).astype(np.uint8))


def _bounds(xy: np.ndarray) -> list[float]:
    finite = np.isfinite(xy).all(axis=1)
    if not finite.any():
        return []
    p = xy[finite]
    return [float(p[:, 0].min()), float(p[:, 0].max()), float(p[:, 1].min()), float(p[:, 1].max())]


def _merge_spans(pending: list | None, span: tuple[int, int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted((pending or []) + [span]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


# ---- the selection trait ---------------------------------------------------------------------------------------


def _rows_to_json(value: np.ndarray, _widget: Any) -> memoryview:
    return memoryview(np.ascontiguousarray(value, dtype="<i4")).cast("B")


def _rows_from_json(value: Any, _widget: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(value), dtype="<i4").astype(np.int64)
    return value


class RowIndices(traitlets.TraitType):
    """Sorted, unique int64 row indices (read-only array); set with indices, a boolean mask or None."""

    default_value = EMPTY_ROWS
    info_text = "row indices (a list/array/tensor of ints, a boolean mask, or None)"

    def validate(self, obj: Any, value: Any) -> np.ndarray:
        n = getattr(obj, "n_points", None)
        try:
            return as_rows(value, n, self.name)
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(str(exc)) from None

    def set(self, obj: Any, value: Any) -> None:
        # traitlets compares old == new to decide whether to notify; arrays need array_equal.
        new = self._validate(obj, value)
        old = obj._trait_values.get(self.name, self.default_value)
        obj._trait_values[self.name] = new
        if not (isinstance(old, np.ndarray) and old.shape == new.shape and np.array_equal(old, new)):
            obj._notify_trait(self.name, old, new)


# ---- the view --------------------------------------------------------------------------------------------------


class Scatter(Linkable, ColormapWidget):
    """Points in WebGL, for an embedding of a whole dataset (10^6 rows pan and zoom in the browser).

    ``fx.Scatter(coordinates, labels=y, scores=s, images=X, values={"loss": loss})``: ``coordinates`` is (N, 2);
    ``labels`` (one per row) colour the points with a legend (click a class to hide it), ``scores`` (one number
    per row) colour them through ``cmap``; hover shows the row (label, score, ``values`` and, with ``images``, a
    thumbnail fetched when hovered); lasso, box and click selections land in :attr:`selection` (sorted row
    indices). ``Scatter.from_job(job)`` fills in while an embedding is computed; :meth:`update` moves points.
    """

    _esm = bundle("scatter")

    n_points = traitlets.Int(0).tag(sync=True)
    bounds = traitlets.List(traitlets.Float()).tag(sync=True)
    aspect = Choice(ASPECTS, "equal").tag(sync=True)
    classes = traitlets.List(traitlets.Unicode()).tag(sync=True)
    palette = traitlets.List(traitlets.Unicode()).tag(sync=True)
    hidden_classes = traitlets.List(traitlets.Int()).tag(sync=True)
    color_by = Choice(COLOR_BY, "none").tag(sync=True)
    has_scores = traitlets.Bool(False).tag(sync=True)
    label_name = traitlets.Unicode("label").tag(sync=True)
    score_name = traitlets.Unicode("score").tag(sync=True)
    cmap = ColormapName("viridis").tag(sync=True)
    vmin = FiniteFloat(None, allow_none=True).tag(sync=True)
    vmax = FiniteFloat(None, allow_none=True).tag(sync=True)
    #: CSS px
    point_size = FiniteFloat(3.0, low=0.0, open_low=True, high=100.0).tag(sync=True)
    opacity = FiniteFloat(1.0, low=0.0, open_low=True, high=1.0).tag(sync=True)
    x_label = traitlets.Unicode("x").tag(sync=True)
    y_label = traitlets.Unicode("y").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    has_images = traitlets.Bool(False).tag(sync=True)
    value_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    # A lasso over half of 10^6 points is 2 MB as int32 bytes (it would be ~4 MB of JSON); the browser's own
    # change is not echoed back to it.
    selection = RowIndices().tag(sync=True, to_json=_rows_to_json, from_json=_rows_from_json, echo_update=False)

    link_source_traits = ("selection",)
    page_writable = frozenset({"selection", "hidden_classes", "point_size", "opacity", "color_by", "cmap", "vmin",
                               "vmax"})
    #: regl (under regl-scatterplot) compiles its draw calls with ``new Function``: a saved page must allow it.
    _standalone_eval = True

    def __init__(
        self,
        coordinates: Any = None,
        *,
        job: Job | None = None,
        labels: Any = None,
        scores: Any = None,
        sizes: Any = None,
        images: Any = None,
        values: Mapping[str, Any] | None = None,
        selection: Any = None,
        label_name: str = "label",
        score_name: str = "score",
        x_label: str = "x",
        y_label: str = "y",
        title: str = "",
        color_by: str | None = None,
        cmap: Any = "viridis",
        vmin: float | None = None,
        vmax: float | None = None,
        point_size: float | None = None,
        opacity: float | None = None,
        aspect: str = "equal",
        dims: tuple[int, int] = (0, 1),
        max_rate_hz: float = MAX_RATE_HZ,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        if (coordinates is None) == (job is None):
            raise TypeError("give Scatter either coordinates or a job (an embedding being computed), not both")
        if job is not None:
            shape = tuple(getattr(job.state, "coordinates", np.zeros((0, 0))).shape)
            if len(shape) != 2 or shape[0] == 0 or max(dims) >= shape[1]:
                raise ValueError(f"the job must build (N, k) coordinates with k > {max(dims)} (dims={dims}); "
                                 f"its accumulator holds shape {shape}")
            n = shape[0]
            xy = np.full((n, 2), np.nan, dtype=np.float32)
        else:
            xy = check_coordinates(coordinates)
            n = xy.shape[0]
        aspect = check_choice_of(aspect, "aspect", ASPECTS)
        if color_by is not None:
            color_by = check_choice_of(color_by, "color_by", COLOR_BY)
        max_message_bytes = check_int(max_message_bytes, "max_message_bytes", low=64)
        max_rate_hz = check_number(max_rate_hz, "max_rate_hz", low=0.0, open_low=True)
        check_cmap(cmap, "cmap")
        vmin = check_number(vmin, "vmin", allow_none=True)
        vmax = check_number(vmax, "vmax", allow_none=True)
        for name, text in (("label_name", label_name), ("score_name", score_name), ("x_label", x_label),
                           ("y_label", y_label), ("title", title)):
            if not isinstance(text, str):
                raise TypeError(f"{name} must be a string, got {type(text).__name__}")
        classes, codes = check_labels(labels, n) if labels is not None else ([], None)
        score_col = check_per_row(scores, n, "scores") if scores is not None else None
        size_col = check_per_row(sizes, n, "sizes") if sizes is not None else None
        self._values = self._check_values(values, n)
        self._images = self._check_images(images, n)
        auto_size, auto_opacity = default_style(n)
        size = auto_size if point_size is None else check_number(point_size, "point_size", low=0.0, open_low=True,
                                                                 high=100.0)
        alpha = auto_opacity if opacity is None else check_number(opacity, "opacity", low=0.0, open_low=True, high=1.0)
        if color_by is None:
            color_by = "label" if classes else ("score" if score_col is not None else "none")
        self._xy = xy
        self._codes = codes
        self._scores = score_col
        self._sizes = size_col
        self._lock = threading.RLock()
        self.max_message_bytes = max_message_bytes
        self.messages_sent = 0
        self.bytes_sent = 0
        self._dims = tuple(dims)
        super().__init__(
            n_points=n, bounds=_bounds(xy), aspect=aspect, classes=classes, palette=class_palette(len(classes)),
            color_by=color_by, has_scores=score_col is not None, label_name=label_name, score_name=score_name,
            cmap=cmap, vmin=vmin, vmax=vmax, point_size=size, opacity=alpha, x_label=x_label, y_label=y_label,
            title=title, has_images=self._images is not None, value_names=list(self._values),
        )
        if selection is not None:
            self.selection = selection
        self.rpc.register("snapshot", self._rpc_snapshot)
        self.rpc.register("row", self._rpc_row)
        if job is None:
            self.status, self.progress = "done", 1.0
        else:
            self._attach(job, max_rate_hz)

    # -- what results and jobs open -----------------------------------------------------------------------------
    @classmethod
    def from_embedding(cls, embedding: Any, labels: Any = None, *, scores: Any = None, selection: Any = None,
                       weights: Any = None, dims: tuple[int, int] = (0, 1), title: str | None = None,
                       link: Any = None, link_index: Any = None, **kwargs: Any) -> "Scatter":
        """The scatter of an embedding: an ``EmbeddingResult``/record (anything with ``.coordinates``) or an
        (N, k) array, columns ``dims``. ``selection``: rows to select (indices, or a sample selection with
        ``.indices``, whose ``.weights`` then size the selected points and whose ``.scores`` colour the rows when
        no labels are given). ``weights``: one per selected row (sensitivity sampling). ``link``: a view or link to
        join. As ``EmbeddingResult.plot``: ``values`` (one number per row) colours by that number,
        ``values_name`` names it."""
        if "values" in kwargs and kwargs["values"] is not None and not isinstance(kwargs["values"], Mapping):
            if scores is not None:
                raise ValueError("give scores or values (one number per row to colour by), not both")
            scores = kwargs.pop("values")
            kwargs.setdefault("score_name", kwargs.pop("values_name", "value"))
        kwargs.pop("values_name", None)
        coords = getattr(embedding, "coordinates", embedding)
        a = _numpy(coords)
        if a.ndim != 2:
            raise ValueError(f"embedding must be (N, k) coordinates, got shape {a.shape}")
        i, j = dims
        if not (0 <= i < a.shape[1] and 0 <= j < a.shape[1]) or i == j:
            raise ValueError(f"dims must be two different columns in 0..{a.shape[1] - 1}, got {dims}")
        names = embedding.axis_labels() if hasattr(embedding, "axis_labels") else [f"coordinate {k + 1}" for k in range(a.shape[1])]
        rows = selection
        if selection is not None and hasattr(selection, "indices"):
            rows = _numpy(selection.indices)
            if weights is None and getattr(selection, "weights", None) is not None:
                weights = selection.weights
            if scores is None and labels is None and getattr(selection, "scores", None) is not None:
                scores = selection.scores
                kwargs.setdefault("score_name", f"{getattr(selection, 'method', 'selection')} score")
        sizes = None
        if weights is not None:
            # one weight per selected row, in the selection's own order (sensitivity sampling)
            if rows is None:
                raise ValueError("weights need the rows they belong to: give selection= as well")
            order = _numpy(rows).astype(np.int64).reshape(-1)
            as_rows(order, a.shape[0], "selection")
            w = _numpy(weights).astype(np.float32).reshape(-1)
            if w.shape[0] != order.shape[0]:
                raise ValueError(f"weights must hold one value per selected row ({order.shape[0]}), got {w.shape[0]}")
            sizes = np.full(a.shape[0], np.nan, dtype=np.float32)
            sizes[order] = w
        if title is None:
            method = getattr(embedding, "method", None)
            title = f"{method} of {a.shape[0]:,} rows" if method else ""
        view = cls(a[:, [i, j]], labels=labels, scores=scores, sizes=sizes, selection=rows, x_label=names[i],
                   y_label=names[j], title=title, **kwargs)
        if link is not None:
            join(view, link, link_index)
        return view

    @classmethod
    def from_sample_selection(cls, result: Any, X: Any = None, *, coordinates: Any = None, **kwargs: Any) -> "Scatter":
        """A sample selection (``.indices``, ``.weights``, ``.scores``) highlighted on ``coordinates`` (an
        embedding) or, without them, on a 2-D PCA of ``X``."""
        if coordinates is None:
            if X is None:
                raise TypeError("give coordinates= (an embedding of the rows) or X (the data: a 2-D PCA is drawn)")
            if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype.kind in "UO"):
                raise ValueError("X holds texts, which have no PCA; give coordinates= (an embedding of the texts)")
            from ..compute.embedding import embed

            coordinates = embed(X, "pca", 2)
        summary = result.summary() if hasattr(result, "summary") else ""
        kwargs.setdefault("title", f"{getattr(result, 'method', 'selection')}: {len(_numpy(result.indices))} rows"
                          + (f" — {summary}" if summary else ""))
        return cls.from_embedding(coordinates, selection=result, **kwargs)

    @classmethod
    def from_job(cls, job: Job, *, link: Any = None, link_index: Any = None, **kwargs: Any) -> "Scatter":
        """The live scatter of an embedding job (its accumulator has ``coordinates``; items have ``row_start``,
        ``row_stop`` and ``coordinates``): points appear and move as the job yields."""
        view = cls(job=job, **kwargs)
        if link is not None:
            join(view, link, link_index)
        return view

    # -- validation -----------------------------------------------------------------------------------------
    @staticmethod
    def _check_values(values: Mapping[str, Any] | None, n: int) -> dict[str, np.ndarray]:
        if values is None:
            return {}
        if not isinstance(values, Mapping):
            raise TypeError(f"values must be a dict of name -> one value per row, got {type(values).__name__}")
        out = {}
        for k, v in values.items():
            a = _numpy(v)
            if a.ndim != 1 or a.shape[0] != n:
                raise ValueError(f"values[{k!r}] must hold one value per row ({n}), got shape {a.shape}")
            out[str(k)] = a
        return out

    @staticmethod
    def _check_images(images: Any, n: int) -> Callable[[int], Any] | None:
        if images is None:
            return None
        if callable(images) and not isinstance(images, (np.ndarray, torch.Tensor)):
            return images
        if isinstance(images, (np.ndarray, torch.Tensor)):
            if images.ndim not in (3, 4) or images.shape[0] != n:
                raise ValueError(f"images must be (N, C, H, W), (N, H, W, C) or (N, H, W) with N = {n} rows, "
                                 f"got shape {tuple(images.shape)}")
            thumbnail(images[0])  # the shape of one image is checked now, not on the first hover
            return lambda i: images[i]
        if isinstance(images, Sequence):
            if len(images) != n:
                raise ValueError(f"images has {len(images)} entries, but there are {n} rows")
            return lambda i: images[i]
        raise TypeError("images must be an array/tensor of N images, a sequence of N images, or a function "
                        f"row -> image; got {type(images).__name__}")

    @traitlets.validate("hidden_classes")
    def _valid_hidden(self, proposal: Any) -> list[int]:
        codes = sorted(set(proposal["value"]))
        k = len(self.classes)
        if codes and (codes[0] < 0 or codes[-1] >= k):
            raise traitlets.TraitError(f"hidden_classes must be class codes in 0..{k - 1}, got {proposal['value']!r}")
        return codes

    # -- Python-side conveniences ------------------------------------------------------------------------------
    @property
    def coordinates(self) -> np.ndarray:
        """A copy of the (N, 2) coordinates drawn (NaN rows: not placed yet)."""
        with self._lock:
            return self._xy.copy()

    @property
    def labels(self) -> list[str | None] | None:
        """The label of every row (None where a row has none), or None without labels."""
        if self._codes is None:
            return None
        return [self.classes[c] if c >= 0 else None for c in self._codes.tolist()]

    @property
    def selected_mask(self) -> np.ndarray:
        m = np.zeros(self.n_points, dtype=bool)
        m[self.selection] = True
        return m

    def hide(self, *classes: str) -> None:
        """Hide these classes (names), as a click on their legend entries does."""
        codes = []
        for c in classes:
            if str(c) not in self.classes:
                raise ValueError(f"unknown class {c!r}; the classes are {self.classes}")
            codes.append(self.classes.index(str(c)))
        self.hidden_classes = sorted(set(self.hidden_classes) | set(codes))

    # -- linking ---------------------------------------------------------------------------------------------
    def link_rows(self) -> np.ndarray:
        return self.selection

    def show_link_rows(self, rows: np.ndarray) -> None:
        self.selection = rows

    def link_n_rows(self) -> int:
        return self.n_points

    # -- updates from Python ---------------------------------------------------------------------------------
    def update(self, coordinates: Any = None, *, start: int = 0, labels: Any = None, scores: Any = None,
               sizes: Any = None) -> None:
        """Move points in place: ``coordinates`` (k, 2) become rows ``start .. start + k``; ``labels``,
        ``scores``, ``sizes`` (one per row) replace the colours / sizes. The camera keeps its place."""
        n = self.n_points
        if coordinates is not None:
            if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or not 0 <= start < n:
                raise ValueError(f"start must be a row in 0..{n - 1}, got {start!r}")
            xy = check_coordinates(coordinates)
            if start + xy.shape[0] > n:
                raise ValueError(f"coordinates has {xy.shape[0]} rows from start={start}, past the {n} rows of the "
                                 "scatter (to change the number of points, make a new Scatter)")
        classes_codes = check_labels(labels, n) if labels is not None else None
        score_col = check_per_row(scores, n, "scores") if scores is not None else None
        size_col = check_per_row(sizes, n, "sizes") if sizes is not None else None
        # Traits first, then the data they describe: the view reads the new bounds when the points arrive.
        if classes_codes is not None:
            classes, codes = classes_codes
            self._codes = codes
            if classes != self.classes:
                self.hidden_classes = []
                self.classes, self.palette = classes, class_palette(len(classes))
            self._send_column("codes", codes)
        if score_col is not None:
            self._scores = score_col
            self.has_scores = True
            self._send_column("scores", score_col)
        if size_col is not None:
            self._sizes = size_col
            self._send_column("sizes", size_col)
        if coordinates is not None:
            with self._lock:
                self._xy[start:start + xy.shape[0]] = xy
                bounds = _bounds(self._xy)
            self.bounds = bounds
            self._send_points(start, start + xy.shape[0])

    # -- streaming from a job --------------------------------------------------------------------------------
    def _attach(self, job: Job, max_rate_hz: float) -> None:
        self.job = job
        self._coalescer: Coalescer = Coalescer(_merge_spans, self._flush, max_rate_hz=max_rate_hz)
        self.status, self.progress = "running", job.progress
        job.subscribe(self, on_attach=self._catch_up)

    def _catch_up(self) -> None:
        """Under the job's lock: the rows it placed before this view existed."""
        state = self.job.state
        coords = state.coordinates
        a = _numpy(coords)[:, list(self._dims)].astype(np.float32)
        with self._lock:
            self._xy[:] = a
        if np.isfinite(a).any():
            self._coalescer.push((0, self.n_points))

    def on_item(self, job: Job, item: Any) -> None:
        r0, r1 = int(getattr(item, "row_start", 0)), int(getattr(item, "row_stop", 0))
        if r1 > r0:
            a = _numpy(item.coordinates)[:, list(self._dims)].astype(np.float32)
            with self._lock:
                self._xy[r0:r1] = a
            self._coalescer.push((r0, r1))
        else:
            self.progress = job.progress

    def on_end(self, job: Job) -> None:
        self._coalescer.close()
        self._show_job_end(job)

    def _flush(self, spans: list[tuple[int, int]]) -> None:
        with self._lock:
            bounds = _bounds(self._xy)
        if bounds != self.bounds:
            self.bounds = bounds
        for a, b in spans:
            self._send_points(a, b)
        if self.job is not None:
            self.progress = self.job.progress

    # -- messages ---------------------------------------------------------------------------------------------
    def _send_payload(self, payload: dict) -> None:
        content, buffers = pack(payload)
        self._send_message(content, buffers)
        self.messages_sent += 1
        self.bytes_sent += sum(memoryview(b).nbytes for b in buffers)

    def _send_points(self, a: int, b: int) -> int:
        rows = max(1, self.max_message_bytes // 8)
        sent = 0
        for r0 in range(a, b, rows):
            r1 = min(b, r0 + rows)
            with self._lock:
                chunk = self._xy[r0:r1].copy()
            self._send_payload({"type": "points", "start": r0, "xy": chunk})
            sent += 1
        return sent

    def _send_column(self, kind: str, values: np.ndarray) -> int:
        rows = max(1, self.max_message_bytes // values.itemsize)
        for r0 in range(0, values.shape[0], rows):
            self._send_payload({"type": kind, "start": r0, "values": values[r0:r0 + rows]})
        return -(-values.shape[0] // rows)

    # -- requests from the view --------------------------------------------------------------------------------
    def _rpc_snapshot(self, _args: dict) -> dict:
        sent = self._send_points(0, self.n_points)
        for kind, col in (("codes", self._codes), ("scores", self._scores), ("sizes", self._sizes)):
            if col is not None:
                sent += self._send_column(kind, col)
        return {"rows": self.n_points, "messages": sent}

    def _rpc_row(self, args: dict) -> dict:
        i = args.get("index")
        n = self.n_points
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n:
            raise ValueError(f"index must be an integer in 0..{n - 1}, got {i!r}")
        with self._lock:
            x, y = (float(v) for v in self._xy[i])
        out: dict = {"index": i, "x": x if math.isfinite(x) else None, "y": y if math.isfinite(y) else None}
        if self._codes is not None:
            c = int(self._codes[i])
            out["label"] = self.classes[c] if c >= 0 else None
        if self._scores is not None:
            s = float(self._scores[i])
            out["score"] = s if math.isfinite(s) else None
        vals: dict = {}
        for k, col in self._values.items():
            v = col[i]
            if isinstance(v, (np.floating, float)):
                vals[k] = float(v) if math.isfinite(float(v)) else None
            elif isinstance(v, (np.integer, int)) and not isinstance(v, bool):
                vals[k] = int(v)
            else:
                vals[k] = str(v)
        out["values"] = vals
        if self._images is not None:
            out["image"] = thumbnail(self._images(i))
        return out


    # -- pictures and standalone pages ---------------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        """The points as the view colours them (classes with a legend, or scores with a colour bar), hidden
        classes left out, the selection ringed, on the view's labelled axes."""
        from ..results.colors import norm

        with self._lock:
            xy = self._xy.astype(np.float64)
        n = xy.shape[0]
        keep = np.isfinite(xy).all(axis=1)
        if self._codes is not None and self.hidden_classes:
            keep &= ~np.isin(self._codes, self.hidden_classes)
        rows = np.flatnonzero(keep)
        if rows.size > FIGURE_POINTS:
            rows = rows[np.linspace(0, rows.size - 1, FIGURE_POINTS).round().astype(np.int64)]
        by = self.color_by
        fig, ax = new_figure(6.4 if by == "label" and self.classes else 5.6, 4.6)
        s = max(0.5, float(self.point_size) ** 2 * 0.35)
        alpha = float(self.opacity)
        raster = rows.size > 5000
        if by == "label" and self._codes is not None:
            codes = self._codes[rows]
            none = codes < 0
            if none.any():
                ax.scatter(xy[rows[none], 0], xy[rows[none], 1], s=s, c="#bbbbbb", alpha=alpha, linewidths=0,
                           rasterized=raster, label="no label")
            for code, name in enumerate(self.classes):
                sel = codes == code
                if code in self.hidden_classes or not sel.any():
                    continue
                ax.scatter(xy[rows[sel], 0], xy[rows[sel], 1], s=s, c=self.palette[code], alpha=alpha,
                           linewidths=0, rasterized=raster, label=name)
            if len(self.classes) <= 30:
                ax.legend(title=self.label_name, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                          title_fontsize=9, markerscale=max(1.0, 6.0 / max(self.point_size, 0.5)), frameon=False)
        elif by == "score" and self._scores is not None:
            sc = self._scores[rows].astype(np.float64)
            ok = np.isfinite(sc)
            if (~ok).any():
                ax.scatter(xy[rows[~ok], 0], xy[rows[~ok], 1], s=s, c="#bbbbbb", alpha=alpha, linewidths=0,
                           rasterized=raster)
            im = ax.scatter(xy[rows[ok], 0], xy[rows[ok], 1], s=s, c=sc[ok], cmap=self.colormap(),
                            norm=norm(self._scores, self.vmin, self.vmax, None), alpha=alpha, linewidths=0,
                            rasterized=raster)
            fig.colorbar(im, ax=ax, label=self.score_name)
        else:
            ax.scatter(xy[rows, 0], xy[rows, 1], s=s, alpha=alpha, linewidths=0, rasterized=raster)
        chosen = self.selection
        if chosen.size:
            pick = chosen[np.isfinite(xy[chosen]).all(axis=1)]
            ax.scatter(xy[pick, 0], xy[pick, 1], s=s * 3 + 6, facecolors="none", edgecolors="black",
                       linewidths=0.8, label=f"selected ({chosen.size:,})")
        if self.aspect == "equal":
            ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(self.x_label)
        ax.set_ylabel(self.y_label)
        ax.set_title(self.title or f"{n:,} points", fontsize="medium")
        return fig

    def _standalone(self, page: Any) -> None:
        """The page gets every column (the ``snapshot`` answer with its messages) and, when a hover asks the
        kernel for values or a thumbnail, the answers of the selected rows and then the first ones, up to
        ``STANDALONE_ROWS`` (``STANDALONE_THUMBNAIL_ROWS`` with thumbnails) and the page's budget."""
        result, messages = self._captured(self._rpc_snapshot, {})
        if not page.answer("snapshot", {}, result, messages):
            page.omit(f"the points ({self.n_points:,} rows are more than the page's budget)")
            return
        if not self.has_images and not self.value_names:
            return  # a hover shows what the page already has
        cap = min(self.n_points, STANDALONE_THUMBNAIL_ROWS if self.has_images else STANDALONE_ROWS)
        rows = list(dict.fromkeys([int(i) for i in self.selection[:cap]] + list(range(cap))))[:cap]
        saved = 0
        for i in rows:
            if not page.answer("row", {"index": i}, self._rpc_row({"index": i})):
                break
            saved += 1
        if saved < self.n_points:
            what = "values and thumbnails" if self.has_images and self.value_names else (
                "thumbnails" if self.has_images else "values")
            page.omit(f"the hover {what} of {self.n_points - saved:,} of {self.n_points:,} rows (saved: the selected "
                      "rows, then the first ones)")


def show_sample_selection(result: Any, X: Any = None, *, coordinates: Any = None, **kwargs: Any) -> Any:
    """``SampleSelectionResult.show()``: the selection on a Scatter of ``coordinates`` or of a PCA of ``X``; with
    neither, the method's own diagnostic chart (``result.plot()``)."""
    if X is None and coordinates is None:
        return result.plot(**kwargs)
    return Scatter.from_sample_selection(result, X, coordinates=coordinates, **kwargs)
