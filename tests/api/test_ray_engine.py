"""engine="ray": attributions, evaluation scores and DSIR weights computed in row blocks on a local two-worker Ray
cluster give exactly the local answer; so do the same rows given as a ray.data.Dataset."""

from __future__ import annotations

import importlib

import sys

import numpy as np
import pytest
import torch

import fxwidgets as fx

ray = importlib.import_module("ray")


class RowWise(torch.nn.Module):
    """f_c(x) = sum_j tanh(w_cj x_j) + tanh(sum_j v_cj x_j) * sum_j u_cj x_j: features interact (so Shapley
    estimates depend on the permutations drawn), and each row's output is reduced over its own features only, so
    its value does not depend on which rows share its batch (no matrix product whose rounding changes with the
    batch size). On such a model a difference between the Ray and the local answer could only come from
    different draws or a different order of work, so the two must be bitwise equal."""

    def __init__(self, d: int, classes: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w, self.v, self.u = (torch.nn.Parameter(torch.randn(classes, d, generator=g, dtype=torch.float64))
                                  for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.reshape(x.shape[0], 1, -1)
        return torch.tanh(z * self.w).sum(-1) + torch.tanh((z * self.v).sum(-1)) * (z * self.u).sum(-1)


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()


def rows(n: int, d: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.fixture(scope="module")
def cluster():
    for attempt in range(2):  # a raylet can miss Ray's fixed 30 s start-up wait on a loaded machine: try twice
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception:
            ray.shutdown()
            if attempt:
                raise
    # the test models are classes of this module, which the workers cannot import: ship them by value, as
    # cloudpickle does for classes defined in a notebook
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield fx.RayEngine(block_rows=7)  # blocks of 7 rows: uneven, several per worker
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    ray.shutdown()


def assert_same_record(a, b, *, exact: bool) -> None:
    check = torch.equal if exact else (lambda u, v: torch.allclose(u, v, rtol=1e-12, atol=1e-14))
    assert check(a.values, b.values)
    for name in ("stderr", "features", "base_values", "outputs"):
        u, v = getattr(a, name), getattr(b, name)
        assert (u is None) == (v is None), name
        if u is not None:
            assert check(u, v), name
    assert a.target == b.target and a.method == b.method and a.seed == b.seed
    assert set(a.diagnostics) == set(b.diagnostics)
    if exact:
        assert a.diagnostics == b.diagnostics


def test_integrated_gradients_on_ray_is_the_local_answer(cluster):
    model, X = RowWise(6, 3), rows(40)
    local = fx.attribute(model, X, target=torch.arange(40) % 3, method="integrated_gradients", n_steps=24)
    remote = fx.attribute(model, X, target=torch.arange(40) % 3, method="integrated_gradients", n_steps=24,
                          engine=cluster)
    assert_same_record(remote, local, exact=True)
    assert remote.params["engine"] == "ray" and remote.params["num_gpus"] == 0.0
    # an MLP: a matrix product's rounding depends on the batch size, so equal to float64 rounding
    m = mlp()
    assert_same_record(fx.attribute(m, X, target=1, engine=cluster), fx.attribute(m, X, target=1), exact=False)


def test_permutation_shapley_with_a_seed_and_per_row_baselines_on_ray_is_the_local_answer(cluster):
    model, X = RowWise(6, 3), rows(30)
    baseline = rows(30, seed=2) * 0.1  # one per row: cut into the blocks with the rows
    mask = torch.tensor([0, 0, 1, 1, 2, 3])
    kw = dict(target=2, method="shapley_permutation", n_permutations=8, seed=5, baseline=baseline, feature_mask=mask)
    local = fx.attribute(model, X, **kw)
    remote = fx.attribute(model, X, engine="ray", **kw)
    assert_same_record(remote, local, exact=True)
    other_seed = fx.attribute(model, X, engine=cluster, **{**kw, "seed": 6})
    # the draws matter (by far more than rounding), and both runs made the same ones
    assert float((other_seed.values - local.values).abs().max()) > 1e-3
    assert float(local.stderr.max()) > 1e-3


def test_streamed_ray_job_fills_in_block_by_block_and_ends_at_the_blocking_answer(cluster):
    model, X = RowWise(6, 3), rows(40)
    job = fx.attribute(model, X, target=0, method="integrated_gradients", engine=cluster, stream=True)
    seen = []

    class Listener:
        def on_item(self, job, step):
            seen.append((step.progress, int((step.values != 0).any(1).sum())))

        def on_end(self, job):
            pass

    job.subscribe(Listener())
    streamed = job.result(timeout=120)
    blocking = fx.attribute(model, X, target=0, method="integrated_gradients")
    assert_same_record(streamed, blocking, exact=True)
    assert job.items == 6  # ceil(40 / 7) blocks, one item each
    progress = [p for p, _ in seen]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert [r for _, r in seen][-1] == 40  # every row filled in at the end
    # exact Shapley and KernelSHAP fold the coalitions into every row's values with matrix products over the
    # batch (v @ coef; a least-squares solve with one right-hand side per row), whose rounding depends on the
    # number of rows: equal to float64 rounding; KernelSHAP's coalitions are the same draws in every block
    for kw in (dict(method="shapley_exact"), dict(method="kernel_shap", n_samples=40, seed=1)):
        assert_same_record(fx.attribute(model, X, target=0, engine=cluster, **kw), fx.attribute(model, X, target=0, **kw),
                           exact=False)


def test_evaluation_on_ray_draws_what_the_local_run_draws(cluster):
    model, X = RowWise(6, 3), rows(36)
    attr = fx.attribute(model, X, target=1, method="input_x_gradient")
    metrics = {"faithfulness_correlation": {"n_samples": 12}, "infidelity": {"n_samples": 6},
               "max_sensitivity": {"n_samples": 4}, "deletion": {}}
    kw = dict(metrics=metrics, chunk_size=16, seed=7)
    local = fx.evaluate(model, X, attr, **kw)
    remote = fx.evaluate(model, X, attr, engine=fx.RayEngine(block_rows=10), **kw)  # 16-sample blocks (chunk-aligned)
    for name in metrics:
        a, b = remote[name], local[name]
        assert torch.equal(a.values, b.values), name
        assert (a.mean, a.stderr, a.n_valid) == (b.mean, b.stderr, b.n_valid), name
        if b.curves is not None:
            assert torch.equal(a.curves, b.curves), name
    # the stochastic scores are not constant across samples: equality above is equality of the draws
    assert float(local["faithfulness_correlation"].values.std()) > 0
    assert remote.params["engine"] == "ray"


def test_dsir_weights_on_ray_are_the_local_weights(cluster):
    topics = ["the cat sat on the mat", "stocks fell sharply today", "the dog chased the cat", "rain is expected"]
    extra = ["again", "said the paper", "in the morning", "for a while", "or not"]
    raw = [f"{topics[i % 4]} {extra[i % 5]}" for i in range(60)]
    target = ["the cat and the dog", "a dog sat on the mat", "the cat chased the dog", "the dog sat"] * 3
    local = fx.select_samples(raw, 10, "dsir", target=target, seed=3, n_buckets=512)
    remote = fx.select_samples(raw, 10, "dsir", target=target, seed=3, n_buckets=512, engine=cluster)
    assert torch.equal(remote.indices, local.indices)
    assert torch.equal(remote.scores, local.scores)
    assert remote.diagnostics == local.diagnostics
    assert {i % 4 for i in local.indices.tolist()} == {0, 2}  # the texts about cats and dogs, like the target


def test_engine_arguments_are_checked_before_any_work():
    model, X = RowWise(6, 3), rows(8)
    with pytest.raises(ValueError, match="engine must be one of 'local', 'ray'"):
        fx.attribute(model, X, target=0, engine="spark")
    with pytest.raises(ValueError, match="engine must be one of"):
        fx.evaluate(model, X, X, target=0, metrics="deletion", engine="dask")
    with pytest.raises(ValueError, match="method 'smoothgrad' cannot run on engine='ray'"):
        fx.attribute(model, X, target=0, method="smoothgrad", engine="ray")
    with pytest.raises(ValueError, match="method='k_center' couples the rows"):
        fx.select_samples(X, 3, "k_center", engine="ray")
    with pytest.raises(ValueError, match="block_rows must be a positive integer"):
        fx.RayEngine(block_rows=0)
    with pytest.raises(ValueError, match="aggregate cannot run on engine='ray'"):
        attrs = {"a": torch.rand(8, 6, dtype=torch.float64), "b": torch.rand(8, 6, dtype=torch.float64)}
        fx.evaluate(model, X, attrs, target=0, metrics="deletion", aggregate="mean", engine="ray")


def test_missing_ray_says_how_to_install(monkeypatch):
    from fxwidgets.compute.engines import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install fxwidgets\[ray\]"):
        require_ray()



def test_a_dataset_without_pyarrow_says_how_to_install(monkeypatch):
    fake_dataset = type("Dataset", (), {"__module__": "ray.data.dataset"})()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"inputs given as a ray.data.Dataset needs pyarrow, .*pip install fxwidgets\[ray\]"):
        fx.attribute(never_called, fake_dataset, target=0)


# -- a ray.data.Dataset as the rows ------------------------------------------------------------------------------
def dataset(columns: dict, *, blocks: int = 5):
    """A Dataset of several blocks, re-batched by a map on the workers (so its rows reach the caller through Ray
    Data's executor, whose order is only the Dataset's own when fxwidgets asks for it)."""
    n = len(next(iter(columns.values())))
    items = [{k: (v[i].numpy() if isinstance(v, torch.Tensor) else v[i]) for k, v in columns.items()} for i in range(n)]
    return ray.data.from_items(items, override_num_blocks=blocks).map_batches(lambda b: b, batch_size=4)


def test_a_dataset_is_attributed_as_its_rows_are(cluster):
    # the Dataset's float64 rows reach the model unchanged (Arrow stores the doubles), and the blocks are those of
    # engine="ray" on the same rows, so on RowWise (rows that do not interact) the answers are bitwise equal
    model, X = RowWise(6, 3), rows(33)
    y = torch.arange(33) % 3
    ds = dataset({"x": X, "y": y, "id": list(range(33))})
    local = fx.attribute(model, X, target=y, method="integrated_gradients", n_steps=16)
    remote = fx.attribute(model, ds, column="x", target="y", method="integrated_gradients", n_steps=16)
    assert_same_record(remote, local, exact=True)
    assert remote.params["engine"] == "ray"  # a Dataset implies engine="ray"
    assert ds.context.execution_options.preserve_order is False  # asked for while reading, then given back
    here = fx.attribute(model, ds, column="x", target="y", method="integrated_gradients", n_steps=16, engine="local")
    assert_same_record(here, local, exact=True)
    assert "engine" not in here.params  # engine="local": read here, computed here
    kw = dict(method="shapley_permutation", n_permutations=6, seed=3, feature_mask=torch.tensor([0, 0, 1, 1, 2, 3]))
    local = fx.attribute(model, X, target=2, **kw)
    remote = fx.attribute(model, ds.select_columns(["x"]), target=2, engine=cluster, **kw)  # its only column
    assert_same_record(remote, local, exact=True)
    assert float(local.stderr.max()) > 1e-3  # the permutations matter: equality is equality of the draws


def test_a_streamed_dataset_job_fills_in_block_by_block(cluster):
    model, X = RowWise(6, 3), rows(30)
    ds = dataset({"x": X, "y": torch.arange(30) % 3})
    job = fx.attribute(model, ds, target="y", method="saliency", engine=cluster, stream=True)
    progress = []

    class Listener:
        def on_item(self, job, step):
            progress.append((step.progress, int((step.values != 0).any(1).sum())))

        def on_end(self, job):
            pass

    job.subscribe(Listener())
    streamed = job.result(timeout=120)
    assert_same_record(streamed, fx.attribute(model, X, target=torch.arange(30) % 3, method="saliency"), exact=True)
    assert job.items == 5  # ceil(30 / 7) blocks, one partial result each
    assert [p for p, _ in progress] == sorted(p for p, _ in progress) and progress[-1] == (1.0, 30)
    assert progress[0][1] < 30  # the first partial result holds only its block's rows


def test_a_dataset_is_evaluated_as_its_rows_are(cluster):
    model, X = RowWise(6, 3), rows(24)
    attr = fx.attribute(model, X, target=1, method="input_x_gradient")
    metrics = {"faithfulness_correlation": {"n_samples": 10}, "deletion": {}}
    local = fx.evaluate(model, X, attr.values, target=1, metrics=metrics, chunk_size=8, seed=4)
    ds = dataset({"x": X, "attr": attr.values, "y": torch.ones(24, dtype=torch.int64)})
    remote = fx.evaluate(model, ds, "attr", target="y", metrics=metrics, chunk_size=8, seed=4,
                         engine=fx.RayEngine(block_rows=8))
    for name in metrics:
        assert torch.equal(remote[name].values, local[name].values), name
        assert (remote[name].mean, remote[name].stderr) == (local[name].mean, local[name].stderr), name
    assert float(local["faithfulness_correlation"].values.std()) > 0


def test_dsir_on_a_dataset_of_texts_selects_what_the_texts_select(cluster):
    topics = ["the cat sat on the mat", "stocks fell sharply today", "the dog chased the cat", "rain is expected"]
    raw = [f"{topics[i % 4]} {i % 7}" for i in range(40)]
    target = ["the cat and the dog", "a dog sat on the mat", "the cat chased the dog"] * 2
    local = fx.select_samples(raw, 8, "dsir", target=target, seed=2, n_buckets=256)
    ds = dataset({"id": list(range(40)), "text": raw})
    remote = fx.select_samples(ds, 8, "dsir", column="text", target=ray.data.from_items([{"t": t} for t in target]),
                               seed=2, n_buckets=256)
    assert torch.equal(remote.indices, local.indices) and torch.equal(remote.scores, local.scores)
    assert remote.diagnostics == local.diagnostics


def never_called(x):
    raise AssertionError("the model ran: the bad input was not caught up front")


def test_bad_dataset_columns_raise_naming_the_argument_before_any_work(cluster):
    X = rows(12)
    ds = dataset({"x": X, "y": torch.arange(12) % 3}, blocks=3)
    with pytest.raises(ValueError, match=r"column='z' is not a column of inputs .*columns 'x', 'y'"):
        fx.attribute(never_called, ds, column="z", target="y")
    with pytest.raises(ValueError, match=r"target='label' names no column of inputs"):
        fx.attribute(never_called, ds, target="label")
    with pytest.raises(ValueError, match=r"inputs is a ray.data.Dataset with columns 'x', 'y': pass column="):
        fx.attribute(never_called, ds, target=0)
    ragged = ray.data.from_items([{"x": np.ones(5 if i == 7 else 6)} for i in range(10)], override_num_blocks=3)
    with pytest.raises(ValueError, match=r"inputs: column 'x' is ragged: row 0 has shape \(6,\), row 7 has shape \(5,\)"):
        fx.attribute(never_called, ragged, target=0)
    bad = X.clone()
    bad[9, 2] = float("nan")
    with pytest.raises(ValueError, match=r"inputs: column 'x' holds NaN or inf \(first at row 9\)"):
        fx.attribute(never_called, dataset({"x": bad}), target=0)
    with pytest.raises(ValueError, match=r"attributions: column 'a' holds NaN or inf \(first at row 9\)"):
        fx.evaluate(never_called, dataset({"x": X, "a": bad}), "a", target=0, metrics="deletion")
    half = dataset({"x": X, "y": torch.arange(12) / 2})
    with pytest.raises(ValueError, match=r"target: column 'y' holds 0.5 at row 1, not an integer label"):
        fx.attribute(never_called, half, target="y")
    texts = ray.data.from_items([{"text": "a b"}, {"text": None}, {"text": "c"}])  # a missing text
    with pytest.raises(TypeError, match=r"X: column 'text' holds a missing value \(null\) at row 1, not a text"):
        fx.select_samples(texts, 1, "dsir", target=["a b"])
    with pytest.raises(ValueError, match=r"X as a ray.data.Dataset runs DSIR's per-text hashing .* method='k_center'"):
        fx.select_samples(ds, 2, "k_center")
    with pytest.raises(ValueError, match=r"column='x' names a column of a ray.data.Dataset, but inputs is a Tensor"):
        fx.attribute(never_called, X, column="x", target=0)
