"""Memory guards (issue 11): what a method must hold is checked against ``options.memory_budget`` before any
work, with the need, the budget and the knob that lowers it; what can be streamed is streamed, so huge sample,
step and permutation counts cost O(chunk) memory (measured with the torch profiler's allocation records).
"""

from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from fxwidgets.compute import memory
from fxwidgets.compute.attribution import iter_attribution, plan_attribution


@pytest.fixture
def budget():
    """Set the memory budget for one test, and give the old one back."""
    old = memory.options.memory_budget

    def set_budget(nbytes):
        memory.options.memory_budget = nbytes

    yield set_budget
    memory.options.memory_budget = old


def largest_allocation(fn) -> int:
    """The largest single CPU allocation torch made while ``fn`` ran (bytes)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    return max((e.self_cpu_memory_usage for e in prof.events()), default=0)


def mlp(d, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def first_steps(model, x, n=2, **kw):
    def run():
        steps = iter_attribution(plan_attribution(model, x, chunk_size=64, **kw))
        for _ in range(n):
            step = next(steps)
            assert 0 < step.progress < 1e-2  # a long run, streaming: only a sliver done

    return run


D = 500
X = torch.randn(2, D)
#: Materialising the draws of 1e5 samples of 2 x 500 float32 inputs would take 400 MB in one allocation.
STREAMED = [
    ("smoothgrad", {"n_samples": 10**5}),
    ("vargrad", {"n_samples": 1e5}),
    ("gradient_shap", {"n_samples": 10**5, "background": torch.randn(4, D), "stdev": 0.1}),
    ("integrated_gradients", {"n_steps": 10**9, "rule": "riemann_middle"}),
    ("shapley_permutation", {"n_permutations": 10**9, "feature_mask": torch.arange(D) // 5}),
]


@pytest.mark.parametrize("method,kw", STREAMED, ids=[m for m, _ in STREAMED])
def test_huge_counts_stream_in_chunk_sized_memory(budget, method, kw):
    budget(64 * 2**20)  # well under what materialising the draws would take; streaming needs far less
    biggest = largest_allocation(first_steps(mlp(D), X, method=method, **kw))
    assert biggest < 4 * 2**20, f"{method}: one allocation of {biggest / 2**20:.1f} MiB"


def test_kernel_shap_at_40_features_and_1e8_samples_streams(budget):
    budget(64 * 2**20)  # the coalition matrix alone would be 4 GB
    x = torch.randn(2, 40)
    biggest = largest_allocation(first_steps(mlp(40), x, method="kernel_shap", n_samples=10**8))
    assert biggest < 4 * 2**20


def test_gauss_legendre_nodes_over_the_budget_are_refused_naming_the_knob(budget):
    budget(2**30)
    with pytest.raises(MemoryError, match=r"n_steps=1000000000 needs 14\.90 GiB.*budget of 1\.00 GiB.*lower n_steps"):
        plan_attribution(mlp(3), torch.randn(2, 3), method="integrated_gradients", n_steps=1e9)
    with pytest.raises(ValueError, match="n_steps must be at most 10000 for rule='gausslegendre'"):
        plan_attribution(mlp(3), torch.randn(2, 3), method="integrated_gradients", n_steps=20_000)


def test_kernel_shap_normal_equations_over_the_budget_name_feature_mask(budget):
    budget(2**30)
    d = 12_000  # three 12000 x 12000 float64 matrices: 3.2 GB
    model = torch.nn.Linear(d, 1)
    with pytest.raises(MemoryError, match="kernel_shap's 11999 x 11999 normal equations needs .*feature_mask"):
        plan_attribution(model, torch.randn(1, d), method="kernel_shap")
    # grouped into 100 features it fits
    plan_attribution(model, torch.randn(1, d), method="kernel_shap", feature_mask=torch.arange(d) // 120, n_samples=4)


def test_interaction_matrices_over_the_budget_are_refused(budget):
    budget(5 * 2**20)
    x = torch.randn(2000, 20)
    with pytest.raises(MemoryError, match="interaction matrices of 2000 rows.*attribute fewer rows"):
        plan_attribution(mlp(20), x, method="shapley_exact", interactions=True)


def test_gradient_values_over_the_budget_are_refused_before_the_model_runs(budget):
    budget(2**20)
    calls = []

    def model(z):
        calls.append(1)
        return z.flatten(1).sum(1)

    with pytest.raises(MemoryError, match="smoothgrad over 64 rows needs .*attribute fewer rows"):
        plan_attribution(model, torch.zeros(64, 4096), method="smoothgrad")
    assert len(calls) == 1  # the single pass that reads the output's shape


def test_layer_activations_over_the_budget_are_refused_after_the_first_chunk(budget):
    budget(2**20)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8192), torch.nn.Linear(8192, 1))
    with pytest.raises(MemoryError, match=r"integrated_gradients at the layer \(\(8192,\) per row\) for 64 rows"):
        plan_attribution(net, torch.randn(64, 4), method="integrated_gradients", layer=net[0], chunk_size=8)


@pytest.mark.parametrize("method,kw", [("smoothgrad", {"n_samples": 7}), ("gradient_shap", {"n_samples": 7}),
                                       ("shapley_permutation", {"n_permutations": 5}), ("kernel_shap", {"n_samples": 30}),
                                       ("integrated_gradients", {"n_steps": 7, "rule": "riemann_trapezoid"})])
def test_streamed_draws_do_not_depend_on_the_chunk_size(method, kw):
    torch.manual_seed(1)
    model = mlp(6).double()
    x = torch.randn(3, 6, dtype=torch.float64)
    if method == "gradient_shap":
        kw = {**kw, "background": torch.randn(4, 6, dtype=torch.float64), "stdev": 0.3}
    rs = []
    for c in (1, 4, 5, 1000):
        steps = list(iter_attribution(plan_attribution(model, x, method=method, chunk_size=c, seed=3, **kw)))
        rs.append(steps[-1].values)
    for r in rs[1:]:
        torch.testing.assert_close(r, rs[0], rtol=1e-10, atol=1e-12)
