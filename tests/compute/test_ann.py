"""fx.knn(index=...): k nearest neighbours through faiss (flat, IVF, HNSW, shards), against the exact search."""

from __future__ import annotations

import importlib

import sys

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.ann import ann_search, recall_estimate
from tests.conftest import requires_cuda

faiss = importlib.import_module("faiss")


def gaussian(n: int, d: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype)


def clustered(n: int, d: int, seed: int, clusters: int = 20) -> torch.Tensor:
    """Rows around well separated centres: the shape of real embeddings, where IVF and HNSW do well."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(clusters, d, generator=g) * 4
    return (centres[torch.randint(clusters, (n,), generator=g)] + torch.randn(n, d, generator=g)).float()


def same_sets(a: torch.Tensor, b: torch.Tensor) -> float:
    """Share of rows whose k neighbours are the same set."""
    return float((a.sort(1).values == b.sort(1).values).all(1).double().mean())


@pytest.mark.parametrize("metric", ["cosine", "dot", "neg_sq_euclidean", "rbf"])
def test_flat_index_gives_the_exact_search_and_recall_one(metric):
    X = gaussian(600, 12, 0)
    exact = fx.knn(X, 8, metric)
    got = fx.knn(X, 8, metric, index="flat")
    # float64 rows with well separated neighbours: no near-ties, so the sets and the order are exact
    assert torch.equal(got.indices, exact.indices)
    torch.testing.assert_close(got.values, exact.values, rtol=1e-10, atol=1e-10 * float(exact.values.abs().max()))
    assert got.params["recall"] == 1.0 and got.params["recall_stderr"] == 0.0
    assert got.params["recall_checked"] == 600 and got.params["engine"] == "faiss"
    assert got.values.dtype == torch.float64 and isinstance(got, fx.KnnResult)


def test_flat_between_two_sets_matches_the_exact_search():
    X, Y = gaussian(200, 10, 1), gaussian(700, 10, 2)
    exact = fx.knn(X, 5, "neg_sq_euclidean", Y=Y)
    got = fx.knn(X, 5, "neg_sq_euclidean", Y=Y, index=faiss.IndexFlatL2(10))
    assert torch.equal(got.indices, exact.indices)
    assert got.n_cols == 700 and got.params["exclude_self"] is False


@pytest.mark.parametrize("spec,floor", [("ivf", 0.95), ("hnsw", 0.95), ("IVF16,SQ8", 0.85)])
def test_approximate_indices_report_recall_against_the_exact_search(spec, floor):
    X = clustered(4000, 32, 3)
    exact = fx.knn(X, 10, "cosine")
    got = fx.knn(X, 10, "cosine", index=spec, recall_sample=4000)
    # every row checked: the reported recall is the true one, with no sampling error
    true = float((got.indices[:, :, None] == exact.indices[:, None, :]).any(2).double().mean())
    assert got.params["recall"] == pytest.approx(true, abs=1e-12)
    assert got.params["recall_stderr"] == 0.0
    assert got.params["recall"] > floor
    if spec in ("ivf", "hnsw"):  # the breadth fx chose reached the target on its own tuning rows
        assert got.params["tuned_recall"] >= 0.95 and got.params["tune_rows"] == 256
    # a seeded sample estimates it within a few standard errors, and the values are exact affinities
    sampled = fx.knn(X, 10, "cosine", index=spec, recall_sample=500, seed=4)
    assert sampled.params["recall_checked"] == 500
    assert abs(sampled.params["recall"] - true) < 4 * sampled.params["recall_stderr"] + 0.02
    Xn = X / X.norm(dim=1, keepdim=True)
    pairs = (Xn[:, None, :] * Xn[got.indices]).sum(2)
    torch.testing.assert_close(got.values, pairs.clamp(-1, 1), rtol=1e-5, atol=1e-5)
    assert bool((got.values[:, :-1] >= got.values[:, 1:]).all())  # best first


def test_recall_standard_error_is_the_sampling_formula():
    per_row = torch.tensor([1.0, 0.9, 0.8, 1.0], dtype=torch.float64)
    s, mean, se = recall_estimate(per_row, n=100)
    assert (s, mean) == (4, pytest.approx(0.925))
    assert se == pytest.approx(float(per_row.std()) / 2 * np.sqrt(96 / 99))
    assert recall_estimate(per_row, n=4)[2] == 0.0


def test_cosine_is_the_inner_product_of_unit_rows():
    X = gaussian(300, 8, 5)
    unit = X / X.norm(dim=1, keepdim=True)
    cos = fx.knn(X, 6, "cosine", index="flat")
    ip = fx.knn(unit, 6, "dot", index=faiss.IndexFlatIP(8))
    assert torch.equal(cos.indices, ip.indices)
    torch.testing.assert_close(cos.values, ip.values, rtol=1e-12, atol=1e-12)
    # a filled inner-product index over unit rows: the same search
    filled = faiss.IndexFlatIP(8)
    filled.add(unit.float().numpy())
    given = fx.knn(X, 6, "cosine", index=filled)
    assert torch.equal(given.indices, cos.indices) and given.params["built_by"] == "given"


def test_l2_index_is_the_negative_squared_distance():
    from sklearn.neighbors import NearestNeighbors

    X = gaussian(400, 6, 6)
    got = fx.knn(X, 5, "neg_sq_euclidean", index=faiss.IndexFlatL2(6))
    dist, idx = NearestNeighbors(n_neighbors=6, algorithm="brute").fit(X.numpy()).kneighbors(X.numpy())
    assert np.array_equal(got.indices.numpy(), idx[:, 1:])
    np.testing.assert_allclose(-got.values.numpy(), dist[:, 1:] ** 2, rtol=1e-9, atol=1e-9)


def test_a_given_l2_index_holds_and_is_queried_with_the_rows_as_given():
    # away from the origin and above 1: the exact search's prepared rows (centred, scaled) differ from these
    X = (gaussian(500, 12, 11) * 3 + 5).float()
    exact = fx.knn(X, 6, "neg_sq_euclidean")
    filled = faiss.IndexFlatL2(12)
    filled.add(X.numpy())
    got = fx.knn(X, 6, "neg_sq_euclidean", index=filled)
    assert torch.equal(got.indices, exact.indices)
    torch.testing.assert_close(got.values, exact.values, rtol=1e-6, atol=0)  # both exact to ~1e-6 in float32
    # an IVF trained by the user on these rows and filled here: its lists stay valid for the rows it holds
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(12), 12, 8)
    ivf.train(X.numpy())
    ivf.nprobe = 2
    mine = fx.knn(X, 6, "neg_sq_euclidean", index=ivf)
    _, lab = ivf.search(X.numpy(), 7)  # the user's own search of the index fx filled
    own = torch.from_numpy(lab)
    theirs = torch.stack([row[row != i][:6] for i, row in enumerate(own)])
    assert same_sets(mine.indices, theirs) > 0.99


def test_an_index_fx_builds_holds_prepared_rows_so_huge_values_do_not_overflow_float32():
    X = gaussian(400, 12, 12, dtype=torch.float32) * 1e19  # squares overflow float32; the prepared rows do not
    exact = fx.knn(X, 5, "neg_sq_euclidean")
    got = fx.knn(X, 5, "neg_sq_euclidean", index="flat")
    assert torch.equal(got.indices, exact.indices)
    torch.testing.assert_close(got.values, exact.values, rtol=1e-6, atol=0)
    assert got.params["recall"] == 1.0


def test_given_untrained_ivf_is_trained_here_and_shards_search_as_one():
    X = clustered(3000, 16, 7)
    exact = fx.knn(X, 10, "neg_sq_euclidean")
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(16), 16, 16)
    ivf.nprobe = 16  # every list: exhaustive, so exact
    got = fx.knn(X, 10, "neg_sq_euclidean", index=ivf)
    assert ivf.is_trained and ivf.ntotal == 3000 and got.params["train_rows"] == 3000
    assert same_sets(got.indices, exact.indices) > 0.999 and got.params["recall"] > 0.999
    trained = faiss.IndexIVFFlat(faiss.IndexFlatL2(16), 16, 16)
    trained.train(X.numpy())
    trained.nprobe = 16
    again = fx.knn(X, 10, "neg_sq_euclidean", index=trained)  # trained but empty: rows added, no training here
    assert "train_rows" not in again.params and torch.equal(again.indices, got.indices)
    shards = fx.knn(X, 10, "neg_sq_euclidean", index=[faiss.IndexFlatL2(16) for _ in range(3)])
    assert same_sets(shards.indices, exact.indices) > 0.999 and shards.params["shards"] == 3
    filled = [faiss.IndexFlatL2(16), faiss.IndexFlatL2(16)]
    filled[0].add(X[:1234].numpy())
    filled[1].add(X[1234:].numpy())
    again = fx.knn(X, 10, "neg_sq_euclidean", index=filled)
    assert torch.equal(again.indices, shards.indices)
    given = faiss.IndexShards(16, True, True)  # a faiss IndexShards object, empty: filled here like one index
    parts = [faiss.IndexFlatL2(16), faiss.IndexFlatL2(16)]
    for p in parts:
        given.add_shard(p)
    again = fx.knn(X, 10, "neg_sq_euclidean", index=given)
    assert torch.equal(again.indices, shards.indices) and [p.ntotal for p in parts] == [1500, 1500]


def test_streamed_faiss_search_equals_the_blocking_one_and_feeds_the_graph_functions():
    X = clustered(1500, 16, 8)
    blocking = fx.knn(X, 7, "cosine", index="hnsw", chunk_size=200)
    job = fx.knn(X, 7, "cosine", index="hnsw", chunk_size=200, stream=True)
    streamed = job.result(timeout=120)
    assert torch.equal(streamed.indices, blocking.indices) and streamed.params == blocking.params
    assert job.items >= 8  # one item per chunk of 200 query rows
    g = fx.knn_graph(streamed, symmetrize="mutual")
    assert g.shape == (1500, 1500) and g.is_sparse
    assert streamed.mutual().shape == (1500, 7)


def test_zoom_heatmap_spectral_order_through_an_index():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 8, generator=g) * 5
    truth = torch.arange(400) % 4
    X = centres[truth] + 0.3 * torch.randn(400, 8, generator=g)
    view = fx.ZoomHeatmap(X, order="spectral", index="hnsw", tile_size=64)
    t = truth[view.order_indices].numpy()
    assert int((t[1:] != t[:-1]).sum()) == 3  # four contiguous groups, as with the exact search
    assert view.params["knn_recall"] > 0.95 and view.params["knn_index"] == "IndexHNSWFlat"
    with pytest.raises(ValueError, match="index applies only to order='spectral'"):
        fx.ZoomHeatmap(X, order="cluster", index="hnsw")


def test_bad_input_names_the_argument():
    X = gaussian(100, 8, 9)
    with pytest.raises(ValueError, match="metric='pearson' cannot be searched"):
        fx.knn(X, 5, "pearson", index="flat")
    with pytest.raises(ValueError, match="index holds 4-dimensional vectors but the rows have 8"):
        fx.knn(X, 5, "cosine", index=faiss.IndexFlatIP(4))
    with pytest.raises(ValueError, match=r"index ranks by l2 but metric='cosine' needs .*METRIC_INNER_PRODUCT"):
        fx.knn(X, 5, "cosine", index=faiss.IndexFlatL2(8))
    with pytest.raises(ValueError, match=r"index is untrained and needs at least 256 training rows \(nlist=256"):
        fx.knn(X, 5, "neg_sq_euclidean", index=faiss.IndexIVFFlat(faiss.IndexFlatL2(8), 8, 256))
    filled = faiss.IndexFlatL2(8)
    filled.add(X[:50].float().numpy())
    with pytest.raises(ValueError, match="index holds 50 vectors but X .* has 100"):
        fx.knn(X, 5, "neg_sq_euclidean", index=filled)
    with pytest.raises(ValueError, match="is not a faiss index_factory string"):
        fx.knn(X, 5, "cosine", index="IVF-nonsense")
    with pytest.raises(TypeError, match="index must be a faiss index"):
        fx.knn(X, 5, "cosine", index=3)
    with pytest.raises(ValueError, match="recall_sample must be a non-negative integer"):
        fx.knn(X, 5, "cosine", index="flat", recall_sample=-1)
    with pytest.raises(ValueError, match="recall_sample applies only with index="):
        fx.knn(X, 5, "cosine", recall_sample=10)
    with pytest.raises(ValueError, match="k=100 but each row has only 99"):
        fx.knn(X, 100, "cosine", index="flat")


def test_missing_faiss_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"pip install fxwidgets\[faiss\]"):
        ann_search(gaussian(20, 4, 0), 3, index="flat")


@requires_cuda
def test_cuda_rows_give_the_cpu_neighbours():
    X = gaussian(500, 16, 10)
    cpu = fx.knn(X, 6, "cosine", index="flat")
    gpu = fx.knn(X.cuda(), 6, "cosine", index="flat")
    assert gpu.indices.device.type == "cuda"
    assert same_sets(gpu.indices.cpu(), cpu.indices) > 0.99
    torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-6, atol=1e-6)
