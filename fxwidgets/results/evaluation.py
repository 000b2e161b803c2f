"""EvaluationResult: how far each method's attributions can be trusted, as a method x metric table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..compute.evaluation.comparison import ComparisonRecord
from . import colors
from .base import Result, to_numpy

#: Metrics whose per-sample values come with a curve the figure draws (deletion/insertion: output against the
#: fraction of features changed; model_randomisation: similarity per randomised layer).
CURVE_METRICS = ("deletion", "insertion", "model_randomisation")
#: A column whose means differ by less than this share of their size is coloured as a tie.
EQUAL_SPREAD = 1e-3


class EvaluationResult(ComparisonRecord, Result):
    """Every requested metric for each method's attributions on the same inputs and draws.

    ``methods`` are the rows ("attributions" for a single tensor; the method name for an ``AttributionResult``;
    the dict's keys; "aggregate" for Bhatt et al.'s aggregate), ``metric_names`` the columns. ``records[method]`` is
    that method's evaluation (per metric: ``values`` per sample, ``mean``, ``stderr``, ``curves``, ``params``).
    ``result[method, metric]`` is one cell's record, ``result[metric]`` the same when there is one method,
    ``result.metric(name)`` one column (method -> record). ``means()`` / ``stderrs()`` are the (methods, metrics)
    table, ``values()`` the (methods, metrics, samples) per-sample values. ``aggregate`` holds the aggregate's
    weights and criterion when it was requested. ``show()`` is the interactive :class:`~fxwidgets.MetricsTable`, :meth:`plot` the static figure.
    """

    # -- the numbers -----------------------------------------------------------------------------------------
    def higher_is_better(self, metric: str) -> bool | None:
        """Whether a larger value of ``metric`` means a more trustworthy map (None: neither, e.g. a raw score)."""
        column = self.metric(metric)
        return next(iter(column.values())).higher_is_better if column else None

    def best(self, metric: str) -> str | None:
        """The method with the best mean of ``metric`` (None when the metric has no direction or no values)."""
        hib = self.higher_is_better(metric)
        scores = {m: r.mean for m, r in self.metric(metric).items() if math.isfinite(r.mean)}
        if hib is None or not scores:
            return None
        return (max if hib else min)(scores, key=scores.get)

    def numpy(self) -> np.ndarray:
        """(methods, metrics, samples) per-sample values in float64 (NaN where undefined or not computed)."""
        return self.values().numpy()

    def table(self, as_frame: bool | None = None) -> Any:
        """The method x metric table of means and standard errors.

        A pandas DataFrame (rows: methods; columns: (metric, "mean" / "stderr")) when pandas is importable
        (``as_frame=None``) or required (``as_frame=True``); else (``as_frame=False``) a dict
        {method: {metric: (mean, stderr)}}."""
        means, ses = self.means().numpy(), self.stderrs().numpy()
        if as_frame is None or as_frame:
            try:
                import pandas as pd
            except ImportError:
                if as_frame:
                    raise ImportError("table(as_frame=True) needs pandas; table(as_frame=False) gives a dict") from None
            else:
                columns = pd.MultiIndex.from_tuples([(k, s) for k in self.metric_names for s in ("mean", "stderr")],
                                                    names=["metric", "statistic"])
                data = np.stack([means, ses], axis=2).reshape(len(self.methods), -1)
                return pd.DataFrame(data, index=pd.Index(self.methods, name="method"), columns=columns)
        return {m: {k: (float(means[i, j]), float(ses[i, j])) for j, k in enumerate(self.metric_names)}
                for i, m in enumerate(self.methods)}

    def to_dict(self) -> dict:
        """Everything as plain values and NumPy arrays (curves per method and metric where a metric has them)."""
        curves: dict = {}
        for m, rec in self.records.items():
            for k, r in rec.metrics.items():
                if r.curves is not None:
                    curves.setdefault(m, {})[k] = {"x": to_numpy(r.curve_x), "curves": to_numpy(r.curves),
                                                   "axis": r.curve_axis,
                                                   "labels": None if r.curve_labels is None else list(r.curve_labels)}
        agg = None
        if self.aggregate is not None:
            a = self.aggregate
            agg = {"weights": dict(a.weights), "objective": a.objective, "value": a.value,
                   "uniform_value": a.uniform_value, "method_values": dict(a.method_values), "params": dict(a.params)}
        return {"methods": list(self.methods), "metrics": list(self.metric_names),
                "higher_is_better": {k: self.higher_is_better(k) for k in self.metric_names},
                "mean": self.means().numpy(), "stderr": self.stderrs().numpy(), "values": self.numpy(),
                "metric_params": {m: {k: dict(r.params) for k, r in rec.metrics.items()} for m, rec in self.records.items()},
                "curves": curves, "aggregate": agg, "n_samples": self.n_samples, "seed": self.seed,
                "target": to_numpy(self.target), "params": dict(self.params)}

    # -- the figure ------------------------------------------------------------------------------------------
    def plot(self, *, metrics: Any = None, curves: bool = True, cmap: Any = "RdYlGn", figsize: Any = None):
        """A matplotlib figure: the method x metric table (mean ± standard error per cell, each column coloured
        from worst (red) to best (green) by the metric's direction, means within 0.1 % of each other as a tie;
        uncoloured where a metric has no direction or a cell no value), and below it, where
        present, the mean deletion / insertion curve and the model-randomisation similarity per layer of each
        method, with a band of ± 1 standard error over samples."""
        import matplotlib.pyplot as plt

        names = list(self.metric_names) if metrics is None else [self.metric_name(k) for k in (
            [metrics] if isinstance(metrics, str) else metrics)]
        curve_names = [k for k in CURVE_METRICS if k in names and any(
            r.curves is not None for r in self.metric(k).values())] if curves else []
        M, K = len(self.methods), max(1, len(names))
        table_h = 0.42 * M + 1.3
        width = max(6.0, 1.35 * K + 2.2, 3.6 * len(curve_names))
        fig = plt.figure(figsize=figsize or (width, table_h + (3.4 if curve_names else 0.0)), layout="constrained")
        grid = fig.add_gridspec(2 if curve_names else 1, max(1, len(curve_names)),
                                height_ratios=[table_h, 3.4] if curve_names else [1])
        self._draw_table(fig.add_subplot(grid[0, :]), names, cmap)
        for i, k in enumerate(curve_names):
            self._draw_curves(fig.add_subplot(grid[1, i]), k)
        return fig

    def _draw_table(self, ax: Any, names: list[str], cmap: Any) -> None:
        cols = [self.metric_names.index(k) for k in names]
        means, ses = self.means().numpy()[:, cols], self.stderrs().numpy()[:, cols]
        M, K = means.shape
        goodness = column_goodness(means, [self.higher_is_better(k) for k in names])
        colours = plt_colormap(cmap)(np.nan_to_num(goodness, nan=0.5))
        colours[..., 3] = np.where(np.isfinite(goodness), 0.55, 0.0)
        ax.imshow(colours, aspect="auto", interpolation="nearest")
        for i in range(M):
            for j in range(K):
                text = "—" if not np.isfinite(means[i, j]) else (
                    f"{means[i, j]:.3g}" + (f"\n± {ses[i, j]:.2g}" if np.isfinite(ses[i, j]) else ""))
                ax.text(j, i, text, ha="center", va="center", fontsize=8.5)
        arrows = {True: " ↑", False: " ↓", None: ""}
        ax.set_xticks(range(K), [k.replace("_", " ") + arrows[self.higher_is_better(k)] for k in names],
                      rotation=25 if K > 3 else 0, ha="right" if K > 3 else "center", fontsize=8.5)
        ax.set_yticks(range(M), list(self.methods))
        ax.tick_params(length=0)
        ax.set_xticks(np.arange(-0.5, K, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, M, 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=2)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_title(f"mean ± standard error over {self.n_samples} samples (↑ / ↓: higher / lower is better)", fontsize=10)

    def _draw_curves(self, ax: Any, name: str) -> None:
        labels, axis = None, ""
        for method, r in self.metric(name).items():
            if r.curves is None:
                continue
            c = to_numpy(r.curves).astype(np.float64)
            x = to_numpy(r.curve_x).astype(np.float64)
            n = np.isfinite(c).sum(0)
            mean = np.nanmean(c, 0) if n.any() else np.full(c.shape[1], np.nan)
            se = np.where(n > 1, np.nanstd(c, 0, ddof=1) / np.sqrt(np.maximum(n, 1)), np.nan) if n.any() else mean
            line, = ax.plot(x, mean, marker="o" if name == "model_randomisation" else None, ms=3,
                            label=f"{method} ({r.mean:.3g})")
            ax.fill_between(x, mean - se, mean + se, color=line.get_color(), alpha=0.2, linewidth=0)
            labels = r.curve_labels or labels
            axis = r.curve_axis
        if name == "model_randomisation":
            if labels:
                ax.set_xticks(range(len(labels)), list(labels), rotation=45, ha="right", fontsize=7.5)
            similarity = next(iter(self.metric(name).values())).params.get("similarity", "similarity")
            ax.set_ylabel(f"{similarity} with the original map")
            ax.set_title("sanity check: model randomisation (↓)", fontsize=10)
        else:
            ax.set_ylabel("model output at the target")
            ax.set_title(f"{name} curve ({'↓' if name == 'deletion' else '↑'} area)", fontsize=10)
        ax.set_xlabel(axis)
        ax.legend(fontsize=7.5, frameon=False)

    def __repr__(self) -> str:
        means, ses = self.means().numpy(), self.stderrs().numpy()
        rows = []
        for i, m in enumerate(self.methods):
            cells = ", ".join(f"{k}={means[i, j]:.4g}±{ses[i, j]:.2g}" if k in self.records[m].metrics else f"{k}=—"
                              for j, k in enumerate(self.metric_names))
            rows.append(f"  {m}: {cells}")
        agg = "" if self.aggregate is None else f", aggregate weights={ {k: round(w, 4) for k, w in self.aggregate.weights.items()} }"
        return (f"EvaluationResult(methods={list(self.methods)}, n_samples={self.n_samples}, seed={self.seed}"
                f"{agg}, progress={self.progress:.0%}\n" + "\n".join(rows) + ")")


def column_goodness(means: np.ndarray, higher_is_better: list) -> np.ndarray:
    """(methods, metrics) in [0, 1] per column: 1 for the best mean by the metric's direction, 0 for the worst,
    linear between; a column whose finite means agree to ``EQUAL_SPREAD`` of their size is all 1 (a tie, not a
    full colour range over rounding); NaN where a metric has no direction or a cell no value. What the figure and
    the table view colour by."""
    means = np.asarray(means, dtype=np.float64)
    goodness = np.full(means.shape, np.nan)
    for j, hib in enumerate(higher_is_better):
        col = means[:, j]
        finite = np.isfinite(col)
        if hib is None or not finite.any():
            continue
        lo, hi = np.nanmin(col), np.nanmax(col)
        if hi - lo > EQUAL_SPREAD * max(abs(lo), abs(hi)):
            score = (col - lo) / (hi - lo)
            score = score if hib else 1.0 - score
        else:
            score = np.ones_like(col)
        goodness[:, j] = np.where(finite, score, np.nan)
    return goodness


def plt_colormap(cmap: Any) -> Any:
    """A matplotlib colour map from its name or the object itself (an unknown name is refused naming ``cmap``)."""
    return colors.colormap(cmap, "cmap")
