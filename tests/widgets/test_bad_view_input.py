"""The bad-input matrix of every view constructor (issue 11): each bad argument raises the error type a careless
caller should see, with a message that names the argument, before any work; and the kernel stays usable (the same
view built right after with good arguments works and answers a request)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.evaluation import planted_image_task

NAN, INF = float("nan"), float("inf")


# -- what the views are built from (computed once) --------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def data() -> dict:
    g = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(4, 3)
    rows = torch.randn(6, 4, generator=g)
    task = planted_image_task(4, size=8, seed=0)
    saliency = fx.attribute(task.model, task.inputs, target=1, method="saliency")
    X = torch.randn(60, 5, generator=g)
    return {
        "tabular": fx.attribute(linear, rows, target=0, method="saliency"),
        "compare": fx.compare(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()), data=torch.randn(40, 3),
                              batch_size=20, gram_samples=8),
        "evaluation": fx.evaluate(task.model, task.inputs, {"saliency": saliency}, mask=task.mask,
                                  metrics=["complexity", "sparseness"]),
        "X": X, "y": (X[:, 0] > 0).long(),
        "xy": np.random.default_rng(0).standard_normal((30, 2)).astype(np.float32),
    }


def build(view: str, **kw):
    d = data()
    if view == "AffinityHeatmap":
        return fx.AffinityHeatmap(kw.pop("matrix", np.eye(4) - 0.5), **kw)
    if view == "ZoomHeatmap":
        return fx.ZoomHeatmap(kw.pop("X", torch.randn(40, 3)), **{"tile_size": 16, **kw})
    if view == "PixelAffinity":
        return fx.PixelAffinity(kw.pop("features", torch.randn(2, 4, 3, 3)), **kw)
    if view == "AttributionView":
        if kw.pop("model", None) == "linear":  # a view that computes: its model has 3 outputs
            torch.manual_seed(0)
            return fx.AttributionView(torch.nn.Linear(4, 3), torch.randn(2, 4), methods=["saliency"],
                                      **{"results": None, **kw})
        return fx.AttributionView(kw.pop("results", d["tabular"]), **kw)
    if view == "AttributionSummary":
        return fx.AttributionSummary(kw.pop("result", d["tabular"]), **kw)
    if view == "FeatureRanking":
        return fx.FeatureRanking(kw.pop("X", d["X"]), kw.pop("y", d["y"]), **{"methods": ["fisher"], "probe": False,
                                                                               **kw})
    if view == "LayerComparison":
        return fx.LayerComparison(kw.pop("source", d["compare"]), **kw)
    if view == "MetricsTable":
        return fx.MetricsTable(kw.pop("result", d["evaluation"]), **kw)
    if view == "Scatter":
        return fx.Scatter(kw.pop("coordinates", d["xy"]), **kw)
    raise KeyError(view)


#: (view, bad arguments, error type, text the message must contain: the argument's name and what is wrong)
CASES = [
    # AffinityHeatmap
    ("AffinityHeatmap", {"matrix": np.zeros(4)}, ValueError, "matrix must be 2-D"),
    ("AffinityHeatmap", {"matrix": np.zeros((0, 3))}, ValueError, "matrix is empty"),
    ("AffinityHeatmap", {"matrix": np.eye(3) * 1j}, TypeError, "matrix must be real"),
    ("AffinityHeatmap", {"matrix": np.eye(3, dtype=bool)}, TypeError, "matrix must be real"),
    ("AffinityHeatmap", {"matrix": np.full((3, 3), np.nan)}, ValueError, "matrix has no finite value"),
    ("AffinityHeatmap", {"row_labels": ["a", "b"]}, ValueError, "row_labels has 2 entries"),
    ("AffinityHeatmap", {"col_labels": list("abcdef")}, ValueError, "col_labels has 6 entries"),
    ("AffinityHeatmap", {"cmap": "viridiss"}, ValueError, "cmap: unknown colour map"),
    ("AffinityHeatmap", {"cmap": 3}, ValueError, "cmap must be a matplotlib colour map"),
    ("AffinityHeatmap", {"vmin": NAN}, ValueError, "vmin must be a finite number"),
    ("AffinityHeatmap", {"vmax": INF}, ValueError, "vmax must be a finite number"),
    ("AffinityHeatmap", {"vmin": "0"}, TypeError, "vmin must be a number"),
    ("AffinityHeatmap", {"center": NAN}, ValueError, "center"),
    ("AffinityHeatmap", {"center": "middle"}, (TypeError, ValueError), "center"),
    ("AffinityHeatmap", {"max_display": 0}, ValueError, "max_display must be an integer >= 1"),
    ("AffinityHeatmap", {"max_display": 2.5}, TypeError, "max_display must be an integer"),
    ("AffinityHeatmap", {"max_rate_hz": 0}, ValueError, "max_rate_hz must be > 0"),
    ("AffinityHeatmap", {"max_rate_hz": NAN}, ValueError, "max_rate_hz must be a finite number"),
    ("AffinityHeatmap", {"max_message_bytes": 10}, ValueError, "max_message_bytes must be an integer >= 64"),
    ("AffinityHeatmap", {"max_message_bytes": True}, TypeError, "max_message_bytes must be an integer"),
    # ZoomHeatmap
    ("ZoomHeatmap", {"X": torch.randn(10)}, ValueError, "X"),
    ("ZoomHeatmap", {"X": torch.full((10, 3), NAN)}, ValueError, "X"),
    ("ZoomHeatmap", {"X": np.array([["a", "b"]] * 4)}, (TypeError, ValueError), "X"),
    ("ZoomHeatmap", {"metric": "manhattan"}, ValueError, "metric"),
    ("ZoomHeatmap", {"labels": [0, 1]}, ValueError, "labels has 2 entries"),
    ("ZoomHeatmap", {"order": "random"}, ValueError, "order"),
    ("ZoomHeatmap", {"order": [0, 1, 2]}, ValueError, "order must be"),
    ("ZoomHeatmap", {"order": "labels"}, ValueError, "order='labels' needs labels="),
    ("ZoomHeatmap", {"order": "cluster", "n_clusters": 400}, ValueError, "n_clusters=400"),
    ("ZoomHeatmap", {"n_clusters": 0}, ValueError, "n_clusters"),
    ("ZoomHeatmap", {"tile_size": 0}, ValueError, "tile_size"),
    ("ZoomHeatmap", {"tile_size": 2.5}, (TypeError, ValueError), "tile_size"),
    ("ZoomHeatmap", {"samples": -1}, ValueError, "samples"),
    ("ZoomHeatmap", {"cmap": "jett"}, ValueError, "cmap: unknown colour map"),
    ("ZoomHeatmap", {"vmin": NAN}, ValueError, "vmin must be a finite number"),
    ("ZoomHeatmap", {"vmax": -INF}, ValueError, "vmax must be a finite number"),
    ("ZoomHeatmap", {"center": INF}, ValueError, "center"),
    ("ZoomHeatmap", {"index": "hnsw"}, ValueError, "index applies only to order='spectral'"),
    # PixelAffinity
    ("PixelAffinity", {"features": torch.randn(2, 4, 3, 3, dtype=torch.complex64)}, TypeError,
     "features must be real"),
    ("PixelAffinity", {"features": np.ones((2, 4, 3, 3)) * (1 + 1j)}, TypeError, "features must be real"),
    ("PixelAffinity", {"features": torch.full((2, 4, 3, 3), NAN)}, ValueError, "features has non-finite"),
    ("PixelAffinity", {"features": torch.randn(4, 3)}, ValueError, "features must be (B, C, H, W)"),
    ("PixelAffinity", {"features": torch.randn(2, 4, 0, 3)}, ValueError, "features is empty"),
    ("PixelAffinity", {"features": np.array([[["a"]]])}, TypeError, "features must hold numbers"),
    ("PixelAffinity", {"images": torch.rand(3, 3, 8, 8)}, ValueError, "images has 3 images but the features have 2"),
    ("PixelAffinity", {"images": torch.rand(2, 3, 8, 8) * 5}, ValueError, "float images must be in [0, 1]"),
    ("PixelAffinity", {"images": torch.full((2, 3, 8, 8), NAN)}, ValueError, "images has non-finite"),
    ("PixelAffinity", {"images": torch.rand(2, 8)}, ValueError, "images must be"),
    ("PixelAffinity", {"labels": torch.zeros(2, 3)}, ValueError, "labels must be (B, h, w)"),
    ("PixelAffinity", {"labels": torch.full((2, 3, 3), 0.5)}, ValueError, "labels must hold integer class ids"),
    ("PixelAffinity", {"labels": torch.full((2, 3, 3), 300)}, ValueError, "labels class ids must be in 0..254"),
    ("PixelAffinity", {"tokens": [["a"] * 3] * 2}, ValueError, "tokens= applies to (B, T, D) token features"),
    ("PixelAffinity", {"features": torch.randn(2, 5, 8)}, ValueError, "need tokens="),
    ("PixelAffinity", {"features": torch.randn(2, 5, 8), "tokens": [["a"] * 4] * 2}, ValueError,
     "tokens must be 2 lists of 5 strings"),
    ("PixelAffinity", {"captions": ["one"]}, ValueError, "captions has 1 entries for 2 images"),
    ("PixelAffinity", {"temperature": 0}, ValueError, "temperature must be > 0"),
    ("PixelAffinity", {"temperature": -1.0}, ValueError, "temperature must be > 0"),
    ("PixelAffinity", {"temperature": NAN}, ValueError, "temperature must be a finite number"),
    ("PixelAffinity", {"temperature": INF}, ValueError, "temperature must be a finite number"),
    ("PixelAffinity", {"temperature": "hot"}, TypeError, "temperature must be a number"),
    ("PixelAffinity", {"temperature": True}, TypeError, "temperature must be a number"),
    ("PixelAffinity", {"threshold": NAN}, ValueError, "threshold must be a finite number"),
    ("PixelAffinity", {"threshold": 2.0}, ValueError, "threshold must be in [-1, 1]"),
    ("PixelAffinity", {"threshold": [0.5]}, TypeError, "threshold must be a number"),
    ("PixelAffinity", {"path": "gpu"}, ValueError, "path must be one of"),
    ("PixelAffinity", {"path": None}, ValueError, "path must be one of"),
    ("PixelAffinity", {"max_matches": -1}, ValueError, "max_matches must be an integer >= 0"),
    ("PixelAffinity", {"max_matches": 1.5}, TypeError, "max_matches must be an integer"),
    ("PixelAffinity", {"k": 0}, ValueError, "k must be an integer >= 1"),
    ("PixelAffinity", {"browser_max_bytes": -5}, ValueError, "browser_max_bytes must be an integer >= 0"),
    ("PixelAffinity", {"cmap": "magmaa"}, ValueError, "cmap: unknown colour map"),
    # AttributionView (results of a 6 x 4 tabular batch, 3 outputs)
    ("AttributionView", {"feature_names": ["a", "b"]}, ValueError, "feature_names has 2 names but each input has 4"),
    ("AttributionView", {"feature_names": list("abcdefgh")}, ValueError, "feature_names has 8 names"),
    ("AttributionView", {"feature_names": "abcd"}, TypeError, "feature_names must be a list of strings"),
    ("AttributionView", {"model": "linear", "target_names": ["only"]}, ValueError,
     "target_names has 1 names but the model has 3 outputs"),
    ("AttributionView", {"model": "linear", "target_names": list("abcd")}, ValueError,
     "target_names has 4 names but the model has 3 outputs"),
    ("AttributionView", {"model": "linear", "feature_names": ["a"]}, ValueError,
     "feature_names has 1 names but each input has 4 features"),
    ("AttributionView", {"results": [], "model": "linear"}, TypeError, "exactly one"),
    ("AttributionView", {"target_names": 7}, TypeError, "target_names must be a list of strings"),
    ("AttributionView", {"kind": "text", "tokens": ["a", "b"]}, ValueError, "tokens has 2 entries but each input"),
    ("AttributionView", {"tokens": "abcd", "kind": "text"}, TypeError, "tokens must be a list of strings"),
    ("AttributionView", {"kind": "video"}, ValueError, "kind must be one of"),
    ("AttributionView", {"sign": "both"}, ValueError, "sign must be one of"),
    ("AttributionView", {"sign": None}, ValueError, "sign must be one of"),
    ("AttributionView", {"opacity": 1.5}, ValueError, "opacity must be in [0, 1]"),
    ("AttributionView", {"opacity": NAN}, ValueError, "opacity must be a finite number"),
    ("AttributionView", {"opacity": "half"}, TypeError, "opacity must be a number"),
    ("AttributionView", {"clip": 10}, ValueError, "clip must be in [50, 100]"),
    ("AttributionView", {"clip": INF}, ValueError, "clip must be a finite number"),
    ("AttributionView", {"cmap": "RdBu_rr"}, ValueError, "cmap: unknown colour map"),
    ("AttributionView", {"index": 6}, ValueError, "index 6 is out of range for 6 inputs"),
    ("AttributionView", {"index": -1}, ValueError, "index -1 is out of range"),
    ("AttributionView", {"index": 1.0}, ValueError, "index must be an integer"),
    ("AttributionView", {"index": True}, ValueError, "index must be an integer"),
    ("AttributionView", {"row_names": ["a"]}, ValueError, "row_names has 1 entries for 6 inputs"),
    ("AttributionView", {"inputs": torch.randn(5, 4)}, ValueError, "inputs has 5 rows but the results have 6"),
    ("AttributionView", {"job": object()}, TypeError, "exactly one"),
    ("AttributionView", {"evaluate": ["deletion"]}, TypeError, "evaluate= needs the model"),
    # AttributionSummary
    ("AttributionSummary", {"result": np.zeros((4, 4))}, TypeError, "result must be an AttributionResult"),
    ("AttributionSummary", {"X": np.zeros((6, 3))}, ValueError, "X must hold the 6 rows' 4 feature values"),
    ("AttributionSummary", {"X": np.zeros((5, 4))}, ValueError, "X must hold the 6 rows"),
    ("AttributionSummary", {"feature_names": ["a"]}, ValueError, "feature_names has 1 names for 4 features"),
    ("AttributionSummary", {"max_display": 0}, ValueError, "max_display must be a positive integer"),
    ("AttributionSummary", {"max_display": True}, ValueError, "max_display must be a positive integer"),
    ("AttributionSummary", {"max_rows": 0}, ValueError, "max_rows must be a positive integer"),
    ("AttributionSummary", {"max_rows": 2.5}, ValueError, "max_rows must be a positive integer"),
    ("AttributionSummary", {"mode": "swarm"}, ValueError, "mode must be one of"),
    ("AttributionSummary", {"feature": 9}, ValueError, "feature must be a feature name or an index in 0..3"),
    ("AttributionSummary", {"feature": "nope"}, ValueError, "feature 'nope' is not one of the feature names"),
    ("AttributionSummary", {"feature": True}, ValueError, "feature must be a feature name or an index"),
    ("AttributionSummary", {"color_feature": 9}, ValueError, "color_feature must be a feature name or an index"),
    ("AttributionSummary", {"cmap": "coolwarmm"}, ValueError, "cmap: unknown colour map"),
    ("AttributionSummary", {"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ("AttributionSummary", {"seed": 1.5}, TypeError, "seed must be an integer"),
    ("AttributionSummary", {"title": 5}, TypeError, "title must be a string"),
    # FeatureRanking
    ("FeatureRanking", {"test_fraction": 0}, ValueError, "test_fraction must be in (0, 1)"),
    ("FeatureRanking", {"test_fraction": 1}, ValueError, "test_fraction must be in (0, 1)"),
    ("FeatureRanking", {"test_fraction": -0.25}, ValueError, "test_fraction must be in (0, 1)"),
    ("FeatureRanking", {"test_fraction": 1.5}, ValueError, "test_fraction must be in (0, 1)"),
    ("FeatureRanking", {"test_fraction": NAN}, ValueError, "test_fraction must be a finite number"),
    ("FeatureRanking", {"test_fraction": "quarter"}, TypeError, "test_fraction must be a number"),
    ("FeatureRanking", {"k": 0}, ValueError, "k must be an integer >= 1"),
    ("FeatureRanking", {"k": 99}, ValueError, "k=99 is larger than the number of features (5)"),
    ("FeatureRanking", {"k": True}, TypeError, "k must be an integer"),
    ("FeatureRanking", {"k": 2.0}, TypeError, "k must be an integer"),
    ("FeatureRanking", {"stability": -1}, ValueError, "stability must be an integer >= 0"),
    ("FeatureRanking", {"max_bars": 0}, ValueError, "max_bars must be an integer >= 1"),
    ("FeatureRanking", {"seed": -3}, ValueError, "seed must be an integer >= 0"),
    ("FeatureRanking", {"seed": "0"}, TypeError, "seed must be an integer"),
    ("FeatureRanking", {"method": "nope"}, ValueError, "method must be one of"),
    ("FeatureRanking", {"title": None}, TypeError, "title must be a string"),
    ("FeatureRanking", {"X": None}, TypeError, "give FeatureRanking the data X"),
    ("FeatureRanking", {"results": {"fisher": 3}}, TypeError, "results['fisher'] must be a SelectionResult"),
    # LayerComparison
    ("LayerComparison", {"source": torch.randn(3, 3)}, TypeError, "LayerComparison shows a compare job or a"),
    ("LayerComparison", {"sort_by": "size"}, ValueError, "sort_by must be"),
    ("LayerComparison", {"cmap": "viridiss"}, ValueError, "cmap: unknown colour map"),
    ("LayerComparison", {"gram_cmap": "jett"}, ValueError, "gram_cmap: unknown colour map"),
    ("LayerComparison", {"gram_cmap": 5}, ValueError, "gram_cmap must be a matplotlib colour map"),
    ("LayerComparison", {"vmin": NAN}, ValueError, "vmin must be a finite number"),
    ("LayerComparison", {"vmax": INF}, ValueError, "vmax must be a finite number"),
    ("LayerComparison", {"vmax": "1"}, TypeError, "vmax must be a number"),
    ("LayerComparison", {"model_names": ("a",)}, ValueError, "model_names must be two names"),
    ("LayerComparison", {"model_names": "ab"}, ValueError, "model_names must be two names"),
    ("LayerComparison", {"model_names": 5}, ValueError, "model_names must be two names"),
    ("LayerComparison", {"max_rate_hz": 0}, ValueError, "max_rate_hz must be > 0"),
    # MetricsTable
    ("MetricsTable", {"result": None}, TypeError, "give MetricsTable an EvaluationResult"),
    ("MetricsTable", {"result": {"saliency": 1.0}}, TypeError, "result must be an EvaluationResult"),
    ("MetricsTable", {"job": object()}, TypeError, "exactly one"),
    ("MetricsTable", {"sort_by": "speed"}, Exception, "sort_by must be"),
    ("MetricsTable", {"selected": {"method": "saliency", "metric": "nope"}}, Exception, "selected['metric']"),
    ("MetricsTable", {"selected": {"method": "x", "metric": "complexity"}}, Exception, "selected['method']"),
    ("MetricsTable", {"selected": "saliency"}, Exception, "selected"),
    # Scatter
    ("Scatter", {"coordinates": np.zeros((5, 3))}, ValueError, "coordinates must have shape (N, 2)"),
    ("Scatter", {"coordinates": np.zeros(5)}, ValueError, "coordinates must have shape (N, 2)"),
    ("Scatter", {"coordinates": np.zeros((0, 2))}, ValueError, "coordinates has no rows"),
    ("Scatter", {"coordinates": np.full((4, 2), np.nan)}, ValueError, "coordinates has 4 row(s) with NaN"),
    ("Scatter", {"coordinates": np.array([[0.0, np.inf]])}, ValueError, "coordinates has 1 row(s)"),
    ("Scatter", {"coordinates": np.zeros((3, 2)) + 1j}, TypeError, "coordinates must be real numbers"),
    ("Scatter", {"coordinates": np.array([["a", "b"]])}, TypeError, "coordinates must be real numbers"),
    ("Scatter", {"coordinates": np.array([[1e35, 0.0]])}, ValueError, "coordinates has values beyond 1e30"),
    ("Scatter", {"labels": [0, 1]}, ValueError, "labels has 2 entries, but there are 30 rows"),
    ("Scatter", {"scores": [1, 2, 3]}, ValueError, "scores must hold one value per row (30)"),
    ("Scatter", {"scores": ["a"] * 30}, TypeError, "scores must be numbers"),
    ("Scatter", {"sizes": np.ones((30, 2))}, ValueError, "sizes must hold one value per row"),
    ("Scatter", {"values": {"loss": np.zeros(4)}}, ValueError, "values['loss'] must hold one value per row"),
    ("Scatter", {"values": [1, 2]}, TypeError, "values must be a dict"),
    ("Scatter", {"images": np.zeros((29, 8, 8))}, ValueError, "images must be (N, C, H, W)"),
    ("Scatter", {"images": 5}, TypeError, "images must be an array/tensor"),
    ("Scatter", {"color_by": "size"}, ValueError, "color_by must be one of"),
    ("Scatter", {"aspect": "square"}, ValueError, "aspect must be one of"),
    ("Scatter", {"cmap": "viridiss"}, ValueError, "cmap: unknown colour map"),
    ("Scatter", {"vmin": NAN}, ValueError, "vmin must be a finite number"),
    ("Scatter", {"vmax": [1]}, TypeError, "vmax must be a number"),
    ("Scatter", {"point_size": 0}, ValueError, "point_size must be in (0, 100]"),
    ("Scatter", {"point_size": 500}, ValueError, "point_size must be in (0, 100]"),
    ("Scatter", {"point_size": NAN}, ValueError, "point_size must be a finite number"),
    ("Scatter", {"opacity": 0}, ValueError, "opacity must be in (0, 1]"),
    ("Scatter", {"opacity": 2}, ValueError, "opacity must be in (0, 1]"),
    ("Scatter", {"opacity": "1"}, TypeError, "opacity must be a number"),
    ("Scatter", {"max_message_bytes": 10}, ValueError, "max_message_bytes must be an integer >= 64"),
    ("Scatter", {"max_rate_hz": -1}, ValueError, "max_rate_hz must be > 0"),
    ("Scatter", {"selection": [99]}, Exception, "selection"),
    ("Scatter", {"label_name": 5}, TypeError, "label_name must be a string"),
    ("Scatter", {"title": ["t"]}, TypeError, "title must be a string"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c[0]}-{'-'.join(c[1])}" for i, c in enumerate(CASES)])
def test_a_bad_argument_is_named_and_the_kernel_stays_usable(case):
    view, kwargs, error, text = case
    with pytest.raises(error) as info:
        build(view, **kwargs)
    assert text in str(info.value), f"{type(info.value).__name__}: {info.value}"
    # a good call right after works and answers the page
    good = build(view)
    assert good.status in ("idle", "done", "running") and good.boundary_faults == 0
    answered = good.rpc.handle({"type": "request", "id": "after", "method": "cancel", "args": {}})
    answered.result(10)


def test_the_matrix_covers_every_view_with_many_cases():
    views = {c[0] for c in CASES}
    assert views == {"AffinityHeatmap", "ZoomHeatmap", "PixelAffinity", "AttributionView", "AttributionSummary",
                     "FeatureRanking", "LayerComparison", "MetricsTable", "Scatter"}
    assert len(CASES) >= 150


def test_pixel_affinity_with_fewer_than_three_locations_works():
    # one image of 1 x 2 locations: the false colours come from at most two principal components
    view = fx.PixelAffinity(torch.randn(1, 5, 1, 2))
    assert view.grid == [1, 2] and view.affinity_map(0, 0, 1).shape == (1, 1, 2)
    view = fx.PixelAffinity(torch.randn(1, 5, 1, 1))
    assert view.affinity_map(0, 0, 0)[0, 0, 0] == pytest.approx(1.0)


def test_layer_comparison_takes_any_matplotlib_gram_map_at_once():
    view = build("LayerComparison", gram_cmap="jet")
    assert view.gram_cmap == "jet" and view.gram_cmap_lut["name"] == "jet"
    view.select(0, 1)
    sent = []
    view.send = lambda content, buffers=None: sent.append(content)
    view.rpc.handle({"type": "request", "id": "g", "method": "grams", "args": {"row": 0, "col": 1}}).result(10)
    assert sent[-1]["ok"], sent[-1]
