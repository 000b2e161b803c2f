"""Bhatt et al.'s aggregate: convex weights that lower sensitivity (exactly, against a brute-force search and
against the aggregate's measured sensitivity) or complexity."""

import itertools

import pytest
import torch

from fxwidgets.compute.evaluation import (
    aggregate_attributions,
    aggregate_explainer,
    entropy_complexity,
    evaluate,
    sensitivity_gram,
)
from fxwidgets.compute.evaluation.aggregate import simplex_quadratic_min
from tests.compute.evaluation_helpers import gradient, input_x_gradient


def integrated_gradients(model, inputs, target, steps=8):
    x = torch.as_tensor(inputs)
    total = torch.zeros_like(x)
    for k in range(steps):
        total += gradient(model, x * (k + 0.5) / steps, target)
    return total * x / steps


FUNCS = {"gradient": gradient, "input_x_gradient": input_x_gradient, "ig": integrated_gradients}


def test_simplex_quadratic_minimum_matches_a_grid_search():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        A = torch.randn(3, 5, generator=g, dtype=torch.float64)
        G = A @ A.T
        w = simplex_quadratic_min(G)
        assert abs(float(w.sum()) - 1) < 1e-12 and float(w.min()) >= 0
        best = min(float(v @ G @ v) for i, j in itertools.product(range(201), repeat=2) if i + j <= 200
                   for v in [torch.tensor([i, j, 200 - i - j], dtype=torch.float64) / 200])
        assert float(w @ G @ w) <= best + 1e-12


def test_sensitivity_aggregate_is_the_most_stable_mix_and_its_sensitivity_is_measured(cnn, images):
    x, t = images
    names, G = sensitivity_gram(cnn, x, FUNCS, target=t, n_samples=1, radius=0.05, seed=2, chunk_size=4)
    assert names == tuple(FUNCS) and torch.allclose(G, G.T)
    maps = {k: f(cnn, x, t) for k, f in FUNCS.items()}
    rec = aggregate_attributions(maps, objective="sensitivity", sensitivity_gram=(names, G))
    assert abs(sum(rec.weights.values()) - 1) < 1e-12 and min(rec.weights.values()) >= 0
    assert rec.value <= min(rec.method_values.values()) + 1e-15 and rec.value <= rec.uniform_value + 1e-15
    # the aggregate as an explain_func reproduces the aggregate maps, and its measured squared change under the
    # same draws (max_sensitivity with one draw, absolute) is w^T G w
    explain = aggregate_explainer(FUNCS, rec.weights)
    assert torch.allclose(explain(cnn, x, t), rec.aggregate, atol=1e-12)
    r = evaluate(cnn, x, rec.aggregate, target=t, explain_func=explain, seed=2, chunk_size=4,
                 metrics={"max_sensitivity": {"n_samples": 1, "radius": 0.05, "relative": False}})
    assert float((r["max_sensitivity"].values ** 2).mean()) == pytest.approx(rec.value, rel=1e-9)


def test_complexity_aggregate_picks_a_one_hot_method():
    g = torch.Generator().manual_seed(0)
    dense = torch.rand(4, 30, generator=g, dtype=torch.float64)
    one_hot = torch.zeros(4, 30, dtype=torch.float64)
    one_hot[:, 3] = 2.0
    rec = aggregate_attributions({"dense": dense, "sparse": one_hot}, objective="complexity")
    assert rec.weights["sparse"] == pytest.approx(1.0) and rec.value == pytest.approx(0.0, abs=1e-12)


def test_complexity_aggregate_finds_an_interior_mix_when_methods_cancel():
    # two methods = the same sparse signal plus opposite noise: their mean is the signal alone (entropy 0)
    signal = torch.zeros(3, 40, dtype=torch.float64)
    signal[:, 0] = 1.0
    noise = torch.rand(3, 40, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.3
    noise[:, 0] = 0
    rec = aggregate_attributions({"a": signal + noise, "b": signal - noise}, objective="complexity")
    assert rec.weights["a"] == pytest.approx(0.5, abs=1e-6)
    assert rec.value < 1e-6 < min(rec.method_values.values())
    assert rec.value == pytest.approx(float(entropy_complexity(rec.aggregate).mean()), abs=1e-12)


def test_mean_aggregate_and_errors():
    a = torch.rand(2, 5, dtype=torch.float64)
    rec = aggregate_attributions({"x": a, "y": 2 * a}, objective="mean")
    assert rec.weights == {"x": 0.5, "y": 0.5}
    assert torch.allclose(rec.aggregate, a / a.norm(dim=1, keepdim=True))
    with pytest.raises(ValueError, match="sensitivity_gram is required"):
        aggregate_attributions({"x": a}, objective="sensitivity")
    with pytest.raises(ValueError, match="every method's maps must have one shape"):
        aggregate_attributions({"x": a, "y": a[:, :3]})
    with pytest.raises(ValueError, match="objective must be"):
        aggregate_attributions({"x": a}, objective="faithfulness")
    with pytest.raises(ValueError, match="sensitivity_gram is for methods"):
        aggregate_attributions({"x": a, "y": a}, objective="sensitivity", sensitivity_gram=(("y", "x"), torch.eye(2)))
