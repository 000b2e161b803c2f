"""Feature selection against closed forms and the anchors (scikit-learn, skrebate) on the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn import feature_selection as skfs
from sklearn.datasets import load_wine

import fxwidgets as fx
from fxwidgets.compute.selection import filters, graph, learned
from fxwidgets.compute.selection._common import labels, rank_data
from fxwidgets.compute.selection.stability import jaccard, kuncheva, topk_stability


@pytest.fixture(scope="module")
def wine():
    X, y = load_wine(return_X_y=True)
    return X, y


def lab_of(y, x):
    return labels(y, x.shape[0], x.device, "test")


# ---- O7: univariate scores against scikit-learn ---------------------------------------------------------------
def test_f_classif_and_pvalues_match_sklearn(wine):
    X, y = wine
    r = fx.select(X, y, "f_classif")
    F, p = skfs.f_classif(X, y)
    np.testing.assert_allclose(r.scores.numpy(), F, rtol=1e-10)
    np.testing.assert_allclose(r.extra["pvalues"].numpy(), p, rtol=1e-6, atol=1e-300)


def test_fisher_score_is_f_times_k_minus_1_over_n_minus_k(wine):
    X, y = wine
    F, _ = skfs.f_classif(X, y)
    n, K = X.shape[0], len(np.unique(y))
    r = fx.select(X, y, "fisher")
    np.testing.assert_allclose(r.scores.numpy(), F * (K - 1) / (n - K), rtol=1e-10)
    # and from its definition: sum_k n_k (mu_k - mu)^2 / sum_k n_k sigma_k^2
    num = sum((y == c).sum() * (X[y == c].mean(0) - X.mean(0)) ** 2 for c in np.unique(y))
    den = sum((y == c).sum() * X[y == c].var(0) for c in np.unique(y))
    np.testing.assert_allclose(r.scores.numpy(), num / den, rtol=1e-10)


def test_chi2_docstring_matrix_and_random_counts():
    X = np.array([[1, 1, 3], [0, 1, 5], [5, 4, 1], [6, 6, 2], [1, 4, 0], [0, 0, 0]], dtype=float)
    y = np.array([1, 1, 0, 0, 2, 2])
    r = fx.select(X, y, "chi2")
    s, p = skfs.chi2(X, y)
    np.testing.assert_allclose(r.scores.numpy(), s, rtol=1e-10)
    np.testing.assert_allclose(r.extra["pvalues"].numpy(), p, rtol=1e-8)
    np.testing.assert_allclose(r.scores.numpy()[:3], [15.3, 6.5, 8.9], atol=0.1)
    rng = np.random.default_rng(0)
    Xc = rng.poisson(3.0, size=(200, 30)).astype(float)
    yc = rng.integers(0, 4, 200)
    np.testing.assert_allclose(fx.select(Xc, yc, "chi2").scores.numpy(), skfs.chi2(Xc, yc)[0], rtol=1e-10)


def test_pearson_matches_r_regression():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 12))
    y = X[:, 3] * 2 - X[:, 7] + rng.normal(size=300)
    r = fx.select(X, y, "pearson", k=2)
    np.testing.assert_allclose(r.extra["r"].numpy(), skfs.r_regression(X, y), rtol=1e-10)
    assert sorted(r.selected.tolist()) == [3, 7]


def test_float32_on_the_device_agrees(wine):
    X, y = wine
    r64 = fx.select(X, y, "f_classif")
    r32 = fx.select(torch.tensor(X, dtype=torch.float32), y, "f_classif")
    assert r32.scores.dtype == torch.float32
    np.testing.assert_allclose(r32.scores.numpy(), r64.scores.numpy(), rtol=1e-4)


# ---- O8: Laplacian score -----------------------------------------------------------------------------------
def test_laplacian_score_affine_invariance_and_hand_value():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 6))
    base = fx.select(X, method="laplacian").scores.numpy()
    Xa = X * np.array([3.0, -0.5, 2.0, 1.0, 10.0, -7.0]) + np.array([5, -2, 0, 1, 100, 3])
    # the graph depends on X, so pass the same explicit graph to isolate the per-feature invariance
    W, _ = filters.knn_heat_graph(torch.tensor(X), 5, None)
    s1 = filters.laplacian_score(torch.tensor(X), W.to_dense())
    s2 = filters.laplacian_score(torch.tensor(Xa), W.to_dense())
    np.testing.assert_allclose(s1.numpy(), s2.numpy(), rtol=1e-10)
    np.testing.assert_allclose(s1.numpy(), base, rtol=1e-10)  # dense and sparse graphs agree
    # 4-node path graph 0-1-2-3 with unit weights; f = [0, 1, 2, 3]; D = diag(1, 2, 2, 1)
    Wp = torch.tensor([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=torch.float64)
    f = torch.tensor([[0.0], [1.0], [2.0], [3.0]], dtype=torch.float64)
    # f~ = f - (f'D1/1'D1) = f - 9/6;  f~'Lf~ = sum of squared edge differences = 3;  f~'Df~ = sum d_i f~_i^2
    ft = f[:, 0] - 1.5
    expected = 3.0 / float((torch.tensor([1.0, 2, 2, 1], dtype=torch.float64) * ft**2).sum())
    assert float(filters.laplacian_score(f, Wp)[0]) == pytest.approx(expected, rel=1e-12)
    r = fx.select(f.repeat(1, 2) * torch.tensor([1.0, -2.0], dtype=torch.float64), method="laplacian", graph=Wp)
    np.testing.assert_allclose(r.scores.numpy(), [expected, expected], rtol=1e-12)


def test_laplacian_prefers_a_feature_that_follows_the_clusters():
    rng = np.random.default_rng(3)
    centres = np.repeat(np.arange(4), 50)
    X = np.column_stack([centres * 5 + rng.normal(size=200) * 0.1, rng.normal(size=200), rng.normal(size=200)])
    r = fx.select(X, method="laplacian", k=1)
    assert not r.larger_is_better and r.selected.tolist() == [0]


# ---- O9: mutual information ---------------------------------------------------------------------------------
def test_discrete_mi_hand_value():
    x = np.array([0, 1, 1, 0, 0], dtype=float)[:, None]
    y = np.array([1, 0, 0, 0, 1])

    def H(*cols):
        _, c = np.unique(np.stack(cols, 1), axis=0, return_counts=True)
        p = c / c.sum()
        return -(p * np.log(p)).sum()

    expected = H(x[:, 0]) + H(y) - H(x[:, 0], y)
    r = fx.select(x, y, "mi", discrete_features=True, k=1)
    assert float(r.scores[0]) == pytest.approx(expected, abs=1e-12)
    rng = np.random.default_rng(4)
    Xd = rng.integers(0, 5, size=(300, 8)).astype(float)
    yd = (Xd[:, 2] + rng.integers(0, 2, 300)) % 3
    got = fx.select(Xd, yd, "mi", discrete_features=True).scores.numpy()
    want = skfs.mutual_info_classif(Xd, yd, discrete_features=True)
    np.testing.assert_allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("k", [3, 5, 7])
def test_ksg_regression_bivariate_normal(k):
    rho = 0.5
    rng = np.random.default_rng(5)
    cov = np.array([[1, rho], [rho, 1]])
    Z = rng.multivariate_normal([0, 0], cov, size=1000)
    r = fx.select(Z[:, :1], Z[:, 1] + 1e-9, "mi", n_neighbors=k, k=1, task="regression")
    assert float(r.scores[0]) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.05)


def test_knn_mi_agrees_with_sklearn():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int) + (X[:, 1] > 1)
    got = fx.select(X, y, "mi").scores.numpy()
    want = skfs.mutual_info_classif(X, y, n_neighbors=3, random_state=0)
    np.testing.assert_allclose(got, want, atol=2e-3)
    yr = X[:, 2] ** 2 + 0.1 * rng.normal(size=400)
    got = fx.select(X, yr, "mi").scores.numpy()
    want = skfs.mutual_info_regression(X, yr, n_neighbors=3, random_state=0)
    np.testing.assert_allclose(got, want, atol=2e-3)


# ---- distance correlation (O6 reference values from R energy) -------------------------------------------------
def test_dcor_reference_values():
    a = torch.tensor([1, 2, 3, 4, 5, 6], dtype=torch.float64)[:, None]
    b = torch.tensor([1, 7, 5, 5, 6, 2], dtype=torch.float64)[:, None]
    r = filters.dcor(a, b)
    assert float(r[0]) ** 2 == pytest.approx(0.30661, abs=1e-5)
    assert float(filters.dcor(a, a)[0]) == pytest.approx(1.0, abs=1e-12)
    r2 = fx.select(np.column_stack([np.arange(1.0, 7.0), [1, 7, 5, 5, 6, 2.5]]), np.array([1, 7, 5, 5, 6, 2.0]) + 0.1,
                   "dcor", task="regression")
    assert float(r2.scores[1]) > float(r2.scores[0])


# ---- mRMR ------------------------------------------------------------------------------------------------------
def test_mrmr_skips_a_redundant_copy():
    rng = np.random.default_rng(7)
    n = 500
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + 0.8 * b > 0).astype(int)
    X = np.column_stack([a, a + 1e-3 * rng.normal(size=n), b, rng.normal(size=(n, 3))])
    fisher = fx.select(X, y, "fisher", k=2)
    assert sorted(fisher.selected.tolist()) == [0, 1]  # a univariate score keeps both copies
    mr = fx.select(X, y, "mrmr", k=2)
    assert mr.selected[0].item() in (0, 1) and mr.selected[1].item() == 2


# ---- ReliefF (O12) ----------------------------------------------------------------------------------------------
def test_relieff_finds_xor_and_ignores_noise():
    rng = np.random.default_rng(8)
    n = 400
    x0, x1 = rng.integers(0, 2, n), rng.integers(0, 2, n)
    y = x0 ^ x1
    X = np.column_stack([x0, x1, rng.integers(0, 2, size=(n, 8))]).astype(float)
    r = fx.select(X, y, "relieff", k=2, n_neighbors=10)
    assert sorted(r.selected.tolist()) == [0, 1]
    assert np.abs(r.scores.numpy()[2:]).max() < 0.1 < 0.4 < r.scores.numpy()[:2].min()
    # a univariate score cannot see the interaction
    assert sorted(fx.select(X, y, "f_classif", k=2).selected.tolist()) != [0, 1]


def test_relieff_matches_skrebate():
    import skrebate
    rng = np.random.default_rng(9)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    ours = fx.select(X, y, "relieff", n_neighbors=10).scores.numpy()
    ref = skrebate.ReliefF(n_neighbors=10, n_features_to_select=2).fit(X, y).feature_importances_
    np.testing.assert_allclose(ours, ref, atol=1e-6)


# ---- Inf-FS (O10) and EC-FS (O11) -------------------------------------------------------------------------------
def test_inf_fs_series_identity_and_solve_vs_inverse():
    rng = np.random.default_rng(10)
    M = torch.tensor(rng.random((12, 12)))
    A = (M + M.T) / 2
    s, r = graph.inf_fs_scores(A)
    inv = torch.linalg.inv(torch.eye(12, dtype=A.dtype) - r * A) - torch.eye(12, dtype=A.dtype)
    np.testing.assert_allclose(s.numpy(), inv.sum(1).numpy(), rtol=1e-10)
    term = torch.ones(12, dtype=A.dtype)
    total = torch.zeros(12, dtype=A.dtype)
    errors = []
    for _ in range(400):
        term = r * (A @ term)
        total += term
        errors.append(float((total - s).abs().max()))
    assert errors[-1] < 1e-10 * float(s.abs().max())
    assert errors[100] < errors[10] * 0.9**80  # geometric convergence at rate 0.9


def test_inf_fs_regular_graph_scores_are_nine():
    d = 9
    A = torch.ones(d, d, dtype=torch.float64) * 0.3 + torch.eye(d, dtype=torch.float64) * 0.7  # constant row sums
    s, _ = graph.inf_fs_scores(A)
    np.testing.assert_allclose(s.numpy(), np.full(d, 9.0), rtol=1e-12)


def _numpy_inffs_2016(X, y, alpha):
    """A slow NumPy port of infFS.m v4.0, written from its formula, for binary labels {0, 1}."""
    from scipy.stats import spearmanr

    std = X.std(0, ddof=1)
    S = np.maximum(std[:, None], std[None, :])
    S = (S - S.min()) / (S - S.min()).max()
    if y is None:
        C = spearmanr(X).correlation
    else:
        p, n = X[y == 1], X[y == 0]
        c = (p.mean(0) - n.mean(0)) ** 2 / (p.std(0, ddof=1) ** 2 + n.std(0, ddof=1) ** 2)
        C = np.outer(c, c)
        C = (C - C.min()) / (C - C.min()).max()
    A = alpha * C + (1 - alpha) * S
    r = 0.9 / np.linalg.eigvals(A).real.max()
    W = np.linalg.inv(np.eye(len(A)) - r * A) - np.eye(len(A))
    return W.sum(1)


@pytest.mark.parametrize("supervised", [True, False])
def test_inf_fs_matches_a_numpy_port(supervised):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(150, 20)) * rng.uniform(0.5, 3, 20)
    y = (X[:, 0] + X[:, 3] > 0).astype(int)
    ours = fx.select(X, y if supervised else None, "inf_fs").scores.numpy()
    ref = _numpy_inffs_2016(X, y if supervised else None, 0.5)
    np.testing.assert_allclose(ours, ref, rtol=1e-8)


def test_spearman_ranks_match_scipy():
    from scipy.stats import rankdata

    X = np.array([[1, 5], [2, 5], [2, 1], [0, 3]], dtype=float)
    np.testing.assert_allclose(rank_data(torch.tensor(X)).numpy(), rankdata(X, axis=0))


def test_eigenvector_centrality_against_eigh_and_power_iteration(wine):
    rng = np.random.default_rng(12)
    M = torch.tensor(rng.random((15, 15)))
    A = (M + M.T) / 2
    ev = graph.eigenvector_centrality(A)
    w, V = np.linalg.eigh(A.numpy())
    np.testing.assert_allclose(ev.numpy(), np.abs(V[:, -1]), rtol=1e-10)
    np.testing.assert_allclose(graph.power_iteration(A).numpy(), ev.numpy(), atol=1e-10)  # Perron: single-signed
    R = torch.ones(6, 6, dtype=torch.float64) - torch.eye(6, dtype=torch.float64)  # regular graph: uniform
    np.testing.assert_allclose(graph.eigenvector_centrality(R).numpy(), np.full(6, 6**-0.5), rtol=1e-10)
    X, y = wine
    r = fx.select(X[y < 2], y[y < 2], "ecfs", k=3)
    assert torch.isfinite(r.scores).all() and (r.scores >= 0).all()


# ---- ILFS (Roffo et al., ICCV 2017) ------------------------------------------------------------------------------
def _ilfs_data():
    """5 informative features (class-dependent means) at columns 3, 7, 11, 15, 19 among 15 pure-noise ones."""
    rng = np.random.default_rng(15)
    n = 400
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 20))
    informative = [3, 7, 11, 15, 19]
    X[:, informative] += np.outer(y, [1.0, 1.25, 1.5, 1.75, 2.0])
    return X, y, informative


def test_ilfs_em_log_likelihood_never_decreases():
    rng = np.random.default_rng(16)
    counts = torch.tensor(rng.poisson(rng.uniform(1, 30, size=(40, 6))), dtype=torch.float64)
    p_tz, p_zf, trace = graph.plsa_em(counts, 2, n_iter=300, tol=0.0, seed=3)
    assert len(trace) > 50  # it ran: the check below is not vacuous
    steps = np.diff(trace)
    assert steps.min() >= -1e-10 * abs(trace[-1]), steps.min()
    assert trace[-1] > trace[0] + 1.0
    np.testing.assert_allclose(p_tz.sum(0).numpy(), 1.0, rtol=1e-12)  # distributions over tokens
    np.testing.assert_allclose(p_zf.sum(1).numpy(), 1.0, rtol=1e-12)  # over the two factors
    model = p_zf @ p_tz.T
    assert trace[-1] == pytest.approx(float((counts * model.log()).sum()), rel=1e-12)
    X, y, _ = _ilfs_data()
    ll = fx.select(X, y, "ilfs").extra["log_likelihood"]
    assert len(ll) > 2 and np.diff(ll).min() >= -1e-10 * abs(ll[-1])


def test_ilfs_rank_one_graph_closed_form():
    rng = np.random.default_rng(17)
    p = torch.tensor(rng.uniform(0.05, 1.0, 25))
    s, r = graph.inf_fs_scores(p[:, None] * p[None, :])
    pp = float(p @ p)
    assert r == pytest.approx(0.9 / pp, rel=1e-12)  # lambda_max(p p^T) = |p|^2
    np.testing.assert_allclose(s.numpy(), (p * p.sum() * r / (1 - r * pp)).numpy(), rtol=1e-8)
    # and fx.select's ILFS scores are exactly that closed form of its own P(relevant | f)
    X, y, _ = _ilfs_data()
    res = fx.select(X, y, "ilfs")
    q = res.extra["p_relevant"].double()
    assert bool(((q > 0) & (q < 1)).all())
    r = res.params["r"]
    assert r == pytest.approx(0.9 / float(q @ q), rel=1e-10)
    np.testing.assert_allclose(res.scores.numpy(), (q * q.sum() * r / (1 - r * float(q @ q))).numpy(), rtol=1e-8)


def test_ilfs_ranks_the_informative_features_first():
    X, y, informative = _ilfs_data()
    r = fx.select(X, y, "ilfs", k=5)
    assert sorted(r.selected.tolist()) == informative
    p = r.extra["p_relevant"].numpy()
    noise = np.setdiff1d(np.arange(20), informative)
    assert p[informative].min() > p[noise].max()


def test_ilfs_is_seeded_and_records_the_seed():
    X, y, _ = _ilfs_data()
    a = fx.select(X, y, "ilfs", seed=7)
    b = fx.select(X, y, "ilfs", seed=7)
    assert torch.equal(a.scores, b.scores) and a.extra["log_likelihood"] == b.extra["log_likelihood"]
    assert a.params["seed"] == 7 and a.params["n_tokens"] == 6 and a.params["n_iter"] == 100
    other = fx.select(X, y, "ilfs", seed=8)
    assert other.extra["log_likelihood"][0] != a.extra["log_likelihood"][0]  # the seed sets the EM start


def test_ilfs_bad_input_names_the_argument():
    X, y, _ = _ilfs_data()
    with pytest.raises(ValueError, match="'ilfs' needs a target y"):
        fx.select(X, None, "ilfs")
    with pytest.raises(ValueError, match="y looks continuous.*'ilfs'"):
        fx.select(X, y + np.random.default_rng(0).normal(size=len(y)), "ilfs")
    with pytest.raises(ValueError, match="n_tokens must be at least 2"):
        fx.select(X, y, "ilfs", n_tokens=1)
    with pytest.raises(TypeError, match="unknown parameter.*'alpha'"):
        fx.select(X, y, "ilfs", alpha=0.5)


# ---- learned selection -----------------------------------------------------------------------------------------
def _omp_order(X, y, k):
    Z = (X - X.mean(0)) / X.std(0)
    chosen = []
    for _ in range(k):
        A = np.column_stack([np.ones(len(y)), Z[:, chosen]])
        resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
        corr = np.abs(Z.T @ resid)
        corr[chosen] = -np.inf
        chosen.append(int(np.argmax(corr)))
    return chosen


def test_sequential_attention_equals_omp_on_linear_regression():
    from sklearn.linear_model import OrthogonalMatchingPursuit

    rng = np.random.default_rng(13)
    X = rng.normal(size=(300, 30))
    X[:, 5] = X[:, 4] + 0.3 * rng.normal(size=300)  # correlated columns make the order non-trivial
    w = np.zeros(30)
    w[[4, 5, 11, 20, 27]] = [3, -2, 1.5, 1, 0.7]
    y = X @ w + 0.1 * rng.normal(size=300)
    r = fx.select(X, y, "sequential_attention", k=6)
    assert r.selected.tolist() == _omp_order(X, y, 6)
    Z = (X - X.mean(0)) / X.std(0)
    omp = OrthogonalMatchingPursuit(n_nonzero_coefs=6).fit(Z, y)
    assert sorted(np.flatnonzero(omp.coef_).tolist()) == sorted(r.selected.tolist())


def test_hard_concrete_expected_l0_closed_form():
    log_alpha = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0, 4.0], dtype=torch.float64)
    beta, gamma, zeta = 2 / 3, -0.1, 1.1
    p = learned.hard_concrete_l0(log_alpha, beta, gamma, zeta)
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    z = learned.hard_concrete_sample(log_alpha, beta, gamma, zeta, gen, n)
    freq = (z > 0).double().mean(0)
    se = torch.sqrt(p * (1 - p) / n)
    assert bool(((freq - p).abs() <= 4 * se + 1e-12).all()), (freq, p)
    # closed form: P(s_bar > 0) = P(s > -gamma/(zeta-gamma)) = sigmoid(log_alpha - beta log(-gamma/zeta))
    np.testing.assert_allclose(p.numpy(), 1 / (1 + np.exp(-(log_alpha.numpy() - beta * np.log(0.1 / 1.1)))), rtol=1e-12)
    assert float(p.sum()) == pytest.approx(float(freq.sum()), abs=4 * float(torch.sqrt((se**2).sum())))


def test_gumbel_sigmoid_gate_probability_and_schedule():
    logits = torch.tensor([-2.0, 0.0, 1.0, 3.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    n = 200_000
    for tau in (1.0, 0.1):
        g = learned.gumbel_sigmoid_sample(logits, tau, gen, n)
        p = torch.sigmoid(logits)
        freq = (g > 0.5).double().mean(0)
        assert bool(((freq - p).abs() <= 4 * torch.sqrt(p * (1 - p) / n)).all())
    g = learned.gumbel_sigmoid_sample(logits, 0.01, gen, 10_000)
    assert float(((g > 0.01) & (g < 0.99)).double().mean()) < 0.05  # tau -> 0: nearly binary
    assert learned.tau_schedule(0, 10, 1.0, 0.1) == 1.0 and learned.tau_schedule(9, 10, 1.0, 0.1) == pytest.approx(0.1)


@pytest.mark.parametrize("method", ["stg", "gumbel_gates"])
def test_gates_open_on_the_relevant_features(method):
    rng = np.random.default_rng(14)
    X = rng.normal(size=(600, 12))
    y = (X[:, 2] - X[:, 7] > 0).astype(int)
    r = fx.select(X, y, method, k=2, n_steps=400, seed=0)
    assert sorted(r.selected.tolist()) == [2, 7]
    assert r.params["seed"] == 0 and "expected_l0" in r.params
    again = fx.select(X, y, method, k=2, n_steps=400, seed=0)
    torch.testing.assert_close(again.scores, r.scores)  # seeded: reproducible


# ---- stability -----------------------------------------------------------------------------------------------
def test_kuncheva_and_jaccard_closed_forms():
    assert kuncheva({0, 1, 2}, {0, 1, 2}, 10) == pytest.approx(1.0)
    assert kuncheva({0, 1}, {2, 3}, 4) == pytest.approx(-1.0)  # (0*4 - 4) / (2*2)
    assert kuncheva({0, 1, 2}, {0, 4, 5}, 10) == pytest.approx((1 * 10 - 9) / (3 * 7))
    assert jaccard({0, 1, 2}, {1, 2, 3}) == pytest.approx(0.5)
    rk = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 0, 2, 5, 4, 3], [3, 4, 5, 0, 1, 2]])
    out = topk_stability(rk, [2, 3])
    pairs = [(0, 1), (0, 2), (1, 2)]
    for i, k in enumerate([2, 3]):
        sets = [set(r[:k].tolist()) for r in rk]
        assert out["kuncheva"][i] == pytest.approx(np.mean([kuncheva(sets[a], sets[b], 6) for a, b in pairs]))
        assert out["jaccard"][i] == pytest.approx(np.mean([jaccard(sets[a], sets[b]) for a, b in pairs]))


def test_bootstrap_stability_is_high_for_a_clear_signal_and_seeded(wine):
    X, y = wine
    r = fx.select(X, y, "fisher", k=3, stability=10, seed=3)
    i = r.stability["k"].index(3)
    assert 0.3 < r.stability["jaccard"][i] <= 1.0 and r.stability["jaccard_se"][i] >= 0
    r2 = fx.select(X, y, "fisher", k=3, stability=10, seed=3)
    np.testing.assert_equal(r2.stability, r.stability)  # NaN (k = d) compares equal here


# ---- API, selector, bad input ------------------------------------------------------------------------------------
def test_result_fields_and_mask(wine):
    X, y = wine
    r = fx.select(X, y, "fisher", k=4, feature_names=[f"f{i}" for i in range(13)])
    assert r.mask.sum() == 4 and set(torch.nonzero(r.mask).flatten().tolist()) == set(r.selected.tolist())
    s = r.scores.numpy()
    assert np.all(np.diff(s[r.ranking.numpy()]) <= 0)
    assert r.params["device"] == "cpu" and r.params["task"] == "classification"
    d = r.to_dict()
    assert d["feature_names"][0] == "f0" and d["mask"].dtype == bool
    fig = r.plot()
    assert len(fig.axes[0].patches) == 13


def test_selector_in_a_sklearn_pipeline(wine):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = wine
    pipe = make_pipeline(StandardScaler(), fx.FeatureSelector(method="fisher", k=5), LogisticRegression(max_iter=500))
    pipe.fit(X, y)
    sel = pipe[1]
    assert sel.get_support().sum() == 5 and sel.scores_.shape == (13,)
    ref = skfs.SelectKBest(skfs.f_classif, k=5).fit(StandardScaler().fit_transform(X), y)
    assert set(sel.get_support(indices=True)) == set(ref.get_support(indices=True))
    assert pipe.score(X, y) > 0.9
    assert clone(sel).get_params()["k"] == 5
    gs = GridSearchCV(make_pipeline(fx.FeatureSelector(), LogisticRegression(max_iter=500)),
                      {"featureselector__k": [2, 6]}, cv=3).fit(X, y)
    assert gs.best_params_["featureselector__k"] in (2, 6)
    with pytest.raises(RuntimeError, match="not fitted"):
        fx.FeatureSelector().transform(X)
    import subprocess
    import sys
    code = ("import sys, fxwidgets as fx, numpy as np; s = fx.FeatureSelector(k=2).fit(np.random.rand(20, 4), "
            "np.arange(20) % 2); s.transform(np.random.rand(3, 4)); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the selector works without importing scikit-learn


def test_bad_input_names_the_problem(wine):
    X, y = wine
    Xn = X.copy()
    Xn[:, 4] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) \[4\] are all NaN"):
        fx.select(Xn, y)
    Xc = X.copy()
    Xc[:, 2] = 7.0
    with pytest.raises(ValueError, match=r"column\(s\) \[2\].*constant"):
        fx.select(Xc, y, "fisher")
    r = fx.select(Xc, y, "fisher", constant="last")
    assert r.ranking[-1].item() == 2 and math.isnan(float(r.scores[2]))
    with pytest.raises(ValueError, match="y has 10 entries but X has 178 rows"):
        fx.select(X, y[:10])
    with pytest.raises(ValueError, match="k=14 is larger than the number of features"):
        fx.select(X, y, k=14)
    with pytest.raises(ValueError, match="looks continuous.*'fisher'"):
        fx.select(X, y + 0.5, "fisher")
    with pytest.raises(ValueError, match="method must be one of"):
        fx.select(X, y, "magic")
    with pytest.raises(TypeError, match="unknown parameter.*'alpha'"):
        fx.select(X, y, "fisher", alpha=0.3)
    with pytest.raises(ValueError, match="non-negative"):
        fx.select(X - 100, y, "chi2")
    with pytest.raises(ValueError, match="needs a target y"):
        fx.select(X, None, "mi")


# ---- CPU and CUDA agree ------------------------------------------------------------------------------------
from tests.conftest import requires_cuda  # noqa: E402


@requires_cuda
@pytest.mark.parametrize("method", ["f_classif", "fisher", "chi2", "mi", "dcor", "relieff", "inf_fs", "ilfs",
                                    "laplacian"])
def test_cuda_matches_cpu(wine, method):
    X, y = wine
    X = np.abs(X) if method == "chi2" else X
    yy = None if method == "laplacian" else y
    cpu = fx.select(torch.tensor(X, dtype=torch.float32), yy, method)
    gpu = fx.select(torch.tensor(X, dtype=torch.float32, device="cuda"), yy, method)
    assert gpu.scores.device.type == "cuda" and gpu.params["device"].startswith("cuda")
    np.testing.assert_allclose(gpu.scores.cpu().numpy(), cpu.scores.numpy(), rtol=2e-3, atol=1e-5)
