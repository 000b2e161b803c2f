"""Sample selection: each method against a direct NumPy re-implementation of its definition, its statistical
guarantee checked over seeds, and input checks."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
import torch

from fxwidgets.compute import sample_selection as S
from fxwidgets.compute.kmeans import balanced_allocation, kmeans
from fxwidgets.compute.memory import options
from tests.conftest import requires_cuda


def mixture(n: int = 3000, d: int = 8, k: int = 5, seed: int = 0, weights=None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 6
    p = np.full(k, 1 / k) if weights is None else np.asarray(weights) / np.sum(weights)
    y = rng.choice(k, n, p=p)
    return centres[y] + rng.standard_normal((n, d)) * (0.5 + y[:, None] * 0.3), y


# ------------------------------------------------------------------------------------------------ k-center


def numpy_farthest_first(X: np.ndarray, k: int, first: int | None = None, initial=None):
    X = X.astype(np.float64)
    if initial is not None and len(initial):
        d = np.min(((X[:, None, :] - X[initial][None]) ** 2).sum(-1), axis=1)
        picks = []
    else:
        picks = [first]
        d = ((X - X[first]) ** 2).sum(1)
    radii = [np.sqrt(d.max())] if picks else []
    while len(picks) < k:
        j = int(np.argmax(d))
        picks.append(j)
        d = np.minimum(d, ((X - X[j]) ** 2).sum(1))
        radii.append(np.sqrt(d.max()))
    return picks, radii


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_k_center_matches_numpy_farthest_first(dtype):
    X, _ = mixture(2000, 6)
    r = S.k_center_greedy(torch.tensor(X, dtype=dtype), 40, first=17, chunk_size=300)
    picks, radii = numpy_farthest_first(X.astype(np.float32) if dtype == torch.float32 else X, 40, first=17)
    assert r.indices.tolist() == picks
    np.testing.assert_allclose(r.diagnostics["radius_history"], radii, rtol=1e-5 if dtype == torch.float32 else 1e-12)
    assert r.diagnostics["radius"] == r.diagnostics["radius_history"][-1]
    # the covering radius, recomputed from scratch, is the largest distance to the nearest pick
    dist = np.sqrt(((X[:, None] - X[picks][None]) ** 2).sum(-1)).min(1)
    np.testing.assert_allclose(r.diagnostics["radius"], dist.max(), rtol=1e-5)
    np.testing.assert_allclose(r.scores.double().numpy(), dist, rtol=1e-4, atol=1e-6)


def test_k_center_seeded_start_and_initial_set():
    X, _ = mixture(1500, 4, seed=2)
    a = S.k_center_greedy(X, 10, seed=5)
    b = S.k_center_greedy(X, 10, seed=5)
    assert a.indices.tolist() == b.indices.tolist() and a.params["first"] == b.params["first"]
    picks, radii = numpy_farthest_first(X, 10, first=a.params["first"])
    assert a.indices.tolist() == picks
    init = [3, 99, 1000]
    r = S.k_center_greedy(X, 12, initial=init)
    picks, radii = numpy_farthest_first(X, 12, initial=np.array(init))
    assert r.indices.tolist() == picks
    np.testing.assert_allclose(r.diagnostics["radius_history"], radii, rtol=1e-12)
    assert r.diagnostics["initial_radius"] > r.diagnostics["radius"]
    assert not set(init) & set(r.indices.tolist())


def test_k_center_cosine_is_farthest_first_on_unit_rows():
    X, _ = mixture(800, 5, seed=3)
    r = S.k_center_greedy(X, 15, first=0, metric="cosine")
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    picks, radii = numpy_farthest_first(U, 15, first=0)
    assert r.indices.tolist() == picks
    np.testing.assert_allclose(r.diagnostics["radius_history"], np.square(radii) / 2, rtol=1e-10)  # 1 − cos


def test_k_center_streams_prefixes_and_radius_never_grows():
    X, _ = mixture(1000, 4)
    steps = list(S.iter_k_center(X, 50, first=1, report_every=10))
    final = steps[-1]
    assert [s.progress for s in steps] == [0.2, 0.4, 0.6, 0.8, 1.0]
    for s in steps:
        assert s.indices.tolist() == final.indices.tolist()[:s.k]
    hist = final.diagnostics["radius_history"]
    assert all(b <= a for a, b in zip(hist, hist[1:]))


def test_k_center_stops_when_every_row_is_covered():
    X = np.repeat(np.eye(3), 4, axis=0)  # 3 distinct rows, 4 copies each
    r = S.k_center_greedy(X, 5, first=0)
    assert r.k == 3 and r.diagnostics["radius"] == 0.0 and "stopped_early" in r.diagnostics


# ------------------------------------------------------------------------------------------------ sensitivity


def test_sensitivity_weights_and_reported_errors_follow_their_definitions():
    X, _ = mixture(3000, 6, seed=1)
    r = S.sensitivity_sampling(X, 300, n_clusters=10, seed=2)
    d = r.diagnostics
    p, counts = d["probabilities"].numpy(), d["draw_counts"].numpy()
    np.testing.assert_allclose(r.weights.numpy(), counts / (300 * p), rtol=1e-12)
    assert counts.sum() == 300 and d["draws"] == 300
    np.testing.assert_allclose(r.scores.sum().item(), 1.0, rtol=1e-12)  # the sampling distribution over all rows
    # p_i = ½ cost_i/Φ + ½ /(K |C(i)|), rebuilt from the same seeded k-means solution
    km = kmeans(torch.from_numpy(X), 10, seed=2)
    labels = km.labels.numpy()
    assert (labels == r.groups.numpy()).all()
    cost = ((X - km.centres.numpy()[labels]) ** 2).sum(1)
    sizes = np.bincount(labels, minlength=10)
    p_all = 0.5 * cost / cost.sum() + 0.5 / (10 * sizes[labels])
    np.testing.assert_allclose(r.scores.numpy(), p_all, rtol=1e-6)
    # weighted mean of X and of the cost, as reported
    w = r.weights.numpy()
    est_mean = (w[:, None] * X[r.indices.numpy()]).sum(0) / len(X)
    np.testing.assert_allclose(d["mean_error"], np.linalg.norm(est_mean - X.mean(0)), rtol=1e-6)
    est_cost = (w * cost[r.indices.numpy()]).sum() / len(X)
    np.testing.assert_allclose(d["weighted_cost"]["estimate"], est_cost, rtol=1e-6)
    assert d["epsilon"] == pytest.approx(1 / np.sqrt(290))


def test_sensitivity_estimate_is_unbiased_over_seeds():
    X, _ = mixture(1000, 5, seed=4, weights=[10, 5, 2, 1, 1])
    loss = np.linalg.norm(X - X[0], axis=1)  # any per-row value
    estimates = []
    for seed in range(150):
        r = S.sensitivity_sampling(X, 60, n_clusters=6, seed=seed, loss=loss)
        est, se = S.weighted_estimate(loss[r.indices.numpy()], r)
        assert est == pytest.approx(r.diagnostics["weighted_loss"]["estimate"], rel=1e-12)
        estimates.append(est)
    estimates = np.array(estimates)
    se_of_mean = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - loss.mean()) < 4 * se_of_mean
    # the reported per-run SE is the right scale for the spread over seeds
    assert 0.6 < se / estimates.std(ddof=1) < 1.6


def test_sensitivity_bound_holds_for_a_lipschitz_loss():
    """With k = K + 1/ε² draws and a 1-Lipschitz loss (power=1, λ=1), the weighted mean loss is within
    (1 ± ε)·L + ε·Φ/N of the full mean L (Axiotis et al. 2024): it must hold for (nearly) every seed."""
    X, _ = mixture(2000, 6, seed=5, weights=[8, 4, 2, 1, 1])
    anchor = X.mean(0) + 3.0
    loss = np.linalg.norm(X - anchor, axis=1)  # 1-Lipschitz in x
    K, eps = 8, 0.1
    k = K + int(round(1 / eps ** 2))
    held = []
    for seed in range(30):
        r = S.sensitivity_sampling(X, k, n_clusters=K, power=1, loss=loss, seed=seed)
        d = r.diagnostics
        bound = d["epsilon"] * loss.mean() + d["epsilon"] * 1.0 * d["kmeans_cost_mean"]
        held.append(abs(d["weighted_loss"]["estimate"] - loss.mean()) <= bound)
    assert np.mean(held) >= 0.9


# ------------------------------------------------------------------------------------------------ hierarchical


def test_balanced_allocation_water_fills():
    gen = torch.Generator().manual_seed(0)
    cap = torch.tensor([100, 2, 100, 5, 100])
    out = balanced_allocation(20, cap, gen)
    assert out.sum() == 20 and out[1] == 2 and (out <= cap).all()  # the 2-row group gives all it has
    open_ = out[cap > out]
    assert open_.max() - open_.min() <= 1  # the rest is split evenly
    out = balanced_allocation(7, torch.tensor([10, 10, 10]), gen)
    assert out.sum() == 7 and out.max() - out.min() <= 1
    assert balanced_allocation(100, torch.tensor([3, 4]), gen).tolist() == [3, 4]


def test_hierarchical_curation_balances_an_imbalanced_mixture():
    X, y = mixture(4000, 4, k=5, seed=6, weights=[90, 4, 3, 2, 1])
    r = S.hierarchical_kmeans_curation(X, 100, n_clusters=(50, 5), seed=0)
    d = r.diagnostics
    assert r.k == 100 and len(set(r.indices.tolist())) == 100
    sel, rows = np.array(d["selected_per_top_cluster"]), np.array(d["rows_per_top_cluster"])
    # every top cluster gets an equal share unless it has fewer rows
    share = sel[rows > sel]
    assert share.max() - share.min() <= 1 and (sel <= rows).all()
    assert d["entropy_selected_top"] > d["entropy_data_top"]
    # the rare true components are far better represented than under uniform sampling
    rare = np.isin(y[r.indices.numpy()], [1, 2, 3, 4]).mean()
    assert rare > 3 * np.isin(y, [1, 2, 3, 4]).mean()
    again = S.hierarchical_kmeans_curation(X, 100, n_clusters=(50, 5), seed=0)
    assert again.indices.tolist() == r.indices.tolist()


def test_hierarchical_closest_takes_the_rows_nearest_each_centroid():
    X, _ = mixture(600, 3, seed=7)
    r = S.hierarchical_kmeans_curation(X, 20, n_clusters=(20,), sampling="closest", seed=1)
    km = kmeans(torch.from_numpy(X), 20, seed=1)
    labels, d2 = km.labels.numpy(), km.sq_distances.numpy()
    expected = sorted(int(np.flatnonzero(labels == c)[np.argmin(d2[labels == c])]) for c in range(20))
    assert sorted(r.indices.tolist()) == expected


# ------------------------------------------------------------------------------------------------ DSIR


TOPIC_A = "cat dog mouse bird fish horse cow sheep goat pig".split()
TOPIC_B = "stock bond market price trade bank loan fund rate tax".split()
COMMON = "the a of and to in is it".split()


def corpus(n: int, p_a: float, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, topic = [], rng.random(n) < p_a
    for is_a in topic:
        vocab = TOPIC_A if is_a else TOPIC_B
        words = [rng.choice(vocab) if rng.random() < 0.6 else rng.choice(COMMON) for _ in range(rng.integers(5, 15))]
        texts.append(" ".join(words) + rng.choice([".", "!", "?"]))
    return texts, topic


def numpy_counts(texts, buckets=10_000, n=2) -> np.ndarray:
    out = np.zeros((len(texts), buckets))
    for r, t in enumerate(texts):
        toks = re.findall(r"\w+|[^\w\s]+", t.lower())
        grams = toks + [" ".join(toks[i:i + 2]) for i in range(len(toks) - 1)] if n == 2 else toks
        for g in grams:
            out[r, int(hashlib.sha256(g.encode()).hexdigest(), 16) % buckets] += 1
    return out


def kl(p, q, delta=1e-8):
    keep = p > 0
    return float((p[keep] * (np.log(p[keep] + delta) - np.log(q[keep] + delta))).sum())


def test_dsir_weights_and_kl_reduction_match_direct_formulas():
    raw, topic = corpus(1500, 0.3, seed=0)
    target, _ = corpus(200, 1.0, seed=1)
    r = S.dsir(raw, target, 150, seed=3)
    Z, T = numpy_counts(raw), numpy_counts(target)
    p_raw, p_t = Z.sum(0) / Z.sum(), T.sum(0) / T.sum()
    log_w = Z @ (np.log(p_t + 1e-8) - np.log(p_raw + 1e-8))
    np.testing.assert_allclose(r.scores.numpy(), log_w, rtol=1e-10, atol=1e-8)
    sel = Z[r.indices.numpy()].sum(0)
    d = r.diagnostics
    assert d["kl_target_raw"] == pytest.approx(kl(p_t, p_raw), rel=1e-10)
    assert d["kl_target_selected"] == pytest.approx(kl(p_t, sel / sel.sum()), rel=1e-10)
    assert d["kl_reduction"] == pytest.approx(kl(p_t, p_raw) - kl(p_t, sel / sel.sum()), rel=1e-10)
    assert d["kl_reduction"] > 0 and d["kl_reduction_vs_random_subset"] > 0
    assert topic[r.indices.numpy()].mean() > 0.95  # the selection comes from the target's topic
    # the count-matrix path gives the same weights and selection
    rc = S.dsir(Z, T, 150, seed=3)
    np.testing.assert_allclose(rc.scores.numpy(), log_w, rtol=1e-10, atol=1e-8)
    assert rc.indices.tolist() == r.indices.tolist()


def test_dsir_with_target_equal_to_raw_weights_everything_equally():
    raw, _ = corpus(300, 0.5, seed=2)
    r = S.dsir(raw, raw, 30, seed=0)
    assert torch.all(r.scores == 0)
    assert r.diagnostics["kl_target_raw"] == pytest.approx(0.0, abs=1e-12)


def test_dsir_gumbel_top_k_samples_in_proportion_to_the_weights():
    rng = np.random.default_rng(0)
    T = rng.integers(0, 4, (5, 6)).astype(float) + 1
    Z = np.eye(6)[[0, 1, 2, 3, 4, 5]]  # one n-gram per example: w_i = p_t(i) / p_raw(i)
    w = (T.sum(0) / T.sum()) / (1 / 6)
    hits = np.zeros(6)
    trials = 3000
    for seed in range(trials):
        hits[S.dsir(Z, T, 1, seed=seed).indices[0]] += 1
    p = w / w.sum()
    se = np.sqrt(p * (1 - p) / trials)
    assert np.all(np.abs(hits / trials - p) < 4 * se)


def test_dsir_streams_progress_while_hashing():
    raw, _ = corpus(12_000, 0.5, seed=3)
    target, _ = corpus(50, 1.0, seed=4)
    steps = list(S.iter_dsir(raw, target, 10))
    assert len(steps) == 3 and [round(s.progress, 3) for s in steps[:2]] == [0.396, 0.792]
    assert steps[-1].progress == 1.0 and steps[-1].k == 10


# ------------------------------------------------------------------------------------------------ AnchorAL


def test_anchoral_subpool_is_the_union_of_the_anchors_nearest_unlabelled_rows():
    X, y = mixture(1500, 6, k=3, seed=8)
    rng = np.random.default_rng(0)
    labelled = rng.choice(len(X), 90, replace=False)
    r = S.anchoral_subpool(X, labelled, y[labelled], n_anchors=4, n_neighbours=25, seed=0)
    anchors = r.diagnostics["anchors"].numpy()
    assert set(anchors) <= set(labelled) and r.diagnostics["anchors_per_class"] == [4, 4, 4]
    # the anchors' classes are their labels
    lab_of = dict(zip(labelled.tolist(), y[labelled].tolist()))
    assert [lab_of[a] for a in anchors] == r.diagnostics["anchor_classes"].tolist()
    pool = np.setdiff1d(np.arange(len(X)), labelled)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    sims = U[anchors] @ U[pool].T
    expected = set(pool[np.argsort(-sims, axis=1)[:, :25]].ravel().tolist())
    assert set(r.indices.tolist()) == expected
    best = sims.max(0)
    in_sub = np.isin(pool, r.indices.numpy())
    np.testing.assert_allclose(r.scores.numpy()[pool[in_sub]], best[in_sub], rtol=1e-10)
    assert np.isnan(r.scores.numpy()[labelled]).all()
    assert sum(r.diagnostics["subpool_per_class"]) == r.k


def test_anchoral_kmeans_anchors_are_nearest_the_class_centres():
    X, y = mixture(600, 4, k=2, seed=9)
    labelled = np.arange(0, 600, 5)
    r = S.anchoral_subpool(X, labelled, y[labelled], n_anchors=3, n_neighbours=5, seed=2)
    for c in range(2):
        members = labelled[y[labelled] == c]
        km = kmeans(torch.from_numpy(X[members]), 3, seed=2 + c)
        C = km.centres.numpy()
        nearest = members[np.argmin(((C[:, None] - X[members][None]) ** 2).sum(-1), axis=1)]
        got = r.diagnostics["anchors"].numpy()[r.diagnostics["anchor_classes"].numpy() == c]
        assert sorted(got.tolist()) == sorted(set(nearest.tolist()))


# ------------------------------------------------------------------------------------------------ representatives


def test_class_representatives_centroid_and_medoid():
    from scipy.spatial.distance import cdist

    X, y = mixture(900, 5, k=3, seed=10)
    r = S.class_representatives(X, y, 4, how="centroid")
    m = S.class_representatives(X, y, 2, how="medoid", chunk_size=50)
    for c in range(3):
        members = np.flatnonzero(y == c)
        dm = np.linalg.norm(X[members] - X[members].mean(0), axis=1)
        assert r.indices.numpy()[4 * c:4 * c + 4].tolist() == members[np.argsort(dm)[:4]].tolist()
        cost = cdist(X[members], X[members]).sum(1)
        assert m.indices.numpy()[2 * c:2 * c + 2].tolist() == members[np.argsort(cost)[:2]].tolist()
    assert (r.groups.numpy() == y).all()


def test_class_representatives_kmeans_pick_one_row_per_centre():
    X, y = mixture(900, 5, k=3, seed=11)
    r = S.class_representatives(X, y, 5, how="kmeans", seed=0)
    for c in range(3):
        picks = r.indices.numpy()[y[r.indices.numpy()] == c]
        assert 1 <= len(picks) <= 5 and (y[picks] == c).all()


# ------------------------------------------------------------------------------------------------ input checks


@pytest.mark.parametrize("call, error, match", [
    (lambda X, y: S.iter_k_center(X, 0), ValueError, "k must be"),
    (lambda X, y: S.iter_k_center(X, 500), ValueError, "k=500"),
    (lambda X, y: S.iter_k_center(X, 3, initial=[1, 400]), ValueError, "initial has index 400"),
    (lambda X, y: S.iter_k_center(X, 3, initial=[1, 1]), ValueError, "initial lists some rows more than once"),
    (lambda X, y: S.iter_k_center(X, 3, initial=[1], first=2), ValueError, "first or initial"),
    (lambda X, y: S.iter_k_center(X, 3, first=200), ValueError, "first must be"),
    (lambda X, y: S.iter_k_center(X, 3, metric="l1"), ValueError, "metric"),
    (lambda X, y: S.iter_sensitivity_sampling(X, 10, power=3), ValueError, "power"),
    (lambda X, y: S.iter_sensitivity_sampling(X, 10, n_clusters=500), ValueError, "n_clusters=500"),
    (lambda X, y: S.iter_sensitivity_sampling(X, 10, loss=np.ones(5)), ValueError, "loss has 5 values"),
    (lambda X, y: S.iter_hierarchical_kmeans_curation(X, 10, n_clusters=(5, 10)), ValueError, "n_clusters must decrease"),
    (lambda X, y: S.iter_hierarchical_kmeans_curation(X, 10, sampling="first"), ValueError, "sampling"),
    (lambda X, y: S.iter_anchoral_subpool(X, [0, 1], [0]), ValueError, "y has 1 labels"),
    (lambda X, y: S.iter_anchoral_subpool(X, np.arange(100), y), ValueError, "no unlabelled pool"),
    (lambda X, y: S.iter_class_representatives(X, y[:50]), ValueError, "y has 50 labels"),
    (lambda X, y: S.iter_class_representatives(X, y, how="mode"), ValueError, "how"),
    (lambda X, y: S.iter_dsir("one text", ["t"], 1), TypeError, "raw must be a list of texts"),
    (lambda X, y: S.iter_dsir(["a b", "c d"], ["a"], 5), ValueError, "k=5"),
    (lambda X, y: S.iter_dsir(["a b", 3], ["a"], 1), TypeError, r"raw\[1\]"),
    (lambda X, y: S.iter_dsir(-np.ones((3, 4)), np.ones((2, 4)), 1), ValueError, "raw has negative counts"),
    (lambda X, y: S.iter_dsir(np.ones((3, 4)), np.ones((2, 5)), 1), ValueError, "buckets"),
])
def test_bad_arguments_are_named(call, error, match):
    X, y = mixture(100, 3, k=2)
    with pytest.raises(error, match=match):
        call(X, y)


def test_bad_data_is_named_before_any_work():
    X, _ = mixture(100, 3)
    X[5, 1] = np.inf
    with pytest.raises(ValueError, match="X has 1 non-finite"):
        S.iter_k_center(X, 3)
    old = options.memory_budget
    options.memory_budget = 1000
    try:
        with pytest.raises(MemoryError, match="k-center"):
            S.iter_k_center(np.ones((1000, 4)), 3)
    finally:
        options.memory_budget = old


@requires_cuda
def test_k_center_on_cuda_matches_cpu():
    X, _ = mixture(3000, 8)
    cpu = S.k_center_greedy(torch.from_numpy(X), 30, first=0)
    gpu = S.k_center_greedy(torch.from_numpy(X).cuda(), 30, first=0)
    assert gpu.indices.device.type == "cuda"
    assert gpu.indices.cpu().tolist() == cpu.indices.tolist()
    np.testing.assert_allclose(gpu.diagnostics["radius_history"], cpu.diagnostics["radius_history"], rtol=1e-10)


# ------------------------------------------------------------------------------------------------ k-means helpers


def test_kmeans_reaches_sklearns_inertia_and_sampling_follows_its_distribution():
    from sklearn.cluster import KMeans

    from fxwidgets.compute.kmeans import sample_categorical

    X, _ = mixture(3000, 5, k=6, seed=12)
    ours = kmeans(torch.from_numpy(X), 6, seed=0, chunk_size=256)
    ref = KMeans(6, n_init=4, random_state=0).fit(X)
    assert ours.inertia <= 1.001 * ref.inertia_
    np.testing.assert_allclose(ours.sq_distances.numpy(), ((X - ours.centres.numpy()[ours.labels.numpy()]) ** 2).sum(1),
                               rtol=1e-10)
    p = torch.tensor([0.1, 0.0, 0.6, 0.3])
    draws = sample_categorical(p, 20_000, torch.Generator().manual_seed(0))
    freq = np.bincount(draws.numpy(), minlength=4) / 20_000
    se = np.sqrt(p.numpy() * (1 - p.numpy()) / 20_000)
    assert freq[1] == 0 and np.all(np.abs(freq - p.numpy()) <= 4 * se + 1e-12)
