"""AttributionSummary kernel side: the beeswarm layout and colours in closed form, the feature order and the
interaction feature against shap, the points and rows it ships, which view ``result.show()`` opens, and the traits
the page writes validated (naming the argument)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.compute.evaluation import tabular_task
from fxwidgets.runtime.codec import pack
from fxwidgets.widgets.attribution_summary import (
    SWARM_HALF_WIDTH,
    AttributionSummary,
    beeswarm_offsets,
    color_limits,
    color_positions,
    feature_order,
    strongest_interaction,
)


@pytest.fixture(scope="module")
def interaction_task():
    # f = w0 x_a x_b + w1 x_c x_d: every relevant feature's effect depends on its partner
    return tabular_task(400, 8, 4, function="interaction", seed=1)


@pytest.fixture(scope="module")
def shapley(interaction_task):
    t = interaction_task
    return fx.attribute(t.model, t.inputs, method="shapley_permutation", background=t.inputs[:16], n_permutations=6,
                        seed=0)


# -- the layout in closed form ---------------------------------------------------------------------------------------
def test_beeswarm_offsets_stack_equal_values_outwards_alternately():
    y = beeswarm_offsets(np.zeros(5))
    # ranks 0..4 in one bin: 0, +1, -1, +2, -2, scaled so that the widest reaches the half width
    np.testing.assert_allclose(y, np.array([0, 1, -1, 2, -2]) * SWARM_HALF_WIDTH / 2)
    spread = beeswarm_offsets(np.linspace(0, 1, 101))  # one value per bin: all on the centre line
    np.testing.assert_array_equal(spread, 0)
    y = beeswarm_offsets(np.array([np.nan, 3.0, 3.0, np.nan]))
    assert y[0] == 0 and y[3] == 0 and sorted(y[1:3]) == [0, SWARM_HALF_WIDTH]
    dense = beeswarm_offsets(np.r_[np.zeros(50), np.linspace(5, 10, 20)])
    assert np.abs(dense).max() == pytest.approx(SWARM_HALF_WIDTH)
    assert np.abs(dense[50:]).max() < 0.05  # a rare value stays near the centre line: width shows density


def test_colour_positions_clip_at_the_5th_and_95th_percentile_and_grey_out_missing_values():
    v = np.r_[np.arange(100.0), np.nan]
    lo, hi = color_limits(v)
    assert (lo, hi) == (pytest.approx(np.percentile(np.arange(100.0), 5)), pytest.approx(np.percentile(np.arange(100.0), 95)))
    t, lim = color_positions(v)
    assert t[0] == 0 and t[99] == 1 and np.isnan(t[100]) and lim == (lo, hi)
    assert t[50] == pytest.approx((50 - lo) / (hi - lo))
    binary = np.r_[np.zeros(97), np.ones(3)]  # 5th-95th is empty: widened to 1st-99th
    assert color_limits(binary) == (0.0, 1.0)
    t, _ = color_positions(np.full(4, 2.0))
    np.testing.assert_array_equal(t, 0.5)  # a constant feature: the middle colour
    assert color_limits(np.full(3, np.nan)) is None


def test_feature_order_is_shaps_mean_absolute_order():
    a = np.array([[1.0, -3.0, 0.0], [1.0, 1.0, 0.5], [-1.0, 2.0, 0.0]])
    imp, order = feature_order(a)
    np.testing.assert_allclose(imp, [1.0, 2.0, 0.5 / 3])
    assert order.tolist() == [1, 0, 2]
    _, order = feature_order(np.ones((4, 3)))
    assert order.tolist() == [0, 1, 2]  # ties: by index


# -- against shap ---------------------------------------------------------------------------------------------------
def test_the_interaction_feature_is_shaps_approximate_interaction(interaction_task, shapley):
    shap = importlib.import_module("shap")
    X = interaction_task.inputs.double().numpy()
    A = shapley.values.double().numpy()
    relevant = interaction_task.params["relevant"]
    pairs = {relevant[0]: relevant[1], relevant[1]: relevant[0], relevant[2]: relevant[3], relevant[3]: relevant[2]}
    for f in range(X.shape[1]):
        ours = strongest_interaction(f, A, X)
        if f in pairs:
            assert ours == pairs[f]  # the planted partner
        theirs = shap.utils.approximate_interactions(f, A, X)
        if ours is not None:
            assert ours == int(theirs[0]), f


def test_with_shapley_interaction_values_the_largest_mean_interaction_wins(interaction_task):
    t = interaction_task
    r = fx.attribute(t.model, t.inputs[:12], method="shapley_exact", background=t.inputs[:4], interactions=True)
    view = r.show()
    rel = t.params["relevant"]
    assert view.interaction(rel[0]) == rel[1] and view.interaction(rel[3]) == rel[2]
    phi = r.extras["interactions"].numpy()
    s = np.abs(phi[:, rel[0], :]).mean(0)
    s[rel[0]] = -np.inf
    assert view.interaction(rel[0]) == int(np.argmax(s))


# -- what the page gets ---------------------------------------------------------------------------------------------
def test_points_one_per_row_per_plot_row_with_the_rest_summed(shapley, interaction_task):
    names = [f"x{i}" for i in range(8)]
    view = AttributionSummary(shapley, feature_names=names, max_display=5)
    assert view.n_rows == 400 and view.n_drawn == 400 and view.note == ""
    assert view.x_label.startswith("Shapley value") and view.has_values
    p = view.summary_points()
    A = shapley.values.double().numpy()
    order = np.argsort(-np.abs(A).mean(0), kind="stable")
    assert p["labels"] == [names[f] for f in order[:4]] + ["sum of 4 other features"]
    assert p["features"] == [int(f) for f in order[:4]] + [-1]
    assert p["x"].shape == p["y"].shape == p["c"].shape == p["row"].shape == (5 * 400,)
    slot = np.rint(p["y"]).astype(int)
    assert np.all(np.abs(p["y"] - slot) <= SWARM_HALF_WIDTH + 1e-6)
    # each plot row holds every row once, with its attribution (the last: the sum of the remaining features)
    for s in range(5):
        rows = p["row"][slot == s]
        assert sorted(rows.tolist()) == list(range(400))
        want = A[rows, order[s]] if s < 4 else A[rows][:, order[4:]].sum(1)
        np.testing.assert_allclose(p["x"][slot == s], want, rtol=1e-5, atol=1e-6)
    assert np.isnan(p["c"][slot == 4]).all() and np.isfinite(p["c"][slot == 0]).all()
    content, buffers = pack({"type": "points", **p})
    assert content["x"]["dtype"] == "float32" and content["row"]["dtype"] == "int32" and len(buffers) == 4


def test_rows_beyond_max_rows_are_not_drawn_and_the_view_says_so(shapley):
    view = AttributionSummary(shapley, max_rows=50)
    assert view.n_drawn == 50 and "50 of 400 rows drawn" in view.note
    p = view.summary_points()
    assert len(set(p["row"].tolist())) == 50
    # the order still uses every row
    assert view.order == feature_order(shapley.values.double().numpy())[1].tolist()


def test_dependence_points_and_the_row_a_hover_shows(shapley, interaction_task):
    t = interaction_task
    rel = t.params["relevant"]
    view = AttributionSummary(shapley, feature=rel[0])
    d = view.dependence_points()
    assert d["feature"] == rel[0] and d["color_feature"] == rel[1] and view.color_feature is None
    np.testing.assert_allclose(d["x"], t.inputs[:, rel[0]].numpy(), rtol=1e-6)
    np.testing.assert_allclose(d["y"], shapley.values[:, rel[0]].numpy(), rtol=1e-6)
    assert d["x_label"] == f"feature {rel[0]} (feature value)" and d["y_label"] == f"Shapley value of feature {rel[0]}"
    view.color_feature = -1
    d = view.dependence_points()
    assert d["color_feature"] == -1 and np.isnan(d["c"]).all() and d["color_limits"] is None
    view.color_feature = 3
    assert view.dependence_points()["color_label"] == "feature 3"
    row = view.row_detail(7)
    # efficiency with a background: base value + sum of the attributions = the output
    assert row["base_value"] + row["total"] == pytest.approx(row["output"], abs=1e-4)
    assert row["features"][0]["index"] == int(np.argmax(np.abs(shapley.values[7].numpy())))
    assert row["features"][0]["value"] == pytest.approx(float(t.inputs[7, row["features"][0]["index"]]))
    with pytest.raises(ValueError, match="row must be an index in 0..399"):
        view.row_detail(400)


def test_show_opens_the_summary_for_many_tabular_rows_and_attribution_view_otherwise(shapley, interaction_task):
    t = interaction_task
    assert isinstance(shapley.show(), fx.AttributionSummary)
    assert isinstance(shapley.show(index=3), fx.AttributionView)  # a one-row argument: the row's view
    one = fx.attribute(t.model, t.inputs[:1], method="shapley_permutation", n_permutations=4)
    assert isinstance(one.show(), fx.AttributionView)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 2))
    images = fx.attribute(cnn, torch.randn(3, 1, 6, 6), target=0, method="saliency")
    assert isinstance(images.show(), fx.AttributionView)

    class BagOfWords(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.head = torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2)

        def forward(self, ids):
            return self.head(self.emb(ids).mean(1))

    ids = torch.randint(0, 10, (3, 5), generator=torch.Generator().manual_seed(0))
    text = fx.attribute(BagOfWords(), ids, target=1, method="integrated_gradients", n_steps=8)
    assert text.values.shape == (3, 5)
    assert isinstance(text.show(tokens=list("abcde")), fx.AttributionView)
    assert isinstance(text.show(), fx.AttributionView)  # token ids: never a beeswarm of token positions


def test_bad_input_and_bad_traits_name_the_argument(shapley):
    with pytest.raises(TypeError, match="result must be an AttributionResult"):
        AttributionSummary(shapley.values)
    with pytest.raises(ValueError, match=r"X must hold the 400 rows' 8 feature values"):
        AttributionSummary(shapley, np.zeros((400, 3)))
    with pytest.raises(ValueError, match="feature_names has 2 names for 8 features"):
        AttributionSummary(shapley, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="max_display must be a positive integer"):
        AttributionSummary(shapley, max_display=0)
    with pytest.raises(ValueError, match="max_rows must be a positive integer"):
        AttributionSummary(shapley, max_rows=-1)
    with pytest.raises(ValueError, match="feature 'nope' is not one of the feature names"):
        AttributionSummary(shapley, feature="nope")
    view = AttributionSummary(shapley)
    view.selection = [5, 3, 5]
    assert view.selection == [3, 5]
    for name, bad, match in [("selection", [400], "selection must hold row indices in 0..399"),
                             ("mode", "violin", "mode must be one of"),
                             ("feature", 8, "feature must be a feature index in 0..7"),
                             ("color_feature", 9, "color_feature must be None"),
                             ("cmap", "no_such_map", "cmap: unknown colour map")]:
        with pytest.raises(traitlets.TraitError, match=match):
            setattr(view, name, bad)
    images = fx.attribute(lambda x: x.flatten(1).sum(1), torch.randn(2, 1, 3, 3), method="saliency")
    with pytest.raises(ValueError, match=r"rows of 1-D features: result values must be \(rows, features\)"):
        AttributionSummary(images)


def test_feature_group_methods_use_the_groups_values(interaction_task):
    t = interaction_task
    mask = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    r = fx.attribute(t.model, t.inputs[:20], method="feature_ablation", feature_mask=mask)
    view = r.show(feature_names=["a", "b", "c", "d"])
    assert isinstance(view, AttributionSummary) and view.feature_names == ["a", "b", "c", "d"]
    d = view.dependence_points()
    # a group's value is the mean of its columns
    np.testing.assert_allclose(d["x"], t.inputs[:20].reshape(20, 4, 2).mean(2)[:, view.feature].numpy(), rtol=1e-5)
