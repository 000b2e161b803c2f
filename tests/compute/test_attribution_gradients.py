"""Gradient attribution methods: closed forms (anchors-compute.md O1), completeness, chunk invariance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.attribution import iter_attribution, plan_attribution, quadrature
from tests.conftest import requires_cuda

RULES = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")


class Bilinear(torch.nn.Module):
    def forward(self, x):
        return x[:, 0] * x[:, 1]


class Quadratic(torch.nn.Module):
    """f(x) = sum x_i^2: gradient 2x, so SmoothGrad of the gradient is 2x and VarGrad is 4 sigma^2."""

    def forward(self, x):
        return (x * x).sum(1)


def linear(d=6, k=3, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(d, k).double()


def smooth_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()


@pytest.mark.parametrize("rule", RULES)
def test_quadrature_weights_sum_to_one_and_nodes_in_unit_interval(rule):
    a, w = quadrature(rule, 9)
    assert abs(w.sum() - 1) < 1e-14
    assert a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("n_steps", [2, 5, 33])
def test_ig_linear_is_w_times_delta_for_every_rule_and_step_count(rule, n_steps):
    model = linear()
    x = torch.randn(4, 6, dtype=torch.float64)
    base = torch.randn(6, dtype=torch.float64)
    r = fx.attribute(model, x, target=2, method="integrated_gradients", baseline=base, n_steps=n_steps, rule=rule)
    expected = (x - base) * model.weight[2].detach()
    torch.testing.assert_close(r.values, expected, rtol=1e-12, atol=1e-12)
    assert r.diagnostics["max_abs_completeness_gap"] < 1e-12


@pytest.mark.parametrize("rule", ["riemann_middle", "riemann_trapezoid", "gausslegendre"])
def test_ig_bilinear_splits_the_product_in_half(rule):
    x = torch.tensor([[3.0, -2.0], [0.5, 4.0]], dtype=torch.float64)
    r = fx.attribute(Bilinear(), x, method="integrated_gradients", n_steps=4, rule=rule)
    prod = x[:, 0] * x[:, 1]
    torch.testing.assert_close(r.values, torch.stack([prod / 2, prod / 2], 1), rtol=1e-12, atol=1e-12)


def test_ig_bilinear_right_riemann_is_not_exact():
    x = torch.tensor([[3.0, -2.0]], dtype=torch.float64)
    r = fx.attribute(Bilinear(), x, method="integrated_gradients", n_steps=4, rule="riemann_right")
    # right Riemann sum of alpha over 4 nodes: (1+2+3+4)/16 = 10/16, not 1/2
    torch.testing.assert_close(r.values, torch.tensor([[-6.0 * 10 / 16, -6.0 * 10 / 16]], dtype=torch.float64))


def test_ig_captum_hand_values_basic_model2():
    # Captum tests/attr/test_integrated_gradients_basic.py: f = relu(relu(x1) - 1 - relu(x2)) at (3, 1) -> [1.5], [-0.5]
    def f(x):
        return torch.relu(torch.relu(x[:, 0]) - 1 - torch.relu(x[:, 1]))

    r = fx.attribute(f, torch.tensor([[3.0, 1.0]]), method="integrated_gradients", n_steps=50, rule="riemann_middle")
    torch.testing.assert_close(r.values, torch.tensor([[1.5, -0.5]]), rtol=1e-5, atol=1e-5)


def test_ig_completeness_gap_shrinks_with_steps():
    model = smooth_net()
    x = torch.randn(3, 5, dtype=torch.float64) * 2
    gaps = [fx.attribute(model, x, target=1, method="ig", n_steps=n, rule="riemann_right").diagnostics["max_abs_completeness_gap"]
            for n in (2, 8, 32, 128)]
    assert all(b < a for a, b in zip(gaps, gaps[1:])), gaps
    gl = fx.attribute(model, x, target=1, method="ig", n_steps=32, rule="gausslegendre").diagnostics["max_abs_completeness_gap"]
    assert gl < 1e-8


def test_ig_gap_is_sum_minus_output_difference():
    model = smooth_net(1)
    x = torch.randn(2, 5, dtype=torch.float64)
    r = fx.attribute(model, x, target=0, method="ig", n_steps=6, rule="riemann_left")
    out = model(x)[:, 0] - model(torch.zeros_like(x))[:, 0]
    gap = r.values.sum(1) - out
    np.testing.assert_allclose(r.completeness_gap, gap.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method,params", [
    ("integrated_gradients", {"n_steps": 7}),
    ("saliency", {}),
    ("input_x_gradient", {}),
    ("smoothgrad", {"n_samples": 5, "stdev": 0.3}),
    ("vargrad", {"n_samples": 5, "stdev": 0.3}),
    ("gradient_shap", {"n_samples": 6, "baselines": torch.randn(3, 5, dtype=torch.float64)}),
])
def test_chunk_size_does_not_change_the_answer(method, params):
    model = smooth_net()
    x = torch.randn(4, 5, dtype=torch.float64)
    results = [fx.attribute(model, x, target=2, method=method, chunk_size=c, **params) for c in (1, 3, 10_000)]
    for r in results[1:]:
        torch.testing.assert_close(r.values, results[0].values, rtol=1e-12, atol=1e-13)


def test_saliency_and_input_x_gradient_closed_form():
    model = linear()
    x = torch.randn(3, 6, dtype=torch.float64)
    w = model.weight[1].detach()
    torch.testing.assert_close(fx.attribute(model, x, target=1, method="saliency").values, w.abs().expand(3, 6))
    torch.testing.assert_close(fx.attribute(model, x, target=1, method="saliency", abs=False).values, w.expand(3, 6))
    torch.testing.assert_close(fx.attribute(model, x, target=1, method="input_x_gradient").values, x * w)


def test_smoothgrad_and_vargrad_of_a_quadratic():
    torch.manual_seed(0)
    x = torch.randn(2, 4, dtype=torch.float64)
    sigma = 0.5
    sg = fx.attribute(Quadratic(), x, method="smoothgrad", base="gradient", n_samples=400, stdev=sigma, seed=3)
    # E[2(x + eps)] = 2x; the estimate must sit within 5 standard errors (the standard error is exact here: 2 sigma / sqrt(n))
    z = (sg.values - 2 * x) / sg.stderr
    assert float(z.abs().max()) < 5
    np.testing.assert_allclose(sg.stderr.numpy(), 2 * sigma / math.sqrt(400), rtol=0.2)
    vg = fx.attribute(Quadratic(), x, method="vargrad", base="gradient", n_samples=400, stdev=sigma, seed=3)
    z = (vg.values - 4 * sigma**2) / vg.stderr
    assert float(z.abs().max()) < 5
    assert sg.seed == 3 and sg.params["stdev"] == sigma


def test_smoothgrad_with_given_noise_equals_the_mean_over_that_noise():
    model = smooth_net()
    x = torch.randn(2, 5, dtype=torch.float64)
    noise = torch.randn(3, 2, 5, dtype=torch.float64)
    r = fx.attribute(model, x, target=0, method="smoothgrad", n_samples=3, noise=noise, base="input_x_gradient")
    ref = []
    for s in range(3):
        xs = (x + noise[s]).requires_grad_(True)
        (g,) = torch.autograd.grad(model(xs)[:, 0].sum(), xs)
        ref.append(g * xs.detach())
    torch.testing.assert_close(r.values, torch.stack(ref).mean(0), rtol=1e-12, atol=1e-12)


def test_gradient_shap_linear_is_w_times_x_minus_mean_baseline_and_complete():
    model = linear()
    x = torch.randn(3, 6, dtype=torch.float64)
    bases = torch.randn(1, 6, dtype=torch.float64)
    r = fx.attribute(model, x, target=0, method="gradient_shap", baselines=bases, n_samples=10)
    torch.testing.assert_close(r.values, (x - bases) * model.weight[0].detach(), rtol=1e-12, atol=1e-12)
    assert r.diagnostics["max_abs_completeness_gap"] < 1e-12
    # every sample is the same for a linear model: the standard error is 0 up to the rounding of E[v^2] - E[v]^2
    assert r.stderr is not None and float(r.stderr.max()) < 1e-7 * float(r.values.abs().max())


def test_streaming_steps_are_valid_and_the_last_equals_the_blocking_result():
    model = smooth_net()
    x = torch.randn(3, 5, dtype=torch.float64)
    plan = plan_attribution(model, x, target=1, method="integrated_gradients", n_steps=10, chunk_size=4)
    steps = [s.values.clone() for s in iter_attribution(plan)]
    progress = [s.progress for s in iter_attribution(plan)]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) > 3
    r = fx.attribute(model, x, target=1, method="integrated_gradients", n_steps=10, chunk_size=4)
    torch.testing.assert_close(steps[-1], r.values)


def test_streamed_job_result_equals_blocking():
    model = smooth_net()
    x = torch.randn(3, 5, dtype=torch.float64)
    job = fx.attribute(model, x, target=1, method="smoothgrad", n_samples=8, stream=True, chunk_size=3)
    streamed = job.result(timeout=30)
    blocking = fx.attribute(model, x, target=1, method="smoothgrad", n_samples=8, chunk_size=3)
    torch.testing.assert_close(streamed.values, blocking.values)
    assert streamed.seed == 0 and streamed.method == "smoothgrad"


class TinyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.act = torch.nn.ReLU()
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        a = self.act(self.conv(x))
        return self.head(a.mean((2, 3)))


def test_grad_cam_matches_its_definition():
    net = TinyCNN().double()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    r = fx.attribute(net, x, target=2, method="grad_cam", layer="act", upsample=False)
    a = net.act(net.conv(x))
    # output = head(mean_hw A): dy/dA_c = w_c / (H W) everywhere, so the channel weights are w_c / (H W)
    w = net.head.weight[2].detach() / 36
    expected = torch.relu((w[None, :, None, None] * a.detach()).sum(1))
    torch.testing.assert_close(r.values, expected)
    up = fx.attribute(net, x, target=2, method="grad_cam", layer=net.act)
    assert tuple(up.values.shape) == (2, 6, 6)


def test_concepts_nmf_error_never_increases_and_recovers_a_rank_k_layer():
    torch.manual_seed(0)
    # a "layer" whose activations are exactly rank 2 and non-negative
    H = torch.rand(2, 6, dtype=torch.float64)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Identity()

        def forward(self, x):  # x: (B, 2, 4, 4) non-negative weights of the two concepts
            acts = torch.einsum("bkhw,kc->bchw", x, H)
            return self.layer(acts).mean((1, 2, 3))[:, None]

    x = torch.rand(3, 2, 4, 4, dtype=torch.float64)
    r = fx.attribute(Net(), x, method="concepts", layer="layer", n_concepts=2, n_iter=600, seed=1)
    hist = r.diagnostics["error_history"]
    assert all(b <= a + 1e-12 for a, b in zip(hist, hist[1:]))
    assert hist[-1] < 5e-3
    assert tuple(r.values.shape) == (3, 2, 4, 4) and tuple(r.extras["concepts"].shape) == (2, 6)


@requires_cuda
def test_cpu_and_cuda_agree():
    model = smooth_net().float()
    x = torch.randn(4, 5)
    cpu = fx.attribute(model, x, target=1, method="integrated_gradients", n_steps=16)
    gpu = fx.attribute(model.cuda(), x.cuda(), target=1, method="integrated_gradients", n_steps=16)
    torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-4, atol=1e-5)
    assert gpu.device.type == "cuda"
