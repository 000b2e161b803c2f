"""Distances exact in float32 (issue 11): neg_sq_euclidean, rbf, k-NN and zoom tiles agree with scipy's cdist
(which computes in float64) to 1e-6 relative, self-distances are exactly 0, and every scale-free metric gives the
same answer for data at 1e19 or 1e-25 as at 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.neighbors import NearestNeighbors

import fxwidgets as fx
from fxwidgets.compute.affinity import median_sq_distance
from fxwidgets.compute.distance import prepare_points, sq_distances
from fxwidgets.compute.reduce import block_means

RTOL = 1e-6


def sq_cdist(X, Y=None):
    """The anchor: scipy upcasts float32 to float64 and takes differences (no cancellation)."""
    X = np.asarray(X, dtype=np.float64)
    return cdist(X, X if Y is None else np.asarray(Y, dtype=np.float64), "sqeuclidean")


def assert_relative(got, want, rtol=RTOL):
    """Every entry within ``rtol`` of the anchor, relative to the entry itself; zeros must be exactly zero."""
    got = np.asarray(got, dtype=np.float64)
    zero = want == 0
    assert np.all(got[zero] == 0), f"{int(np.count_nonzero(got[zero]))} exact zeros came out non-zero"
    rel = np.abs(got[~zero] - want[~zero]) / want[~zero]
    assert rel.max(initial=0.0) <= rtol, f"max relative error {rel.max():.3g} > {rtol}"


def families(n=400, seed=0):
    """Data on which |x|^2 + |y|^2 - 2 x.y in float32 goes wrong, and data on which it does not."""
    rng = np.random.default_rng(seed)
    out = {}
    for d in (1, 3, 16, 128):
        out[f"normal-d{d}"] = rng.standard_normal((n, d))
    out["far-from-origin"] = 1000.0 + 1e-2 * rng.standard_normal((n, 8))  # cancels without centring
    centres = rng.standard_normal((8, 64)) * 10
    out["tight-clusters"] = centres[rng.integers(0, 8, n)] + 1e-2 * rng.standard_normal((n, 64))
    base = rng.standard_normal((n // 2, 32))
    out["near-duplicates"] = np.concatenate([base, base + 1e-4 * rng.standard_normal(base.shape)])
    return {k: v.astype(np.float32) for k, v in out.items()}


DATA = families()


def test_one_dimension_a_hundredth_of_a_percent_apart():
    X = np.array([[1.0], [1.0 + 1e-4]], dtype=np.float32)
    d = -fx.affinity(X, metric="neg_sq_euclidean").numpy()
    want = sq_cdist(X)
    assert want[0, 1] == pytest.approx(1e-8, rel=1e-3)  # float32(1 + 1e-4) - 1 = 1.00016e-4
    assert_relative(d, want)
    # The naive float32 expansion gives 0 here: this is what the test guards against.
    t = torch.from_numpy(X)
    naive = (t * t).sum(1)[:, None] + (t * t).sum(1)[None, :] - 2 * t @ t.T
    assert float(naive[0, 1].clamp_min(0)) == 0.0


@pytest.mark.parametrize("name", list(DATA))
def test_neg_sq_euclidean_agrees_with_cdist(name):
    X = DATA[name]
    assert_relative(-fx.affinity(X, metric="neg_sq_euclidean").numpy(), sq_cdist(X))
    Y = X[::-1].copy()  # another matrix holding the same rows: self-pairs are found by value, not by index
    got = -fx.affinity(X, Y, metric="neg_sq_euclidean").numpy()
    assert_relative(got, sq_cdist(X, Y))


def test_a_row_against_its_copy_is_exactly_zero():
    X = DATA["normal-d128"] * 30 + 5
    d = fx.affinity(X, X.copy(), metric="neg_sq_euclidean").numpy()
    assert np.all(np.diag(d) == 0.0)
    assert np.all(np.diag(fx.affinity(X, metric="neg_sq_euclidean").numpy()) == 0.0)
    assert np.all(np.diag(fx.affinity(X, X.copy(), metric="rbf").numpy()) == 1.0)


@pytest.mark.parametrize("name", ["normal-d16", "far-from-origin", "near-duplicates"])
def test_rbf_agrees_with_the_kernel_of_cdist(name):
    X = DATA[name]
    r = fx.affinity(X, metric="rbf")
    want = np.exp(-r.params["gamma"] * sq_cdist(X))
    np.testing.assert_allclose(r.numpy(), want, rtol=RTOL, atol=0)
    # the bandwidth is the median of exact distances (torch's median: the lower middle value of an even count)
    d = np.sort(sq_cdist(X)[np.triu_indices(len(X), 1)])
    assert r.params["bandwidth"] == pytest.approx(np.sqrt(d[(len(d) - 1) // 2]), rel=1e-6)


def test_rbf_bandwidth_of_data_far_from_the_origin_is_not_zero():
    X = DATA["far-from-origin"]
    est = median_sq_distance(torch.from_numpy(X))
    d = np.sort(sq_cdist(X)[np.triu_indices(len(X), 1)])
    assert est == pytest.approx(d[(len(d) - 1) // 2], rel=1e-6)


@pytest.mark.parametrize("name", ["normal-d3", "far-from-origin", "tight-clusters", "near-duplicates"])
def test_knn_indices_match_scipy_and_scikit_learn(name):
    X = DATA[name]
    k = 5
    r = fx.knn(X, k, metric="neg_sq_euclidean")
    D = sq_cdist(X)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, : k + 1]
    kth, nxt = np.take_along_axis(D, order[:, k - 1 : k + 1], 1).T
    clear = nxt - kth > 1e-5 * kth  # rows whose k-th neighbour is not tied with the next
    assert clear.mean() > 0.9
    got = r.indices.numpy()
    for i in np.flatnonzero(clear):
        assert set(got[i]) == set(order[i, :k]), f"row {i}"
    np.testing.assert_allclose(-r.values.numpy(), np.take_along_axis(D, got, 1), rtol=RTOL, atol=0)
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)
    sk = nn.kneighbors(X, return_distance=False)
    same = [set(got[i]) == set(sk[i][sk[i] != i][:k]) for i in np.flatnonzero(clear)]
    assert np.mean(same) > 0.99


def test_knn_of_queries_against_a_copy_finds_each_row_first():
    X = DATA["far-from-origin"]
    r = fx.knn(X, 1, metric="neg_sq_euclidean", Y=X.copy())
    assert np.array_equal(r.indices.numpy()[:, 0], np.arange(len(X)))
    assert np.all(r.values.numpy() == 0.0)


def test_location_affinity_neg_sq_euclidean_is_exact():
    rng = np.random.default_rng(3)
    F = (100.0 + 1e-3 * rng.standard_normal((2, 4, 5, 6))).astype(np.float32)
    got = -fx.location_affinity(F, 1, 2, 3, metric="neg_sq_euclidean").numpy()
    locs = F.transpose(0, 2, 3, 1).reshape(-1, 4)
    want = sq_cdist(locs[[1 * 30 + 2 * 6 + 3]], locs).reshape(2, 5, 6)
    assert_relative(got, want)


@pytest.mark.parametrize("name", ["far-from-origin", "tight-clusters"])
def test_zoom_block_means_of_distances_are_exact(name):
    X = DATA[name][:301]
    view = fx.ZoomHeatmap(X, metric="neg_sq_euclidean", tile_size=32)
    dense = -sq_cdist(X)
    for level in range(view.levels):
        nt = -(-view.pyramid.cells(level) // 32)
        got = np.block([[view.tile(level, i, j) for j in range(nt)] for i in range(nt)])
        want = block_means(dense.astype(np.float64), 2**level, 2**level).astype(np.float64)
        # block_means rounds to float32 at the end; compare against the float64 means instead
        fr = 2**level
        starts = np.arange(0, len(X), fr)
        sums = np.add.reduceat(np.add.reduceat(dense, starts, 0), starts, 1)
        cnt = np.minimum(starts + fr, len(X)) - starts
        want = sums / np.outer(cnt, cnt)
        assert_relative(-got, -want, rtol=2 * RTOL)


def test_zoom_rbf_level_zero_is_exact_far_from_the_origin():
    X = DATA["far-from-origin"][:200]
    view = fx.ZoomHeatmap(X, metric="rbf", tile_size=64)
    got = np.block([[view.tile(0, i, j) for j in range(4)] for i in range(4)])
    np.testing.assert_allclose(got, np.exp(-view.params["gamma"] * sq_cdist(X)), rtol=RTOL, atol=0)


def test_float64_input_is_exact_to_1e12():
    X = DATA["far-from-origin"].astype(np.float64) + 1e-7 * np.random.default_rng(1).standard_normal((400, 8))
    got = -fx.affinity(X, metric="neg_sq_euclidean").numpy()
    assert got.dtype == np.float64
    assert_relative(got, sq_cdist(X), rtol=1e-12)


@pytest.mark.parametrize("near_heavy", [False, True])
def test_every_repair_path_is_exact(near_heavy):
    # Tight clusters: most pairs are "near". Flagged at plan time, tiles go straight to the float64 product;
    # unflagged, the float32 product's rows are repaired by it. Near-duplicates are gathered either way.
    X = np.concatenate([DATA["tight-clusters"][:200], DATA["tight-clusters"][:50] + np.float32(1e-3)])
    a, _ = prepare_points(torch.from_numpy(X))
    assert a.near_heavy  # the plan-time sample sees the clusters
    a.near_heavy = near_heavy
    d = sq_distances(a, a) * a.scale**2
    assert_relative(d.numpy(), sq_cdist(X))
    assert np.all(np.diag(d.numpy()) == 0)


def test_unclustered_data_is_not_flagged_near_heavy():
    for name in ("normal-d16", "normal-d128", "far-from-origin", "near-duplicates"):
        a, _ = prepare_points(torch.from_numpy(DATA[name]))
        assert not a.near_heavy, name


def test_few_features_take_differences_without_a_product():
    X = DATA["normal-d3"]
    a, _ = prepare_points(torch.from_numpy(X))
    assert a.direct and torch.equal(a.z, torch.from_numpy(X) / a.scale)
    assert_relative((sq_distances(a, a) * a.scale**2).numpy(), sq_cdist(X))


# ---- scale: data at 1e19 or 1e-25 -------------------------------------------------------------------------


@pytest.mark.parametrize("k", [60, -60])
def test_distances_scale_exactly_by_powers_of_two(k):
    X = DATA["normal-d16"]
    s = np.float32(2.0**k)
    base = fx.affinity(X, metric="neg_sq_euclidean").numpy()
    scaled = fx.affinity(X * s, metric="neg_sq_euclidean").numpy()
    assert np.array_equal(scaled, base * np.float32(2.0 ** (2 * k)))
    rbf0 = fx.affinity(X, metric="rbf").numpy()
    np.testing.assert_allclose(fx.affinity(X * s, metric="rbf").numpy(), rbf0, rtol=1e-6, atol=0)


@pytest.mark.parametrize("scale", [1e19, 1e-25])
@pytest.mark.parametrize("metric", ["cosine", "pearson", "rbf"])
def test_scale_free_metrics_at_extreme_scales(scale, metric):
    X = DATA["normal-d16"][:100].astype(np.float64)
    Xs = (X * scale).astype(np.float32)
    got = fx.affinity(Xs, metric=metric).numpy()
    assert np.isfinite(got).all()
    want = fx.affinity(X.astype(np.float32), metric=metric).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if metric == "cosine":
        np.testing.assert_allclose(got, cosine_similarity(X), atol=1e-6)


@pytest.mark.parametrize("scale", [1e19, 1e-25])
def test_knn_at_extreme_scales_matches_unit_scale(scale):
    X = DATA["normal-d16"][:200]
    for metric in ("cosine", "rbf", "neg_sq_euclidean"):
        r = fx.knn((X.astype(np.float64) * scale).astype(np.float32), 5, metric=metric)
        r1 = fx.knn(X, 5, metric=metric)
        assert np.array_equal(r.indices.numpy(), r1.indices.numpy()), metric
        if metric != "neg_sq_euclidean":
            assert np.isfinite(r.values.numpy()).all()


@pytest.mark.parametrize("scale", [1e20, 1e-25])
@pytest.mark.parametrize("measure,kw,power", [
    ("cka", {}, 0), ("cka", {"kernel": "rbf"}, 0), ("cka", {"batch_size": 20}, 0), ("cka", {"unbiased": True}, 0),
    ("hsic", {}, 4), ("hsic", {"kernel": "rbf"}, 0), ("distance_covariance", {}, 1),
    ("distance_correlation", {}, 0), ("cca", {}, 0), ("jaccard", {"k": 5}, 0), ("alignment", {}, 0),
    ("alignment", {"normalize": False}, 2), ("uniformity", {}, 0),
])
def test_similarity_is_not_fooled_by_scale(scale, measure, kw, power):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    Y = X @ rng.standard_normal((5, 5)) + 0.5 * rng.standard_normal((60, 5))
    Yu = None if measure == "uniformity" else Y
    base = fx.similarity(X.astype(np.float32), None if Yu is None else Yu.astype(np.float32), measure=measure, **kw)
    got = fx.similarity((X * scale).astype(np.float32), None if Yu is None else (Yu * scale).astype(np.float32),
                        measure=measure, **kw)  # before: "X is constant" (1e-25) or NaN (1e20)
    assert np.isfinite(got.value)
    assert got.value == pytest.approx(base.value * scale**power, rel=2e-5)


@pytest.mark.parametrize("m", [1, 5, 127, 128, 129, 300, 512])
def test_the_block_screen_finds_exactly_the_near_pairs(m):
    from fxwidgets.compute.distance import _near_pairs

    g = torch.Generator().manual_seed(m)
    a_sq, b_sq = torch.rand(37, generator=g) * 10, torch.rand(m, generator=g) * 10
    d = torch.rand(37, m, generator=g) * 20 - 1  # some negative (rounding), some near, most far
    i, j = _near_pairs(d, a_sq, b_sq, 0.5)
    want = (d < 0.5 * (a_sq[:, None] + b_sq[None, :])).nonzero()
    got = torch.stack([i, j], 1)
    assert sorted(map(tuple, got.tolist())) == sorted(map(tuple, want.tolist()))


def test_the_float64_product_works_in_blocks_when_the_copy_would_be_large(monkeypatch):
    from fxwidgets.compute import distance

    X = DATA["tight-clusters"]
    a, _ = prepare_points(torch.from_numpy(X))
    whole = (sq_distances(a, a) * a.scale**2).numpy()
    monkeypatch.setattr(distance, "Z64_CACHE_BYTES", 0)  # never keep a float64 copy
    monkeypatch.setattr(distance, "TILE_BYTES", 8 * 64 * 37)  # blocks of 37 rows
    b, _ = prepare_points(torch.from_numpy(X))
    blocked = (sq_distances(b, b) * b.scale**2).numpy()
    assert b._z64 is None
    np.testing.assert_allclose(blocked, whole, rtol=1e-6, atol=0)
    assert_relative(blocked, sq_cdist(X))
