"""fx.similarity against published values, closed forms, invariances and the anchors (ckatorch, dcor)."""

import math

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute import similarity as S
from tests.conftest import requires_cuda


@pytest.fixture(scope="module")
def demo():
    # Kornblith et al.'s demo data, NumPy's legacy RandomState.
    rs = np.random.RandomState(1337)
    X = rs.randn(100, 10)
    Y = rs.randn(100, 10) + X
    return X, Y


def rotation(d, seed):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


# ---------------------------------------------------------------------------------------------------
# Published values (google-research representation_similarity demo)
# ---------------------------------------------------------------------------------------------------


def test_the_demo_data_is_the_published_one(demo):
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    np.testing.assert_array_equal(X, demo[0])
    np.testing.assert_array_equal(Y, demo[1])


@pytest.mark.parametrize("params, expected", [
    ({}, 0.55761),
    ({"kernel": "rbf", "threshold": 0.5}, 0.65483),
    ({"unbiased": True}, 0.51346),
])
def test_cka_matches_kornbliths_published_values(demo, params, expected):
    r = fx.similarity(*demo, measure="cka", **params)
    assert abs(r.value - expected) < 5e-6, r
    assert r.se is None and r.params["device"] == "cpu" and r.params["n"] == 100


def test_mean_squared_cca_matches_the_published_value_on_uncentred_data(demo):
    # The demo applies QR to the raw features; with centring (the default) the value differs slightly.
    assert abs(fx.similarity(*demo, measure="cca", center=False).value - 0.54312) < 5e-6
    centred = fx.similarity(*demo, measure="cca").value
    assert abs(centred - 0.54312) > 1e-3


def test_gram_space_and_feature_space_linear_cka_agree(demo):
    x, y = (torch.from_numpy(a) for a in demo)
    for unbiased in (False, True):
        g = S.cka_from_grams(S.gram_linear(x), S.gram_linear(y), unbiased)
        f = S.linear_cka_features(x, y, unbiased)
        assert abs(float(g) - float(f)) < 1e-12


def test_u_centring_ignores_the_feature_mean(demo):
    x = torch.from_numpy(demo[0])
    a = S.center_gram(S.gram_linear(x), unbiased=True)
    b = S.center_gram(S.gram_linear(x + 7.0), unbiased=True)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-9)
    assert float(a.diagonal().abs().max()) == 0.0


# ---------------------------------------------------------------------------------------------------
# Axioms and invariances
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"unbiased": True}, {"kernel": "rbf", "threshold": 0.5}])
def test_cka_of_a_representation_with_itself_is_one(demo, params):
    assert abs(fx.similarity(demo[0], demo[0], **params).value - 1.0) < 1e-12


@pytest.mark.parametrize("params", [{}, {"unbiased": True}, {"kernel": "rbf", "threshold": 0.5}])
def test_cka_is_invariant_to_orthogonal_maps_and_isotropic_scaling(demo, params):
    X, Y = (torch.from_numpy(a) for a in demo)
    base = fx.similarity(X, Y, **params).value
    q = rotation(10, 1)
    assert abs(fx.similarity(X @ q, Y, **params).value - base) < 1e-10
    assert abs(fx.similarity(X, 3.7 * Y, **params).value - base) < 1e-10
    assert abs(fx.similarity(X @ q * 0.01, Y @ rotation(10, 2) * 50, **params).value - base) < 1e-10


@pytest.mark.parametrize("params", [{}, {"unbiased": True}])
def test_cka_is_not_invariant_to_a_general_linear_map(demo, params):
    X, Y = (torch.from_numpy(a) for a in demo)
    base = fx.similarity(X, Y, **params).value
    a = torch.diag(torch.logspace(-2, 2, 10, dtype=torch.float64)) @ rotation(10, 3)  # invertible, not orthogonal
    assert abs(fx.similarity(X @ a, Y, **params).value - base) > 0.02
    # ... while CCA is invariant to every invertible linear map (it whitens each side).
    cca = fx.similarity(X, Y, measure="cca").value
    assert abs(fx.similarity(X @ a, Y, measure="cca").value - cca) < 1e-9


def test_cka_is_symmetric_and_in_the_unit_interval(demo):
    X, Y = demo
    for params in ({}, {"kernel": "rbf"}):
        a = fx.similarity(X, Y, **params).value
        assert a == pytest.approx(fx.similarity(Y, X, **params).value, abs=1e-12)
        assert 0.0 <= a <= 1.0


def test_debiased_cka_stays_near_zero_on_independent_data_where_biased_cka_does_not():
    # The failure signature of MONAI #9129: biased linear CKA reports spurious similarity at small n.
    g = torch.Generator().manual_seed(0)
    for n in (32, 256):
        biased, debiased = [], []
        for _ in range(20):
            x = torch.randn(n, 64, generator=g, dtype=torch.float64)
            y = torch.randn(n, 64, generator=g, dtype=torch.float64)
            biased.append(fx.similarity(x, y).value)
            debiased.append(fx.similarity(x, y, unbiased=True).value)
        assert np.mean(biased) > 0.3 if n == 32 else np.mean(biased) > 0.1
        assert abs(np.mean(debiased)) < 0.02


# ---------------------------------------------------------------------------------------------------
# Minibatch CKA with the unbiased HSIC
# ---------------------------------------------------------------------------------------------------


def test_one_batch_of_everything_is_the_debiased_cka(demo):
    r = fx.similarity(*demo, batch_size=100, shuffle=False)
    assert abs(r.value - 0.51346) < 5e-6
    assert r.params["n_batches"] == 1 and math.isnan(r.se)


def test_minibatch_cka_converges_to_the_population_value_within_its_standard_error():
    # X ~ N(0, I_d), Y = X + N(0, I_d): Sxx = I, Syy = 2I, Sxy = I, so population linear CKA
    # = |Sxy|_F^2 / (|Sxx|_F |Syy|_F) = d / (sqrt(d) * 2 sqrt(d)) = 1/2.
    g = torch.Generator().manual_seed(1)
    errors = []
    for n in (2_000, 32_000):
        x = torch.randn(n, 10, generator=g, dtype=torch.float64)
        y = x + torch.randn(n, 10, generator=g, dtype=torch.float64)
        r = fx.similarity(x, y, batch_size=100, seed=3)
        assert r.params["n_batches"] == n // 100
        assert abs(r.value - 0.5) < 4 * r.se, r
        full = fx.similarity(x, y, unbiased=True).value
        assert abs(r.value - full) < 4 * r.se
        errors.append((abs(r.value - 0.5), r.se))
    assert errors[1][1] < errors[0][1] / 3  # the standard error shrinks like 1/sqrt(batches)


def test_minibatch_cka_matches_ckatorch_cka_batch_on_the_same_batches(demo):
    import ckatorch  # a test dependency (the "test" extra)
    x, y = (torch.from_numpy(a) for a in demo)
    ours = fx.similarity(x, y, batch_size=20, shuffle=False).value
    theirs = float(ckatorch.cka_batch(x.reshape(5, 20, 10), y.reshape(5, 20, 10)))
    assert abs(ours - theirs) < 1e-10


def test_minibatch_seed_is_recorded_and_changes_the_batches(demo):
    a = fx.similarity(*demo, batch_size=20, seed=0)
    b = fx.similarity(*demo, batch_size=20, seed=0)
    c = fx.similarity(*demo, batch_size=20, seed=1)
    assert a.value == b.value and a.value != c.value
    assert a.params["seed"] == 0 and a.params["unbiased"] is True and a.se > 0


def test_a_small_remainder_joins_the_last_batch():
    assert S.batch_bounds(103, 20) == [(0, 20), (20, 40), (40, 60), (60, 80), (80, 103)]
    assert S.batch_bounds(105, 20)[-1] == (100, 105)


# ---------------------------------------------------------------------------------------------------
# HSIC
# ---------------------------------------------------------------------------------------------------


def test_hsic_matches_ckatorch(demo):
    import ckatorch  # a test dependency (the "test" extra)
    x, y = (torch.from_numpy(a) for a in demo)
    kx, ky = x @ x.T, y @ y.T
    assert fx.similarity(x, y, measure="hsic").value == pytest.approx(float(ckatorch.hsic0(kx, ky)), rel=1e-10)
    u = fx.similarity(x, y, measure="hsic", unbiased=True).value
    assert u == pytest.approx(float(ckatorch.hsic1(kx[None], ky[None])[0]), rel=1e-10)
    # and linear CKA is the normalised HSIC
    cka = fx.similarity(x, y).value
    hxy = fx.similarity(x, y, measure="hsic").value
    hxx = fx.similarity(x, x, measure="hsic").value
    hyy = fx.similarity(y, y, measure="hsic").value
    assert cka == pytest.approx(hxy / math.sqrt(hxx * hyy), rel=1e-10)


def test_linear_and_debiased_cka_match_ckatorch(demo):
    import ckatorch  # a test dependency (the "test" extra)
    x, y = (torch.from_numpy(a) for a in demo)
    for unbiased in (False, True):
        ours = fx.similarity(x, y, unbiased=unbiased).value
        assert ours == pytest.approx(float(ckatorch.cka_base(x, y, unbiased=unbiased)), abs=1e-12)


# ---------------------------------------------------------------------------------------------------
# Distance covariance and correlation (R energy values, as asserted in dcor's tests)
# ---------------------------------------------------------------------------------------------------

A = np.arange(1.0, 7.0)[:, None]
B = np.array([1.0, 7, 5, 5, 6, 2])[:, None]


@pytest.mark.parametrize("x, y, measure, unbiased, expected", [
    (A, B, "distance_covariance", False, 0.68519),
    (A, B, "distance_correlation", False, 0.30661),
    (A, A, "distance_covariance", False, 1.70679),
    (B, B, "distance_covariance", False, 2.92593),
    (A, B, "distance_covariance", True, -0.88889),
    (A, B, "distance_correlation", True, -0.41613),
    (np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]), np.array([[7.0, 3, 6], [2, 1, 4], [3, 8, 1]]),
     "distance_correlation", False, 0.93387),
    (np.array([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]), np.array([[1.0, 1, 1], [2, 1, 1], [1, 1, 1]]),
     "distance_correlation", False, 0.31623),
])
def test_distance_statistics_match_r_energy(x, y, measure, unbiased, expected):
    v = fx.similarity(x, y, measure=measure, unbiased=unbiased, squared=True).value
    assert abs(v - expected) < 5e-6


def test_distance_correlation_matches_dcor_on_random_multivariate_data():
    import dcor  # a test dependency (the "test" extra)
    rs = np.random.RandomState(0)
    x = rs.randn(60, 3)
    y = np.tanh(x @ rs.randn(3, 2)) + 0.3 * rs.randn(60, 2)
    assert fx.similarity(x, y, measure="distance_correlation").value == pytest.approx(dcor.distance_correlation(x, y), rel=1e-10)
    assert fx.similarity(x, y, measure="distance_covariance").value == pytest.approx(dcor.distance_covariance(x, y), rel=1e-10)
    assert fx.similarity(x, y, measure="distance_covariance", unbiased=True, squared=True).value == pytest.approx(
        dcor.u_distance_covariance_sqr(x, y), rel=1e-10)
    assert fx.similarity(x, y, measure="distance_correlation", unbiased=True, squared=True).value == pytest.approx(
        dcor.u_distance_correlation_sqr(x, y), rel=1e-10)


def test_distance_correlation_axioms():
    rs = np.random.RandomState(2)
    x = rs.randn(50, 4)
    assert fx.similarity(x, x, measure="distance_correlation").value == pytest.approx(1.0, abs=1e-12)
    # exact linear relation in one dimension: dCor = 1
    t = rs.randn(50, 1)
    assert fx.similarity(t, -3 * t + 2, measure="distance_correlation").value == pytest.approx(1.0, abs=1e-12)
    # invariant to translation, orthogonal maps and positive scaling
    y = np.sin(x[:, :2]) + 0.1 * rs.randn(50, 2)
    base = fx.similarity(x, y, measure="distance_correlation").value
    q = rotation(4, 5).numpy()
    assert fx.similarity(2.5 * x @ q + 1, y, measure="distance_correlation").value == pytest.approx(base, abs=1e-12)
    assert 0 <= base <= 1
    # the double-centred matrices have zero row and column sums
    a = S.double_center(S.distances(torch.from_numpy(x)))
    assert float(a.sum(0).abs().max()) < 1e-10 and float(a.sum(1).abs().max()) < 1e-10
    # a constant variable has distance covariance 0 (and the ratio is refused, see the bad-input tests)
    assert fx.similarity(x, np.ones((50, 2)), measure="distance_covariance").value == 0.0


# ---------------------------------------------------------------------------------------------------
# Mean-squared CCA
# ---------------------------------------------------------------------------------------------------


def test_mean_squared_cca_equals_the_mean_squared_canonical_correlations(demo):
    X, Y = demo
    xc, yc = X - X.mean(0), Y - Y.mean(0)

    def inv_sqrt(c):
        w, v = np.linalg.eigh(c)
        return v @ np.diag(w**-0.5) @ v.T

    m = inv_sqrt(xc.T @ xc) @ (xc.T @ yc) @ inv_sqrt(yc.T @ yc)
    rho = np.linalg.svd(m, compute_uv=False)
    assert fx.similarity(X, Y, measure="cca").value == pytest.approx(np.mean(rho**2), rel=1e-10)


def test_cca_uses_the_rank_of_a_rank_deficient_representation(demo):
    X, Y = demo
    Xd = np.hstack([X, X[:, :3] @ np.ones((3, 2))])  # two redundant columns
    r = fx.similarity(Xd, Y, measure="cca")
    assert r.params["rank_x"] == 10
    assert r.value == pytest.approx(fx.similarity(X, Y, measure="cca").value, rel=1e-10)


# ---------------------------------------------------------------------------------------------------
# Jaccard@k, alignment, uniformity
# ---------------------------------------------------------------------------------------------------


def test_jaccard_is_one_for_a_rotated_copy_and_matches_sklearn_neighbours():
    from sklearn.neighbors import NearestNeighbors

    rs = np.random.RandomState(4)
    x = rs.randn(300, 8)
    y = x + 0.5 * rs.randn(300, 8)
    q = rotation(8, 6).numpy()
    assert fx.similarity(x, 2 * x @ q, measure="jaccard", k=5, metric="euclidean").value == 1.0
    r = fx.similarity(x, y, measure="jaccard", k=5, metric="euclidean", chunk_size=37)
    nx = NearestNeighbors(n_neighbors=6).fit(x).kneighbors(x, return_distance=False)[:, 1:]
    ny = NearestNeighbors(n_neighbors=6).fit(y).kneighbors(y, return_distance=False)[:, 1:]
    expected = [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(nx, ny)]
    np.testing.assert_allclose(r.per_item.numpy(), expected, atol=1e-12)
    assert r.value == pytest.approx(np.mean(expected), abs=1e-12)
    cos = fx.similarity(x, y, measure="jaccard", k=5)  # cosine: the same as Euclidean on unit rows
    xu, yu = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    assert cos.value == pytest.approx(fx.similarity(xu, yu, measure="jaccard", k=5, metric="euclidean").value, abs=1e-12)


def test_alignment_closed_forms():
    rs = np.random.RandomState(5)
    x = rs.randn(40, 6)
    assert fx.similarity(x, x, measure="alignment").value == 0.0
    assert fx.similarity(x, -x, measure="alignment").value == pytest.approx(4.0, abs=1e-12)  # |2u|^2
    assert fx.similarity(x, -x, measure="alignment", alpha=1).value == pytest.approx(2.0, abs=1e-12)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = rs.randn(40, 6)
    v = y / np.linalg.norm(y, axis=1, keepdims=True)
    assert fx.similarity(x, y, measure="alignment").value == pytest.approx(np.mean(np.sum((u - v) ** 2, 1)), rel=1e-12)


def test_uniformity_closed_forms():
    # Collapsed embedding: log E exp(0) = 0.
    assert fx.similarity(np.ones((10, 3)), measure="uniformity").value == pytest.approx(0.0, abs=1e-12)
    # Regular simplex of n = d + 1 unit vectors: |xi - xj|^2 = 2n/(n-1) for every pair.
    n = 5
    e = np.eye(n) - 1.0 / n
    t = 2.0
    got = fx.similarity(e, measure="uniformity", t=t).value
    assert got == pytest.approx(-t * 2 * n / (n - 1), rel=1e-12)
    # Any data: the definition over distinct pairs, with tiles.
    rs = np.random.RandomState(6)
    x = torch.from_numpy(rs.randn(200, 5))
    u = x / x.norm(dim=1, keepdim=True)
    ref = float(torch.pdist(u).pow(2).mul(-t).exp().mean().log())
    assert fx.similarity(x, measure="uniformity", chunk_size=7).value == pytest.approx(ref, rel=1e-12)
    assert fx.similarity(x, measure="uniformity").value == pytest.approx(ref, rel=1e-12)


# ---------------------------------------------------------------------------------------------------
# dtype, device, and bad input
# ---------------------------------------------------------------------------------------------------


def test_float32_agrees_with_float64(demo):
    X, Y = demo
    for params in ({}, {"unbiased": True}, {"kernel": "rbf", "threshold": 0.5}, {"batch_size": 25}):
        a = fx.similarity(X, Y, **params)
        b = fx.similarity(X.astype(np.float32), Y.astype(np.float32), **params)
        assert b.params["dtype"] == "float32"
        assert b.value == pytest.approx(a.value, abs=1e-5)


@pytest.mark.parametrize("call, match", [
    (lambda X, Y: fx.similarity(X, Y[:90]), "X has 100 examples .* but Y has 90"),
    (lambda X, Y: fx.similarity(X, np.where(np.arange(100)[:, None] == 7, np.nan, Y)), "Y has 10 non-finite"),
    (lambda X, Y: fx.similarity(np.ones((100, 4)), Y), "X is constant"),
    (lambda X, Y: fx.similarity(X, np.tile(Y[:1], (100, 1)), measure="distance_correlation"), "Y is constant"),
    (lambda X, Y: fx.similarity(X, np.zeros_like(Y), measure="cca"), "Y is constant"),
    (lambda X, Y: fx.similarity(X, Y, measure="procrustes"), "measure must be one of"),
    (lambda X, Y: fx.similarity(X, Y, measure="cka", k=5), "takes no parameter.* k"),
    (lambda X, Y: fx.similarity(X, Y, kernel="poly"), "kernel must be one of"),
    (lambda X, Y: fx.similarity(X, Y, threshold=0.5), "only applies to kernel='rbf'"),
    (lambda X, Y: fx.similarity(X, Y, kernel="rbf", threshold=-1), "threshold must be a positive"),
    (lambda X, Y: fx.similarity(X, Y, batch_size=3), "batch_size must be at least 4"),
    (lambda X, Y: fx.similarity(X, Y, measure="distance_correlation", unbiased=True), "squared=True"),
    (lambda X, Y: fx.similarity(X, Y, measure="jaccard", k=100), "k=100 needs more than k examples"),
    (lambda X, Y: fx.similarity(X), "pass Y"),
    (lambda X, Y: fx.similarity(X, Y, measure="uniformity"), "pass Y=None"),
    (lambda X, Y: fx.similarity(X[:3], Y[:3], unbiased=True), "at least 4 examples"),
    (lambda X, Y: fx.similarity(X, Y[:, :5], measure="alignment"), "X has 10 features but Y has 5"),
    (lambda X, Y: fx.similarity(X, Y, unbiased="yes"), "unbiased must be True or False"),
])
def test_bad_input_is_refused_with_the_argument_named(demo, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(*demo)


def test_result_records_what_produced_it(demo):
    r = fx.similarity(*demo, measure="jaccard", k=3)
    d = r.to_dict()
    assert d["measure"] == "jaccard" and d["params"]["k"] == 3 and d["per_item"].shape == (100,)
    assert float(r) == r.value and "jaccard" in repr(r)


@requires_cuda
def test_cuda_agrees_with_cpu(demo):
    X, Y = (torch.from_numpy(a).float() for a in demo)
    for measure, params in (("cka", {}), ("cka", {"unbiased": True}), ("cka", {"batch_size": 25}),
                            ("distance_correlation", {}), ("jaccard", {"k": 5}), ("cca", {})):
        cpu = fx.similarity(X, Y, measure=measure, **params)
        gpu = fx.similarity(X.cuda(), Y.cuda(), measure=measure, **params)
        assert gpu.params["device"].startswith("cuda")
        assert gpu.value == pytest.approx(cpu.value, abs=1e-4)
