"""fx.attribute: one call shape, the result object, and bad input refused before any work starts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fxwidgets as fx


class Counting(torch.nn.Module):
    """A linear classifier that counts its forward passes (to prove errors come before the work)."""

    def __init__(self, d=4, k=3):
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(d, k)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x)


@pytest.fixture
def model():
    return Counting()


@pytest.fixture
def x():
    torch.manual_seed(1)
    return torch.randn(2, 4)


def test_result_records_method_params_seed_device(model, x):
    r = fx.attribute(model, x, target=1, method="shapley_permutation", n_permutations=4, seed=7)
    assert r.method == "shapley_permutation" and r.seed == 7 and r.target == [1, 1]
    assert r.params["n_permutations"] == 4 and r.params["device"] == "cpu" and r.params["seed"] == 7
    assert r.stderr is not None and r.stderr.shape == (2, 4)
    assert len(r.base_value) == 2 and len(r.output) == 2
    d = r.to_dict()
    assert isinstance(d["values"], np.ndarray) and d["method"] == "shapley_permutation"
    assert "shapley_permutation" in repr(r)
    ig = fx.attribute(model, x, target=0, method="ig")
    assert ig.seed is None and ig.params["rule"] == "gausslegendre" and ig.params["n_steps"] == 50
    assert ig.completeness_gap is not None


def test_same_seed_same_answer_other_seed_other_answer(model, x):
    a = fx.attribute(model, x, target=0, method="smoothgrad", n_samples=4, seed=1)
    b = fx.attribute(model, x, target=0, method="smoothgrad", n_samples=4, seed=1, base="input_x_gradient")
    c = fx.attribute(model, x, target=0, method="smoothgrad", n_samples=4, seed=1, base="input_x_gradient")
    d = fx.attribute(model, x, target=0, method="smoothgrad", n_samples=4, seed=2, base="input_x_gradient")
    torch.testing.assert_close(b.values, c.values)
    assert not torch.equal(c.values, d.values)
    assert a.params["base"] == "saliency"


def test_numpy_inputs_and_per_row_targets(model, x):
    r = fx.attribute(model, x.numpy(), target=np.array([0, 2]), method="input_x_gradient")
    w = model.lin.weight.detach()
    torch.testing.assert_close(r.values, x * w[[0, 2]])


@pytest.mark.parametrize("kwargs,match", [
    ({"target": 3}, "target 3 is out of range.*3 outputs"),
    ({"target": -1}, "out of range"),
    ({"target": [0, 1, 2]}, "one per input row"),
    ({"target": 0.5}, "target must be"),
    ({}, "target is required"),
    ({"target": 0, "method": "nope"}, "method must be one of"),
    ({"target": 0, "method": "ig", "baseline": torch.zeros(5)}, r"baseline has shape \(5,\)"),
    ({"target": 0, "method": "ig", "n_steps": 0}, "n_steps must be a positive integer"),
    ({"target": 0, "method": "ig", "rule": "simpson"}, "rule must be one of"),
    ({"target": 0, "method": "ig", "steps": 3}, "takes no parameter 'steps'"),
    ({"target": 0, "method": "feature_ablation", "feature_mask": torch.zeros(3, dtype=torch.long)}, "does not cover"),
    ({"target": 0, "method": "feature_ablation", "feature_mask": torch.tensor([0, 0, 2, 2])}, r"ids \[1\] are missing"),
    ({"target": 0, "method": "shapley_exact", "feature_mask": torch.tensor([0.0, 1, 2, 3])}, "integer group ids"),
    ({"target": 0, "method": "occlusion"}, "sliding_window is required"),
    ({"target": 0, "method": "occlusion", "sliding_window": (9,)}, "larger than one input"),
    ({"target": 0, "method": "gradient_shap"}, "background is required"),
    ({"target": 0, "method": "gradient_shap", "baselines": torch.zeros(3, 5)}, "baselines has shape"),
    ({"target": 0, "method": "grad_cam"}, "layer is required"),
    ({"target": 0, "method": "grad_cam", "layer": "conv9"}, "not a submodule"),
    ({"target": 0, "chunk_size": 0}, "chunk_size must be a positive integer"),
])
def test_bad_input_names_the_argument_before_long_work(model, x, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fx.attribute(model, x, **kwargs)
    assert model.calls <= 1  # at most the one pass that reads the number of outputs


def test_inputs_on_another_device_than_the_model(model, x):
    model.to("meta")
    with pytest.raises(ValueError, match="inputs are on cpu but the model is on meta"):
        fx.attribute(model, x, target=0)


def test_model_with_no_gradient_for_the_input(x):
    def frozen(z):
        with torch.no_grad():
            return z.sum(1, keepdim=True) * 2

    with pytest.raises(ValueError, match="no gradient"):
        fx.attribute(frozen, x, method="saliency")
    # perturbation methods do not need one
    r = fx.attribute(frozen, x, method="feature_ablation")
    torch.testing.assert_close(r.values, 2 * x)


def test_shapley_exact_refuses_too_many_features():
    lin = torch.nn.Linear(30, 1)
    with pytest.raises(ValueError, match="n = 30 features is over the limit"):
        fx.attribute(lin, torch.randn(1, 30), method="shapley_exact")


def test_non_finite_inputs(model):
    with pytest.raises(ValueError, match="non-finite"):
        fx.attribute(model, torch.tensor([[0.0, float("nan"), 1.0, 2.0]]), target=0)


def test_float32_follows_the_input(model, x):
    r = fx.attribute(model, x, target=0, method="ig", n_steps=8)
    assert r.values.dtype == torch.float32
    torch.testing.assert_close(r.values, x * model.lin.weight[0].detach(), rtol=1e-5, atol=1e-6)
