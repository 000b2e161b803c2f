"""Attribution to a layer's output or input (``layer=``, ``layer_side=``), against Captum's layer methods on the
same model and inputs (anchors-compute.md section 1).

Agreement measured (float64, CPU, 16 Gauss-Legendre steps): LayerIntegratedGradients max relative difference
3e-11 (output side) and 3e-11 (input side); LayerGradientXActivation identical (0.0). Tolerances are looser
(1e-5 relative) because Captum builds its quadrature nodes in float32 for some rules.
"""

from __future__ import annotations

import importlib

import threading

import numpy as np
import pytest
import torch

from fxwidgets.compute.attribution import iter_attribution, plan_attribution
from tests.conftest import requires_cuda

captum_attr = importlib.import_module("captum.attr")

TOL = {"rtol": 1e-5, "atol": 1e-8}


def attribute(model, x, **kw):
    last = None
    for step in iter_attribution(plan_attribution(model, x, **kw)):
        last = step
    return last


def mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 3)).double().eval()


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.act = torch.nn.Softplus()
        self.fc = torch.nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).flatten(1))


@pytest.fixture
def setup():
    torch.manual_seed(2)
    return mlp(), torch.randn(4, 5, dtype=torch.float64), torch.randn(4, 5, dtype=torch.float64) * 0.3


@pytest.mark.parametrize("side", ["output", "input"])
@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_middle", "riemann_left"])
def test_layer_integrated_gradients_match_captum(setup, side, rule):
    net, x, base = setup
    ours = attribute(net, x, target=2, method="integrated_gradients", layer=net[2], layer_side=side, baseline=base,
                     n_steps=16, rule=rule, chunk_size=7)
    theirs = captum_attr.LayerIntegratedGradients(net, net[2]).attribute(
        x, baselines=base, target=2, n_steps=16, method=rule, attribute_to_layer_input=side == "input")
    torch.testing.assert_close(ours.values, theirs, **TOL)
    assert ours.values.shape == (4, 8)


def test_layer_ig_on_a_conv_layer_and_by_name():
    net = ConvNet().double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64)
    ours = attribute(net, x, target=[0, 2], method="integrated_gradients", layer="conv", n_steps=20)
    theirs = captum_attr.LayerIntegratedGradients(net, net.conv).attribute(x, target=torch.tensor([0, 2]), n_steps=20)
    torch.testing.assert_close(ours.values, theirs, **TOL)
    assert ours.values.shape == (2, 4, 5, 5)


def test_layer_ig_is_complete_for_a_sequential_model(setup):
    """With the whole path through the layer, sum of the layer's attributions = f(x) - f(baseline)."""
    net, x, base = setup
    r = attribute(net, x, target=1, method="integrated_gradients", layer=net[3], baseline=base, n_steps=64)
    with torch.no_grad():
        gap = r.values.sum(1) - (net(x)[:, 1] - net(base)[:, 1])
    assert float(gap.abs().max()) < 1e-10
    np.testing.assert_allclose((r.outputs - r.base_values).numpy(), (net(x)[:, 1] - net(base)[:, 1]).detach().numpy(),
                               rtol=1e-12)
    assert r.diagnostics["max_abs_completeness_gap"] < 1e-10


@pytest.mark.parametrize("side", ["output", "input"])
def test_layer_gradient_x_activation_matches_captum(setup, side):
    net, x, _ = setup
    ours = attribute(net, x, target=0, method="input_x_gradient", layer=net[2], layer_side=side)
    theirs = captum_attr.LayerGradientXActivation(net, net[2]).attribute(x, target=0, attribute_to_layer_input=side == "input")
    torch.testing.assert_close(ours.values, theirs, rtol=1e-12, atol=1e-14)
    grads = attribute(net, x, target=0, method="saliency", abs=False, layer=net[2], layer_side=side)
    theirs = captum_attr.LayerGradientXActivation(net, net[2], multiply_by_inputs=False).attribute(
        x, target=0, attribute_to_layer_input=side == "input")
    torch.testing.assert_close(grads.values, theirs, rtol=1e-12, atol=1e-14)


def test_smoothgrad_at_a_layer_is_the_mean_over_noise_added_to_the_activation(setup):
    net, x, _ = setup
    with torch.no_grad():
        act = net[1](net[0](x))  # the input of net[2]
    noise = torch.randn(3, *act.shape, dtype=torch.float64)
    r = attribute(net, x, target=0, method="smoothgrad", base="gradient", noise=noise, n_samples=3, layer=net[2],
                  layer_side="input")
    head = torch.nn.Sequential(*list(net)[2:])
    ref = []
    for s in range(3):
        a = (act + noise[s]).requires_grad_(True)
        (g,) = torch.autograd.grad(head(a)[:, 0].sum(), a)
        ref.append(g)
    torch.testing.assert_close(r.values, torch.stack(ref).mean(0), rtol=1e-12, atol=1e-14)


def test_expected_gradients_at_a_layer_average_layer_ig_over_the_background(setup):
    net, x, _ = setup
    bg = torch.randn(3, 5, dtype=torch.float64)
    truth = sum(attribute(net, x, target=0, method="integrated_gradients", layer=net[2], baseline=b, n_steps=48).values
                for b in bg) / 3
    r = attribute(net, x, target=0, method="gradient_shap", background=bg, n_samples=2000, layer=net[2], seed=3)
    assert float(((r.values - truth).abs() / r.stderr).max()) < 5
    with torch.no_grad():
        torch.testing.assert_close(r.base_values, net(bg)[:, 0].mean().expand(4))


def test_layer_hooks_act_only_in_their_own_thread(setup):
    """Another thread running the same model while a layer attribution runs sees the plain model."""
    net, x, base = setup
    with torch.no_grad():
        expected = net(x)
    seen, stop = [], threading.Event()

    def other():
        while not stop.is_set():
            try:
                with torch.no_grad():
                    seen.append(float((net(x) - expected).abs().max()))
            except Exception:  # a foreign hook substituting its own tensor: a failure of this test  # noqa: BLE001
                seen.append(float("inf"))

    t = threading.Thread(target=other)
    t.start()
    try:
        for _ in range(3):
            attribute(net, x, target=2, method="integrated_gradients", layer=net[2], baseline=base, n_steps=200,
                      chunk_size=3)
    finally:
        stop.set()
        t.join()
    assert seen and max(seen) == 0.0
    assert not net[2]._forward_hooks and not net[2]._forward_pre_hooks  # every hook removed


def test_layer_with_forward_args(setup):
    net, x, base = setup

    class WithScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, z, scale):
            return self.net(z) * scale[:, None]

    model = WithScale()
    scale = torch.tensor([1.0, 2.0, -1.0, 0.5], dtype=torch.float64)
    ours = attribute(model, x, target=1, method="integrated_gradients", layer=net[2], baseline=base, n_steps=10,
                     forward_args=(scale,), chunk_size=3)
    theirs = captum_attr.LayerIntegratedGradients(model, net[2]).attribute(
        x, baselines=base, target=1, n_steps=10, additional_forward_args=(scale,))
    torch.testing.assert_close(ours.values, theirs, **TOL)


@pytest.mark.parametrize("kw,match", [
    ({"method": "integrated_gradients", "layer": "nope"}, "not a submodule"),
    ({"method": "integrated_gradients", "layer": torch.nn.Linear(8, 8)}, "layer is not a module of this model"),
    ({"method": "saliency", "layer": 3}, "layer must be a torch.nn.Module or its name"),
    ({"method": "integrated_gradients", "layer": "2", "layer_side": "middle"}, "layer_side must be one of"),
    ({"method": "shapley_exact", "layer": "2"}, "takes no parameter 'layer'"),
])
def test_bad_layer_arguments_are_named(setup, kw, match):
    net, x, _ = setup
    with pytest.raises((ValueError, TypeError), match=match):
        plan_attribution(net, x, target=0, **kw)


@pytest.mark.parametrize("method,kw", [("integrated_gradients", {"n_steps": 9}), ("smoothgrad", {"n_samples": 5}),
                                       ("gradient_shap", {"n_samples": 5}), ("input_x_gradient", {})])
def test_layer_results_do_not_depend_on_the_chunk_size(setup, method, kw):
    net, x, base = setup
    if method == "gradient_shap":
        kw = {**kw, "background": base}
    rs = [attribute(net, x, target=1, method=method, layer=net[2], chunk_size=c, **kw) for c in (1, 3, 1000)]
    for r in rs[1:]:
        torch.testing.assert_close(r.values, rs[0].values, rtol=1e-10, atol=1e-13)


@requires_cuda
def test_layer_ig_cpu_and_cuda_agree(setup):
    net, x, base = setup
    cpu = attribute(net, x, target=1, method="integrated_gradients", layer=net[2], baseline=base, n_steps=16)
    gpu = attribute(net.cuda(), x, target=1, method="integrated_gradients", layer=net[2], baseline=base, n_steps=16)
    assert gpu.values.device.type == "cuda"
    torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-9, atol=1e-12)


def test_a_layer_that_is_not_batch_first_is_named():
    class SequenceFirst(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(3, 3)
            self.head = torch.nn.Linear(3, 1)

        def forward(self, x):  # x (B, T, 3) -> the inner layer sees (T, B, 3)
            return self.head(self.inner(x.transpose(0, 1)).mean(0))

    with pytest.raises(ValueError, match=r"layer: its output has shape \(4, 2, 3\) for 2 input rows.*batch-first"):
        plan_attribution(SequenceFirst(), torch.randn(2, 4, 3), method="saliency", layer="inner")
