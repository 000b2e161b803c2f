"""Agreement with Captum on the same inputs, for the methods both have (anchors-compute.md O2/O4).

float64 on the CPU: elementwise agreement to ~1e-10.
"""

from __future__ import annotations

import captum.attr as captum_attr  # a test dependency: pip install -e ".[test]"
import pytest
import torch

import fxwidgets as fx


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.act = torch.nn.ReLU()
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(self.act(self.conv(x)).flatten(1))


@pytest.fixture(scope="module")
def setup():
    net = Net().double().eval()
    torch.manual_seed(1)
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64)
    return net, x


TOL = {"rtol": 1e-9, "atol": 1e-10}
#: Captum builds its quadrature nodes and weights as Python floats turned into float32 tensors, and its
#: occlusion / ablation / Shapley accumulators come back in float32: agreement is to float32 precision there.
TOL32 = {"rtol": 1e-6, "atol": 1e-7}


@pytest.mark.parametrize("rule", ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"])
def test_integrated_gradients(setup, rule):
    net, x = setup
    base = torch.full_like(x[0], 0.1)
    ours = fx.attribute(net, x, target=1, method="integrated_gradients", baseline=base, n_steps=12, rule=rule, chunk_size=5)
    theirs = captum_attr.IntegratedGradients(net).attribute(x, baselines=base[None].expand_as(x), target=1, n_steps=12,
                                                            method=rule, internal_batch_size=7)
    if rule == "riemann_trapezoid":
        # Captum's trapezoid weights are 1/n (ends 1/2n) and sum to (n-1)/n, so it is not exact even for a
        # linear model; fxwidgets uses the trapezoid rule proper (1/(n-1), ends 1/(2(n-1))), which sums to 1.
        theirs = theirs * 12 / 11
    torch.testing.assert_close(ours.values, theirs, **TOL32)


def test_saliency_and_input_x_gradient(setup):
    net, x = setup
    torch.testing.assert_close(fx.attribute(net, x, target=2, method="saliency").values,
                               captum_attr.Saliency(net).attribute(x, target=2), **TOL)
    torch.testing.assert_close(fx.attribute(net, x, target=[0, 1, 2], method="input_x_gradient").values,
                               captum_attr.InputXGradient(net).attribute(x, target=torch.tensor([0, 1, 2])), **TOL)


def test_occlusion(setup):
    net, x = setup
    ours = fx.attribute(net, x, target=0, method="occlusion", sliding_window=(1, 3, 3), strides=(1, 2, 2), baseline=0.0,
                        chunk_size=4)
    theirs = captum_attr.Occlusion(net).attribute(x, sliding_window_shapes=(1, 3, 3), strides=(1, 2, 2), baselines=0.0,
                                                  target=0, perturbations_per_eval=3)
    torch.testing.assert_close(ours.values, theirs.double(), **TOL32)


def test_feature_ablation(setup):
    net, x = setup
    mask = (torch.arange(36).view(6, 6) // 9).expand(2, 6, 6).clone()
    mask[1] += 4  # 8 groups: 4 blocks per channel
    ours = fx.attribute(net, x, target=1, method="feature_ablation", feature_mask=mask, baseline=0.25)
    theirs = captum_attr.FeatureAblation(net).attribute(x, target=1, feature_mask=mask[None], baselines=0.25)
    torch.testing.assert_close(ours.values, theirs.double(), **TOL32)


def test_exact_shapley_equals_captum_shapley_values_over_all_permutations(setup):
    net, x = setup
    cols = torch.arange(36).view(6, 6) % 6
    mask = torch.stack([cols // 2, 3 + cols // 3])  # 5 groups: 3 column bands in channel 0, 2 in channel 1
    ours = fx.attribute(net, x, target=2, method="shapley_exact", feature_mask=mask)
    theirs = captum_attr.ShapleyValues(net).attribute(x, target=2, feature_mask=mask[None], perturbations_per_eval=16)
    # Captum sums 120 orderings' marginals in float32
    torch.testing.assert_close(ours.values, theirs.double(), rtol=1e-5, atol=1e-5)


def test_layer_grad_cam(setup):
    net, x = setup
    ours = fx.attribute(net, x, target=1, method="grad_cam", layer="act", upsample=False)
    theirs = captum_attr.LayerGradCam(net, net.act).attribute(x, target=1, relu_attributions=True)
    torch.testing.assert_close(ours.values, theirs[:, 0], **TOL)


def test_gradient_shap_with_one_baseline_and_no_noise_equals_captum_in_expectation(setup):
    # With a linear model every sample gives (x - b) * w, so both estimators are exact and must agree.
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 2).double()
    x = torch.randn(4, 8, dtype=torch.float64)
    b = torch.randn(1, 8, dtype=torch.float64)
    ours = fx.attribute(lin, x, target=1, method="gradient_shap", baselines=b, n_samples=5)
    theirs = captum_attr.GradientShap(lin).attribute(x, baselines=b, target=1, n_samples=5, stdevs=0.0)
    torch.testing.assert_close(ours.values, theirs, **TOL)


@pytest.mark.parametrize("nt_type", ["smoothgrad", "vargrad"])
def test_noise_tunnel_with_the_same_noise(setup, nt_type):
    # Captum's NoiseTunnel draws torch.normal(0, stdev) of shape (B * S, ...) from the global generator, row
    # b * S + s for input b and sample s; the same draw, given to fxwidgets as `noise`, must give the same answer.
    net, x = setup
    S, stdev = 4, 0.3
    torch.manual_seed(123)
    noise = torch.normal(0, torch.tensor(stdev).repeat((x.shape[0] * S, *x.shape[1:])))
    noise = noise.view(x.shape[0], S, *x.shape[1:]).transpose(0, 1).double()
    torch.manual_seed(123)
    theirs = captum_attr.NoiseTunnel(captum_attr.Saliency(net)).attribute(x, nt_type=nt_type, nt_samples=S,
                                                                          stdevs=stdev, target=1)
    ours = fx.attribute(net, x, target=1, method=nt_type, n_samples=S, noise=noise, base="saliency")
    torch.testing.assert_close(ours.values, theirs, rtol=1e-7, atol=1e-9)
