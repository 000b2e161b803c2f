"""The FeatureRanking widget's kernel side: traits, messages, the streamed probe curve (no browser)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets
from sklearn.datasets import load_wine

import fxwidgets as fx
from fxwidgets.runtime.codec import unpack
from fxwidgets.compute.selection._common import labels
from fxwidgets.compute.selection.stability import default_ks, iter_probe_curve, probe_score, split_indices


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


def capture(view):
    sent = []
    view._send_message = lambda content, buffers: sent.append(unpack(content, buffers))
    return sent


def test_k_sets_selected_and_method_switch_resends(wine):
    X, y = wine
    view = fx.FeatureRanking(X, y, methods=["fisher", "relieff"], k=3)
    sent = capture(view)
    fisher = fx.select(X, y, "fisher").ranking.tolist()
    relief = fx.select(X, y, "relieff").ranking.tolist()
    assert view.selected == fisher[:3]
    view.k = 7
    assert view.selected == fisher[:7]
    assert view.mask.sum() == 7
    view.method = "relieff"
    assert view.selected == relief[:7]
    rankings = [m for m in sent if m["type"] == "ranking"]
    assert rankings and rankings[-1]["method"] == "relieff"
    assert rankings[-1]["order"].tolist() == relief and rankings[-1]["order"].dtype == np.int32
    with pytest.raises(traitlets.TraitError):
        view.k = 14
    with pytest.raises(traitlets.TraitError):
        view.method = "nope"
    view.curve("relieff", timeout=30)


def test_streamed_curve_equals_the_blocking_probe(wine):
    X, y = wine
    view = fx.FeatureRanking(X, y, methods=["fisher"], k=2)
    curve = view.curve(timeout=30)
    x = torch.tensor(X)
    lab = labels(y, len(y), x.device, "t")
    ranking = fx.select(X, y, "fisher").ranking
    ks = default_ks(13)
    assert curve["k"] == ks
    blocking = [p.score for p in iter_probe_curve(x, lab.codes, ranking, ks, True, 3)]
    assert curve["score"] == blocking
    tr, te = split_indices(len(y), 0.25, 0, x.device)
    cols = ranking[:13]
    assert blocking[-1] == probe_score(x[tr][:, cols], lab.codes[tr], x[te][:, cols], lab.codes[te], True, 3)
    assert 0.85 < blocking[-1] <= 1.0  # all 13 wine features: a linear probe is near perfect
    state = view._rpc_state({})
    assert state["curve"]["done"] and state["agreement"]["matrix"].shape == (1, 1)
    assert view.status == "done" and view.progress == 1.0


def test_stability_band_and_agreement(wine):
    X, y = wine
    view = fx.FeatureRanking(X, y, methods=["fisher", "f_classif", "mi"], k=3, stability=6, probe=False)
    assert view.wait_stability(timeout=60)  # the bootstrap runs in the background
    A = view.agreement
    assert A.shape == (3, 3) and np.allclose(np.diag(A), 1)
    assert A[0, 1] == pytest.approx(1.0)  # Fisher = F (K-1)/(N-K): identical rankings
    payload = view._ranking_payload("fisher")
    lo, hi = payload["lo"], payload["hi"]
    s = payload["scores"]
    assert np.all(lo <= hi) and np.mean((lo <= s * 1.0001) & (s <= hi * 1.0001)) > 0.7
    assert 0 < payload["stab_jaccard"][0] <= 1


def test_regression_target_gives_r2(wine):
    X, _ = wine
    rng = np.random.default_rng(0)
    y = X[:, 0] * 2 + rng.normal(size=len(X)) * 0.1
    view = fx.FeatureRanking(X, y, methods=["pearson", "sequential_attention"], k=1)
    assert view.curve_label == "held-out R²"
    c = view.curve(timeout=30)
    assert c["score"][0] > 0.9  # feature 0 alone explains y
    default = fx.FeatureRanking(X, y, k=2, probe=False)
    assert default.methods == ["pearson", "mi", "mrmr", "sequential_attention"]


def test_result_show_and_bad_input(wine):
    X, y = wine
    r = fx.select(X, y, "fisher", k=4)
    view = r.show(X, y)
    assert view.methods == ["fisher"] and view.k == 4 and view.selected == r.selected.tolist()
    view.curve(timeout=30)
    with pytest.raises(ValueError, match="k must be"):
        fx.FeatureRanking(X, y, methods=["fisher"], k=0)
    with pytest.raises(ValueError, match="feature_names has 2 entries"):
        fx.FeatureRanking(X, y, methods=["fisher"], feature_names=["a", "b"])
    with pytest.raises(TypeError, match="give FeatureRanking the data"):
        fx.FeatureRanking()


def test_switching_method_cancels_the_curve_left_behind(wine, monkeypatch):
    """A curve still running for the method the user left is cancelled and forgotten; a finished one is kept."""
    import threading

    import fxwidgets.widgets.feature_ranking as feature_ranking

    X, y = wine
    real = feature_ranking.iter_probe_curve
    gate = threading.Event()

    def gated_first_curve(*args, **kwargs):
        for point in real(*args, **kwargs):
            yield point
            gate.wait(30)  # the first curve stalls after each point until the test lets it go

    monkeypatch.setattr(feature_ranking, "iter_probe_curve", gated_first_curve)
    view = fx.FeatureRanking(X, y, methods=["fisher", "f_classif", "relieff"], k=3)
    first = view._curves["fisher"]
    monkeypatch.setattr(feature_ranking, "iter_probe_curve", real)
    view.method = "f_classif"
    assert "fisher" not in view._curves and first.cancelled
    gate.set()
    assert first.wait(30) and first.status == "cancelled"
    finished = view.curve("f_classif", timeout=30)
    view.method = "relieff"
    assert view._curves["f_classif"].status == "done"  # finished: kept, switching back costs nothing
    view.curve("relieff", timeout=30)
    view.method = "fisher"  # the cancelled curve starts again, complete
    again = view.curve("fisher", timeout=30)
    assert len(again["k"]) == len(finished["k"]) == len(default_ks(13))
    assert view.status == "done"


def test_rows_of_a_single_class_keep_the_ranking_and_say_why(wine):
    X, y = wine
    view = fx.FeatureRanking(X, y, methods=["fisher", "variance"], k=3, probe=False)
    before = list(view.selected)
    assert view.rank_rows(np.flatnonzero(y == 0)) is None  # nothing to compute: refused before any work
    assert "single class" in view.error and "fisher" in view.error and "variance" not in view.error.split(":")[0]
    assert view.selected == before and view.rows_ranked == len(y)
    two = np.flatnonzero(y != 2)
    view.rank_rows(two)  # a good selection afterwards clears the message and ranks those rows
    assert view.wait_ranking(60) and view.error == "" and view.rows_ranked == two.size
    assert view.selected == fx.select(X[two], y[two], "fisher").ranking[:3].tolist()
