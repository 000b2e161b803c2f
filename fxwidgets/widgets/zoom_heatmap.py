"""ZoomHeatmap: an N x N affinity matrix, never formed, shown at every zoom level from tiles computed on demand."""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np
import torch
import traitlets

from ..compute.affinity import METRICS
from ..compute.knn import prepare
from ..compute.ordering import ORDERS, order_rows
from ..compute.validate import as_matrix, check_choice, check_positive_int
from ..compute.zoom import BlockPyramid
from ..results.affinity import default_style
from ..compute.ordering import MAX_BOUNDARIES
from ..results.base import show_matrix
from ..results.colors import check_center
from ..runtime.limits import STANDALONE_MAX_BYTES
from .base import ColormapName, ColormapWidget, FiniteFloat, bundle, check_cmap, check_number, new_figure

#: Cells per tile side: 256 x 256 float32 = 256 KiB per tile message, a few tiles fill a 512 px view.
TILE = 256


class ZoomHeatmap(ColormapWidget):
    """The affinity of X with itself at any zoom: tiles of block means computed by the kernel on request.

    Wheel or the +/- buttons zoom, a drag pans, a shift-drag (or a drag in "select" mode) selects a block, whose
    row and column indices (of X) are :attr:`selected_rows` / :attr:`selected_cols`.

    Parameters
    ----------
    X:
        (n, d) rows; the matrix shown is ``affinity(X, X, metric)``, never formed (memory O(n d) for the block
        means of all levels together).
    metric:
        As :func:`fxwidgets.affinity`. Exact at every level for ``dot``, ``cosine``, ``pearson`` and
        ``neg_sq_euclidean``; for ``rbf`` coarse cells are seeded sample means (``samples``² entries per block).
    labels, order:
        Row order: by ``labels`` (default when given), ``"cluster"`` (k-means, ``n_clusters``), ``"spectral"``
        (Fiedler vector of a 10-NN RBF graph: costs a k-NN search, O(n² d)), or a permutation of 0..n-1.
    index:
        For ``order="spectral"``: search the 10-NN graph with faiss instead of exactly (``"hnsw"``, ``"ivf"``,
        ``"flat"``, a faiss ``index_factory`` string, or an empty or filled L2 faiss index; see
        :func:`fxwidgets.knn`), for rows too many for the O(n² d) search. Its recall@10 is in ``params``.
    tile_size:
        Cells per tile side (256: a 256 KiB float32 message).
    """

    _esm = bundle("zoom_heatmap")

    page_writable = frozenset({"viewport", "selection", "cmap", "vmin", "vmax", "center"})

    n = traitlets.Int(0).tag(sync=True)
    tile_size = traitlets.Int(TILE).tag(sync=True)
    levels = traitlets.Int(1).tag(sync=True)
    metric = traitlets.Unicode("cosine").tag(sync=True)
    estimate = traitlets.Unicode("").tag(sync=True)
    order = traitlets.Unicode("given").tag(sync=True)
    boundaries = traitlets.List(traitlets.Int()).tag(sync=True)
    #: the name of each group of the order (``len(boundaries) + 1`` entries): labels, or "cluster k"
    group_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    cmap = ColormapName("viridis").tag(sync=True)
    vmin = FiniteFloat(None, allow_none=True).tag(sync=True)
    vmax = FiniteFloat(None, allow_none=True).tag(sync=True)
    center = FiniteFloat(None, allow_none=True).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    #: [first row, first col, rows shown] of the visible window, in ordered coordinates (the view writes it)
    viewport = traitlets.List(traitlets.Float(), [0.0, 0.0, 0.0]).tag(sync=True)
    #: {"r0", "r1", "c0", "c1"}: half-open ranges of ordered rows/cols (the view writes it)
    selection = traitlets.Dict({}).tag(sync=True)

    def __init__(self, X: Any, metric: str = "cosine", *, labels: Sequence[Any] | None = None,
                 order: str | Sequence[int] | None = None, n_clusters: int = 10, bandwidth: float | None = None,
                 cmap: Any = None, vmin: float | None = None, vmax: float | None = None, center: float | None = None,
                 title: str = "", tile_size: int = TILE, samples: int = 4, seed: int = 0, index: Any = None) -> None:
        metric = check_choice(metric, "metric", METRICS)
        check_cmap(cmap, "cmap")
        center = check_center(center)
        vmin = check_number(vmin, "vmin", allow_none=True)
        vmax = check_number(vmax, "vmax", allow_none=True)
        x = as_matrix(X, "X")
        n = x.shape[0]
        tile_size = check_positive_int(tile_size, "tile_size", allow_none=False)
        n_clusters = check_positive_int(n_clusters, "n_clusters", allow_none=False)
        samples = check_positive_int(samples, "samples", allow_none=False)
        if labels is not None:
            labels = list(labels.tolist() if hasattr(labels, "tolist") else labels)
            if len(labels) != n:
                raise ValueError(f"labels has {len(labels)} entries but X has {n} rows")
        plan = prepare(x, None, metric, bandwidth=bandwidth, chunk_size=None)
        if order is None:
            kind = "labels" if labels is not None else "given"
        elif isinstance(order, str):
            kind = check_choice(order, "order", ORDERS)
            if kind == "labels" and labels is None:
                raise ValueError("order='labels' needs labels=")
            if kind == "cluster" and n_clusters > n:
                raise ValueError(f"n_clusters={n_clusters} is more than the {n} rows")
        else:
            kind = "permutation"
        if index is not None and kind != "spectral":
            raise ValueError(f"index applies only to order='spectral' (its k-NN graph); the order here is {kind!r}")
        if kind == "permutation":
            perm = np.asarray(order)
            if perm.shape != (n,) or perm.dtype.kind not in "iu" or not np.array_equal(np.sort(perm), np.arange(n)):
                raise ValueError(f"order must be 'given', 'labels', 'cluster', 'spectral' or a permutation of 0..{n - 1}")
            perm_t, bounds, info = torch.as_tensor(perm), [], {"order": "permutation"}
        else:
            perm_t, bounds, info = order_rows(kind, x, plan, labels, n_clusters, seed, index=index)
        self.cluster_labels = info.pop("cluster_labels", None)
        self.pyramid = BlockPyramid(plan, perm_t, tile=tile_size, samples=samples, seed=seed)
        nonneg = metric == "cosine" and bool((x >= 0).all())
        style = default_style(metric, nonnegative=nonneg)
        order_np = perm_t.cpu().numpy()
        names = self._group_names(info["order"], bounds, order_np, labels, self.cluster_labels)
        if center is not None:  # a centre replaces the metric's default range, as in .plot()
            style = {**style, "vmin": None, "vmax": None}
        super().__init__(n=n, tile_size=tile_size, levels=self.pyramid.levels, metric=metric,
                         estimate=self.pyramid.estimate, order=info["order"], boundaries=bounds,
                         group_labels=names,
                         cmap=style["cmap"] if cmap is None else cmap, vmin=style["vmin"] if vmin is None else vmin,
                         vmax=style["vmax"] if vmax is None else vmax, center=center, title=title,
                         viewport=[0.0, 0.0, float(n)])
        self.params = {**plan.params, **info, "tile_size": tile_size, "estimate": self.pyramid.estimate}
        self.order_indices = order_np
        self.labels = labels
        self.status, self.progress = "done", 1.0
        self.served: list[tuple[int, int, int]] = []
        self._served_lock = threading.Lock()
        self.rpc.register("tile", self._rpc_tile)
        self.rpc.register("cell", self._rpc_cell)


    @staticmethod
    def _group_names(order: str, bounds: list[int], perm: np.ndarray, labels: Any, clusters: Any) -> list[str]:
        """One name per group of the order (at most MAX_BOUNDARIES + 1, as ``boundaries`` is cut)."""
        if order not in ("labels", "cluster") or len(perm) == 0:
            return []
        starts = [0] + list(bounds)[:MAX_BOUNDARIES]
        if order == "labels":
            return [str(labels[int(perm[s])]) for s in starts]
        return [f"cluster {int(clusters[int(perm[s])])}" for s in starts]

    @traitlets.validate("viewport")
    def _valid_viewport(self, proposal: Any) -> list[float]:
        v = proposal["value"]
        if len(v) != 3:
            raise traitlets.TraitError(f"viewport must be [first row, first col, rows shown], got {len(v)} numbers")
        try:
            return [check_number(x, f"viewport[{k}]", low=0.0, high=float(self.n)) for k, x in enumerate(v)]
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("selection")
    def _valid_selection(self, proposal: Any) -> dict:
        sel = proposal["value"]
        if sel == {}:
            return sel
        if not isinstance(sel, dict) or set(sel) != {"r0", "r1", "c0", "c1"}:
            raise traitlets.TraitError(f"selection must be {{'r0', 'r1', 'c0', 'c1'}} (half-open), got {sel!r}")
        out = {}
        for key in ("r0", "r1", "c0", "c1"):
            v = sel[key]
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= self.n:
                raise traitlets.TraitError(f"selection[{key!r}] must be an integer in 0..{self.n}, got {v!r}")
            out[key] = v
        if out["r0"] >= out["r1"] or out["c0"] >= out["c1"]:
            raise traitlets.TraitError(f"selection ranges must be non-empty, got {sel!r}")
        return out

    # -- requests from the view --------------------------------------------------------------------
    def _rpc_tile(self, args: dict) -> dict:
        out = self.pyramid.compute(args.get("level"), args.get("ti"), args.get("tj"))
        with self._served_lock:
            self.served.append((out["level"], out["ti"], out["tj"]))
        return out

    def _rpc_cell(self, args: dict) -> dict:
        row, col = args.get("row"), args.get("col")
        for name, v in (("row", row), ("col", col)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < self.n:
                raise ValueError(f"{name} must be an integer in 0..{self.n - 1}, got {v!r}")
        i, j = int(self.order_indices[row]), int(self.order_indices[col])
        out = {"row": row, "col": col, "i": i, "j": j, "value": self.pyramid.value(row, col)}
        if self.labels is not None:
            out["row_label"], out["col_label"] = str(self.labels[i]), str(self.labels[j])
        return out

    # -- Python side -------------------------------------------------------------------------------
    @property
    def tiles_served(self) -> int:
        with self._served_lock:
            return len(self.served)

    @property
    def selected_rows(self) -> np.ndarray:
        """Indices (rows of X) of the selected block's rows."""
        s = self.selection
        return self.order_indices[s["r0"]:s["r1"]].copy() if s else np.zeros(0, dtype=np.int64)

    @property
    def selected_cols(self) -> np.ndarray:
        s = self.selection
        return self.order_indices[s["c0"]:s["c1"]].copy() if s else np.zeros(0, dtype=np.int64)

    def tile(self, level: int, ti: int, tj: int) -> np.ndarray:
        """What the view draws for tile (ti, tj) of ``level``: block means of 2**level x 2**level entries."""
        return self.pyramid.compute(level, ti, tj)["values"].numpy()

    # -- pictures and standalone pages ---------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        top = self.tile(self.levels - 1, 0, 0)
        fig, ax = new_figure(5.2, 4.4)
        b = 2 ** (self.levels - 1)
        im = show_matrix(ax, top, cmap=self.colormap(), vmin=self.vmin, vmax=self.vmax, center=self.center)
        ax.set_title(self.title or f"{self.metric} affinity, {self.n} rows" + (f" (blocks of {b})" if b > 1 else ""))
        ax.set_xlabel(f"row (ordered by {self.order})")
        ax.set_ylabel(f"row (ordered by {self.order})")
        ticks = np.linspace(0, top.shape[0] - 0.5, 5)
        for set_ticks in (ax.set_xticks, ax.set_yticks):
            set_ticks(ticks, [str(min(self.n, int(round((t + 0.5) * b)))) for t in ticks])
        fig.colorbar(im, ax=ax, label=self.metric)
        return fig

    def levels_to_ship(self, budget: int = STANDALONE_MAX_BYTES // 2) -> list[int]:
        """The zoom levels whose every tile fits ``budget`` bytes together (coarsest first): what a standalone
        page answers without the kernel."""
        shipped, total = [], 0
        for level in range(self.levels - 1, -1, -1):
            cells = -(-self.n // 2**level)
            nbytes = cells * cells * 4
            if total + nbytes > budget:
                break
            shipped.append(level)
            total += nbytes
        return shipped

    def _standalone(self, page: Any) -> None:
        levels = self.levels_to_ship(page.budget // 2)
        for level in levels:
            n_tiles = -(-self.pyramid.cells(level) // self.tile_size)
            for ti in range(n_tiles):
                for tj in range(n_tiles):
                    page.answer("tile", {"level": level, "ti": ti, "tj": tj}, self.pyramid.compute(level, ti, tj))
        if levels and levels[-1] > 0:
            page.omit(f"zooming in past blocks of {2 ** levels[-1]} rows")
        if levels and levels[-1] == 0:
            matrix = np.concatenate([np.concatenate([self.tile(0, ti, tj) for tj in range(-(-self.n // self.tile_size))],
                                                    axis=1) for ti in range(-(-self.n // self.tile_size))], axis=0)
            labels = None if self.labels is None else [str(v) for v in self.labels]
            page.cells(matrix, order=self.order_indices, labels=labels, what="the exact value under the pointer")
        else:
            page.omit("the exact value under the pointer")
