"""AttributionSummary: attributions of many tabular rows at once, as shap users know them.

Two modes of one view:

- **summary** (a beeswarm): one dot per row per feature, x = the row's attribution to the feature, dots of a
  feature spread vertically by density (rows whose values fall in the same one of 100 bins stack outwards,
  alternately up and down, as shap's beeswarm does), coloured by the row's value of the feature (low to high
  between its 5th and 95th percentiles; grey where there is no value). Features are ordered by mean |attribution|
  over all rows, the most important on top; beyond ``max_display`` rows of the plot, the last one is the sum of
  the remaining features' attributions. Hovering a dot shows its row (its largest feature values and
  attributions, the base value and the output); clicking a feature's name opens its dependence plot.
- **dependence**: one feature's value (x) against its attribution (y), coloured by a second feature: the one given
  (``color_feature``), or by default the feature that interacts most strongly (the largest mean |Shapley
  interaction value| when the result has them, else shap's heuristic: the feature whose values best correlate with
  the attribution within windows of rows of similar x, :func:`strongest_interaction`).

Clicking a dot selects its row; dragging a rectangle selects every row with a dot inside it (shift adds to the
selection): :attr:`selection` holds the row indices. Rows beyond ``max_rows`` are not drawn (an even random
sample of rows is, seeded; the ordering and interactions use every row) and the view says so.

Contract with js/attribution_summary.ts (the shared rules of docs/protocol.md apply: arrays as binary buffers):

- synced traits: ``feature_names``, ``order`` (feature indices by mean |attribution|, descending),
  ``importance`` (mean |attribution| per feature), ``max_display``, ``n_rows``, ``n_drawn``, ``note``,
  ``x_label``, ``has_values`` (feature values known), ``cmap``, ``title`` (Python); ``mode`` ("summary" or
  "dependence"), ``feature`` (the dependence plot's feature), ``color_feature`` (null = the strongest interaction,
  -1 = one colour, else a feature index) and ``selection`` (row indices) (both; validated here).
- view -> kernel RPC: ``points {}`` -> P = ``{labels (one per plot row, top first), features (the feature index of each plot
  row, -1 for the sum of the others), x (float32 n: attribution),
  y (float32 n: plot row + jitter in [-0.4, 0.4]), c (float32 n: colour position in [0, 1], NaN: grey),
  row (int32 n: the data row), x_range [lo, hi]}``; ``dependence {"feature", "color_feature"}`` (``{}``: the
  traits') -> D = ``{feature, color_feature (the one
  used, -1: none), color_label, color_limits [lo, hi] or null, x (float32 n: feature value), y (float32 n:
  attribution), c, row, x_label, y_label}``; ``row {"row": int}`` -> ``{row, base_value, output, total,
  features: [{index, name, value, attribution}] (the 12 largest |attribution|), n_features}``;
  ``cancel {}`` as every view.
- DOM for tests: root ``div.fx-summary`` with ``data-mode``, ``data-points`` (dots drawn), ``data-paints``,
  ``data-hover-row``, ``data-selection`` (row indices joined by ","); ``canvas.fx-swarm``; ``button.fx-mode
  [data-mode]``; ``select.fx-dep-feature``, ``select.fx-dep-color``; the colour legend ``.fx-legend``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import traitlets

from ..results.attribution import AttributionResult
from .base import Choice, ColormapName, ColormapWidget, bundle, check_choice_of, check_cmap, check_int, new_figure

#: Rows drawn at most (each is one dot per shown feature): 5000 x 10 dots draw in a frame on a laptop and fit one
#: message (~0.8 MB); the ordering and interactions still use every row.
MAX_ROWS = 5000
#: Plot rows of the summary (shap's max_display): the last one sums the remaining features when there are more.
MAX_DISPLAY = 10
#: Bins of the beeswarm's density stacking (shap's nbins).
SWARM_BINS = 100
#: Largest vertical offset of a dot from its row's centre, in rows.
SWARM_HALF_WIDTH = 0.4
#: Features listed in a hovered row's tooltip.
TOOLTIP_FEATURES = 12
MODES = ("summary", "dependence")
#: Rows whose hover answer (``row``) a standalone page carries: the selected rows, then the drawn ones in order.
STANDALONE_ROWS = 2000
_AUTO = object()


def _numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.double() if value.is_floating_point() else value
        return value.numpy()
    try:
        return np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - whatever NumPy refuses, the argument is named
        raise TypeError(f"{name} must be an array or a tensor, got {type(value).__name__}") from exc


# -- the statistics the view draws ------------------------------------------------------------------------------
def feature_order(attributions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean |attribution| per feature, feature indices by it, descending; ties by index). NaN rows are skipped."""
    imp = np.nanmean(np.abs(attributions), axis=0) if attributions.shape[0] else np.zeros(attributions.shape[1])
    imp = np.where(np.isfinite(imp), imp, 0.0)
    return imp, np.lexsort((np.arange(imp.size), -imp))


def beeswarm_offsets(x: np.ndarray, nbins: int = SWARM_BINS, half_width: float = SWARM_HALF_WIDTH) -> np.ndarray:
    """Vertical offsets of one feature's dots (shap's beeswarm layout).

    The values are cut into ``nbins`` equal bins over their range; within a bin the dots, in order of value, take
    offsets 0, +1, -1, +2, -2, ...; everything is scaled so that the fullest bin reaches ``half_width``. A dense
    region of values therefore shows as a wide band, a rare value as a lone dot on the centre line. NaN values get
    offset 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape[0])
    ok = np.flatnonzero(np.isfinite(x))
    if ok.size == 0:
        return out
    v = x[ok]
    lo, hi = float(v.min()), float(v.max())
    bins = np.zeros(v.size) if hi <= lo else np.round(nbins * (v - lo) / (hi - lo))
    order = np.lexsort((v, bins))
    sb = bins[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sb)) + 1]
    rank = np.arange(v.size) - np.repeat(starts, np.diff(np.r_[starts, v.size]))
    off = np.ceil(rank / 2.0) * np.where(rank % 2 == 1, 1.0, -1.0)
    placed = np.empty(v.size)
    placed[order] = off
    top = np.abs(placed).max()
    out[ok] = placed * (half_width / top) if top > 0 else placed
    return out


def color_limits(values: np.ndarray) -> tuple[float, float] | None:
    """The range a feature's colours span: its 5th to 95th percentile (shap's clipping of outliers), widened to
    the 1st-99th and then to min-max when that range is empty; None without a finite value."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    for lo_q, hi_q in ((5, 95), (1, 99), (0, 100)):
        lo, hi = np.percentile(v, [lo_q, hi_q])
        if hi > lo:
            return float(lo), float(hi)
    return float(v[0]), float(v[0])


def color_positions(values: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Colour positions in [0, 1] of one feature's values between :func:`color_limits` (0.5 for a constant
    feature, NaN where a value is missing), and those limits."""
    lim = color_limits(values)
    t = np.full(values.shape, np.nan)
    if lim is None:
        return t, None
    lo, hi = lim
    ok = np.isfinite(values)
    t[ok] = 0.5 if hi <= lo else np.clip((values[ok] - lo) / (hi - lo), 0.0, 1.0)
    return t, lim


def strongest_interaction(feature: int, attributions: np.ndarray, values: np.ndarray,
                          interactions: np.ndarray | None = None) -> int | None:
    """The feature whose values best explain the spread of ``feature``'s attribution: what the dependence plot is
    coloured by.

    With pairwise Shapley interaction values (B, F, F) it is argmax_j mean_b |Phi_b[feature, j]| (j != feature).
    Otherwise shap's heuristic (``approximate_interactions``): sort the rows by ``feature``'s value, cut them into
    windows of n/10 rows (at most 50, at least 1), and sum over windows |Pearson correlation| between
    ``feature``'s attribution and the other feature's value; the largest sum wins. None when no other feature
    varies together with the attribution."""
    F = attributions.shape[1]
    if F < 2:
        return None
    if interactions is not None:
        s = np.nanmean(np.abs(interactions[:, feature, :]), axis=0)
        s[feature] = -np.inf
        return int(np.argmax(s)) if np.isfinite(s).any() and np.nanmax(s) > 0 else None
    x = values[:, feature]
    keep = np.isfinite(x) & np.isfinite(attributions[:, feature])
    if keep.sum() < 3:
        return None
    srt = np.argsort(x[keep], kind="stable")
    a = attributions[keep, feature][srt]
    others = values[keep][srt]
    n = a.size
    inc = max(min(n // 10, 50), 1)
    scores = np.zeros(F)
    for j in range(F):
        if j == feature:
            continue
        o = others[:, j]
        total = 0.0
        for s0 in range(0, n, inc):
            aa, oo = a[s0:s0 + inc], o[s0:s0 + inc]
            ok = np.isfinite(oo)
            if ok.sum() < 2:
                continue
            aa, oo = aa[ok], oo[ok]
            if aa.std() > 0 and oo.std() > 0:
                total += abs(float(np.corrcoef(aa, oo)[0, 1]))
        scores[j] = total
    scores[feature] = -np.inf
    best = int(np.argmax(scores))
    return best if scores[best] > 0 else None


def is_tabular_batch(result: Any) -> bool:
    """Whether a result is many rows of 1-D features (what the summary view shows): more than one row, one value
    per feature (or per feature group), and not the token ids of a text model."""
    values = result.features if getattr(result, "features", None) is not None else result.values
    if not isinstance(values, torch.Tensor) or values.ndim != 2 or values.shape[0] < 2:
        return False
    if str(result.params.get("input_dtype", "")).startswith(("int", "uint")):
        return False  # token ids: the text view
    return result.values.ndim == 2


class AttributionSummary(ColormapWidget):
    """Attributions over many rows of a tabular model: a beeswarm summary and a dependence plot.

    ``AttributionSummary(result, X=None, feature_names=None, max_display=10, max_rows=5000)`` where ``result`` is
    an :class:`~fxwidgets.AttributionResult` over N rows (``fx.attribute(model, X_test, ...)``); ``X`` gives the
    feature values when the result has none. ``result.show()`` opens it for N > 1 tabular rows.
    """

    _esm = bundle("attribution_summary")

    page_writable = frozenset({"mode", "feature", "color_feature", "selection", "cmap"})

    mode = Choice(MODES, "summary").tag(sync=True)
    feature_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    order = traitlets.List(traitlets.Int()).tag(sync=True)
    importance = traitlets.List(traitlets.Float()).tag(sync=True)
    max_display = traitlets.Int(MAX_DISPLAY).tag(sync=True)
    feature = traitlets.Int(0).tag(sync=True)
    color_feature = traitlets.Int(None, allow_none=True).tag(sync=True)
    selection = traitlets.List(traitlets.Int()).tag(sync=True)
    n_rows = traitlets.Int(0).tag(sync=True)
    n_drawn = traitlets.Int(0).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)
    x_label = traitlets.Unicode("attribution").tag(sync=True)
    has_values = traitlets.Bool(True).tag(sync=True)
    cmap = ColormapName("coolwarm").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, result: AttributionResult, X: Any = None, *, feature_names: Sequence[Any] | None = None,
                 max_display: int = MAX_DISPLAY, max_rows: int = MAX_ROWS, mode: str = "summary",
                 feature: int | str | None = None, color_feature: int | str | None = None, cmap: str = "coolwarm",
                 title: str = "", seed: int = 0) -> None:
        if not isinstance(result, AttributionResult):
            raise TypeError(f"result must be an AttributionResult (what fx.attribute returns), got {type(result).__name__}")
        check_cmap(cmap, "cmap")
        mode = check_choice_of(mode, "mode", MODES)
        seed = check_int(seed, "seed", low=0)
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, got {type(title).__name__}")
        A = _numpy(result.features if result.features is not None else result.values, "result.values").astype(np.float64)
        if A.ndim != 2:
            raise ValueError(f"the summary view shows rows of 1-D features: result values must be (rows, features), "
                             f"got shape {A.shape}; show one row of images or text with AttributionView")
        N, F = A.shape
        if X is None and result.feature_values is not None and not isinstance(result.feature_values, tuple):
            X = result.feature_values
        if X is not None:
            Xv = _numpy(X, "X").astype(np.float64)
            if Xv.shape != (N, F):
                raise ValueError(f"X must hold the {N} rows' {F} feature values, shape ({N}, {F}); got shape {Xv.shape}")
        else:
            Xv = np.full((N, F), np.nan)
        if feature_names is None:
            names = [f"feature {i}" for i in range(F)]
        else:
            names = [str(n) for n in feature_names]
            if len(names) != F:
                raise ValueError(f"feature_names has {len(names)} names for {F} features")
        if isinstance(max_display, bool) or not isinstance(max_display, int) or max_display < 1:
            raise ValueError(f"max_display must be a positive integer, got {max_display!r}")
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive integer, got {max_rows!r}")
        if not np.isfinite(A).all():
            raise ValueError("result has non-finite attributions (NaN or Inf)")
        self._A, self._X = A, Xv
        self._base = None if result.base_values is None else _numpy(result.base_values, "base_values").reshape(-1).astype(np.float64)
        self._out = None if result.outputs is None else _numpy(result.outputs, "outputs").reshape(-1).astype(np.float64)
        inter = result.extras.get("interactions") if isinstance(result.extras, dict) else None
        self._interactions = None if inter is None else _numpy(inter, "interactions").astype(np.float64)
        imp, order = feature_order(A)
        if N > max_rows:
            rng = np.random.default_rng(seed)
            self._drawn = np.sort(rng.choice(N, size=max_rows, replace=False))
            note = (f"{max_rows:,} of {N:,} rows drawn (an even random sample, seed {seed}); the feature order and "
                    "the interactions use every row")
        else:
            self._drawn = np.arange(N)
            note = ""
        shapley = result.method in ("shapley_exact", "shapley_permutation", "kernel_shap", "gradient_shap")
        x_label = ("Shapley value" if shapley else "attribution") + " (impact on the model output)"
        super().__init__(feature_names=names, order=[int(i) for i in order], importance=[float(v) for v in imp],
                         max_display=max_display, n_rows=N, n_drawn=int(self._drawn.size), note=note,
                         x_label=x_label, has_values=bool(np.isfinite(Xv).any()), cmap=cmap,
                         title=title or f"{result.method}: {N} rows, {F} features, ordered by mean |attribution|")
        self.mode = mode
        self.feature = self._feature_index(feature, "feature") if feature is not None else int(order[0])
        self.color_feature = None if color_feature is None else (
            -1 if color_feature == -1 else self._feature_index(color_feature, "color_feature"))
        self.status, self.progress = "done", 1.0
        self.rpc.register("points", self._rpc_points)
        self.rpc.register("dependence", self._rpc_dependence)
        self.rpc.register("row", self._rpc_row)

    @classmethod
    def from_result(cls, result: AttributionResult, X: Any = None, **kwargs: Any) -> "AttributionSummary":
        return cls(result, X, **kwargs)

    def _feature_index(self, f: Any, name: str) -> int:
        if isinstance(f, str):
            if f not in self.feature_names:
                raise ValueError(f"{name} {f!r} is not one of the feature names")
            return self.feature_names.index(f)
        if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or not 0 <= f < len(self.feature_names):
            raise ValueError(f"{name} must be a feature name or an index in 0..{len(self.feature_names) - 1}; got {f!r}")
        return int(f)

    # -- validation ------------------------------------------------------------------------------------------
    @traitlets.validate("feature")
    def _valid_feature(self, proposal: Any) -> int:
        v = proposal["value"]
        if not 0 <= v < len(self.feature_names):
            raise traitlets.TraitError(f"feature must be a feature index in 0..{len(self.feature_names) - 1}; got {v!r}")
        return v

    @traitlets.validate("color_feature")
    def _valid_color_feature(self, proposal: Any) -> int | None:
        v = proposal["value"]
        if v is not None and v != -1 and not 0 <= v < len(self.feature_names):
            raise traitlets.TraitError(f"color_feature must be None (the strongest interaction), -1 (one colour) or a "
                                       f"feature index in 0..{len(self.feature_names) - 1}; got {v!r}")
        return v

    @traitlets.validate("selection")
    def _valid_selection(self, proposal: Any) -> list[int]:
        v = proposal["value"]
        bad = [r for r in v if not 0 <= r < self.n_rows]
        if bad:
            raise traitlets.TraitError(f"selection must hold row indices in 0..{self.n_rows - 1}; got {bad[:5]}")
        return sorted(set(int(r) for r in v))

    # -- what the page draws -----------------------------------------------------------------------------------
    def slots(self) -> tuple[list[str], list[np.ndarray], list[int | None]]:
        """The summary's plot rows, top first: (labels, attributions of every row, the feature of each (None for
        the sum of the remaining features))."""
        F = len(self.feature_names)
        order = list(self.order)
        shown = order if F <= self.max_display else order[:self.max_display - 1]
        labels = [self.feature_names[f] for f in shown]
        columns = [self._A[:, f] for f in shown]
        feats: list[int | None] = list(shown)
        if len(shown) < F:
            rest = order[len(shown):]
            labels.append(f"sum of {len(rest)} other features")
            columns.append(self._A[:, rest].sum(1))
            feats.append(None)
        return labels, columns, feats

    def summary_points(self) -> dict:
        labels, columns, feats = self.slots()
        rows = self._drawn
        xs, ys, cs, rs = [], [], [], []
        for s, (col, f) in enumerate(zip(columns, feats)):
            x = col[rows]
            xs.append(x)
            ys.append(s + beeswarm_offsets(x))
            cs.append(np.full(rows.size, np.nan) if f is None else color_positions(self._X[:, f])[0][rows])
            rs.append(rows)
        # a fixed shuffle, so that no colour is painted last everywhere (shap shuffles its draw order too)
        perm = np.random.default_rng(0).permutation(sum(a.size for a in xs))
        x = np.concatenate(xs)[perm]
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
        return {"labels": labels, "features": [-1 if f is None else int(f) for f in feats], "x": x.astype(np.float32), "y": np.concatenate(ys)[perm].astype(np.float32),
                "c": np.concatenate(cs)[perm].astype(np.float32), "row": np.concatenate(rs)[perm].astype(np.int32),
                "x_range": [lo, hi]}

    def interaction(self, feature: int | str) -> int | None:
        """The feature the dependence plot of ``feature`` is coloured by when ``color_feature`` is None."""
        f = self._feature_index(feature, "feature")
        return strongest_interaction(f, self._A, self._X, self._interactions)

    def dependence_points(self, feature: int | None = None, color_feature: Any = _AUTO) -> dict:
        """The dependence plot of ``feature`` coloured by ``color_feature`` (None: the strongest interaction, -1:
        one colour); by default the view's :attr:`feature` and :attr:`color_feature`."""
        f = int(self.feature) if feature is None else self._feature_index(feature, "feature")
        cf = self.color_feature if color_feature is _AUTO else color_feature
        if cf is not None and cf != -1:
            cf = self._feature_index(cf, "color_feature")
        if cf is None:
            cf = self.interaction(f)
        cf = -1 if cf is None else int(cf)
        rows = self._drawn
        if cf >= 0:
            t, lim = color_positions(self._X[:, cf])
            c = t[rows]
        else:
            c, lim = np.full(rows.size, np.nan), None
        name = self.feature_names[f]
        return {"feature": f, "color_feature": cf, "color_label": self.feature_names[cf] if cf >= 0 else "",
                "color_limits": None if lim is None else [lim[0], lim[1]],
                "x": self._X[rows, f].astype(np.float32), "y": self._A[rows, f].astype(np.float32),
                "c": c.astype(np.float32), "row": rows.astype(np.int32), "x_label": f"{name} (feature value)",
                "y_label": f"{'Shapley value' if self.x_label.startswith('Shapley') else 'attribution'} of {name}"}

    def row_detail(self, row: int) -> dict:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < self.n_rows:
            raise ValueError(f"row must be an index in 0..{self.n_rows - 1}; got {row!r}")
        a = self._A[row]
        top = np.lexsort((np.arange(a.size), -np.abs(a)))[:TOOLTIP_FEATURES]
        feats = [{"index": int(j), "name": self.feature_names[j],
                  "value": float(self._X[row, j]) if math.isfinite(self._X[row, j]) else None,
                  "attribution": float(a[j])} for j in top]
        fin = lambda arr: None if arr is None or not math.isfinite(arr[row]) else float(arr[row])  # noqa: E731
        return {"row": int(row), "base_value": fin(self._base), "output": fin(self._out), "total": float(a.sum()),
                "features": feats, "n_features": int(a.size)}

    # -- RPC -------------------------------------------------------------------------------------------------
    def _rpc_points(self, _args: dict) -> dict:
        return self.summary_points()

    def _rpc_dependence(self, args: dict) -> dict:
        # The page names the plot it wants (a standalone page answers by these args); an older page sends {}.
        if "feature" in args:
            return self.dependence_points(args["feature"], args.get("color_feature"))
        return self.dependence_points()

    def _rpc_row(self, args: dict) -> dict:
        return self.row_detail(args.get("row"))

    # -- pictures and standalone pages ---------------------------------------------------------------------
    def _kernel_figure(self) -> Any:
        """The mode shown, as matplotlib draws it: the beeswarm (features by mean |attribution| on the y axis,
        dots coloured low to high by the row's feature value, a colour bar "feature value") or the dependence plot
        (the feature's value against its attribution, coloured by the interacting feature with its colour bar)."""
        from matplotlib.colors import Normalize

        cmap = self.colormap()
        if self.mode == "dependence":
            d = self.dependence_points()
            fig, ax = new_figure(6.0, 4.2)
            x, y, c = (d[k].astype(np.float64) for k in ("x", "y", "c"))
            ok = np.isfinite(x)
            if d["color_feature"] >= 0:
                grey = ok & ~np.isfinite(c)
                ax.scatter(x[grey], y[grey], s=9, c="#777777", linewidths=0)
                lo, hi = d["color_limits"]
                col = ok & np.isfinite(c)
                im = ax.scatter(x[col], y[col], s=9, c=lo + c[col] * (hi - lo), cmap=cmap,
                                norm=Normalize(lo, hi if hi > lo else lo + 1), linewidths=0)
                fig.colorbar(im, ax=ax, label=d["color_label"])
            else:
                ax.scatter(x[ok], y[ok], s=9, linewidths=0)
            ax.axhline(0, color="0.6", lw=0.8, ls="--")
            ax.set_xlabel(d["x_label"])
            ax.set_ylabel(d["y_label"])
        else:
            p = self.summary_points()
            n = len(p["labels"])
            fig, ax = new_figure(6.4, max(2.4, 0.34 * n + 1.4))
            x, y, c = (p[k].astype(np.float64) for k in ("x", "y", "c"))
            grey = ~np.isfinite(c)
            ax.scatter(x[grey], y[grey], s=6, c="#777777", linewidths=0, rasterized=x.size > 5000)
            im = ax.scatter(x[~grey], y[~grey], s=6, c=c[~grey], cmap=cmap, norm=Normalize(0.0, 1.0), linewidths=0,
                            rasterized=x.size > 5000)
            ax.axvline(0, color="0.6", lw=0.8)
            ax.set_yticks(range(n), p["labels"])
            ax.set_ylim(n - 0.5, -0.5)  # the most important feature on top
            ax.set_xlabel(self.x_label)
            if self.has_values:
                bar = fig.colorbar(im, ax=ax, ticks=[0, 1], aspect=40, pad=0.02)
                bar.ax.set_yticklabels(["low", "high"])
                bar.set_label("feature value")
        ax.set_title(self.title, fontsize="medium")
        if self.note:
            fig.text(0.01, 0.0, self.note, fontsize=7, color="0.4", va="bottom")
        return fig

    def _standalone(self, page: Any) -> None:
        """The page answers ``points``, ``dependence`` for every feature (most important first) coloured the
        default way and in one colour (and the view's own ``color_feature``), and ``row`` for the selected rows,
        then the drawn ones, up to ``STANDALONE_ROWS``; what does not fit is said in the page."""
        page.answer("points", {}, self.summary_points())
        current = self.color_feature
        missing = 0
        for f in self.order:
            choices = [None, -1] + ([current] if f == self.feature and current not in (None, -1) else [])
            for cf in choices:
                if not page.answer("dependence", {"feature": int(f), "color_feature": cf},
                                   self.dependence_points(int(f), cf)):
                    missing += 1
        if missing:
            page.omit(f"{missing} dependence plot(s) (over the page's budget)")
        rows = list(dict.fromkeys([int(r) for r in self.selection] + [int(r) for r in self._drawn]))
        for r in rows[:STANDALONE_ROWS]:
            page.answer("row", {"row": r}, self.row_detail(r))
        if len(rows) > STANDALONE_ROWS:
            page.omit(f"the hover details of {len(rows) - STANDALONE_ROWS:,} of {len(rows):,} drawn rows")


__all__ = ["AttributionSummary", "beeswarm_offsets", "color_limits", "color_positions", "feature_order",
           "is_tabular_batch", "strongest_interaction"]
