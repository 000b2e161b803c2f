"""k-NN, graph analysis and dense (feature-map) affinity: tiled vs dense, closed forms, anchors, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.graph import eigenvector_centrality, spectral_clustering, spectral_embedding, spectral_order
from fxwidgets import knn, knn_graph, mutual_nn


def _data(n=300, d=12, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype)


# ---------------------------------------------------------------------------------------------------- k-NN
@pytest.mark.parametrize("metric", ["cosine", "dot", "rbf", "neg_sq_euclidean", "pearson"])
def test_tiled_knn_equals_topk_of_the_dense_matrix(metric):
    X = _data()
    r = knn(X, k=7, metric=metric, chunk_size=17)  # many small tiles, the last one partial
    A = fx.affinity(X, metric=metric).values.clone()
    A.fill_diagonal_(-torch.inf)
    vals, idx = torch.topk(A, 7, dim=1)
    assert torch.equal(r.indices, idx)
    torch.testing.assert_close(r.values, vals, rtol=1e-10, atol=1e-10)
    assert r.params["chunk_size"] == 17 and r.params["exclude_self"]


def test_knn_between_two_sets_matches_scikit_learn_brute():
    from sklearn.neighbors import NearestNeighbors

    X, Y = _data(200, 8, 1), _data(150, 8, 2)
    r = knn(X, k=5, metric="neg_sq_euclidean", Y=Y, chunk_size=33)
    nn = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(Y.numpy())
    dist, idx = nn.kneighbors(X.numpy())
    np.testing.assert_array_equal(r.indices.numpy(), idx)
    np.testing.assert_allclose(-r.values.numpy(), dist**2, rtol=1e-8, atol=1e-8)
    rc = knn(X, k=5, metric="cosine", Y=Y)
    nn = NearestNeighbors(n_neighbors=5, algorithm="brute", metric="cosine").fit(Y.numpy())
    dist, idx = nn.kneighbors(X.numpy())
    np.testing.assert_array_equal(rc.indices.numpy(), idx)
    np.testing.assert_allclose(1 - rc.values.numpy(), dist, atol=1e-10)


def test_knn_softmax_rows_sum_to_one_and_low_temperature_is_one_hot():
    r = knn(_data(50, 4), k=6)
    w = r.softmax(0.5)
    torch.testing.assert_close(w.sum(1), torch.ones(50, dtype=w.dtype))
    assert bool((w[:, :-1] >= w[:, 1:] - 1e-12).all())  # best neighbour first, largest weight
    hard = r.softmax(1e-6)
    assert bool(((hard[:, 0] > 0.999) | (r.values[:, 0] == r.values[:, 1])).all())


def test_mutual_neighbours_agree_with_a_brute_force_definition():
    X = _data(80, 5, 3)
    r = knn(X, k=4)
    mask = r.mutual()
    idx = r.indices.numpy()
    for i in range(80):
        for t in range(4):
            j = idx[i, t]
            assert bool(mask[i, t]) == (i in idx[j])
    pairs = mutual_nn(X, k=4)
    expect = {(min(i, idx[i, t]), max(i, idx[i, t])) for i in range(80) for t in range(4) if mask[i, t]}
    assert {tuple(p) for p in pairs.tolist()} == expect


def test_mutual_nn_between_two_sets_recovers_a_permutation():
    X = _data(60, 10, 4)
    perm = torch.randperm(60, generator=torch.Generator().manual_seed(0))
    Y = X[perm] + 1e-3 * _data(60, 10, 5)
    pairs = mutual_nn(X, Y, k=1)
    assert pairs.shape == (60, 2)
    assert torch.equal(perm[pairs[:, 1]], pairs[:, 0])


def test_knn_graph_is_symmetric_sparse_and_matches_the_definitions():
    X = _data(40, 3, 6)
    r = knn(X, k=3, metric="rbf")
    W = torch.zeros(40, 40, dtype=torch.float64)
    rows = torch.arange(40)[:, None].expand(40, 3)
    W[rows, r.indices] = r.values
    for mode, expect in (("max", torch.maximum(W, W.T)), ("mean", (W + W.T) / 2),
                         ("mutual", torch.where((W > 0) & (W.T > 0), torch.minimum(W, W.T), torch.zeros(()))),
                         ("none", W)):
        G = knn_graph(r, symmetrize=mode)
        assert G.is_sparse and G.shape == (40, 40)
        torch.testing.assert_close(G.to_dense(), expect)
    B = r.graph(weights="binary")
    assert set(B.values().tolist()) == {1.0}
    S = knn_graph(r, symmetrize="none", weights="softmax", temperature=0.3)
    torch.testing.assert_close(torch.sparse.sum(S, 1).to_dense(), torch.ones(40, dtype=torch.float64))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"k": 300}, "k=300 but each row has only 299"),
        ({"metric": "l1"}, "metric must be one of"),
        ({"chunk_size": -1}, "chunk_size must be a positive integer"),
        ({"bandwidth": 1.0, "metric": "cosine"}, "bandwidth only applies"),
    ],
)
def test_knn_bad_inputs_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn(_data(), **{"k": 3, **kwargs})


def test_knn_rejects_nan_and_mismatched_widths():
    X = _data(10, 3)
    X[2, 1] = float("nan")
    with pytest.raises(ValueError, match="X has 1 non-finite"):
        knn(X, k=2)
    with pytest.raises(ValueError, match="features per row"):
        knn(_data(10, 3), k=2, Y=_data(10, 4))
    with pytest.raises(ValueError, match="exclude_self=True needs Y=None"):
        knn(_data(10, 3), k=2, Y=_data(10, 3), exclude_self=True)


def test_knn_never_needs_the_dense_matrix_memory():
    old = fx.options.memory_budget
    fx.options.memory_budget = 200_000  # bytes: far less than the 2000 x 2000 float64 matrix (32 MB)
    try:
        with pytest.raises(MemoryError):
            fx.affinity(_data(2000, 4))
        r = knn(_data(2000, 4), k=3, chunk_size=8)
        assert r.indices.shape == (2000, 3)
    finally:
        fx.options.memory_budget = old


# ---------------------------------------------------------------------------------------------------- graphs
def _ring(n):
    A = torch.zeros(n, n, dtype=torch.float64)
    i = torch.arange(n)
    A[i, (i + 1) % n] = 1
    A[(i + 1) % n, i] = 1
    return A


def test_regular_graph_has_uniform_centrality_dense_and_sparse():
    for A in (_ring(30), _ring(30).to_sparse()):
        c = eigenvector_centrality(A).values
        torch.testing.assert_close(c, torch.full((30,), 30**-0.5, dtype=torch.float64))
    # an even ring is bipartite: plain power iteration would oscillate, A + I converges
    assert eigenvector_centrality(_ring(30)).params["converged"]


def test_power_iteration_agrees_with_eigh():
    X = _data(60, 4, 7)
    A = fx.affinity(X, metric="rbf").values
    r = eigenvector_centrality(A, tol=1e-12)
    evals, evecs = torch.linalg.eigh(A)
    v = evecs[:, -1] * torch.sign(evecs[:, -1].sum())
    torch.testing.assert_close(r.values, v, atol=1e-8, rtol=0)
    assert r.params["eigenvalue"] == pytest.approx(float(evals[-1]), rel=1e-10)
    assert bool((r.values > 0).all())  # Perron-Frobenius
    s = eigenvector_centrality(fx.knn(X, k=8, metric="rbf").graph(), tol=1e-12)
    G = fx.knn(X, k=8, metric="rbf").graph().to_dense()
    ev = torch.linalg.eigh(G)[1][:, -1]
    torch.testing.assert_close(s.values, ev * torch.sign(ev.sum()), atol=1e-7, rtol=0)


def _blocks(sizes, seed=0, within=1.0, between=0.01):
    g = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    labels = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    A = torch.where(labels[:, None] == labels[None, :], within, between).double()
    A = A * (0.5 + torch.rand(n, n, generator=g, dtype=torch.float64))
    A = (A + A.T) / 2
    return A, labels


def test_spectral_clustering_recovers_blocks_and_matches_scikit_learn():
    from sklearn.cluster import SpectralClustering
    from sklearn.metrics import adjusted_rand_score

    A, labels = _blocks([20, 30, 25])
    perm = torch.randperm(75, generator=torch.Generator().manual_seed(1))
    A, labels = A[perm][:, perm], labels[perm]
    ours = spectral_clustering(A, 3).values.numpy()
    theirs = SpectralClustering(3, affinity="precomputed", random_state=0).fit_predict(A.numpy())
    assert adjusted_rand_score(labels.numpy(), ours) == 1.0
    assert adjusted_rand_score(theirs, ours) == 1.0
    sparse = spectral_clustering(A.to_sparse(), 3).values.numpy()
    assert adjusted_rand_score(labels.numpy(), sparse) == 1.0


def test_spectral_embedding_matches_scikit_learn_up_to_sign():
    from sklearn.manifold import spectral_embedding as sk_embed

    A, _ = _blocks([10, 15, 20], seed=2, between=0.1)
    ours = spectral_embedding(A, 2).values.numpy()
    theirs = sk_embed(A.numpy(), n_components=2, drop_first=True, random_state=0, norm_laplacian=True)
    for c in range(2):  # two block-indicator directions, well separated from the noise eigenvalues
        a, b = ours[:, c], theirs[:, c]
        cos = abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b)
        assert cos > 1 - 1e-4  # scikit-learn's ARPACK answer is accurate to about 1e-5
    # and exactly the closed form: D^-1/2 times the eigenvectors of D^-1/2 A D^-1/2, unit norm
    d = A.numpy().sum(1)
    S = A.numpy() / np.sqrt(np.outer(d, d))
    _, U = np.linalg.eigh(S)
    for c in range(2):
        v = U[:, -2 - c] / np.sqrt(d)
        v /= np.linalg.norm(v)
        assert abs(v @ ours[:, c]) == pytest.approx(1.0, abs=1e-10)


def test_sparse_lobpcg_path_agrees_with_dense_eigh():
    X = _data(2500, 3, 8)
    G = fx.knn(X, k=10, metric="rbf").graph()
    sp = spectral_embedding(G, 2, seed=0)
    assert sp.params["solver"].startswith("lobpcg")
    de = spectral_embedding(G.to_dense(), 2)
    for c in range(2):
        a, b = sp.values[:, c], de.values[:, c]
        assert abs(float(a @ b)) > 0.99


def test_spectral_order_recovers_a_permuted_band():
    n = 50
    i = torch.arange(n)
    A = torch.exp(-((i[:, None] - i[None, :]).double() ** 2) / 8.0)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    order = spectral_order(A[perm][:, perm]).values
    recovered = perm[order]
    assert torch.equal(recovered, i) or torch.equal(recovered, i.flip(0))


def test_graph_bad_inputs():
    with pytest.raises(ValueError, match="square"):
        eigenvector_centrality(torch.ones(3, 4))
    with pytest.raises(ValueError, match="negative entries"):
        eigenvector_centrality(-torch.ones(3, 3))
    with pytest.raises(ValueError, match="symmetric"):
        eigenvector_centrality(torch.triu(torch.ones(4, 4)))
    A = _ring(6)
    A[0] = 0
    A[:, 0] = 0
    with pytest.raises(ValueError, match="node 0 has no edges"):
        spectral_embedding(A, 2)
    with pytest.raises(ValueError, match="n_clusters=9"):
        spectral_clustering(_ring(6), 9)


# ---------------------------------------------------------------------------------------------------- dense
def _shifted_frames(shift=(2, 3), h=16, w=20, c=24, seed=0):
    """Two frames of random features where frame 1 is frame 0 moved by ``shift`` (wrapping)."""
    g = torch.Generator().manual_seed(seed)
    f0 = torch.randn(c, h, w, generator=g)
    f1 = torch.roll(f0, shifts=shift, dims=(1, 2))
    mask = torch.zeros(h, w, dtype=torch.long)
    mask[3:8, 4:11] = 1
    mask[10:14, 2:6] = 2
    return f0, f1, mask


def test_propagated_mask_moves_with_the_shift():
    f0, f1, mask = _shifted_frames()
    prop = fx.propagate(f0, f1, mask, k=5, temperature=0.05)
    assert prop.probs.shape == (3, 16, 20)
    torch.testing.assert_close(prop.probs.sum(0), torch.ones(16, 20))
    assert torch.equal(prop.labels, torch.roll(mask, shifts=(2, 3), dims=(0, 1)))
    # a soft (K, H, W) mask goes the same way
    soft = torch.nn.functional.one_hot(mask, 3).permute(2, 0, 1).float()
    torch.testing.assert_close(fx.propagate(f0, f1, soft, k=5, temperature=0.05).probs, prop.probs)


def test_propagation_with_a_radius_only_looks_nearby():
    f0, f1, mask = _shifted_frames(shift=(1, 1))
    near = fx.propagate(f0, f1, mask, k=3, temperature=0.05, radius=2.0)
    assert torch.equal(near.labels, torch.roll(mask, shifts=(1, 1), dims=(0, 1)))
    # the shift is further than the radius: the true match is out of reach
    f0b, f1b, _ = _shifted_frames(shift=(6, 0))
    far = fx.propagate(f0b, f1b, mask, k=1, temperature=0.05, radius=2.0)
    assert not torch.equal(far.labels, torch.roll(mask, shifts=(6, 0), dims=(0, 1)))


def test_noisy_label_indicator_flags_exactly_the_corrupted_pixels():
    f0, f1, mask = _shifted_frames()
    truth = torch.roll(mask, shifts=(2, 3), dims=(0, 1))
    noisy = truth.clone()
    flipped = torch.zeros_like(truth, dtype=torch.bool)
    flipped[0:2, 0:5] = True
    noisy[flipped] = (noisy[flipped] + 1) % 3
    res = fx.label_noise(f0, f1, mask, noisy, k=5, temperature=0.05)
    assert torch.equal(res.flags, flipped)
    assert float(res.score[flipped].min()) > 0.99 and float(res.score[~flipped].max()) < 0.01


def test_location_affinity_is_a_row_of_the_dense_matrix():
    g = torch.Generator().manual_seed(0)
    F = torch.randn(3, 8, 5, 6, generator=g)
    row = fx.location_affinity(F, 1, 2, 4)
    flat = F.permute(0, 2, 3, 1).reshape(-1, 8)
    A = fx.affinity(flat).values
    torch.testing.assert_close(row.reshape(-1), A[1 * 30 + 2 * 6 + 4])
    assert float(row[1, 2, 4]) == pytest.approx(1.0)
    tokens = torch.randn(2, 7, 4, generator=g)
    trow = fx.location_affinity(tokens, 0, 0, 3)
    assert trow.shape == (2, 1, 7)


def test_dense_bad_inputs():
    f0, f1, mask = _shifted_frames()
    with pytest.raises(ValueError, match="labels has shape"):
        fx.propagate(f0, f1, mask[:-1], k=3)
    with pytest.raises(ValueError, match="channels"):
        fx.propagate(f0, f1[:5], mask)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        fx.propagate(f0, f1, mask, temperature=0)
    with pytest.raises(ValueError, match="k=1000 is more than"):
        fx.propagate(f0, f1, mask, k=1000)
    with pytest.raises(ValueError, match=r"must be \(B, C, H, W\)"):
        fx.location_affinity(torch.ones(3, 3), 0, 0)
    with pytest.raises(ValueError, match="i must be an integer"):
        fx.location_affinity(torch.ones(1, 2, 3, 3), 0, 5, 0)
    with pytest.raises(ValueError, match="threshold"):
        fx.label_noise(f0, f1, mask, mask, threshold=2)


from tests.conftest import requires_cuda


@requires_cuda
def test_cuda_gives_the_cpu_answers():
    X = _data(500, 16, 9, dtype=torch.float32)
    cpu = knn(X, k=5, chunk_size=64)
    gpu = knn(X.cuda(), k=5, chunk_size=64)
    assert gpu.indices.device.type == "cuda"
    assert float((gpu.indices.cpu() == cpu.indices).float().mean()) > 0.99
    G = cpu.graph(weights="binary")
    torch.testing.assert_close(eigenvector_centrality(G.cuda()).values.cpu(), eigenvector_centrality(G).values, atol=1e-5, rtol=0)
    f0, f1, mask = _shifted_frames()
    assert torch.equal(fx.propagate(f0.cuda(), f1.cuda(), mask.cuda(), k=5, temperature=0.05).labels.cpu(),
                       fx.propagate(f0, f1, mask, k=5, temperature=0.05).labels)


def test_streamed_knn_is_the_blocking_knn():
    X = _data(400, 6, 11)
    job = fx.knn(X, k=4, chunk_size=50, stream=True)
    r = job.result(timeout=30)
    b = knn(X, k=4)
    assert torch.equal(r.indices, b.indices) and job.items == 8


def test_consecutive_matches_follow_a_shift_and_principal_colours_span_the_unit_cube():
    from fxwidgets.compute.dense import as_locations, consecutive_matches, principal_colours

    g = torch.Generator().manual_seed(0)
    f0 = torch.randn(1, 8, 6, 7, generator=g)
    feats = torch.cat([f0, torch.roll(f0, shifts=(1, 2), dims=(2, 3))])
    locs, grid = as_locations(feats, "F")
    matches, scores = consecutive_matches(locs, grid, max_matches=100)
    assert matches.dtype == torch.int32 and matches.shape == (42, 6)  # every location matches its shifted copy
    assert torch.equal(matches[:, 4], (matches[:, 1] + 1) % 6) and torch.equal(matches[:, 5], (matches[:, 2] + 2) % 7)
    torch.testing.assert_close(scores, torch.ones(42), atol=1e-5, rtol=0)
    assert consecutive_matches(locs, grid, max_matches=5)[0].shape == (5, 6)
    assert consecutive_matches(locs, grid, max_matches=0)[0].shape == (0, 6)
    colours = principal_colours(locs, grid)
    assert colours.shape == (2, 3, 6, 7)
    for c in range(3):  # each component is scaled to fill [0, 1]
        assert float(colours[:, c].min()) == pytest.approx(0.0, abs=1e-6)
        assert float(colours[:, c].max()) == pytest.approx(1.0, abs=1e-6)
