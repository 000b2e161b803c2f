import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity, euclidean_distances, rbf_kernel

import fxwidgets as fx
from fxwidgets.compute.affinity import iter_affinity_tiles, median_sq_distance, plan_affinity
from tests.conftest import requires_cuda


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((123, 17))
    Y = rng.standard_normal((45, 17)) + 0.5
    return X, Y


def reference(metric, X, Y, bandwidth=None):
    if metric == "cosine":
        return cosine_similarity(X, Y)
    if metric == "dot":
        return X @ Y.T
    if metric == "neg_sq_euclidean":
        return -euclidean_distances(X, Y, squared=True)
    if metric == "rbf":
        return rbf_kernel(X, Y, gamma=1.0 / (2 * bandwidth**2))
    if metric == "pearson":
        return np.corrcoef(X, Y)[: len(X), len(X):]
    raise AssertionError(metric)


@pytest.mark.parametrize("metric", fx.METRICS)
@pytest.mark.parametrize("symmetric", [True, False])
def test_matches_scikit_learn_and_numpy_in_float64(data, metric, symmetric):
    X, Y = data
    Yin = None if symmetric else Y
    r = fx.affinity(X, Yin, metric=metric, bandwidth=2.5 if metric == "rbf" else None)
    assert r.values.dtype == torch.float64
    expected = reference(metric, X, X if symmetric else Y, 2.5)
    np.testing.assert_allclose(r.numpy(), expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("metric", fx.METRICS)
def test_float32_agrees_with_float64_to_float32_precision(data, metric):
    X, Y = data
    r64 = fx.affinity(X, Y, metric=metric).numpy()
    r32 = fx.affinity(X.astype(np.float32), Y.astype(np.float32), metric=metric).numpy()
    assert r32.dtype == np.float32
    scale = np.abs(r64).max()
    np.testing.assert_allclose(r32, r64, atol=2e-5 * scale, rtol=1e-4)


@pytest.mark.parametrize("metric", fx.METRICS)
def test_tile_size_does_not_change_the_answer(data, metric):
    X, _ = data
    whole = fx.affinity(X, metric=metric, chunk_size=len(X)).numpy()
    for chunk in (1, 7, 50):
        np.testing.assert_allclose(fx.affinity(X, metric=metric, chunk_size=chunk).numpy(), whole,
                                   rtol=1e-12, atol=1e-12 * np.abs(whole).max())


def test_tiles_cover_every_row_once_in_order(data):
    X, _ = data
    plan = plan_affinity(X, metric="dot", chunk_size=10)
    tiles = list(iter_affinity_tiles(plan))
    assert [t.row_start for t in tiles] == list(range(0, 123, 10))
    assert tiles[-1].row_stop == 123 and tiles[-1].progress == 1.0
    assert all(t.values.shape == (t.row_stop - t.row_start, 123) for t in tiles)


def test_self_affinity_closed_forms(data):
    X, _ = data
    for metric in ("cosine", "pearson", "rbf"):
        np.testing.assert_allclose(np.diag(fx.affinity(X, metric=metric).numpy()), 1.0, atol=1e-12)
    # A point is exactly at distance zero from itself, whatever the rounding of |x|^2 + |y|^2 - 2 x.y.
    X32 = (X * 1000).astype(np.float32)
    assert np.all(np.diag(fx.affinity(X32, metric="neg_sq_euclidean").numpy()) == 0)
    sym = fx.affinity(X, metric="rbf").numpy()
    np.testing.assert_allclose(sym, sym.T, atol=1e-12)


def test_rbf_median_heuristic_is_recorded_and_matches_a_direct_computation(data):
    X, _ = data
    r = fx.affinity(X, metric="rbf")
    d2 = euclidean_distances(X, squared=True)[np.triu_indices(len(X), 1)]
    assert r.params["bandwidth"] == pytest.approx(np.sqrt(np.median(d2)), rel=1e-9)
    assert r.params["gamma"] == pytest.approx(1 / (2 * np.median(d2)), rel=1e-9)
    np.testing.assert_allclose(r.numpy(), rbf_kernel(X, gamma=r.params["gamma"]), atol=1e-12)


def test_median_is_estimated_on_a_bounded_sample():
    X = torch.randn(5000, 3, dtype=torch.float64)
    est = median_sq_distance(X, sample=512)
    # Squared distance of two independent N(0, I_3) points is 2 * chi2(3): median 2 * 2.366 = 4.73.
    assert est == pytest.approx(4.73, rel=0.08)


def test_cosine_with_a_zero_row_is_zero_like_scikit_learn():
    X = np.array([[0.0, 0.0], [1.0, 2.0], [-3.0, 1.0]])
    np.testing.assert_allclose(fx.affinity(X).numpy(), cosine_similarity(X), atol=1e-12)


def test_inputs_of_other_dtypes():
    X = np.arange(12).reshape(4, 3)  # integers compute in float32
    assert fx.affinity(X, metric="dot").values.dtype == torch.float32
    half = torch.randn(5, 4).half()
    assert fx.affinity(half).values.dtype == torch.float32


def test_result_exports_and_static_figure(data):
    X, _ = data
    r = fx.affinity(X[:20], metric="rbf")
    d = r.to_dict()
    assert d["metric"] == "rbf" and d["values"].shape == (20, 20)
    fig = r.plot()
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.asarray(image), r.numpy())
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)


# -- bad input: a clear error naming the argument, before any work starts --------------------------

@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"X": np.array([[1.0, np.nan]])}, ValueError, "X has 1 non-finite"),
        ({"X": np.ones((3, 2)), "Y": np.array([[np.inf, 1.0]])}, ValueError, "Y has 1 non-finite"),
        ({"X": np.ones(5)}, ValueError, "X must be 2-D"),
        ({"X": np.ones((2, 3, 4))}, ValueError, "X must be 2-D"),
        ({"X": np.ones((0, 3))}, ValueError, "X is empty"),
        ({"X": np.ones((3, 2)), "Y": np.ones((3, 5))}, ValueError, "X has 2 features per row but Y has 5"),
        ({"X": np.ones((3, 2)), "metric": "manhattan"}, ValueError, "metric must be one of"),
        ({"X": np.ones((3, 2)), "chunk_size": 0}, ValueError, "chunk_size must be a positive integer"),
        ({"X": np.ones((3, 2)), "metric": "rbf", "bandwidth": -1}, ValueError, "bandwidth must be a positive"),
        ({"X": np.ones((3, 2)), "bandwidth": 1.0}, ValueError, "bandwidth only applies"),
        ({"X": np.array([["a", "b"]])}, TypeError, "X must hold numbers"),
        ({"X": np.array([[1.0, 1.0], [1.0, 2.0]]), "metric": "pearson"}, ValueError, "X row 0 is constant"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_input_raises_before_work_starts(kwargs, error, match, stream):
    with pytest.raises(error, match=match):
        fx.affinity(**kwargs, stream=stream)


def test_inputs_on_different_devices_are_refused():
    with pytest.raises(ValueError, match="Y is on meta but the other input is on cpu"):
        fx.affinity(torch.ones(3, 2), torch.ones(3, 2, device="meta"))


def test_a_matrix_over_the_memory_budget_is_refused_up_front():
    old = fx.options.memory_budget
    fx.options.memory_budget = 1 << 20  # 1 MiB
    try:
        with pytest.raises(MemoryError, match="1000 x 1000 cosine affinity matrix needs"):
            fx.affinity(torch.ones(1000, 3), stream=True)
        fx.affinity(torch.ones(100, 3))  # 40 kB fits
    finally:
        fx.options.memory_budget = old


@requires_cuda
@pytest.mark.parametrize("metric", fx.METRICS)
def test_cuda_and_cpu_agree(data, metric):
    X, Y = (torch.as_tensor(a, dtype=torch.float32) for a in data)
    cpu = fx.affinity(X, Y, metric=metric).numpy()
    gpu = fx.affinity(X.cuda(), Y.cuda(), metric=metric)
    assert gpu.values.is_cuda
    np.testing.assert_allclose(gpu.numpy(), cpu, atol=1e-4 * np.abs(cpu).max(), rtol=1e-4)
