"""Embeddings: PCA against scikit-learn, spectral embedding against scikit-learn, t-SNE and UMAP against their
reference libraries, streaming, and input checks."""

from __future__ import annotations

import importlib

import sys

import numpy as np
import pytest
import torch

from fxwidgets.compute import embedding as E
from fxwidgets.compute.memory import options
from tests.conftest import requires_cuda


def correlated(n: int, d: int, seed: int = 0, offset: float = 5.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.3 + offset


def low_rank(n: int, d: int, rank: int = 4, seed: int = 0) -> np.ndarray:
    """A clear spectral gap: rank-r signal with decreasing scales plus small noise."""
    rng = np.random.default_rng(seed)
    scales = np.array([10.0, 7.0, 5.0, 3.5][:rank])
    return (rng.standard_normal((n, rank)) * scales) @ np.linalg.qr(rng.standard_normal((d, rank)))[0].T \
        + 0.05 * rng.standard_normal((n, d)) + 2.0


def drain(plan):
    acc = E.EmbeddingAccumulator(plan)
    updates = list(E.iter_embedding(plan))
    for u in updates:
        acc.add(u)
    return updates, acc.result()


# ------------------------------------------------------------------------------------------------ PCA


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("shape", [(300, 20), (2000, 40), (120, 300)])
def test_pca_matches_sklearn_exactly(solver, shape):
    from sklearn.decomposition import PCA

    X = correlated(*shape)
    c = 5
    sk = PCA(c, svd_solver=solver).fit(X)
    r = E.embed(torch.from_numpy(X), "pca", c, solver=solver)
    comp = r.diagnostics["components"].numpy()
    # same signs (svd_flip on the components), so no "up to sign" is needed
    np.testing.assert_allclose(comp, sk.components_, atol=1e-9)
    np.testing.assert_allclose(r.diagnostics["explained_variance"], sk.explained_variance_, rtol=1e-5)
    np.testing.assert_allclose(r.diagnostics["explained_variance_ratio"], sk.explained_variance_ratio_, rtol=1e-5)
    np.testing.assert_allclose(r.diagnostics["singular_values"], sk.singular_values_, rtol=1e-5)
    np.testing.assert_allclose(r.numpy(), sk.transform(X), atol=1e-8 * np.abs(sk.transform(X)).max())
    np.testing.assert_allclose(r.diagnostics["mean"].numpy(), sk.mean_, atol=1e-10)
    assert r.coordinates.dtype == torch.float64
    assert r.method == "pca" and r.diagnostics["solver"] == solver


def test_pca_auto_picks_the_solver_sklearn_picks():
    from sklearn.decomposition import PCA

    for shape, c in (((2000, 40), 2), ((300, 200), 2), ((800, 700), 3), ((600, 550), 500)):
        X = correlated(*shape)
        sk = PCA(c).fit(X)
        plan = E.plan_embedding(X, "pca", c)
        assert plan.options["solver"] == sk._fit_svd_solver, shape


def test_randomized_pca_agrees_with_exact_on_a_spectral_gap_and_is_seeded():
    from sklearn.decomposition import PCA

    X = low_rank(1500, 600)
    sk = PCA(3, svd_solver="full").fit(X)
    r = E.embed(X, "pca", 3, solver="randomized", seed=4)
    np.testing.assert_allclose(r.diagnostics["components"].numpy(), sk.components_, atol=1e-6)
    np.testing.assert_allclose(r.diagnostics["explained_variance_ratio"], sk.explained_variance_ratio_, rtol=1e-6)
    assert r.seed == 4
    again = E.embed(X, "pca", 3, solver="randomized", seed=4)
    assert torch.equal(again.coordinates, r.coordinates)


def test_pca_float32_keeps_dtype_and_agrees():
    from sklearn.decomposition import PCA

    X = correlated(3000, 30).astype(np.float32)
    sk = PCA(4, svd_solver="full").fit(X.astype(np.float64))
    for solver in ("full", "covariance_eigh", "randomized"):
        r = E.embed(X, "pca", 4, solver=solver)
        assert r.coordinates.dtype == torch.float32
        np.testing.assert_allclose(r.diagnostics["explained_variance_ratio"], sk.explained_variance_ratio_,
                                   rtol=2e-3 if solver == "randomized" else 1e-4)


def test_pca_streams_rows_in_chunks_and_the_stream_equals_the_blocking_call():
    X = correlated(1000, 12)
    plan = E.plan_embedding(X, "pca", 2, solver="covariance_eigh", chunk_size=128)
    updates, rec = drain(plan)
    progress = [u.progress for u in updates]
    assert progress == sorted(progress) and progress[-1] == 1.0
    row_updates = [u for u in updates if u.row_stop > u.row_start]
    assert len(row_updates) == 8  # ceil(1000 / 128) projection chunks
    for u in row_updates:  # every chunk already holds its final coordinates
        assert torch.equal(u.coordinates, rec.coordinates[u.row_start:u.row_stop])
    blocking = E.embed(X, "pca", 2, solver="covariance_eigh", chunk_size=128)
    assert torch.equal(blocking.coordinates, rec.coordinates)


def test_pca_covariance_is_accurate_with_a_large_offset():
    from sklearn.decomposition import PCA

    X = correlated(4000, 10, offset=1e6)
    sk = PCA(2, svd_solver="full").fit(X)
    r = E.embed(X, "pca", 2, solver="covariance_eigh")
    np.testing.assert_allclose(r.diagnostics["explained_variance_ratio"], sk.explained_variance_ratio_, rtol=1e-6)


# ------------------------------------------------------------------------------------------------ spectral


def test_spectral_embedding_matches_sklearn_on_a_swiss_roll():
    from sklearn.datasets import make_swiss_roll
    from sklearn.manifold import SpectralEmbedding

    X, _ = make_swiss_roll(1200, noise=0.05, random_state=0)
    # scikit-learn counts a row as its own neighbour (include_self=True); its Laplacian ignores the self-loop
    sk = SpectralEmbedding(2, affinity="nearest_neighbors", n_neighbors=11, random_state=0).fit_transform(X)
    r = E.embed(X, "spectral", 2, n_neighbors=10)
    for i in range(2):  # the same eigenvectors up to the column scale scikit-learn leaves unnormalised
        assert abs(np.corrcoef(r.numpy()[:, i], sk[:, i])[0, 1]) > 0.9999
    assert r.diagnostics["graph_components"] == 1


def test_spectral_embedding_separates_two_blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(400, 5, centers=2, cluster_std=1.0, center_box=(-8, 8), random_state=1)
    r = E.embed(X, "spectral", 2, n_neighbors=10)
    first = r.numpy()[:, 0]
    split = np.median(first)
    agree = np.mean((first > split) == (y == 1))
    assert max(agree, 1 - agree) == 1.0


# ------------------------------------------------------------------------------------------------ t-SNE / UMAP


def test_streamed_tsne_equals_opentsne():
    openTSNE = importlib.import_module("openTSNE")
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(400, 10, centers=4, random_state=0)
    ref = np.asarray(openTSNE.TSNE(perplexity=20, n_iter=150, early_exaggeration_iter=100, random_state=3,
                                   n_jobs=1).fit(X))
    plan = E.plan_embedding(X, "tsne", 2, seed=3, perplexity=20, n_iter=150, early_exaggeration_iter=100,
                            report_every=50)
    updates, rec = drain(plan)
    assert len(updates) == 1 + 2 + 3  # initial layout, 2 exaggeration pieces, 3 normal pieces
    assert all(u.row_start == 0 and u.row_stop == 400 for u in updates)
    assert [u.progress for u in updates] == sorted(u.progress for u in updates)
    np.testing.assert_allclose(rec.numpy(), ref, atol=1e-6 * np.abs(ref).max())
    assert rec.diagnostics["iterations"] == 250 and rec.diagnostics["kl_divergence"] > 0


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:n_jobs value 1 overridden")
def test_umap_equals_umap_learn():
    umap = importlib.import_module("umap")
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(300, 8, centers=3, random_state=0)
    X = X.astype(np.float32)
    ref = umap.UMAP(n_neighbors=10, random_state=0, n_epochs=50).fit_transform(X)
    r = E.embed(torch.from_numpy(X), "umap", 2, seed=0, n_neighbors=10, n_epochs=50)
    assert r.coordinates.dtype == torch.float32
    np.testing.assert_allclose(r.numpy(), ref, atol=1e-5)


@pytest.mark.parametrize("method, module, extra", [("umap", "umap", "umap"), ("tsne", "openTSNE", "tsne")])
def test_missing_backend_names_the_extra(monkeypatch, method, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    with pytest.raises(ImportError, match=rf"pip install fxwidgets\[{extra}\]"):
        E.plan_embedding(np.random.default_rng(0).standard_normal((100, 4)), method)


# ------------------------------------------------------------------------------------------------ input checks


@pytest.mark.parametrize("call, match", [
    (lambda X: E.plan_embedding(X, "pcaa"), "method"),
    (lambda X: E.plan_embedding(X, "pca", 11), "n_components"),
    (lambda X: E.plan_embedding(X, "pca", 0), "n_components"),
    (lambda X: E.plan_embedding(X, "pca", solver="exact"), "solver"),
    (lambda X: E.plan_embedding(X, "pca", chunk_size=0), "chunk_size"),
    (lambda X: E.plan_embedding(X, "pca", seed=-1), "seed"),
    (lambda X: E.plan_embedding(X, "spectral", n_neighbors=50), "n_neighbors"),
    (lambda X: E.plan_embedding(X, "spectral", metric="manhattan"), "metric"),
    (lambda X: E.plan_embedding(X, "tsne", perplexity=30), "perplexity"),
    (lambda X: E.plan_embedding(X, "umap", n_neighbors=1), "n_neighbors"),
])
def test_bad_arguments_are_named(call, match):
    X = np.random.default_rng(0).standard_normal((50, 10))
    with pytest.raises(ValueError, match=match):
        call(X)


def test_bad_data_and_unknown_options_are_named():
    X = np.random.default_rng(0).standard_normal((50, 10))
    X[3, 4] = np.nan
    with pytest.raises(ValueError, match="X has 1 non-finite"):
        E.plan_embedding(X)
    with pytest.raises(ValueError, match="X must be 2-D"):
        E.plan_embedding(np.zeros(10))
    with pytest.raises(TypeError, match="perplexity"):
        E.plan_embedding(np.zeros((10, 3)), "pca", perplexity=5)


def test_over_the_memory_budget_fails_before_work():
    X = torch.randn(2000, 50)
    old = options.memory_budget
    options.memory_budget = 10_000
    try:
        with pytest.raises(MemoryError, match="PCA"):
            E.plan_embedding(X, "pca", solver="full")
    finally:
        options.memory_budget = old


@requires_cuda
def test_pca_on_cuda_matches_cpu():
    X = torch.from_numpy(correlated(3000, 20).astype(np.float32))
    cpu = E.embed(X, "pca", 3, solver="covariance_eigh")
    gpu = E.embed(X.cuda(), "pca", 3, solver="covariance_eigh")
    assert gpu.coordinates.device.type == "cuda"
    torch.testing.assert_close(gpu.coordinates.cpu(), cpu.coordinates, rtol=1e-4, atol=1e-3)
