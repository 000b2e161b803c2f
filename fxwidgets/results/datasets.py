"""Results of the datasets family: embeddings, sample selections, dataset distances, histogram comparisons.

Each result extends its compute record (so a function that takes the record takes the result) and carries
what a scatter view needs: per-row ``coordinates``; the selection's ``indices`` with per-row ``scores`` and
``groups`` and per-selected-row ``weights``. ``show()`` opens ``fx.Scatter`` (registered by the widgets layer):
``EmbeddingResult.show(labels)``, ``SampleSelectionResult.show(X)`` or ``.show(coordinates=embedding)``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..compute.dataset_distance import ActivationHistograms, DatasetDistance, PairScoreHistograms
from ..compute.embedding import EmbeddingRecord, embed
from ..compute.sample_selection import SampleSelection
from . import colors
from .base import Result, new_axes, to_numpy

#: Above this many classes a legend stops being readable: labels are then coloured by code with a colour bar.
MAX_LEGEND_CLASSES = 20

METHOD_NAMES = {"pca": "PCA", "spectral": "spectral embedding", "tsne": "t-SNE", "umap": "UMAP",
                "k_center": "k-center greedy", "sensitivity": "sensitivity sampling",
                "hierarchical_kmeans": "hierarchical k-means curation", "dsir": "DSIR",
                "anchoral": "AnchorAL subpool", "class_representatives": "class representatives",
                "frechet": "Fréchet distance", "mmd2": "MMD²", "sinkhorn": "Sinkhorn divergence"}


def _plain(value: Any) -> Any:
    """Tensors as NumPy arrays, also inside dicts and lists (diagnostics hold a few tensors)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return to_numpy(value)


def _per_row(values: Any, n: int, name: str) -> np.ndarray:
    a = np.asarray(to_numpy(values))
    if a.ndim != 1 or a.shape[0] != n:
        raise ValueError(f"{name} must hold one value per row ({n}), got shape {a.shape}")
    return a


def _point_size(n: int) -> float:
    """Marker area that keeps 100 points readable and 100 000 points from becoming one blot."""
    return float(np.clip(3000.0 / max(n, 1), 0.5, 30.0))


def _scatter_labels(ax: Any, xy: np.ndarray, labels: np.ndarray, *, s: float, alpha: float = 0.8,
                    label_name: str = "label") -> list:
    """Points coloured by class. Returns one artist per class for the legend (up to 20 classes); past that,
    classes are coloured by code with a colour bar and nothing is returned."""
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) > MAX_LEGEND_CLASSES:
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=codes, cmap="turbo", s=s, alpha=alpha, linewidths=0,
                        rasterized=len(xy) > 5000)
        ax.figure.colorbar(sc, ax=ax, label=f"{label_name} ({len(classes)} classes, by code)")
        return []
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    return [ax.scatter(xy[codes == c, 0], xy[codes == c, 1], s=s, color=cmap(c), alpha=alpha, label=str(name),
                       linewidths=0, rasterized=len(xy) > 5000) for c, name in enumerate(classes)]


def _outside_legend(ax: Any, handles: list, title: str | None, s: float) -> None:
    """One legend right of the axes (one legend only: a second one added with add_artist is dropped when a
    notebook crops the figure to its contents)."""
    ax.legend(handles=handles, title=title, frameon=False, fontsize="small", markerscale=max(1.0, 12.0 / s) ** 0.5,
              loc="center left", bbox_to_anchor=(1.0, 0.5))


def _scatter_values(ax: Any, xy: np.ndarray, values: np.ndarray, *, s: float, cmap: Any, label: str,
                    vmin: Any = None, vmax: Any = None, center: Any = None) -> None:
    v = values.astype(np.float64)
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=v, cmap=colors.colormap("viridis" if cmap is None else cmap),
                    norm=colors.norm(v, vmin, vmax, center), s=s, linewidths=0, rasterized=len(xy) > 5000)
    ax.figure.colorbar(sc, ax=ax, label=label)


# ------------------------------------------------------------------------------------------------
# Embeddings
# ------------------------------------------------------------------------------------------------


class EmbeddingResult(EmbeddingRecord, Result):
    """``coordinates`` (N, n_components): row i of the data sits at ``coordinates[i]``; ``method``, ``params``,
    ``seed`` (None where the method is deterministic) and the method's ``diagnostics`` (PCA: explained variance
    and its ratio, components, mean; t-SNE: KL divergence; spectral: Laplacian eigenvalues, graph components).
    """

    def axis_labels(self) -> list[str]:
        """One name per coordinate, as a reader expects it (PCA's carry their share of the variance)."""
        if self.method == "pca":
            ratios = self.diagnostics.get("explained_variance_ratio", [])
            return [f"PC{i + 1} ({ratios[i]:.1%} of variance)" if i < len(ratios) else f"PC{i + 1}"
                    for i in range(self.n_components)]
        stem = {"tsne": "t-SNE", "umap": "UMAP", "spectral": "spectral coordinate"}.get(self.method, self.method)
        return [f"{stem} {i + 1}" for i in range(self.n_components)]

    def summary(self) -> str:
        """The method's own diagnostic in words (for titles)."""
        d = self.diagnostics
        if self.method == "pca":
            share = sum(d.get("explained_variance_ratio", [])[:2])
            return f"{share:.1%} of the variance in the first {min(2, self.n_components)} components"
        if self.method == "tsne" and "kl_divergence" in d:
            return f"KL divergence {d['kl_divergence']:.3g} after {d.get('iterations', '?')} iterations"
        if self.method == "spectral":
            text = f"{self.params.get('n_neighbors')}-NN graph, {d.get('graph_components', '?')} component(s)"
            return text + (" (disconnected: raise n_neighbors)" if d.get("graph_components", 1) > 1 else "")
        if self.method == "umap":
            return f"n_neighbors={self.params.get('n_neighbors')}, min_dist={self.params.get('min_dist')}"
        return ""

    def plot(self, labels: Any = None, *, values: Any = None, ax: Any = None, dims: tuple[int, int] = (0, 1),
             cmap: Any = None, vmin: float | None = None, vmax: float | None = None, center: float | None = None,
             label_name: str = "label", values_name: str = "value", point_size: float | None = None,
             title: str | None = None):
        """A scatter of two coordinates (``dims``): coloured by ``labels`` (one class per row; a legend of the
        classes) or by ``values`` (one number per row; a colour bar with any matplotlib ``cmap``, ``vmin``/``vmax``
        and ``center`` as everywhere, see :mod:`fxwidgets.results.colors`), else in one colour."""
        if labels is not None and values is not None:
            raise ValueError("give labels (classes, with a legend) or values (numbers, with a colour bar), not both")
        xy = self.numpy().astype(np.float64)
        n = xy.shape[0]
        names = self.axis_labels()
        if self.n_components == 1:
            xy = np.column_stack([xy[:, 0], np.arange(n)])
            names = [names[0], "row"]
        else:
            i, j = dims
            if not (0 <= i < self.n_components and 0 <= j < self.n_components) or i == j:
                raise ValueError(f"dims must be two different coordinates in [0, {self.n_components - 1}], got {dims}")
            xy, names = xy[:, [i, j]], [names[i], names[j]]
        fig, ax = new_axes(ax, (6.2 if labels is not None else 5.4, 4.4))
        s = point_size if point_size is not None else _point_size(n)
        if labels is not None:
            classes = _scatter_labels(ax, xy, _per_row(labels, n, "labels"), s=s, label_name=label_name)
            if classes:
                _outside_legend(ax, classes, label_name, s)
        elif values is not None:
            _scatter_values(ax, xy, _per_row(values, n, "values"), s=s, cmap=cmap, label=values_name, vmin=vmin,
                            vmax=vmax, center=center)
        else:
            ax.scatter(xy[:, 0], xy[:, 1], s=s, linewidths=0, rasterized=n > 5000)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        if title is None:
            summary = self.summary()
            title = f"{METHOD_NAMES.get(self.method, self.method)} of {n} rows" + (f"\n{summary}" if summary else "")
        ax.set_title(title, fontsize="medium")
        return fig

    def __repr__(self) -> str:
        return (f"EmbeddingResult(method={self.method!r}, shape={tuple(self.coordinates.shape)}, seed={self.seed}, "
                f"params={ {k: v for k, v in self.params.items() if k != 'method'} })")


# ------------------------------------------------------------------------------------------------
# Sample selection
# ------------------------------------------------------------------------------------------------


class SampleSelectionResult(SampleSelection, Result):
    """The selected rows ``indices`` (in the order the method chose them), ``weights`` (one per selected row,
    sensitivity sampling only), ``scores`` (one per row of the data, the method's own score), ``groups`` (one
    per row: cluster or class), and the method's ``diagnostics`` (covering radius, weighted-loss error, KL
    reduction, balance, subpool size). ``mask()`` is the selection as a boolean per row.
    """

    @property
    def n_rows(self) -> int:
        """Rows of the data the selection was made from."""
        for v in (self.scores, self.groups):
            if v is not None:
                return int(v.shape[0])
        return int(self.diagnostics["n"])

    def mask(self) -> np.ndarray:
        out = np.zeros(self.n_rows, dtype=bool)
        out[self.numpy()] = True
        return out

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["diagnostics"] = _plain(self.diagnostics)
        return out

    def summary(self) -> str:
        """The method's own evidence for its choice, in words (used as the plot's title)."""
        d, m = self.diagnostics, self.method
        if m == "k_center":
            text = f"covering radius {d['radius']:.4g} ({d['radius_unit']}) with {self.k} centres"
            if d.get("initial_radius") is not None:
                text += f", from {d['initial_radius']:.4g} with the initial set alone"
            return text
        if m == "sensitivity":
            which = "weighted_loss" if "weighted_loss" in d else "weighted_cost"
            e = d[which]
            rel_se = e["se"] / abs(e["full"]) if e["full"] else float("nan")
            name = "weighted-loss error" if which == "weighted_loss" else "weighted-loss (k-means cost) error"
            eps = f", ε = {d['epsilon']:.3g}" if d.get("epsilon") is not None else ""
            return f"{name} {e['relative_error']:.2%} (SE of the estimate {rel_se:.2%}){eps}"
        if m == "hierarchical_kmeans":
            return (f"balance over {len(d['rows_per_top_cluster'])} top clusters: entropy "
                    f"{d['entropy_selected_top']:.2f} selected vs {d['entropy_data_top']:.2f} in the data (1 = even)")
        if m == "dsir":
            return (f"KL reduction {d['kl_reduction']:.3g} nats (KL to target {d['kl_target_raw']:.3g} → "
                    f"{d['kl_target_selected']:.3g}; a random subset: {d['kl_target_random_subset']:.3g})")
        if m == "anchoral":
            return (f"subpool of {d['subpool_size']} of {d['pool_size']} unlabelled rows "
                    f"({d['subpool_share_of_pool']:.1%}) from {len(d['anchor_classes'])} anchors")
        if m == "class_representatives":
            ratios = [c["mean_distance_to_centroid_picked"] / c["mean_distance_to_centroid_all"]
                      for c in d["per_class"] if c["mean_distance_to_centroid_all"] > 0]
            ratio = f"; picks sit at {np.mean(ratios):.2f}× a class's mean distance to its centroid" if ratios else ""
            return f"{self.params['k']} per class over {len(d['classes'])} classes{ratio}"
        return ""

    def plot(self, X: Any = None, *, coordinates: Any = None, labels: Any = None, ax: Any = None,
             label_name: str = "label", title: str | None = None):
        """The selection highlighted on an embedding of the data: ``coordinates`` (an (N, 2+) array or an
        :class:`EmbeddingResult`), or a 2-D PCA of ``X`` computed here. All rows are drawn faintly (coloured by
        ``labels`` when given), the selected rows on top (sized by weight for sensitivity sampling; AnchorAL's
        anchors as stars); the title carries the method's own diagnostic.

        Without ``X`` or ``coordinates``: the method's diagnostic as a chart (k-center: covering radius against
        centres picked; hierarchical curation and AnchorAL: rows per cluster/class in the data and in the
        selection; the others: their per-row score over all rows and over the selected rows).
        """
        if X is None and coordinates is None:
            return self._diagnostic_plot(ax, title)
        n = self.n_rows
        if coordinates is not None:
            if isinstance(coordinates, EmbeddingRecord):
                names = (EmbeddingResult.from_record(coordinates).axis_labels() + ["", ""])[:2]
                xy = coordinates.numpy()
            else:
                xy, names = np.asarray(to_numpy(coordinates)), ["coordinate 1", "coordinate 2"]
            if xy.ndim != 2 or xy.shape[0] != n or xy.shape[1] < 2:
                raise ValueError(f"coordinates must be (N, 2) with N = {n} rows, got shape {xy.shape}")
        else:
            if isinstance(X, (list, tuple)) or (isinstance(X, np.ndarray) and X.dtype.kind in "UO"):
                raise ValueError("X holds texts, which have no PCA; give coordinates= (an embedding of the texts)")
            emb = EmbeddingResult.from_record(embed(X, "pca", 2))
            xy, names = emb.numpy(), emb.axis_labels()
            if xy.shape[0] != n:
                raise ValueError(f"X has {xy.shape[0]} rows but the selection was made from {n}")
        xy = xy[:, :2].astype(np.float64)
        fig, ax = new_axes(ax, (6.4, 4.6))
        s = _point_size(n)
        marks: list = []  # the legend's artists
        classes: list = []
        if labels is not None:
            classes = _scatter_labels(ax, xy, _per_row(labels, n, "labels"), s=s, alpha=0.35, label_name=label_name)
        else:
            marks.append(ax.scatter(xy[:, 0], xy[:, 1], s=s, color="0.75", linewidths=0, label=f"all rows ({n})",
                                    rasterized=n > 5000))
        idx = self.numpy()
        sel_size = np.full(len(idx), max(16.0, 4 * s))
        sel_label = f"selected ({len(idx)})"
        if self.weights is not None:
            w = to_numpy(self.weights).astype(np.float64)
            sel_size = 12.0 + 60.0 * w / w.max()
            sel_label = f"selected ({len(idx)}), area ∝ weight"
        marks.append(ax.scatter(xy[idx, 0], xy[idx, 1], s=sel_size,
                                facecolors="none" if labels is not None else "crimson",
                                edgecolors="black" if labels is not None else "darkred", linewidths=0.8,
                                label=sel_label))
        if self.method == "anchoral":
            anchors = to_numpy(self.diagnostics["anchors"])
            marks.append(ax.scatter(xy[anchors, 0], xy[anchors, 1], marker="*", s=90, color="gold",
                                    edgecolors="black", linewidths=0.6, label=f"anchors ({len(anchors)})"))
        if classes:
            _outside_legend(ax, classes + marks, label_name, s)
        else:
            ax.legend(handles=marks, fontsize="small", loc="best", framealpha=0.8)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(title if title is not None else self._title(), fontsize="medium")
        return fig

    def _title(self) -> str:
        draws = f" ({self.diagnostics['draws']} draws)" if self.method == "sensitivity" else ""
        return (f"{METHOD_NAMES.get(self.method, self.method)}: {self.k} of {self.n_rows} rows{draws}\n"
                f"{self.summary()}")

    def _diagnostic_plot(self, ax: Any, title: str | None):
        fig, ax = new_axes(ax, (5.4, 3.6))
        d, m = self.diagnostics, self.method
        if m == "k_center":
            hist = d["radius_history"]
            ax.plot(np.arange(1, len(hist) + 1), hist, marker="o" if len(hist) <= 50 else None, ms=3)
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_xlabel("centres picked")
            ax.set_ylabel(f"covering radius ({d['radius_unit']})")
        elif m in ("hierarchical_kmeans", "anchoral"):
            if m == "hierarchical_kmeans":
                data, sel, xname = d["rows_per_top_cluster"], d["selected_per_top_cluster"], "top-level cluster"
                ticks = [str(i) for i in range(len(data))]
                data_label = "all rows"
            else:
                sel = d["subpool_per_class"]
                ticks = [str(c) for c in d["classes"]]
                data = [0] * len(sel)
                xname, data_label = "class of the nearest anchor", None
            pos = np.arange(len(sel))
            tot_d, tot_s = max(1, sum(data)), max(1, sum(sel))
            if data_label:
                ax.bar(pos - 0.2, np.asarray(data) / tot_d, width=0.4, color="0.7", label=data_label)
                ax.bar(pos + 0.2, np.asarray(sel) / tot_s, width=0.4, color="crimson", label="selected")
                ax.set_ylabel("share of rows")
                ax.legend(frameon=False)
            else:
                ax.bar(pos, sel, color="crimson")
                ax.set_ylabel("subpool rows")
            ax.set_xticks(pos, ticks, rotation=90 if len(pos) > 12 else 0)
            ax.set_xlabel(xname)
        else:
            name = {"sensitivity": "sampling probability", "dsir": "log importance weight",
                    "class_representatives": "distance to the class centroid"}[m]
            v = to_numpy(self.scores).astype(np.float64)
            sel = v[self.numpy()]
            bins = np.histogram_bin_edges(v[np.isfinite(v)], bins=40)
            ax.hist(v, bins=bins, color="0.7", label=f"all rows ({len(v)})")
            ax.hist(sel, bins=bins, color="crimson", alpha=0.8, label=f"selected ({len(sel)})")
            ax.set_xlabel(name)
            ax.set_ylabel("rows")
            ax.legend(frameon=False)
        ax.set_title(title if title is not None else self._title(), fontsize="medium")
        return fig

    def __repr__(self) -> str:
        return (f"SampleSelectionResult(method={self.method!r}, k={self.k} of {self.n_rows} rows, seed={self.seed}, "
                f"params={self.params})")


# ------------------------------------------------------------------------------------------------
# Dataset distances
# ------------------------------------------------------------------------------------------------


class DatasetDistanceResult(DatasetDistance, Result):
    """A distance between two sets: ``value`` (``float(result)``), ``se`` (MMD² only, else None), ``measure``,
    ``params`` (bandwidth or ε and how they were chosen), ``seed`` and ``diagnostics`` (the formula's terms)."""

    def __float__(self) -> float:
        return float(self.value)

    def numpy(self) -> np.ndarray:
        return np.asarray(self.value)

    def axis_label(self) -> str:
        p = self.params
        if self.measure == "frechet":
            return "squared Fréchet distance (feature units²)"
        if self.measure == "mmd2":
            return f"unbiased MMD² (RBF kernel, σ = {p['bandwidth']:.3g}, {p['bandwidth_rule']})"
        return f"Sinkhorn divergence (cost ½‖x − y‖², ε = {p['epsilon']:.3g})"

    def plot(self, ax: Any = None, *, title: str | None = None):
        """The value (± 2 SE where there is one) beside the terms it is made of: Fréchet's mean and covariance
        terms; Sinkhorn's OT_ε(A, B) and the debiasing −½ OT_ε(A, A) − ½ OT_ε(B, B). MMD² is drawn alone (its
        kernel means are far larger than their difference)."""
        fig, ax = new_axes(ax, (6.0, 2.8 if self.measure != "mmd2" else 1.9))
        d = self.diagnostics
        name = METHOD_NAMES.get(self.measure, self.measure)
        if self.measure == "frechet":
            rows = [("‖μ_A − μ_B‖²", d["mean_term"]), ("Tr(Σ_A + Σ_B − 2(Σ_A Σ_B)^½)", d["covariance_term"]),
                    (name, self.value)]
        elif self.measure == "sinkhorn":
            rows = [("OT_ε(A, B)", d["ot_ab"]), ("−½ OT_ε(A, A) − ½ OT_ε(B, B)", -0.5 * (d["ot_aa"] + d["ot_bb"])),
                    (name, self.value)]
        else:
            rows = [(name, self.value)]
        pos = np.arange(len(rows))[::-1]
        ax.barh(pos, [v for _, v in rows], color=["0.65"] * (len(rows) - 1) + ["C0"], height=0.6)
        if self.se is not None:
            ax.errorbar([self.value], [pos[-1]], xerr=[2 * self.se], fmt="none", ecolor="k", capsize=5)
            reach = max(abs(self.value) + 3 * self.se, 1e-300)
            ax.set_xlim(-reach if self.value - 2 * self.se < 0 else -0.05 * reach, reach)
        ax.set_yticks(pos, [label for label, _ in rows])
        ax.set_ylabel("term of the formula" if len(rows) > 1 else "estimate")
        ax.axvline(0.0, color="k", lw=0.8)
        ax.set_xlabel(self.axis_label() + (" (bar: ± 2 SE)" if self.se is not None else ""))
        if title is None:
            if self.se is not None:
                note = f" ± {self.se:.2g} (SE)"
            else:
                note = " (deterministic given the sets)" if self.measure == "frechet" else ""
            title = f"{name} = {self.value:.4g}{note}; {d.get('n_a', '?')} vs {d.get('n_b', '?')} rows"
            if self.se is not None and abs(self.value) < 2 * self.se:
                title += "\nwithin 2 SE of 0 (for a test of equal distributions, permute the rows)"
        ax.set_title(title, fontsize="medium")
        return fig

    def __repr__(self) -> str:
        se = f" ± {self.se:.3g}" if self.se is not None else ""
        return f"DatasetDistanceResult({self.measure}={self.value:.6g}{se}, params={self.params})"


# ------------------------------------------------------------------------------------------------
# Histogram comparisons
# ------------------------------------------------------------------------------------------------


def _grid(n_panels: int, ncols: int, panel: tuple[float, float]):
    import matplotlib.pyplot as plt

    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), squeeze=False,
                             constrained_layout=True)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


def _bars(ax: Any, edges: np.ndarray, shares: np.ndarray, **style: Any) -> None:
    ax.stairs(shares, edges, **style)


class ActivationHistogramsResult(ActivationHistograms, Result):
    """Per-feature histograms of two sets on shared ``edges`` (d, bins + 1): ``counts_a``, ``counts_b`` (d, bins);
    ``distances`` per feature for every measure; ``order``: features, most different first by ``distance``."""

    def numpy(self) -> np.ndarray:
        """The per-feature distance ``distance`` (one value per feature)."""
        return to_numpy(self.values)

    def plot(self, top: int = 6, *, feature_names: Sequence[Any] | None = None,
             set_names: tuple[str, str] = ("A", "B"), ncols: int = 3, title: str | None = None):
        """Small multiples: the ``top`` features whose histograms differ most, A and B overlaid as shares of
        their rows; each panel names the feature and its distance."""
        d = self.edges.shape[0]
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
            raise ValueError(f"top must be a positive integer, got {top!r}")
        if feature_names is not None and len(feature_names) != d:
            raise ValueError(f"feature_names has {len(feature_names)} names but there are {d} features")
        feats = self.order[:min(top, d)].tolist()
        fig, axes = _grid(len(feats), ncols, (3.0, 2.4))
        edges = to_numpy(self.edges)
        pa = to_numpy(self.counts_a) / max(1, self.diagnostics.get("n_a", 1))
        pb = to_numpy(self.counts_b) / max(1, self.diagnostics.get("n_b", 1))
        dist = to_numpy(self.values)
        for ax, f in zip(axes, feats):
            _bars(ax, edges[f], pa[f], fill=True, alpha=0.45, color="C0", label=set_names[0])
            _bars(ax, edges[f], pb[f], fill=True, alpha=0.45, color="C1", label=set_names[1])
            name = str(feature_names[f]) if feature_names is not None else f"neuron {f}"
            ax.set_title(f"{name}: {self.distance.replace('_', ' ')} {dist[f]:.3g}", fontsize="small")
            ax.set_xlabel("activation")
            ax.set_ylabel("share of rows")
        axes[0].legend(frameon=False, fontsize="small")
        measure = self.distance.replace("_", " ")
        fig.suptitle(title if title is not None else
                     f"the {len(feats)} of {d} features whose histograms differ most ({measure})", fontsize="medium")
        return fig

    def __repr__(self) -> str:
        return (f"ActivationHistogramsResult(features={self.edges.shape[0]}, bins={self.edges.shape[1] - 1}, "
                f"distance={self.distance!r}, mean={self.diagnostics.get('mean_distance', float('nan')):.4g})")


class PairScoreHistogramsResult(PairScoreHistograms, Result):
    """Positive-pair and negative-pair score histograms per checkpoint on shared ``edges``: ``positive``,
    ``negative`` (checkpoints, bins) counts; ``stats`` per checkpoint (means, stds, overlap, separation d')."""

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        return to_numpy(self.positive), to_numpy(self.negative)

    def plot(self, *, max_panels: int = 12, ncols: int = 4, title: str | None = None):
        """One panel per checkpoint (evenly spaced ones, first and last included, past ``max_panels``): the
        positive and negative score histograms, each as shares of its pairs, with d' and the overlap."""
        c = len(self.checkpoints)
        if isinstance(max_panels, bool) or not isinstance(max_panels, (int, np.integer)) or max_panels < 1:
            raise ValueError(f"max_panels must be a positive integer, got {max_panels!r}")
        shown = sorted(set(np.linspace(0, c - 1, min(c, max_panels)).round().astype(int).tolist()))
        fig, axes = _grid(len(shown), ncols, (3.0, 2.4))
        edges = to_numpy(self.edges)
        pos, neg = self.numpy()
        score = "cosine similarity" if self.metric == "cosine" else "dot product"
        for ax, i in zip(axes, shown):
            st = self.stats[i]
            _bars(ax, edges, pos[i] / max(1, pos[i].sum()), fill=True, alpha=0.5, color="C2", label="positive pairs")
            _bars(ax, edges, neg[i] / max(1, neg[i].sum()), fill=True, alpha=0.5, color="C3", label="negative pairs")
            name = self.checkpoints[i]
            name = f"checkpoint {name}" if str(name).isdigit() else str(name)
            ax.set_title(f"{name}: d′ = {st['separation']:.2f}, overlap {st['overlap']:.2f}",
                         fontsize="small")
            ax.set_xlabel(score)
            ax.set_ylabel("share of pairs")
        axes[0].legend(frameon=False, fontsize="small")
        fig.suptitle(title if title is not None else
                     f"positive vs negative pair scores over {c} checkpoint(s)"
                     + (f" ({len(shown)} shown)" if len(shown) < c else ""), fontsize="medium")
        return fig

    def __repr__(self) -> str:
        return (f"PairScoreHistogramsResult(checkpoints={len(self.checkpoints)}, bins={self.edges.numel() - 1}, "
                f"metric={self.metric!r}, positive_pairs={self.params.get('positive_pairs')})")


__all__ = ["ActivationHistogramsResult", "DatasetDistanceResult", "EmbeddingResult", "PairScoreHistogramsResult",
           "SampleSelectionResult"]
