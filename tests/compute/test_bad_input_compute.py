"""Bad input to the compute layer's public calls (issue 11): every case raises the expected error type, before any
work, with a message that names the argument; unusual but valid input (a DataFrame, nested lists, one or two
locations) works instead of crashing or iterating the wrong thing."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import pandas as pd  # in the test extra (not a dependency of the package): the DataFrame cases always run

import fxwidgets as fx
from fxwidgets.compute import validate as v
from fxwidgets.compute.dense import as_locations, principal_colours

rng = np.random.default_rng(0)
X = rng.standard_normal((20, 4))
Y = rng.standard_normal((20, 3))
F = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
LAB = np.zeros((4, 5), int)
LAB[:, 2:] = 1
MODEL = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
NAN, INF = float("nan"), float("inf")

CASES = [
    # affinity
    ("affinity-complex", lambda: fx.affinity(X.astype(complex)), TypeError, "X"),
    ("affinity-complex-Y", lambda: fx.affinity(X, torch.ones(3, 4, dtype=torch.complex64)), TypeError, "Y"),
    ("affinity-ragged", lambda: fx.affinity([[1, 2], [3]]), TypeError, "X"),
    ("affinity-text", lambda: fx.affinity(np.array([["a", "b"]])), TypeError, "X"),
    ("affinity-3d", lambda: fx.affinity(np.zeros((2, 3, 4))), ValueError, "X"),
    ("affinity-empty", lambda: fx.affinity(np.zeros((0, 3))), ValueError, "X"),
    ("affinity-nan", lambda: fx.affinity(np.full((3, 2), NAN)), ValueError, "X"),
    ("affinity-Y-width", lambda: fx.affinity(X, Y), ValueError, "Y"),
    ("affinity-bandwidth-nan", lambda: fx.affinity(X, metric="rbf", bandwidth=NAN), ValueError, "bandwidth"),
    ("affinity-bandwidth-0", lambda: fx.affinity(X, metric="rbf", bandwidth=0), ValueError, "bandwidth"),
    ("affinity-bandwidth-str", lambda: fx.affinity(X, metric="rbf", bandwidth="1"), ValueError, "bandwidth"),
    ("affinity-bandwidth-bool", lambda: fx.affinity(X, metric="rbf", bandwidth=True), ValueError, "bandwidth"),
    ("affinity-bandwidth-cosine", lambda: fx.affinity(X, bandwidth=1.0), ValueError, "bandwidth"),
    ("affinity-chunk-float", lambda: fx.affinity(X, chunk_size=1.5), ValueError, "chunk_size"),
    ("affinity-chunk-0", lambda: fx.affinity(X, chunk_size=0), ValueError, "chunk_size"),
    ("affinity-metric-none", lambda: fx.affinity(X, metric=None), ValueError, "metric"),
    ("affinity-metric-list", lambda: fx.affinity(X, metric=["cosine"]), ValueError, "metric"),
    ("affinity-pearson-constant", lambda: fx.affinity(np.ones((3, 4)), metric="pearson"), ValueError, "X"),
    # k-NN
    ("knn-k-0", lambda: fx.knn(X, 0), ValueError, "k"),
    ("knn-k-float", lambda: fx.knn(X, 2.0), ValueError, "k"),
    ("knn-k-bool", lambda: fx.knn(X, True), ValueError, "k"),
    ("knn-k-too-big", lambda: fx.knn(X, 20), ValueError, "k"),
    ("knn-complex", lambda: fx.knn(X.astype(complex), 2), TypeError, "X"),
    ("knn-exclude-self-str", lambda: fx.knn(X, 2, exclude_self="yes"), ValueError, "exclude_self"),
    ("knn-exclude-self-with-Y", lambda: fx.knn(X, 2, Y=X, exclude_self=True), ValueError, "exclude_self"),
    ("knn-metric", lambda: fx.knn(X, 2, metric="l1"), ValueError, "metric"),
    ("knn-graph-symmetrize", lambda: fx.knn_graph(fx.knn(X, 2), symmetrize="min"), ValueError, "symmetrize"),
    ("knn-graph-weights", lambda: fx.knn_graph(fx.knn(X, 2), weights="gauss"), ValueError, "weights"),
    ("knn-softmax-temperature-0", lambda: fx.knn(X, 2).softmax(0), ValueError, "temperature"),
    ("knn-graph-temperature-nan", lambda: fx.knn_graph(fx.knn(X, 2), weights="softmax", temperature=NAN),
     ValueError, "temperature"),
    ("mutual-nn-k-0", lambda: fx.mutual_nn(X, k=0), ValueError, "k"),
    # dense correspondence
    ("location-complex", lambda: fx.location_affinity(F.astype(complex), 0, 0, 0), TypeError, "F"),
    ("location-b-out", lambda: fx.location_affinity(F, 5, 0, 0), ValueError, "b"),
    ("location-i-float", lambda: fx.location_affinity(F, 0, 1.0, 0), ValueError, "i"),
    ("location-2d", lambda: fx.location_affinity(np.zeros((3, 4)), 0, 0, 0), ValueError, "F"),
    ("location-nan", lambda: fx.location_affinity(np.full((1, 2, 2, 2), NAN), 0, 0, 0), ValueError, "F"),
    ("propagate-temperature-0", lambda: fx.propagate(F[0], F[1], LAB, temperature=0), ValueError, "temperature"),
    ("propagate-k-0", lambda: fx.propagate(F[0], F[1], LAB, k=0), ValueError, "k"),
    ("propagate-k-too-big", lambda: fx.propagate(F[0], F[1], LAB, k=100), ValueError, "k"),
    ("propagate-labels-shape", lambda: fx.propagate(F[0], F[1], np.zeros((3, 3), int)), ValueError, "labels"),
    ("propagate-labels-fraction", lambda: fx.propagate(F[0], F[1], LAB + 0.5), ValueError, "labels"),
    ("propagate-labels-complex", lambda: fx.propagate(F[0], F[1], LAB.astype(complex)), TypeError, "labels"),
    ("propagate-labels-negative", lambda: fx.propagate(F[0], F[1], LAB - 1), ValueError, "labels"),
    ("propagate-soft-mask-nan", lambda: fx.propagate(F[0], F[1], np.full((2, 4, 5), NAN)), ValueError, "labels"),
    ("propagate-n-classes-0", lambda: fx.propagate(F[0], F[1], LAB, n_classes=0), ValueError, "n_classes"),
    ("propagate-n-classes-float", lambda: fx.propagate(F[0], F[1], LAB, n_classes=1.5), TypeError, "n_classes"),
    ("propagate-n-classes-too-few", lambda: fx.propagate(F[0], F[1], LAB, n_classes=1), ValueError, "n_classes"),
    ("propagate-radius-0", lambda: fx.propagate(F[0], F[1], LAB, radius=0), ValueError, "radius"),
    ("propagate-source-complex", lambda: fx.propagate(F[0].astype(complex), F[1], LAB), TypeError, "source_features"),
    ("propagate-channels", lambda: fx.propagate(F[0], F[1, :2], LAB), ValueError, "target_features"),
    ("label-noise-threshold-2", lambda: fx.label_noise(F[0], F[1], LAB, LAB, threshold=2), ValueError, "threshold"),
    ("label-noise-threshold-nan", lambda: fx.label_noise(F[0], F[1], LAB, LAB, threshold=NAN), ValueError,
     "threshold"),
    ("label-noise-threshold-str", lambda: fx.label_noise(F[0], F[1], LAB, LAB, threshold="a"), TypeError,
     "threshold"),
    ("label-noise-target-fraction", lambda: fx.label_noise(F[0], F[1], LAB, LAB + 0.5), ValueError, "target_labels"),
    ("label-noise-target-negative", lambda: fx.label_noise(F[0], F[1], LAB, LAB - 1), ValueError, "target_labels"),
    ("label-noise-source-text", lambda: fx.label_noise(F[0], F[1], [["a"]], LAB), TypeError, "source_labels"),
    ("label-noise-target-3d", lambda: fx.label_noise(F[0], F[1], LAB, LAB[None]), ValueError, "target_labels"),
    ("label-noise-target-shape", lambda: fx.label_noise(F[0], F[1], LAB, LAB[:3]), ValueError, "target_labels"),
    # similarity
    ("similarity-complex", lambda: fx.similarity(X.astype(complex), Y), TypeError, "X"),
    ("similarity-rows", lambda: fx.similarity(X, Y[:5]), ValueError, "Y"),
    ("similarity-threshold-0", lambda: fx.similarity(X, Y, kernel="rbf", threshold=0), ValueError, "threshold"),
    ("similarity-k-0", lambda: fx.similarity(X, Y, measure="jaccard", k=0), ValueError, "k"),
    ("similarity-k-too-big", lambda: fx.similarity(X, Y, measure="jaccard", k=20), ValueError, "k"),
    ("similarity-seed-float", lambda: fx.similarity(X, Y, batch_size=8, seed=1.5), ValueError, "seed"),
    ("similarity-batch-3", lambda: fx.similarity(X, Y, batch_size=3), ValueError, "batch_size"),
    ("similarity-alpha-nan", lambda: fx.similarity(X, X, measure="alignment", alpha=NAN), ValueError, "alpha"),
    ("similarity-t-negative", lambda: fx.similarity(X, measure="uniformity", t=-1), ValueError, "t"),
    ("similarity-unbiased-str", lambda: fx.similarity(X, Y, unbiased="yes"), ValueError, "unbiased"),
    ("similarity-constant", lambda: fx.similarity(np.ones((20, 4)), Y), ValueError, "X"),
    ("similarity-unknown-param", lambda: fx.similarity(X, Y, gamma=1.0), TypeError, "gamma"),
    # compare
    ("compare-complex", lambda: fx.compare(MODEL, data=X.astype(complex)), TypeError, "data"),
    ("compare-text-frame", lambda: fx.compare(MODEL, data=pd.DataFrame({"a": list("abcd")})), TypeError, "data"),
    ("compare-batch-2", lambda: fx.compare(MODEL, data=X, batch_size=2), ValueError, "batch_size"),
    ("compare-batch-float", lambda: fx.compare(MODEL, data=X, batch_size=4.0), ValueError, "batch_size"),
    ("compare-threshold-nan", lambda: fx.compare(MODEL, data=X, kernel="rbf", threshold=NAN), ValueError,
     "threshold"),
    ("compare-gram-samples", lambda: fx.compare(MODEL, data=X, gram_samples=-1), ValueError, "gram_samples"),
    ("compare-labels-length", lambda: fx.compare(MODEL, data=X, labels=np.zeros(3)), ValueError, "labels"),
    ("compare-labels-2d", lambda: fx.compare(MODEL, data=X, labels=np.zeros((20, 2))), ValueError, "labels"),
    ("compare-shuffle-str", lambda: fx.compare(MODEL, data=X, shuffle="no"), ValueError, "shuffle"),
    ("compare-seed-bool", lambda: fx.compare(MODEL, data=X, seed=True), ValueError, "seed"),
    ("compare-layer", lambda: fx.compare(MODEL, data=X, layers=["9"]), ValueError, "layers"),
    ("compare-model", lambda: fx.compare("model", data=X), TypeError, "model_a"),
    ("compare-data-none", lambda: fx.compare(MODEL), TypeError, "data"),
    ("compare-data-nan", lambda: fx.compare(MODEL, data=np.full((8, 4), NAN)), ValueError, "data"),
    # graphs
    ("graph-complex", lambda: fx.eigenvector_centrality(np.eye(3, dtype=complex)), TypeError, "A"),
    ("graph-sparse-complex", lambda: fx.eigenvector_centrality(torch.eye(3, dtype=torch.complex64).to_sparse()),
     TypeError, "A"),
    ("graph-negative", lambda: fx.eigenvector_centrality(-np.ones((3, 3))), ValueError, "A"),
    ("graph-asymmetric", lambda: fx.eigenvector_centrality(np.triu(np.ones((3, 3)))), ValueError, "A"),
    ("graph-not-square", lambda: fx.eigenvector_centrality(np.ones((3, 2))), ValueError, "A"),
    ("graph-text", lambda: fx.spectral_order("a"), TypeError, "A"),
    ("graph-max-iter-0", lambda: fx.eigenvector_centrality(np.ones((3, 3)), max_iter=0), ValueError, "max_iter"),
    ("embedding-components-0", lambda: fx.spectral_embedding(np.ones((5, 5)), n_components=0), ValueError,
     "n_components"),
    ("embedding-components-too-many", lambda: fx.spectral_embedding(np.ones((5, 5)), n_components=10), ValueError,
     "n_components"),
    ("clustering-0", lambda: fx.spectral_clustering(np.ones((5, 5)), 0), ValueError, "n_clusters"),
    ("clustering-too-many", lambda: fx.spectral_clustering(np.ones((5, 5)), 9), ValueError, "n_clusters"),
    ("embedding-seed", lambda: fx.spectral_embedding(np.ones((5, 5)), seed=1.5), ValueError, "seed"),
    ("embedding-tol", lambda: fx.spectral_embedding(np.ones((5, 5)), tol=0), ValueError, "tol"),
    ("embedding-max-iter", lambda: fx.spectral_embedding(np.ones((5, 5)), max_iter=0), ValueError, "max_iter"),
    ("embedding-drop-first", lambda: fx.spectral_embedding(np.ones((5, 5)), drop_first="no"), ValueError,
     "drop_first"),
    ("clustering-seed", lambda: fx.spectral_clustering(np.ones((5, 5)), 2, seed="a"), ValueError, "seed"),
    ("clustering-n-init", lambda: fx.spectral_clustering(np.ones((5, 5)), 2, n_init=0), ValueError, "n_init"),
    ("order-seed", lambda: fx.spectral_order(np.ones((5, 5)), seed=None), ValueError, "seed"),
    ("centrality-seed", lambda: fx.eigenvector_centrality(np.ones((5, 5)), seed=2.5), ValueError, "seed"),
    # PixelAffinity's compute
    ("pixel-affinity-complex", lambda: fx.PixelAffinity(F.astype(np.complex64)), TypeError, "features"),
    ("pixel-affinity-complex-tensor", lambda: fx.PixelAffinity(torch.ones(1, 2, 3, 3, dtype=torch.complex64)),
     TypeError, "features"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(case):
    _, call, exc, name = case
    with pytest.raises(exc) as e:
        call()
    msg = str(e.value)
    assert re.search(rf"(^|\W){re.escape(name)}(\W|$)", msg), msg


def test_the_matrix_is_large_and_every_case_is_distinct():
    assert len(CASES) >= 100
    assert len({c[0] for c in CASES}) == len(CASES)


# ---- unusual but valid input -----------------------------------------------------------------------------------


def test_dataframes_and_nested_lists_are_their_values():
    df = pd.DataFrame(X, columns=list("abcd"))
    assert np.array_equal(fx.affinity(df).numpy(), fx.affinity(X).numpy())
    assert fx.similarity(df, pd.DataFrame(Y)).value == pytest.approx(fx.similarity(X, Y).value, rel=1e-12)
    want = fx.compare(MODEL, data=X.astype(np.float32), batch_size=8, gram_samples=0).values
    got = fx.compare(MODEL, data=X.astype(np.float32).tolist(), batch_size=8, gram_samples=0).values
    assert torch.equal(got, want)


@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (1, 4, 1, 2), (2, 4, 1, 1), (1, 1, 1, 1), (1, 2, 1, 3)])
def test_principal_colours_with_fewer_than_three_locations_or_channels(shape):
    locs, grid = as_locations(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), "features")
    colours = principal_colours(locs, grid)
    assert colours.shape == (shape[0], 3, shape[2], shape[3])
    assert bool(torch.isfinite(colours).all()) and float(colours.min()) >= 0 and float(colours.max()) <= 1


@pytest.mark.parametrize("shape", [(1, 4, 1, 1), (1, 4, 1, 2), (2, 4, 1, 1)])
def test_pixel_affinity_with_one_or_two_locations_builds(shape):
    view = fx.PixelAffinity(torch.randn(*shape))
    assert view is not None


# ---- the vocabulary itself -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("call,exc,text", [
    (lambda: v.check_int(0, "n", minimum=1), ValueError, "n must be an integer >= 1, got 0"),
    (lambda: v.check_int(7, "n", minimum=1, maximum=5), ValueError, "n must be an integer in [1, 5], got 7"),
    (lambda: v.check_int(2.0, "n"), TypeError, "n must be an integer, got 2.0"),
    (lambda: v.check_int(True, "n"), TypeError, "n must be an integer"),
    (lambda: v.check_float(0.0, "lr", low=0, low_open=True), ValueError, "lr must be a finite number > 0, got 0.0"),
    (lambda: v.check_float(1.0, "p", low=0, high=1, high_open=True), ValueError, "p must be a finite number in [0, 1)"),
    (lambda: v.check_float(INF, "x"), ValueError, "x must be a finite number, got inf"),
    (lambda: v.check_float("1", "x"), TypeError, "x must be a finite number"),
    (lambda: v.check_probability(-0.5, "alpha"), ValueError, "alpha must be a finite number in [0, 1]"),
    (lambda: v.check_probability(0, "q", low_open=True), ValueError, "q must be a finite number in (0, 1]"),
    (lambda: v.check_bool(1, "flag"), ValueError, "flag must be True or False"),
    (lambda: v.check_seed(2.5), ValueError, "seed must be an integer"),
    (lambda: v.check_choice(["a"], "mode", ("a", "b")), ValueError, "mode must be one of 'a', 'b'"),
    (lambda: v.check_length([1, 2], "tokens", 3, "the input"), ValueError, "tokens has 2 entries but the input has 3"),
    (lambda: v.check_length("abc", "tokens", 3, "the input"), TypeError, "tokens must be a sequence"),
    (lambda: v.check_length(np.zeros((3, 1)), "names", 3, "X"), ValueError, "names must be 1-D"),
    (lambda: v.as_tensor(np.ones(2, complex), "x"), TypeError, "x must be real"),
    (lambda: v.cast_like(torch.ones(2, dtype=torch.complex64), torch.float32, "inputs"), TypeError, "inputs must be real"),
])
def test_validation_vocabulary_messages(call, exc, text):
    with pytest.raises(exc) as e:
        call()
    assert str(e.value).startswith(text), str(e.value)


def test_validation_vocabulary_accepts_and_converts():
    assert v.check_int(np.int64(3), "n", minimum=1) == 3
    assert v.check_int(torch.tensor(3), "n") == 3
    assert v.check_int(None, "n", allow_none=True) is None
    assert v.check_float(np.float32(0.5), "x", low=0, high=1) == 0.5
    assert v.check_probability(0, "p") == 0.0 and v.check_probability(1, "p") == 1.0
    assert v.check_length(("a", "b"), "names", 2, "X") == ["a", "b"]
    t = v.cast_like(torch.ones(2, dtype=torch.float64), torch.float32, "inputs")
    assert t.dtype == torch.float32
    ids = v.cast_like(torch.ones(2, dtype=torch.int64), torch.float32, "inputs")
    assert ids.dtype == torch.int64  # token ids stay integers
    assert v.as_tensor(pd.DataFrame({"a": [1.0, 2.0]}), "X").shape == (2, 1)
    assert v.as_tensor(np.ones(2, np.float16), "X").dtype == torch.float32
