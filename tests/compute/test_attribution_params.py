"""One validation vocabulary for the parameters of attribution methods: every bad value raises naming the
parameter, before the model runs at all; integral floats are accepted as counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fxwidgets.compute.attribution import METHODS, plan_attribution
from fxwidgets.compute.attribution.params import SCALARS, count, flag, nonnegative


class Counting(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv1d(1, 2, 1)
        self.lin = torch.nn.Linear(8, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(self.conv(x[:, None]).flatten(1))


BAD = {
    "count": [0, -3, 1.5, True, "7", None, float("nan"), float("inf"), [3]],
    "flag": ["yes", 1, 0, None, "False"],
    "nonnegative": [-0.1, float("nan"), float("inf"), "wide", True],
    "choice": ["nope", None, 3],
}
KIND = {"n_steps": "count", "n_samples": "count", "n_permutations": "count", "n_concepts": "count", "n_iter": "count",
        "abs": "flag", "antithetic": "flag", "interactions": "flag", "relu": "flag", "upsample": "flag",
        "stdev": "nonnegative", "layer_side": "choice", "base": "choice", "rule": "choice"}

CASES = [(method, name, bad)
         for method, (_fn, defaults, _s) in METHODS.items()
         for name in defaults if name in KIND
         for bad in BAD[KIND[name]]
         if not (name == "stdev" and bad is None) and not (name == "n_samples" and method == "kernel_shap" and bad is None)]


@pytest.mark.parametrize("method,name,bad", CASES, ids=[f"{m}-{n}-{b!r}" for m, n, b in CASES])
def test_every_bad_scalar_parameter_is_named_before_the_model_runs(method, name, bad):
    model = Counting()
    x = torch.randn(2, 4)
    with pytest.raises(ValueError, match=rf"\b{name}\b must"):
        plan_attribution(model, x, target=0, method=method, **{name: bad})
    assert model.calls == 0


def test_the_vocabulary_covers_every_scalar_parameter_of_every_method():
    tensors = {"baseline", "background", "baselines", "feature_mask", "noise", "layer", "sliding_window", "strides",
               "baseline_token"}
    for method, (_fn, defaults, _s) in METHODS.items():
        for name in defaults:
            assert name in KIND or name in tensors, (method, name)
            if name in KIND and name != "rule":
                assert name in SCALARS


def test_counts_accept_integral_floats_and_numpy_integers():
    assert count(1e5, "n") == 100_000 and isinstance(count(np.int64(3), "n"), int)
    assert count(np.float32(8.0), "n") == 8
    assert flag(np.bool_(True), "f") is True
    assert nonnegative(0, "s") == 0.0 and nonnegative(np.float64(2.5), "s") == 2.5
    plan = plan_attribution(Counting(), torch.randn(2, 4), target=0, method="smoothgrad", n_samples=4.0)
    assert plan.params["n_samples"] == 4 and isinstance(plan.params["n_samples"], int)


@pytest.mark.parametrize("kw,match", [
    ({"seed": 1.5, "method": "smoothgrad"}, "seed must be an integer"),
    ({"chunk_size": -1}, "chunk_size must be a positive integer"),
    ({"method": 3}, "method must be a string"),
    ({"method": "ig", "rule": "riemann_trapezoid", "n_steps": 1}, "at least 2 for rule='riemann_trapezoid'"),
    ({"method": "gradient_shap", "background": torch.zeros(2, 4), "stdev": -1}, "stdev must be a finite number >= 0"),
    ({"method": "ig", "baseline": float("nan")}, "baseline must be finite"),
    ({"method": "ig", "baseline": torch.full((4,), math.inf)}, "baseline have 4 non-finite"),
])
def test_other_arguments_are_named(kw, match):
    model = Counting()
    with pytest.raises(ValueError, match=match):
        plan_attribution(model, torch.randn(2, 4), target=0, **kw)
