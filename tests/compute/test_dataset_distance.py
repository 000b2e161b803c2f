"""Dataset distances against closed forms and direct NumPy/SciPy formulas; MMD² unbiasedness over draws;
Sinkhorn divergence axioms; histogram comparisons; pair-score histograms; input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg
from scipy.special import logsumexp

from fxwidgets.compute import dataset_distance as D
from fxwidgets.compute.memory import options
from tests.conftest import requires_cuda


def two_sets(m=400, n=300, d=12, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, d))
    B = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.5 + 0.3
    return A, B


# ------------------------------------------------------------------------------------------------ Fréchet


def scipy_frechet(A, B):
    mu1, mu2 = A.mean(0), B.mean(0)
    s1, s2 = np.cov(A, rowvar=False), np.cov(B, rowvar=False)
    return ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm(s1 @ s2).real)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frechet_matches_the_closed_form_with_scipy_sqrtm(seed):
    A, B = two_sets(seed=seed)
    r = D.frechet_distance(A, B)
    assert r.value == pytest.approx(scipy_frechet(A, B), rel=1e-9)
    assert r.diagnostics["mean_term"] == pytest.approx(((A.mean(0) - B.mean(0)) ** 2).sum(), rel=1e-12)
    assert D.frechet_distance(A, B, chunk_size=37).value == pytest.approx(r.value, rel=1e-10)


def test_frechet_is_zero_for_one_set_and_a_pure_shift_costs_its_squared_length():
    A, _ = two_sets()
    assert D.frechet_distance(A, A).value < 1e-9
    shift = np.linspace(-1, 1, A.shape[1])
    assert D.frechet_distance(A, A + shift).value == pytest.approx((shift ** 2).sum(), rel=1e-9)
    # a common translation of both sets changes nothing, even a large one (the shifted covariance sums)
    A2, B2 = two_sets(seed=3)
    assert D.frechet_distance(A2 + 1e5, B2 + 1e5).value == pytest.approx(D.frechet_distance(A2, B2).value, rel=1e-6)


def test_frechet_in_float32_agrees():
    A, B = two_sets(seed=4)
    r = D.frechet_distance(torch.tensor(A, dtype=torch.float32), torch.tensor(B, dtype=torch.float32))
    assert r.value == pytest.approx(scipy_frechet(A.astype(np.float32).astype(np.float64),
                                                  B.astype(np.float32).astype(np.float64)), rel=1e-6)


# ------------------------------------------------------------------------------------------------ MMD²


def numpy_mmd2(A, B, sigma):
    def k(x, y):
        return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / (2 * sigma ** 2))

    kxx, kyy, kxy = k(A, A), k(B, B), k(A, B)
    m, n = len(A), len(B)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.mean())


def test_mmd2_matches_the_direct_formula_and_the_median_heuristic():
    from scipy.spatial.distance import pdist

    A, B = two_sets(300, 250, 6)
    r = D.mmd2(A, B)
    sigma = np.median(pdist(np.vstack([A, B])))  # 550 pooled rows < the subsample size: all pairs
    assert r.params["bandwidth"] == pytest.approx(sigma, rel=1e-12)
    assert r.value == pytest.approx(numpy_mmd2(A, B, sigma), rel=1e-10)
    tiled = D.mmd2(A, B, chunk_size=17)
    assert tiled.value == pytest.approx(r.value, rel=1e-10) and tiled.se == pytest.approx(r.se, rel=1e-8)
    fixed = D.mmd2(A, B, bandwidth=2.0)
    assert fixed.value == pytest.approx(numpy_mmd2(A, B, 2.0), rel=1e-10)


def test_mmd2_is_unbiased_under_the_null():
    rng = np.random.default_rng(0)
    values, biased = [], []
    for _ in range(300):
        A, B = rng.standard_normal((30, 3)), rng.standard_normal((30, 3))
        r = D.mmd2(A, B, bandwidth=1.5)
        values.append(r.value)
        # the biased (V-statistic) estimate on the same draws, to show the test can tell them apart
        m = 30
        biased.append(r.value + (1 - r.diagnostics["mean_k_aa"]) / m + (1 - r.diagnostics["mean_k_bb"]) / m)
    values, biased = np.array(values), np.array(biased)
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean()) < 4 * se
    assert biased.mean() > 10 * se


def test_mmd2_standard_error_matches_the_spread_when_the_sets_differ():
    rng = np.random.default_rng(1)
    runs = [D.mmd2(rng.standard_normal((200, 2)), rng.standard_normal((200, 2)) + 0.5, bandwidth=1.0)
            for _ in range(60)]
    spread = np.std([r.value for r in runs], ddof=1)
    assert 0.6 < np.mean([r.se for r in runs]) / spread < 1.6


def test_mmd2_streams_tiles():
    A, B = two_sets(100, 80, 4)
    steps = list(D.iter_mmd2(A, B, chunk_size=30))
    assert len(steps) == 4 + 3 and all(np.isnan(s.value) for s in steps[:-1])
    assert [s.progress for s in steps] == sorted(s.progress for s in steps) and steps[-1].progress == 1.0


# ------------------------------------------------------------------------------------------------ Sinkhorn


def numpy_ot(x, y, eps, iters=4000):
    C = 0.5 * ((x[:, None] - y[None]) ** 2).sum(-1)
    la, lb = np.full(len(x), -np.log(len(x))), np.full(len(y), -np.log(len(y)))
    f, g = np.zeros(len(x)), np.zeros(len(y))
    for _ in range(iters):
        f = -eps * logsumexp(lb[None] + (g[None] - C) / eps, axis=1)
        g = -eps * logsumexp(la[:, None] + (f[:, None] - C) / eps, axis=0)
    return np.exp(la) @ f + np.exp(lb) @ g


def test_sinkhorn_divergence_matches_a_numpy_reference():
    A, B = two_sets(40, 30, 3, seed=5)
    eps = 2.0
    ref = numpy_ot(A, B, eps) - 0.5 * numpy_ot(A, A, eps) - 0.5 * numpy_ot(B, B, eps)
    r = D.sinkhorn_divergence(A, B, epsilon=eps, tol=1e-10, max_iter=5000)
    assert r.diagnostics["converged"]
    assert r.value == pytest.approx(ref, rel=1e-7)
    tiled = D.sinkhorn_divergence(A, B, epsilon=eps, tol=1e-10, max_iter=5000, chunk_size=7)
    assert tiled.value == pytest.approx(r.value, rel=1e-9)


def test_sinkhorn_divergence_axioms():
    rng = np.random.default_rng(6)
    A = rng.standard_normal((50, 4))
    assert D.sinkhorn_divergence(A, A, epsilon=0.5).value < 1e-8
    for seed in range(5):
        B = rng.standard_normal((45, 4)) * (1 + seed * 0.2) + seed * 0.1
        ab = D.sinkhorn_divergence(A, B, epsilon=0.5, tol=1e-9)
        ba = D.sinkhorn_divergence(B, A, epsilon=0.5, tol=1e-9)
        assert ab.diagnostics["raw_value"] > 0
        assert ab.value == pytest.approx(ba.value, rel=1e-6)


def test_sinkhorn_streams_a_running_value():
    A, B = two_sets(60, 50, 3, seed=7)
    steps = list(D.iter_sinkhorn_divergence(A, B, epsilon=0.05, tol=1e-12, max_iter=60, report_every=20))
    assert len(steps) == 3 + 1 and [s.progress for s in steps[:-1]] == [20 / 60, 40 / 60, 0.99]
    assert not steps[-1].diagnostics["converged"] and steps[-1].diagnostics["iterations"] == 60


# ------------------------------------------------------------------------------------------------ histograms


def test_activation_histograms_count_like_numpy_and_distances_follow_their_formulas():
    from scipy.stats import wasserstein_distance

    A, B = two_sets(500, 400, 6, seed=8)
    r = D.activation_histograms(A, B, bins=16, chunk_size=64)
    for f in range(6):
        edges = r.edges[f].numpy()
        ca, _ = np.histogram(A[:, f], bins=edges)
        cb, _ = np.histogram(B[:, f], bins=edges)
        assert r.counts_a[f].tolist() == ca.tolist() and r.counts_b[f].tolist() == cb.tolist()
        p, q = ca / ca.sum(), cb / cb.sum()
        centres = (edges[:-1] + edges[1:]) / 2
        assert r.distances["wasserstein"][f].item() == pytest.approx(
            wasserstein_distance(centres, centres, p, q), rel=1e-9)
        assert r.distances["total_variation"][f].item() == pytest.approx(0.5 * np.abs(p - q).sum(), rel=1e-12)
    vals = r.values.numpy()
    assert (np.diff(vals[r.order.numpy()]) <= 0).all()
    same = D.activation_histograms(A, A)
    assert torch.all(same.distances["wasserstein"] == 0) and torch.all(same.distances["kl"].abs() < 1e-12)


def test_activation_histograms_shared_range_and_constant_features():
    A = np.zeros((10, 2))
    B = np.ones((12, 2)) * np.array([0.0, 0.5])
    r = D.activation_histograms(A, B, bins=4, value_range=(-1, 1))
    assert r.counts_a.sum(1).tolist() == [10, 10] and r.counts_b.sum(1).tolist() == [12, 12]
    assert r.distances["total_variation"].tolist() == [0.0, 1.0]
    r = D.activation_histograms(A, A, bins=4)  # a constant feature gets a one-unit range, not a division by 0
    assert torch.isfinite(r.edges).all()


def test_activation_histograms_generator_checks_when_called_and_yields_the_blocking_record():
    A, B = two_sets(50, 40, 3, seed=2)
    with pytest.raises(ValueError, match="bins"):
        D.iter_activation_histograms(A, B, bins=1)  # raised on the call, before anything is iterated
    items = list(D.iter_activation_histograms(A, B, bins=8))
    assert len(items) == 1 and items[0].progress == 1.0
    blocking = D.activation_histograms(A, B, bins=8)
    assert torch.equal(items[0].counts_a, blocking.counts_a) and torch.equal(items[0].order, blocking.order)


def brute_pair_scores(X, pairs, metric="cosine"):
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = X @ X.T
    iu = np.triu_indices(len(X), 1)
    pos = {tuple(sorted(p)) for p in pairs.tolist()}
    is_pos = np.array([(i, j) in pos for i, j in zip(*iu)])
    return S[iu][is_pos], S[iu][~is_pos]


def test_pair_score_histograms_partition_all_pairs_exactly():
    rng = np.random.default_rng(9)
    emb = {f"epoch {e}": rng.standard_normal((120, 6)) for e in range(3)}
    pairs = np.stack([np.arange(0, 120, 2), np.arange(1, 120, 2)], 1)
    for e, x in enumerate(emb.values()):
        x[1::2] = x[0::2] + (1.0 / (e + 1)) * rng.standard_normal((60, 6))  # positives tighten over training
    steps = list(D.iter_pair_score_histograms(emb, pairs, bins=20, chunk_size=25))
    r = steps[-1]
    assert [s.progress for s in steps] == [1 / 3, 2 / 3, 1.0] and r.checkpoints == list(emb)
    edges = r.edges.numpy()
    for c, x in enumerate(emb.values()):
        pos, neg = brute_pair_scores(x, pairs)
        hp, _ = np.histogram(pos, bins=edges)
        hn, _ = np.histogram(neg, bins=edges)
        assert r.positive[c].tolist() == hp.tolist() and r.negative[c].tolist() == hn.tolist()
        st = r.stats[c]
        assert st["positive_mean"] == pytest.approx(pos.mean(), rel=1e-10)
        assert st["negative_mean"] == pytest.approx(neg.mean(), rel=1e-8, abs=1e-12)
        assert st["negative_std"] == pytest.approx(neg.std(ddof=1), rel=1e-8)
    sep = [s["separation"] for s in r.stats]
    assert sep[0] < sep[1] < sep[2]


def test_pair_score_histograms_sampled_negatives_exclude_positives():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((50, 4))
    pairs = np.array([[0, 1], [2, 3], [5, 4]])
    r = D.pair_score_histograms([X, X * 2], pairs, negatives=400, metric="dot", seed=1)
    assert r.negative.sum(1).tolist() == [400, 400] and r.positive.sum(1).tolist() == [3, 3]
    lim = max((X * 2 * X * 2).sum(1))
    assert r.edges[0].item() == pytest.approx(-lim) and r.edges[-1].item() == pytest.approx(lim)
    assert r.stats[1]["negative_mean"] == pytest.approx(4 * r.stats[0]["negative_mean"], rel=1e-10)  # same pairs


# ------------------------------------------------------------------------------------------------ input checks


@pytest.mark.parametrize("call, error, match", [
    (lambda A, B: D.iter_frechet_distance(A, B[:, :3]), ValueError, "A has 4 features per row but B has 3"),
    (lambda A, B: D.iter_frechet_distance(A[:1], B), ValueError, "A has 1 row"),
    (lambda A, B: D.iter_mmd2(A, B, bandwidth=-1), ValueError, "bandwidth"),
    (lambda A, B: D.iter_mmd2(A, B[:1]), ValueError, "at least 2"),
    (lambda A, B: D.iter_sinkhorn_divergence(A, B, epsilon=0), ValueError, "epsilon"),
    (lambda A, B: D.iter_sinkhorn_divergence(A, B, scaling=2), ValueError, "scaling"),
    (lambda A, B: D.iter_dataset_distance(A, B, "kl"), ValueError, "measure"),
    (lambda A, B: D.activation_histograms(A, B, bins=1), ValueError, "bins"),
    (lambda A, B: D.activation_histograms(A, B, distance="l2"), ValueError, "distance"),
    (lambda A, B: D.activation_histograms(A, B, value_range=(1, 0)), ValueError, "value_range"),
    (lambda A, B: D.iter_pair_score_histograms([A, B], [[0, 1]]), ValueError, "every checkpoint must embed the same"),
    (lambda A, B: D.iter_pair_score_histograms(A, [[0, 0]]), ValueError, r"positive_pairs\[0\] pairs row 0"),
    (lambda A, B: D.iter_pair_score_histograms(A, [[0, 99]]), ValueError, "positive_pairs has index 99"),
    (lambda A, B: D.iter_pair_score_histograms(A, [0, 1]), ValueError, r"positive_pairs must be \(P, 2\)"),
    (lambda A, B: D.iter_pair_score_histograms(A, [[0, 1]], metric="l1"), ValueError, "metric"),
])
def test_bad_arguments_are_named(call, error, match):
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((20, 4)), rng.standard_normal((15, 4))
    with pytest.raises(error, match=match):
        call(A, B)


def test_bad_data_is_named_and_the_budget_checked_before_work():
    A, B = two_sets(20, 20, 3)
    B[2, 2] = np.nan
    with pytest.raises(ValueError, match="B has 1 non-finite"):
        D.iter_mmd2(A, B)
    old = options.memory_budget
    options.memory_budget = 1000
    try:
        with pytest.raises(MemoryError, match="Sinkhorn"):
            D.iter_sinkhorn_divergence(np.ones((500, 3)), np.ones((500, 3)))
    finally:
        options.memory_budget = old


@requires_cuda
def test_mmd_and_sinkhorn_on_cuda_match_cpu():
    A, B = two_sets(300, 200, 8)
    a, b = torch.from_numpy(A), torch.from_numpy(B)
    assert D.mmd2(a.cuda(), b.cuda()).value == pytest.approx(D.mmd2(a, b).value, rel=1e-8)
    assert D.sinkhorn_divergence(a.cuda(), b.cuda(), epsilon=1.0).value == pytest.approx(
        D.sinkhorn_divergence(a, b, epsilon=1.0).value, rel=1e-6)
    assert D.frechet_distance(a.cuda(), b.cuda()).value == pytest.approx(D.frechet_distance(a, b).value, rel=1e-8)
