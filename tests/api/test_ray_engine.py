"""engine="ray": attributions, evaluation scores and DSIR weights computed in row blocks on a local two-worker Ray
cluster give exactly the local answer."""

from __future__ import annotations

import importlib

import sys

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
    fake_dataset = type("Dataset", (), {"__module__": "ray.data.dataset"})()
    with pytest.raises(TypeError, match="inputs is a ray.data.Dataset, which is not accepted"):
        fx.attribute(model, fake_dataset, target=0, engine="ray")
    with pytest.raises(ValueError, match="aggregate cannot run on engine='ray'"):
        attrs = {"a": torch.rand(8, 6, dtype=torch.float64), "b": torch.rand(8, 6, dtype=torch.float64)}
        fx.evaluate(model, X, attrs, target=0, metrics="deletion", aggregate="mean", engine="ray")


def test_missing_ray_says_how_to_install(monkeypatch):
    from fxwidgets.compute.engines import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"pip install fxwidgets\[ray\]"):
        require_ray()
