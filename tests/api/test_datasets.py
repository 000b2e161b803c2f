"""fx.embed, fx.select_samples, fx.dataset_distance, fx.activation_histograms, fx.pair_score_histograms: the verbs
end to end — streamed Job == blocking call, arguments routed to each selection method, bad input refused by name
before any work, a k-center coreset covers a mixture better than random subsets, and every plot is labelled."""

from __future__ import annotations

import importlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import fxwidgets as fx  # noqa: E402
from fxwidgets.api.datasets import distance_options, selection_options  # noqa: E402
from fxwidgets.compute import sample_selection as S  # noqa: E402
from fxwidgets.results import views  # noqa: E402
from tests.conftest import requires_cuda  # noqa: E402

JOB_TIMEOUT_S = 120


def mixture(n=300, d=5, k=4, seed=0, spread=4.0):
    """Rows of a Gaussian mixture with unequal cluster sizes, and their cluster labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * spread
    sizes = rng.dirichlet(np.full(k, 2.0))
    y = rng.choice(k, size=n, p=sizes)
    return centres[y] + rng.standard_normal((n, d)), y


@pytest.fixture(scope="module")
def data():
    return mixture()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


TEXTS_RAW = ["the cat sat on the mat", "a dog chased the cat", "stocks fell sharply today", "the market rallied",
             "cats and dogs play", "bond yields rose", "my cat sleeps all day", "traders sold shares"] * 6
TEXTS_TARGET = ["the cat and the dog", "a cat sat on a dog", "dogs and cats sleep"]
LABELLED = np.arange(0, 300, 6)


def selection_call(method, X, y):
    """(args, kwargs) of fx.select_samples for each method, on small data."""
    return {
        "k_center": ((X, 12, "k_center"), {}),
        "sensitivity": ((X, 40, "sensitivity"), {"loss": np.linalg.norm(X, axis=1)}),
        "hierarchical_kmeans": ((X, 20, "hierarchical_kmeans"), {}),
        "dsir": ((TEXTS_RAW, 10, "dsir"), {"target": TEXTS_TARGET, "n_buckets": 512}),
        "anchoral": ((X, 8, "anchoral"), {"y": y[LABELLED], "labelled": LABELLED, "n_anchors": 2}),
        "class_representatives": ((X, 2, "class_representatives"), {"y": y}),
    }[method]


def same_selection(a, b):
    assert a.method == b.method and a.params == b.params and a.seed == b.seed
    assert torch.equal(a.indices, b.indices)
    for name in ("weights", "scores", "groups"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None), name
        if va is not None:
            torch.testing.assert_close(va, vb, rtol=0, atol=0, equal_nan=True)


# ------------------------------------------------------------------------------------------------ streamed == blocking


@pytest.mark.parametrize("method,options", [("pca", {}), ("pca", {"solver": "randomized"}),
                                            ("spectral", {"n_neighbors": 10})])
def test_embed_stream_equals_blocking(data, method, options):
    X, _ = data
    blocking = fx.embed(X, method, seed=3, **options)
    job = fx.embed(X, method, seed=3, stream=True, **options)
    assert isinstance(job, fx.Job)
    streamed = job.result(timeout=JOB_TIMEOUT_S)
    assert isinstance(blocking, fx.EmbeddingResult) and isinstance(streamed, fx.EmbeddingResult)
    assert blocking.coordinates.shape == (len(X), 2) and torch.isfinite(blocking.coordinates).all()
    torch.testing.assert_close(streamed.coordinates, blocking.coordinates, rtol=0, atol=0)
    assert streamed.params == blocking.params and streamed.method == method


def test_embed_tsne_stream_equals_blocking(data):
    importlib.import_module("openTSNE")
    X, _ = data
    kw = {"perplexity": 10, "n_iter": 30, "early_exaggeration_iter": 20, "report_every": 10}
    blocking = fx.embed(X, "tsne", seed=1, **kw)
    streamed = fx.embed(X, "tsne", seed=1, stream=True, **kw).result(timeout=JOB_TIMEOUT_S)
    np.testing.assert_array_equal(streamed.numpy(), blocking.numpy())
    assert blocking.seed == 1 and blocking.diagnostics["iterations"] == 50


@pytest.mark.parametrize("method", S.METHODS)
def test_select_samples_stream_equals_blocking(data, method):
    X, y = data
    args, kwargs = selection_call(method, X, y)
    blocking = fx.select_samples(*args, **kwargs)
    streamed = fx.select_samples(*args, stream=True, **kwargs).result(timeout=JOB_TIMEOUT_S)
    assert isinstance(blocking, fx.SampleSelectionResult) and isinstance(streamed, fx.SampleSelectionResult)
    same_selection(blocking, streamed)
    assert blocking.k > 0 and blocking.summary()
    mask = blocking.mask()
    assert mask.shape == (blocking.n_rows,) and mask.sum() == blocking.k and mask[blocking.numpy()].all()
    d = blocking.to_dict()
    assert isinstance(d["indices"], np.ndarray)
    assert not any(isinstance(v, torch.Tensor) for v in d["diagnostics"].values())


@pytest.mark.parametrize("measure", ["frechet", "mmd2", "sinkhorn"])
def test_dataset_distance_stream_equals_blocking(data, measure):
    X, _ = data
    A, B = X[:150], X[150:] + 0.5
    options = {"epsilon": 10.0, "report_every": 5} if measure == "sinkhorn" else {}
    blocking = fx.dataset_distance(A, B, measure, seed=2, **options)
    streamed = fx.dataset_distance(A, B, measure, seed=2, stream=True, **options).result(timeout=JOB_TIMEOUT_S)
    assert isinstance(streamed, fx.DatasetDistanceResult)
    assert streamed.value == blocking.value and streamed.se == blocking.se and streamed.params == blocking.params
    assert float(blocking) == blocking.value > 0 and blocking.to_dict()["measure"] == measure
    assert (blocking.se is not None) == (measure == "mmd2")
    assert blocking.seed == (None if measure == "frechet" else 2)


def test_histogram_verbs_stream_equals_blocking(data):
    X, y = data
    A, B = X[y == 0], X[y != 0]
    blocking = fx.activation_histograms(A, B, bins=12)
    streamed = fx.activation_histograms(A, B, bins=12, stream=True).result(timeout=JOB_TIMEOUT_S)
    assert isinstance(streamed, fx.ActivationHistogramsResult)
    assert torch.equal(streamed.counts_a, blocking.counts_a) and torch.equal(streamed.order, blocking.order)
    assert blocking.numpy().shape == (X.shape[1],)

    rng = np.random.default_rng(1)
    checkpoints = {f"epoch {e}": X + rng.standard_normal(X.shape) * s for e, s in ((1, 6.0), (5, 2.0), (20, 0.5))}
    pairs = np.array([(i, j) for i in range(0, 300, 5) for j in range(i + 1, 300, 23) if y[i] == y[j]])
    blocking = fx.pair_score_histograms(checkpoints, pairs, bins=20)
    streamed = fx.pair_score_histograms(checkpoints, pairs, bins=20, stream=True).result(timeout=JOB_TIMEOUT_S)
    assert isinstance(streamed, fx.PairScoreHistogramsResult)
    assert torch.equal(streamed.positive, blocking.positive) and torch.equal(streamed.negative, blocking.negative)
    assert streamed.stats == blocking.stats and blocking.checkpoints == list(checkpoints)
    pos, neg = blocking.numpy()
    assert pos.shape == neg.shape == (3, 20)
    sep = [st["separation"] for st in blocking.stats]
    assert sep[0] < sep[1] < sep[2]  # less noise, better separated positives


# ------------------------------------------------------------------------------------------------ argument routing


def test_each_method_gets_its_own_arguments(data):
    X, y = data
    k = fx.select_samples(X, 10, "k_center", initial=[0, 1], metric="cosine", seed=5)
    ref = S.k_center_greedy(X, 10, initial=[0, 1], metric="cosine", seed=5)
    same_selection(k, ref)
    assert k.params["n_initial"] == 2 and k.diagnostics["initial_radius"] is not None

    sens = fx.select_samples(X, 40, "sensitivity", n_clusters=3, loss=np.abs(X[:, 0]), seed=4)
    same_selection(sens, S.sensitivity_sampling(X, 40, n_clusters=3, loss=np.abs(X[:, 0]), seed=4))
    assert sens.params["n_clusters"] == 3 and "weighted_loss" in sens.diagnostics and sens.weights is not None

    h = fx.select_samples(X, 12, "hierarchical_kmeans", n_clusters=(8, 3), sampling="closest")
    same_selection(h, S.hierarchical_kmeans_curation(X, 12, n_clusters=(8, 3), sampling="closest"))
    assert h.params["n_clusters"] == [8, 3]

    ds = fx.select_samples(TEXTS_RAW, 6, "dsir", target=TEXTS_TARGET, ngrams=1, n_buckets=256, seed=2)
    same_selection(ds, S.dsir(TEXTS_RAW, TEXTS_TARGET, 6, ngrams=1, n_buckets=256, seed=2))
    assert ds.params["ngrams"] == 1 and ds.scores.shape == (len(TEXTS_RAW),)

    # AnchorAL: k is the neighbours each anchor retrieves; y per labelled row, or per row of X
    a = fx.select_samples(X, 7, "anchoral", y=y[LABELLED], labelled=LABELLED, n_anchors=3, seed=1)
    same_selection(a, S.anchoral_subpool(X, LABELLED, y[LABELLED], n_neighbours=7, n_anchors=3, seed=1))
    same_selection(a, fx.select_samples(X, 7, "anchoral", y=y, labelled=LABELLED, n_anchors=3, seed=1))
    assert a.params["n_neighbours"] == 7 and not np.isin(a.numpy(), LABELLED).any()

    c = fx.select_samples(X, 3, "class_representatives", y=y, how="medoid")
    same_selection(c, S.class_representatives(X, y, 3, how="medoid"))
    assert all(p["picked"] == min(3, p["size"]) for p in c.diagnostics["per_class"])


def test_the_documented_options_are_the_compute_functions_own():
    assert selection_options("k_center") == ("initial", "first", "metric", "chunk_size", "report_every")
    assert selection_options("dsir")[0] == "target" and "seed" not in selection_options("dsir")
    assert selection_options("anchoral")[0] == "labelled" and "n_neighbours" not in selection_options("anchoral")
    assert distance_options("frechet") == ("chunk_size",)
    assert "bandwidth" in distance_options("mmd2") and "epsilon" in distance_options("sinkhorn")


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("call,error,match", [
    (lambda X, y, s: fx.select_samples(X, 5, "coreset", stream=s), ValueError, "method must be one of"),
    (lambda X, y, s: fx.select_samples(X, 5, "k_center", n_clusters=3, stream=s), TypeError,
     r"method='k_center' has no option\(s\) 'n_clusters'; its options are 'initial'"),
    (lambda X, y, s: fx.select_samples(X, 5, "anchoral", y=y[LABELLED], labelled=LABELLED, n_neighbours=3,
                                       stream=s), TypeError, "no option.*'n_neighbours'"),
    (lambda X, y, s: fx.select_samples(X, 301, "k_center", stream=s), ValueError,
     "k=301 is more than the 300 rows of X"),
    (lambda X, y, s: fx.select_samples(X, 301, "class_representatives", y=y, stream=s), ValueError, "k=301"),
    (lambda X, y, s: fx.select_samples(X, 0, "k_center", stream=s), ValueError, "k must be a positive integer"),
    (lambda X, y, s: fx.select_samples(X, 2, "class_representatives", stream=s), ValueError,
     "method='class_representatives' needs y"),
    (lambda X, y, s: fx.select_samples(X, 2, "anchoral", labelled=LABELLED, stream=s), ValueError,
     "method='anchoral' needs y"),
    (lambda X, y, s: fx.select_samples(X, 2, "anchoral", y=y, stream=s), TypeError, "needs labelled="),
    (lambda X, y, s: fx.select_samples(X, 5, "k_center", y=y, stream=s), ValueError, "does not read y"),
    (lambda X, y, s: fx.select_samples(TEXTS_RAW, 5, "dsir", stream=s), TypeError, "needs target="),
    (lambda X, y, s: fx.select_samples(X, 5, "class_representatives", y=y[:10], stream=s), ValueError,
     "y has 10 labels"),
    (lambda X, y, s: fx.embed(X, "mds", stream=s), ValueError, "method must be one of"),
    (lambda X, y, s: fx.embed(X, "pca", perplexity=30, stream=s), TypeError, "no option.*'perplexity'"),
    (lambda X, y, s: fx.embed(X, "pca", n_components=9, stream=s), ValueError, "n_components=9"),
    (lambda X, y, s: fx.dataset_distance(X, X[:, :3], stream=s), ValueError, "A has 5 features per row but B has 3"),
    (lambda X, y, s: fx.dataset_distance(X, X, "mmd2", bandwidth=-1, stream=s), ValueError, "bandwidth"),
    (lambda X, y, s: fx.dataset_distance(X, X, "wasserstein", stream=s), ValueError, "measure must be one of"),
    (lambda X, y, s: fx.dataset_distance(X, X, "frechet", epsilon=0.1, stream=s), TypeError,
     r"measure='frechet' has no option\(s\) 'epsilon'; its options are 'chunk_size'"),
    (lambda X, y, s: fx.activation_histograms(X, X[:, :2], stream=s), ValueError,
     "A has 5 features per row but B has 2"),
    (lambda X, y, s: fx.pair_score_histograms(X, [[0, 0]], stream=s), ValueError, "pairs row 0 with itself"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_input_names_the_argument_before_any_work(data, call, error, match, stream):
    # with stream=True the call itself must refuse: the checks run before a Job is made
    X, y = data
    with pytest.raises(error, match=match):
        call(X, y, stream)


def test_stream_must_be_a_bool(data):
    with pytest.raises(TypeError, match="stream must be True or False"):
        fx.select_samples(data[0], 5, "k_center", stream="yes")


# ------------------------------------------------------------------------------------------------ what a coreset buys


def covering_radius(X, idx):
    return np.sqrt(((X[:, None, :] - X[None, idx, :]) ** 2).sum(-1).min(1)).max()


def test_k_center_covers_a_mixture_better_than_random_subsets():
    X, _ = mixture(n=800, d=4, k=6, seed=7, spread=5.0)
    k = 24
    r = fx.select_samples(X, k, "k_center", seed=0)
    ours = covering_radius(X, r.numpy())
    assert r.diagnostics["radius"] == pytest.approx(ours, rel=1e-10)
    rng = np.random.default_rng(0)
    random_radii = [covering_radius(X, rng.choice(len(X), k, replace=False)) for _ in range(50)]
    # farthest-first is within 2x of the best radius any k rows achieve; a random k-subset leaves outliers and
    # small clusters far from every pick
    assert ours < min(random_radii)
    assert ours < 0.75 * np.median(random_radii)


# ------------------------------------------------------------------------------------------------ plots


def assert_labelled(fig):
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel(), (ax.get_title(), ax.get_xlabel(), ax.get_ylabel())
    assert any(ax.get_title() for ax in axes) or (fig._suptitle is not None and fig._suptitle.get_text())


def test_embedding_plots_by_labels_with_a_legend_or_by_values_with_a_colour_bar(data):
    X, y = data
    r = fx.embed(X)
    fig = r.plot(labels=np.array(["a", "b", "c", "d"])[y])
    assert_labelled(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("PC1 (") and "of variance" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == sorted(set(np.array(["a", "b", "c", "d"])[y]))
    fig = r.plot(values=X[:, 0], values_name="feature 0")
    assert_labelled(fig)
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "feature 0"  # the colour bar, named
    with pytest.raises(ValueError, match="labels must hold one value per row"):
        r.plot(labels=y[:5])
    if views.factory_for(type(r)) is None:  # until a Scatter view is registered, show() is the plot
        assert isinstance(r.show(labels=y), Figure)


@pytest.mark.parametrize("method", S.METHODS)
def test_selection_plots_on_an_embedding_and_alone(data, method):
    X, y = data
    args, kwargs = selection_call(method, X, y)
    r = fx.select_samples(*args, **kwargs)
    fig = r.plot()  # the method's own diagnostic as a chart
    assert_labelled(fig)
    assert r.summary().split(" ")[0] in fig.axes[0].get_title()
    if method == "dsir":
        coords = np.random.default_rng(0).standard_normal((len(TEXTS_RAW), 2))
        with pytest.raises(ValueError, match="X holds texts"):
            r.plot(TEXTS_RAW)
        fig = r.plot(coordinates=coords)
    else:
        fig = r.plot(X, labels=y)  # a 2-D PCA computed here
        assert fig.axes[0].get_xlabel().startswith("PC1")
        if method == "k_center":  # an EmbeddingResult as coordinates lends its axis names
            emb = fx.embed(X, "spectral", n_neighbors=10)
            assert r.plot(coordinates=emb).axes[0].get_xlabel() == "spectral coordinate 1"
    assert_labelled(fig)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"selected ({r.k})" in " ".join(texts)
    assert r.summary() in fig.axes[0].get_title()


def test_selection_titles_carry_each_methods_diagnostic(data):
    X, y = data
    k = fx.select_samples(X, 12, "k_center")
    assert f"covering radius {k.diagnostics['radius']:.4g}" in k.summary()
    s = fx.select_samples(X, 40, "sensitivity", loss=np.linalg.norm(X, axis=1))
    assert s.summary().startswith("weighted-loss error") and "ε =" in s.summary()
    d = fx.select_samples(TEXTS_RAW, 10, "dsir", target=TEXTS_TARGET, n_buckets=512)
    assert f"KL reduction {d.diagnostics['kl_reduction']:.3g} nats" in d.summary()


@pytest.mark.parametrize("measure", ["frechet", "mmd2", "sinkhorn"])
def test_distance_plot_shows_the_value_and_its_terms(data, measure):
    X, _ = data
    r = fx.dataset_distance(X[:150], X[150:] + 1.0, measure, **({"epsilon": 10.0} if measure == "sinkhorn" else {}))
    fig = r.plot()
    assert_labelled(fig)
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]
    assert widths[-1] == pytest.approx(r.value)
    if measure == "frechet":
        assert widths[0] + widths[1] == pytest.approx(r.value, rel=1e-9)  # mean term + covariance term
    if measure == "mmd2":
        assert "± " in ax.get_title() and "2 SE" in ax.get_xlabel()


def test_histogram_plots_are_small_multiples(data):
    X, y = data
    h = fx.activation_histograms(X[y == 0], X[y != 0], bins=10)
    fig = h.plot(top=4, feature_names=[f"unit {i}" for i in range(5)])
    assert_labelled(fig)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    assert visible[0].get_title().startswith(f"unit {int(h.order[0])}:")
    assert visible[0].get_xlabel() == "activation" and visible[0].get_ylabel() == "share of rows"

    embeddings = [X + np.random.default_rng(i).standard_normal(X.shape) for i in range(5)]
    pairs = np.array([[0, 1], [2, 3], [4, 5]])
    p = fx.pair_score_histograms(embeddings, pairs, bins=10)
    fig = p.plot(max_panels=3)
    assert_labelled(fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == 3 and titles[0].startswith("checkpoint 0:") and titles[-1].startswith("checkpoint 4:")
    assert fig.axes[0].get_xlabel() == "cosine similarity"


# ------------------------------------------------------------------------------------------------ CUDA


@requires_cuda
def test_verbs_follow_the_device_and_plot_from_it(data):
    X, y = data
    Xc = torch.as_tensor(X, device="cuda")
    e = fx.embed(Xc)
    assert e.coordinates.device.type == "cuda"
    cpu = fx.embed(X).coordinates
    torch.testing.assert_close(e.coordinates.cpu(), cpu, rtol=0, atol=1e-9 * float(cpu.abs().max()))
    s = fx.select_samples(Xc, 10, "k_center", first=0, stream=True).result(timeout=JOB_TIMEOUT_S)
    assert s.indices.device.type == "cuda"
    assert s.indices.cpu().tolist() == fx.select_samples(X, 10, "k_center", first=0).indices.tolist()
    assert_labelled(s.plot(Xc, labels=y))
    assert_labelled(e.plot(labels=y))
    d = fx.dataset_distance(Xc[:150], Xc[150:], "mmd2")
    assert d.value == pytest.approx(fx.dataset_distance(X[:150], X[150:], "mmd2").value, rel=1e-8)
