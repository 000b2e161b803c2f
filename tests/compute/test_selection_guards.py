"""Feature selection that never answers garbage (issue 11): mRMR's MI forms skip a near-copy, chi2 of an all-zero
column is NaN and ranked last, every d x d method checks its memory first, every parameter is checked first."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.feature_selection import chi2 as sk_chi2

import fxwidgets as fx
from fxwidgets.compute.memory import options
from fxwidgets.compute.selection import filters, graph, plan_selection, rank

# ---- mRMR: a near-copy of the best feature never beats an independent relevant one -------------------------------


def copy_data(seed: int, n: int = 500, coef: float = 0.3, task: str = "classification", noise: int = 0):
    """a (the best feature), its near-copy (correlation 0.9995), b (independent, weakly relevant), noise."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    rho = 0.9995
    copy = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    X = np.column_stack([a, copy, b, rng.standard_normal((n, noise))])
    signal = a + coef * b + 0.3 * rng.standard_normal(n)
    y = (signal > 0).astype(int) if task == "classification" else signal
    assert abs(np.corrcoef(a, copy)[0, 1] - rho) < 1e-3
    return X, y


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("scheme", [None, "mid", "miq"])
def test_mrmr_picks_the_independent_feature_second_not_the_copy(scheme, task):
    kw = {} if scheme is None else {"scheme": scheme}
    for seed in range(5):
        X, y = copy_data(seed, task=task)
        r = fx.select(X, y, "mrmr", k=2, task=task, **kw)
        assert r.ranking[0].item() in (0, 1)
        assert r.ranking[1].item() == 2, (seed, r.ranking.tolist())


@pytest.mark.parametrize("scheme", [None, "mid", "miq"])
def test_mrmr_ranks_the_copy_after_the_independent_feature_among_noise(scheme):
    kw = {} if scheme is None else {"scheme": scheme}
    for seed in range(5):
        X, y = copy_data(seed, n=800, noise=4)
        rank_of = {int(j): i for i, j in enumerate(fx.select(X, y, "mrmr", k=3, **kw).ranking)}
        _best, copy = sorted((0, 1), key=rank_of.get)
        assert rank_of[2] < rank_of[copy], (seed, rank_of)


def test_the_f_test_forms_keep_the_copy_which_is_why_neither_is_the_default():
    # FCD subtracts a correlation (<= 1) from an F statistic that grows with n: the copy's redundancy costs nothing.
    fcd = [fx.select(*copy_data(seed), "mrmr", k=2, scheme="fcd").ranking[1].item() for seed in range(5)]
    assert fcd.count(1) + fcd.count(0) == 5
    # FCQ divides by the mean |corr|: a strong best feature (F ~ 1e4) over a weak independent one still wins.
    fcq = [fx.select(*copy_data(seed, n=1000, coef=0.15), "mrmr", k=2, scheme="fcq").ranking[1].item()
           for seed in range(5)]
    assert fcq.count(1) + fcq.count(0) >= 3
    # the old names are the F-test forms
    X, y = copy_data(0)
    assert torch.equal(fx.select(X, y, "mrmr", scheme="difference").scores, fx.select(X, y, "mrmr", scheme="fcd").scores)
    assert torch.equal(fx.select(X, y, "mrmr", scheme="quotient").scores, fx.select(X, y, "mrmr", scheme="fcq").scores)


def test_mrmr_mid_objective_is_relevance_minus_mean_plugin_redundancy():
    X, y = copy_data(3, noise=2)
    x = torch.tensor(X)
    r = fx.select(X, y, "mrmr", k=3, scheme="mid")
    codes = filters.equal_frequency_codes(x, filters.MRMR_BINS)
    lab = plan_selection(X, y, "mrmr").labels
    rel = filters.plugin_mi(codes, filters.MRMR_BINS, lab.codes, 2, x.dtype)
    first, second = r.ranking[:2].tolist()
    assert r.scores[first].item() == pytest.approx(rel[first].item(), rel=1e-12)
    red = filters.plugin_mi(codes, filters.MRMR_BINS, codes[:, first], filters.MRMR_BINS, x.dtype)
    assert r.scores[second].item() == pytest.approx((rel - red)[second].item(), rel=1e-12)
    # plug-in MI by hand for one pair of discretised columns
    a, b = codes[:, first].numpy(), codes[:, second].numpy()
    joint = np.histogram2d(a, b, bins=[np.arange(6) - 0.5] * 2)[0] / len(a)
    pa, pb = joint.sum(1, keepdims=True), joint.sum(0, keepdims=True)
    nz = joint > 0
    assert red[second].item() == pytest.approx(float((joint[nz] * np.log(joint[nz] / (pa @ pb)[nz])).sum()), rel=1e-12)


def test_mrmr_docstring_names_every_form():
    doc = filters.mrmr.__doc__
    for name in ("mid", "miq", "fcd", "fcq", "Peng"):
        assert name in doc


def test_equal_frequency_codes_share_ties_and_balance_counts():
    x = torch.tensor([[0.0], [0.0], [1.0], [2.0], [3.0], [4.0]], dtype=torch.float64)
    codes = filters.equal_frequency_codes(x, 3)[:, 0].tolist()
    assert codes == [0, 0, 1, 1, 2, 2]
    codes = filters.equal_frequency_codes(torch.randn(999, 2, dtype=torch.float64), 3)
    assert torch.equal(torch.bincount(codes[:, 0]), torch.tensor([333, 333, 333]))


# ---- chi2 of an all-zero column ---------------------------------------------------------------------------------


def test_chi2_of_an_all_zero_column_is_nan_and_ranked_last():
    rng = np.random.default_rng(0)
    X = np.abs(rng.standard_normal((40, 5)))
    X[:, 1] = 0.0
    y = np.arange(40) % 3
    r = fx.select(X, y, "chi2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s, p = sk_chi2(X, y)
    assert np.isnan(r.scores[1].item()) and np.isnan(r.extra["pvalues"][1].item())
    np.testing.assert_allclose(r.scores.numpy(), s, rtol=1e-10)  # NaN where scikit-learn has NaN
    np.testing.assert_allclose(r.extra["pvalues"].numpy(), p, rtol=1e-8)
    assert r.ranking[-1].item() == 1
    # a constant non-zero column is independent of the class: chi2 = 0 exactly, ranked before the NaN
    X[:, 3] = 2.0
    r = fx.select(X, y, "chi2")
    assert r.scores[3].item() == pytest.approx(0.0, abs=1e-12)
    assert r.ranking[-2:].tolist() == [3, 1]


def test_rank_puts_nan_last_for_both_directions():
    s = torch.tensor([0.5, float("nan"), 2.0, -1.0, float("nan")])
    assert rank(s, True).tolist() == [2, 0, 3, 1, 4]
    assert rank(s, False).tolist() == [3, 0, 2, 1, 4]
    assert rank(torch.tensor([1.0, float("inf"), 0.5]), False).tolist() == [2, 0, 1]


# ---- memory guards for the d x d methods --------------------------------------------------------------------------

MESSAGE = re.compile(r"needs \d+\.\d\d GiB on cpu, over the memory budget of \d+\.\d\d GiB "
                     r"\(fxwidgets\.options\.memory_budget, default half the available memory\); \w")


@pytest.fixture
def one_gib():
    old = options.memory_budget
    options.memory_budget = 2**30
    yield
    options.memory_budget = old


@pytest.mark.parametrize("method,supervised", [("inf_fs", True), ("inf_fs", False), ("ecfs", True), ("ilfs", True)])
def test_square_feature_graphs_check_the_budget_before_any_work(method, supervised, one_gib, monkeypatch):
    def must_not_run(*a, **k):
        raise AssertionError("the d x d work started")

    for name in ("inf_fs_graph", "ecfs_graph", "ilfs", "inf_fs_scores"):
        monkeypatch.setattr(graph, name, must_not_run)
    monkeypatch.setattr(filters, "mi_classif_knn", must_not_run)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 25_000)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(MemoryError) as e:
        fx.select(X, y if supervised else None, method)
    msg = str(e.value)
    assert f"the 25000 x 25000 feature graph of {method}" in msg
    assert MESSAGE.search(msg) and "fewer features" in msg


def test_the_selection_message_has_the_shape_of_the_affinity_message(one_gib):
    with pytest.raises(MemoryError) as aff:
        fx.affinity(np.zeros((20_000, 2), dtype=np.float32))
    assert MESSAGE.search(str(aff.value)) and "use fewer rows" in str(aff.value)


def test_a_small_feature_graph_fits_and_runs(one_gib):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 50))
    assert fx.select(X, np.arange(30) % 2, "inf_fs").scores.shape == (50,)


def test_regression_target_distances_of_mi_are_guarded(one_gib):
    X = np.random.default_rng(0).standard_normal((30_000, 2)).astype(np.float32)
    y = X[:, 0] + 0.1
    with pytest.raises(MemoryError, match="30000 x 30000 distance matrix of the target.*fewer rows"):
        fx.select(X, y, "mi", task="regression")


# ---- Laplacian score: the graph is right, or the call is refused ----------------------------------------------------


def test_laplacian_graph_of_float32_data_far_from_the_origin_matches_float64():
    rng = np.random.default_rng(2)
    X32 = (np.array([300.0, -200.0, 50.0]) + rng.standard_normal((200, 3))).astype(np.float32)
    W32, t32 = filters.knn_heat_graph(torch.from_numpy(X32), 5, None)
    W64, t64 = filters.knn_heat_graph(torch.from_numpy(X32.astype(np.float64)), 5, None)
    assert torch.equal(W32.indices(), W64.indices())  # the same neighbours
    assert t32 == pytest.approx(t64, rel=1e-6)
    np.testing.assert_allclose(W32.values().numpy(), W64.values().numpy(), rtol=2e-6)
    s32 = fx.select(X32, method="laplacian").scores.numpy()
    s64 = fx.select(X32.astype(np.float64), method="laplacian").scores.numpy()
    np.testing.assert_allclose(s32, s64, rtol=1e-4)


def test_laplacian_bandwidth_is_in_the_data_units():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 3))
    base = fx.select(X, method="laplacian", bandwidth=2.0)
    scaled = fx.select(X * 2.0**40, method="laplacian", bandwidth=2.0 * 2.0**80)
    np.testing.assert_allclose(scaled.scores.numpy(), base.scores.numpy(), rtol=1e-10)
    assert scaled.params["bandwidth"] == pytest.approx(2.0 * 2.0**80)


# ---- every parameter checked before work, the message naming it ----------------------------------------------------

rng_ = np.random.default_rng(0)
XB = rng_.standard_normal((60, 5))
YB = (XB[:, 0] > 0).astype(int)

BAD = [
    # (method, params, exception, the argument the message must name)
    ("mi", {"n_neighbors": 0}, ValueError, "n_neighbors"),
    ("mi", {"n_neighbors": -3}, ValueError, "n_neighbors"),
    ("mi", {"n_neighbors": 2.5}, TypeError, "n_neighbors"),
    ("mi", {"n_neighbors": True}, TypeError, "n_neighbors"),
    ("mi", {"discrete_features": "x"}, ValueError, "discrete_features"),
    ("mi", {"discrete_features": 1}, ValueError, "discrete_features"),
    ("mi", {"discrete_features": None}, ValueError, "discrete_features"),
    ("laplacian", {"n_neighbors": 0}, ValueError, "n_neighbors"),
    ("laplacian", {"n_neighbors": "5"}, TypeError, "n_neighbors"),
    ("laplacian", {"bandwidth": 0}, ValueError, "bandwidth"),
    ("laplacian", {"bandwidth": -1.0}, ValueError, "bandwidth"),
    ("laplacian", {"bandwidth": float("nan")}, ValueError, "bandwidth"),
    ("laplacian", {"bandwidth": float("inf")}, ValueError, "bandwidth"),
    ("laplacian", {"graph": np.zeros((60, 60))}, ValueError, "graph"),
    ("laplacian", {"graph": -np.eye(60)}, ValueError, "graph"),
    ("laplacian", {"graph": np.full((60, 60), np.nan)}, ValueError, "graph"),
    ("laplacian", {"graph": np.ones((59, 59))}, ValueError, "graph"),
    ("laplacian", {"graph": np.ones((60, 59))}, ValueError, "graph"),
    ("laplacian", {"graph": "knn"}, TypeError, "graph"),
    ("mrmr", {"scheme": "ratio"}, ValueError, "scheme"),
    ("mrmr", {"scheme": "MID "}, ValueError, "scheme"),
    ("mrmr", {"scheme": None}, ValueError, "scheme"),
    ("mrmr", {"n_bins": 1}, ValueError, "n_bins"),
    ("mrmr", {"n_bins": 2.0}, TypeError, "n_bins"),
    ("relieff", {"n_neighbors": -1}, ValueError, "n_neighbors"),
    ("relieff", {"n_neighbors": 0}, ValueError, "n_neighbors"),
    ("relieff", {"n_neighbors": 1.5}, TypeError, "n_neighbors"),
    ("relieff", {"n_instances": 0}, ValueError, "n_instances"),
    ("relieff", {"n_instances": -5}, ValueError, "n_instances"),
    ("inf_fs", {"alpha": 2}, ValueError, "alpha"),
    ("inf_fs", {"alpha": -0.1}, ValueError, "alpha"),
    ("inf_fs", {"alpha": float("nan")}, ValueError, "alpha"),
    ("inf_fs", {"alpha": "half"}, TypeError, "alpha"),
    ("inf_fs", {"supervised": "yes"}, ValueError, "supervised"),
    ("ecfs", {"alpha": 1.5}, ValueError, "alpha"),
    ("ilfs", {"quantile": 0}, ValueError, "quantile"),
    ("ilfs", {"quantile": 1.5}, ValueError, "quantile"),
    ("ilfs", {"n_iter": 0}, ValueError, "n_iter"),
    ("ilfs", {"tol": -1e-3}, ValueError, "tol"),
    ("ilfs", {"n_tokens": 1}, ValueError, "n_tokens"),
    ("stg", {"n_steps": 0}, ValueError, "n_steps"),
    ("stg", {"n_steps": -10}, ValueError, "n_steps"),
    ("stg", {"lr": 0}, ValueError, "lr"),
    ("stg", {"lr": float("inf")}, ValueError, "lr"),
    ("stg", {"penalty": -1}, ValueError, "penalty"),
    ("stg", {"batch_size": 0}, ValueError, "batch_size"),
    ("gumbel_gates", {"tau_end": 0}, ValueError, "tau_end"),
    ("gumbel_gates", {"tau_end": -0.1}, ValueError, "tau_end"),
    ("gumbel_gates", {"tau_start": 0}, ValueError, "tau_start"),
    ("gumbel_gates", {"n_steps": 0}, ValueError, "n_steps"),
    ("fisher", {"k": 0}, ValueError, "k"),
    ("fisher", {"k": 6}, ValueError, "k"),
    ("fisher", {"seed": 1.5}, ValueError, "seed"),
    ("fisher", {"seed": "0"}, ValueError, "seed"),
]


@pytest.mark.parametrize("method,params,exc,name", BAD, ids=[f"{m}-{next(iter(p))}={p[next(iter(p))]!r}"[:60]
                                                              for m, p, _, _ in BAD])
def test_bad_parameter_is_refused_naming_it_before_work(method, params, exc, name, monkeypatch):
    def must_not_run(*a, **k):
        raise AssertionError("work started before the parameters were checked")

    monkeypatch.setattr("fxwidgets.compute.selection._score_core", must_not_run)
    y = None if method == "laplacian" else YB
    with pytest.raises(exc) as e:
        fx.select(XB, y, method, **params)
    assert str(e.value).startswith(name) or re.search(rf"\b{name}\b", str(e.value)), str(e.value)


def test_train_gates_refuses_what_the_plan_would_have_refused():
    from fxwidgets.compute.selection import learned

    x, t = torch.randn(20, 3), torch.randint(0, 2, (20,))
    with pytest.raises(ValueError, match="n_steps"):
        learned.train_gates(x, t, 2, True, kind="hard_concrete", penalty=1.0, n_steps=0, lr=0.1, seed=0, batch_size=8)
    with pytest.raises(ValueError, match="tau"):
        learned.train_gates(x, t, 2, True, kind="gumbel_sigmoid", penalty=1.0, n_steps=3, lr=0.1, seed=0,
                            batch_size=8, tau=(1.0, 0.0))


def test_good_parameters_at_the_edges_of_their_ranges_run():
    assert np.isfinite(fx.select(XB, YB, "inf_fs", alpha=0).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, YB, "inf_fs", alpha=1).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, YB, "relieff", n_neighbors=1).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, YB, "mi", n_neighbors=1).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, YB, "stg", n_steps=1).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, YB, "gumbel_gates", n_steps=2, tau_end=1e-3).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, None, "laplacian", n_neighbors=1).scores.numpy()).all()
    assert np.isfinite(fx.select(XB, YB, "mi", n_neighbors=np.int64(2)).scores.numpy()).all()
