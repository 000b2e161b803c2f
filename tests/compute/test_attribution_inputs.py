"""Several input tensors, extra forward arguments, and inputs cast to the model's dtype and device.

Several inputs must give exactly what one concatenated input gives (split back per input), and agree with
Captum's multi-input IntegratedGradients with ``additional_forward_args``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from fxwidgets.compute.attribution import iter_attribution, plan_attribution
from tests.conftest import requires_cuda


def attribute(model, x, **kw):
    last = None
    for step in iter_attribution(plan_attribution(model, x, **kw)):
        last = step
    return last


class TwoInputs(torch.nn.Module):
    """f(a, b; scale) = MLP([a.flatten, b]) * scale: an image-like input and a tabular one."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(2 * 3 + 4, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3))

    def forward(self, a, b, scale=1.0):
        out = self.net(torch.cat([a.flatten(1), b], 1))
        return out * (scale[:, None] if isinstance(scale, torch.Tensor) else scale)


class Concatenated(torch.nn.Module):
    """The same model taking one concatenated row."""

    def __init__(self, two):
        super().__init__()
        self.two = two

    def forward(self, z, scale=1.0):
        return self.two(z[:, :6].reshape(-1, 2, 3), z[:, 6:], scale)


@pytest.fixture
def setup():
    model = TwoInputs().double()
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3, 2, 3, generator=g, dtype=torch.float64)
    b = torch.randn(3, 4, generator=g, dtype=torch.float64)
    return model, a, b


@pytest.mark.parametrize("method,kw", [
    ("integrated_gradients", {"n_steps": 9}), ("saliency", {}), ("input_x_gradient", {}),
    ("smoothgrad", {"n_samples": 4, "stdev": 0.2}), ("shapley_exact", {}), ("kernel_shap", {"n_samples": 60}),
    ("shapley_permutation", {"n_permutations": 4}), ("feature_ablation", {}),
])
def test_several_inputs_equal_one_concatenated_input_split_back(setup, method, kw):
    model, a, b = setup
    scale = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    two = attribute(model, (a, b), target=1, method=method, forward_args=(scale,), **kw)
    one = attribute(Concatenated(model), torch.cat([a.flatten(1), b], 1), target=1, method=method,
                    forward_args=(scale,), **kw)
    assert isinstance(two.values, tuple) and two.values[0].shape == a.shape and two.values[1].shape == b.shape
    torch.testing.assert_close(torch.cat([two.values[0].flatten(1), two.values[1]], 1), one.values,
                               rtol=1e-12, atol=1e-14)
    if one.stderr is not None:
        assert isinstance(two.stderr, tuple)
    assert isinstance(two.feature_values, tuple) or two.features is not None


def test_several_inputs_match_captum_integrated_gradients(setup):
    captum_attr = importlib.import_module("captum.attr")
    model, a, b = setup
    base = (torch.full_like(a, 0.1), torch.zeros_like(b))
    ours = attribute(model, (a, b), target=2, method="integrated_gradients", baseline=base, n_steps=20,
                     forward_args=(2.0,))
    theirs = captum_attr.IntegratedGradients(model).attribute((a, b), baselines=base, target=2, n_steps=20,
                                                             additional_forward_args=(2.0,))
    for o, t in zip(ours.values, theirs):
        torch.testing.assert_close(o, t, rtol=1e-6, atol=1e-9)


def test_feature_masks_per_input_share_one_numbering(setup):
    model, a, b = setup
    masks = (torch.zeros(2, 3, dtype=torch.long), torch.tensor([1, 1, 2, 0]))  # id 0 spans both inputs
    r = attribute(model, (a, b), target=0, method="shapley_exact", feature_mask=masks)
    assert r.features.shape == (3, 3)
    assert bool((r.values[0] == r.features[:, :1, None]).all())
    assert bool((r.values[1][:, 3] == r.features[:, 0]).all())
    with torch.no_grad():
        expected = model(a, b)[:, 0] - model(torch.zeros_like(a), torch.zeros_like(b))[:, 0]
    np.testing.assert_allclose(r.features.sum(1).numpy(), expected.numpy(), rtol=1e-10)


def test_several_inputs_with_a_background(setup):
    model, a, b = setup
    g = torch.Generator().manual_seed(2)
    bg = (torch.randn(5, 2, 3, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64))
    r = attribute(model, (a, b), target=0, method="kernel_shap", background=bg)
    with torch.no_grad():
        expected = model(a, b)[:, 0] - model(*bg)[:, 0].mean()
    np.testing.assert_allclose((r.features.sum(1)).numpy(), expected.numpy(), rtol=1e-10)
    eg = attribute(model, (a, b), target=0, method="gradient_shap", background=bg, n_samples=5)
    assert eg.values[0].shape == a.shape and eg.stderr[1].shape == b.shape


def test_forward_args_as_keywords_shared_and_per_row():
    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.lin = torch.nn.Linear(4, 2).double()

        def forward(self, x, *, gate, offset):
            return self.lin(x * gate) + offset  # gate: one row per input row; offset: shared (2,)

    model = Gate()
    x = torch.randn(3, 4, dtype=torch.float64)
    gate = torch.tensor([[1.0, 0, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1]], dtype=torch.float64)
    offset = torch.tensor([5.0, -5.0], dtype=torch.float64)
    r = attribute(model, x, target=1, method="integrated_gradients", n_steps=5, chunk_size=4,
                  forward_args={"gate": gate, "offset": offset})
    torch.testing.assert_close(r.values, x * gate * model.lin.weight[1].detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(r.outputs, (model.lin(x * gate) + offset)[:, 1].detach())


@pytest.mark.parametrize("make", [
    lambda x: x.numpy().astype(np.float64),
    lambda x: x.tolist(),
    lambda x: x.half(),
    lambda x: x.double(),
], ids=["numpy-float64", "list", "float16", "float64"])
def test_inputs_are_cast_to_the_model_dtype(make):
    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))  # float32
    x = torch.randn(3, 4).half().float()  # representable in float16, so every cast gives the same numbers
    ref = attribute(model, x, target=0, method="integrated_gradients", n_steps=8)
    r = attribute(model, make(x), target=0, method="integrated_gradients", n_steps=8,
                  baseline=np.zeros(4))  # a float64 NumPy baseline is cast too
    assert r.values.dtype == torch.float32
    torch.testing.assert_close(r.values, ref.values, rtol=1e-6, atol=1e-7)
    r64 = attribute(model.double(), x, target=0, method="saliency")
    assert r64.values.dtype == torch.float64


def test_a_device_mismatch_that_cannot_be_resolved_names_inputs():
    model = torch.nn.Linear(4, 2).to("meta")
    with pytest.raises(ValueError, match="inputs are on cpu but the model is on meta"):
        plan_attribution(model, torch.randn(2, 4), target=0)


@requires_cuda
def test_cpu_inputs_follow_a_cuda_model():
    torch.manual_seed(5)
    model = torch.nn.Linear(4, 2)
    x = torch.randn(3, 4)
    cpu = attribute(model, x, target=0, method="integrated_gradients", n_steps=8)
    gpu = attribute(model.cuda(), x, target=0, method="integrated_gradients", n_steps=8, baseline=torch.zeros(4))
    assert gpu.values.device.type == "cuda"
    torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("inputs,kw,match", [
    (lambda a, b: (a, b[:2]), {}, "same number of rows"),
    (lambda a, b: (a, b), {"method": "occlusion", "sliding_window": (1,)}, "occlusion slides a window over one input"),
    (lambda a, b: (a, b), {"baseline": (0.0,)}, "baseline must be a number or a tuple of 2"),
    (lambda a, b: (a, b), {"baseline": (0.0, torch.zeros(5))}, r"baseline\[1\] has shape"),
    (lambda a, b: (a, b), {"method": "shapley_exact", "feature_mask": (torch.zeros(2, 3, dtype=torch.long),)},
     "feature_mask must be a tuple of 2 masks"),
    (lambda a, b: (a, b), {"method": "gradient_shap", "background": torch.zeros(2, 4)}, "background must be a tuple of 2"),
    (lambda a, b: (a, b), {"method": "gradient_shap", "background": (torch.zeros(2, 2, 3), torch.zeros(3, 4))},
     "same number of rows K"),
    (lambda a, b: (a, b.tolist() + [["x"] * 4]), {}, "inputs\\[1\\] must hold numbers"),
    (lambda a, b: (a, b * float("nan")), {}, "inputs\\[1\\] have non-finite"),
    (lambda a, b: (), {}, "empty tuple"),
    (lambda a, b: (a, b), {"forward_args": {1: 2}}, "string keys"),
])
def test_bad_several_inputs_are_named(setup, inputs, kw, match):
    model, a, b = setup
    kw = {"target": 0, "method": "integrated_gradients", **kw}
    with pytest.raises((ValueError, TypeError), match=match):
        plan_attribution(model, inputs(a, b), **kw)
