"""Shapley values and perturbation methods: axioms and closed forms (anchors-compute.md O3/O4)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.attribution import iter_attribution, plan_attribution
from tests.conftest import requires_cuda


def linear(d=6, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(d, 1).double()


class Pairwise(torch.nn.Module):
    """f = sum w_i x_i + sum_{i<j} v_ij x_i x_j: a game with at most pairwise interactions."""

    def __init__(self, d=6, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(d, generator=g, dtype=torch.float64)
        self.v = torch.triu(torch.randn(d, d, generator=g, dtype=torch.float64), 1)

    def forward(self, x):
        return x @ self.w + torch.einsum("bi,ij,bj->b", x, self.v, x)


class Nonlinear(torch.nn.Module):
    def __init__(self, d=6, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(d, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3)).double()

    def forward(self, x):
        return self.net(x)


def brute_force_shapley(f, x, b):
    """The textbook average of marginal contributions over all n! orderings (one input row)."""
    n = x.shape[0]
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        z = b.clone()
        prev = float(f(z[None]))
        for i in order:
            z[i] = x[i]
            cur = float(f(z[None]))
            phi[i] += cur - prev
            prev = cur
    return phi / math.factorial(n)


def test_exact_equals_brute_force_permutations():
    model = Nonlinear(5)
    x = torch.randn(2, 5, dtype=torch.float64)
    b = torch.randn(5, dtype=torch.float64)
    r = fx.attribute(model, x, target=1, method="shapley_exact", baseline=b)
    for row in range(2):
        ref = brute_force_shapley(lambda z: model(z)[:, 1], x[row], b)
        np.testing.assert_allclose(r.features[row].numpy(), ref, rtol=1e-10, atol=1e-12)


def test_exact_linear_is_w_times_x_minus_b():
    model = linear(8)
    x = torch.randn(3, 8, dtype=torch.float64)
    b = torch.randn(8, dtype=torch.float64)
    r = fx.attribute(model, x, method="shapley_exact", baseline=b, chunk_size=7)
    torch.testing.assert_close(r.values, (x - b) * model.weight[0].detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_perm", [1, 2, 3, 10, 41])
@pytest.mark.parametrize("antithetic", [True, False])
def test_permutation_efficiency_holds_for_every_budget(n_perm, antithetic):
    model = Nonlinear(7)
    x = torch.randn(3, 7, dtype=torch.float64)
    r = fx.attribute(model, x, target=0, method="shapley_permutation", n_permutations=n_perm, antithetic=antithetic)
    out = model(x)[:, 0] - model(torch.zeros_like(x))[:, 0]
    np.testing.assert_allclose(r.features.sum(1).numpy(), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert r.diagnostics["max_abs_efficiency_gap"] < 1e-12


def test_every_streamed_permutation_estimate_is_efficient_and_stderr_shrinks():
    model = Nonlinear(6)
    x = torch.randn(2, 6, dtype=torch.float64)
    plan = plan_attribution(model, x, target=2, method="shapley_permutation", n_permutations=200, chunk_size=40)
    ses = []
    for step in iter_attribution(plan):
        assert step.diagnostics["max_abs_efficiency_gap"] < 1e-12
        if step.diagnostics["mean_stderr"] is not None:
            ses.append(step.diagnostics["mean_stderr"])
    assert len(ses) > 5 and ses[-1] < ses[0] / 2


def test_one_antithetic_pair_is_exact_for_pairwise_games():
    model = Pairwise(7)
    x = torch.randn(3, 7, dtype=torch.float64)
    exact = fx.attribute(model, x, method="shapley_exact")
    for seed in (0, 1, 2):
        one = fx.attribute(model, x, method="shapley_permutation", n_permutations=2, seed=seed)
        torch.testing.assert_close(one.features, exact.features, rtol=1e-10, atol=1e-12)
    # and one permutation alone is not
    single = fx.attribute(model, x, method="shapley_permutation", n_permutations=1, antithetic=False)
    assert float((single.features - exact.features).abs().max()) > 1e-3


def test_permutation_estimate_converges_to_exact_within_its_stderr():
    model = Nonlinear(6)
    x = torch.randn(2, 6, dtype=torch.float64) * 2
    exact = fx.attribute(model, x, target=0, method="shapley_exact")
    est = fx.attribute(model, x, target=0, method="shapley_permutation", n_permutations=400, seed=5)
    z = (est.features - exact.features).abs() / est.stderr.clamp_min(1e-12)
    assert float(z.max()) < 5


def test_symmetry_and_dummy():
    def f(x):  # features 0 and 1 are symmetric, feature 3 is unused
        return torch.tanh(x[:, 0] + x[:, 1]) * x[:, 2] + x[:, 4] ** 2

    x = torch.tensor([[0.7, 0.7, -1.2, 5.0, 0.3]], dtype=torch.float64)
    for method, kw in [("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 6}), ("kernel_shap", {})]:
        r = fx.attribute(f, x, method=method, **kw)
        assert abs(float(r.features[0, 3])) < 1e-12, method
        if method != "shapley_permutation":
            assert abs(float(r.features[0, 0] - r.features[0, 1])) < 1e-10, method


def test_linearity_over_the_sum_of_two_games():
    f = Nonlinear(5)
    g = linear(5, seed=3)
    x = torch.randn(2, 5, dtype=torch.float64)
    a = fx.attribute(lambda z: f(z)[:, 0], x, method="shapley_exact").features
    b = fx.attribute(g, x, method="shapley_exact").features
    ab = fx.attribute(lambda z: f(z)[:, 0] + g(z)[:, 0], x, method="shapley_exact").features
    torch.testing.assert_close(ab, a + b, rtol=1e-10, atol=1e-12)


def test_kernel_shap_with_all_coalitions_is_exact():
    model = Nonlinear(6)
    x = torch.randn(3, 6, dtype=torch.float64)
    exact = fx.attribute(model, x, target=1, method="shapley_exact")
    ks = fx.attribute(model, x, target=1, method="kernel_shap", n_samples=2**6 - 2, chunk_size=17)
    torch.testing.assert_close(ks.features, exact.features, rtol=1e-6, atol=1e-9)
    assert ks.diagnostics["enumerated"] is True


def test_kernel_shap_sampled_keeps_efficiency_exactly_and_approaches_exact():
    model = Nonlinear(10)
    x = torch.randn(2, 10, dtype=torch.float64)
    exact = fx.attribute(model, x, target=0, method="shapley_exact")
    ks = fx.attribute(model, x, target=0, method="kernel_shap", n_samples=600, seed=1)
    assert ks.diagnostics["max_abs_efficiency_gap"] < 1e-10
    assert ks.diagnostics["enumerated"] is False
    err = float((ks.features - exact.features).abs().mean())
    assert err < 0.25 * float(exact.features.abs().mean())
    assert float(ks.stderr.mean()) > 0


def test_captum_kernel_shap_reference_value_is_hit_exactly():
    # Captum tests/attr/test_kernel_shap.py: BasicModel_MultiLayer, [[20, 50, 30]] -> [[76.67, 196.67, 116.67]]
    from captum.testing.helpers.basic_models import BasicModel_MultiLayer

    net = BasicModel_MultiLayer()
    x = torch.tensor([[20.0, 50.0, 30.0]])
    expected = torch.tensor([[76.66666, 196.66666, 116.66666]])
    for method in ("kernel_shap", "shapley_exact"):
        r = fx.attribute(net, x, target=0, method=method)
        torch.testing.assert_close(r.values, expected, rtol=1e-4, atol=1e-3)


def test_interactions_of_a_pairwise_game_are_the_pair_coefficients():
    model = Pairwise(5, seed=2)
    x = torch.randn(2, 5, dtype=torch.float64)
    r = fx.attribute(model, x, method="shapley_exact", interactions=True)
    inter = r.interactions
    v = model.v + model.v.T
    for row in range(2):
        sii = v * torch.outer(x[row], x[row])  # Shapley interaction index of x_i x_j terms with baseline 0
        off = ~torch.eye(5, dtype=torch.bool)
        torch.testing.assert_close(inter[row][off], (sii / 2)[off], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(inter[row].sum(1), r.features[row], rtol=1e-10, atol=1e-12)
    out = model(x) - model(torch.zeros_like(x))
    torch.testing.assert_close(inter.sum((1, 2)), out, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method,params", [
    ("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 6}), ("kernel_shap", {"n_samples": 40}),
    ("feature_ablation", {}), ("occlusion", {"sliding_window": (2,), "strides": (1,)}),
])
def test_perturbation_and_shapley_chunk_size_invariance(method, params):
    model = Nonlinear(6)
    x = torch.randn(3, 6, dtype=torch.float64)
    rs = [fx.attribute(model, x, target=0, method=method, chunk_size=c, **params) for c in (1, 5, 10_000)]
    for r in rs[1:]:
        torch.testing.assert_close(r.values, rs[0].values, rtol=1e-10, atol=1e-12)


def test_feature_groups_share_one_value():
    model = linear(6)
    x = torch.randn(2, 6, dtype=torch.float64)
    mask = torch.tensor([0, 0, 1, 1, 2, 2])
    r = fx.attribute(model, x, method="shapley_exact", feature_mask=mask)
    w = model.weight[0].detach()
    per_group = (x * w).view(2, 3, 2).sum(2)
    torch.testing.assert_close(r.features, per_group, rtol=1e-10, atol=1e-12)
    assert r.values[0, 0] == r.values[0, 1]


def test_feature_ablation_closed_form():
    model = Nonlinear(4)
    x = torch.randn(2, 4, dtype=torch.float64)
    r = fx.attribute(model, x, target=2, method="feature_ablation", baseline=0.5)
    for i in range(4):
        xa = x.clone()
        xa[:, i] = 0.5
        torch.testing.assert_close(r.values[:, i], (model(x) - model(xa))[:, 2].detach())


def test_occlusion_is_the_mean_drop_over_covering_windows():
    model = Nonlinear(5)
    x = torch.randn(1, 5, dtype=torch.float64)
    r = fx.attribute(model, x, target=0, method="occlusion", sliding_window=(2,), strides=(1,))
    drops = []
    for s in range(4):
        xa = x.clone()
        xa[:, s:s + 2] = 0
        drops.append(float((model(x) - model(xa))[0, 0]))
    expected = [drops[0], (drops[0] + drops[1]) / 2, (drops[1] + drops[2]) / 2, (drops[2] + drops[3]) / 2, drops[3]]
    np.testing.assert_allclose(r.values[0].numpy(), expected, rtol=1e-12)


@requires_cuda
@pytest.mark.parametrize("method,params", [
    ("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 8}), ("kernel_shap", {"n_samples": 40}),
    ("occlusion", {"sliding_window": (2,)}), ("feature_ablation", {}),
])
def test_cpu_and_cuda_agree(method, params):
    model = Nonlinear(6).float()
    x = torch.randn(3, 6)
    cpu = fx.attribute(model, x, target=0, method=method, **params)
    gpu = fx.attribute(model.cuda(), x.cuda(), target=0, method=method, **params)
    torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-4, atol=1e-5)
