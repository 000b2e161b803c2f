"""Models that take integer token ids: gradient methods attribute at the embedding layer and sum per token
(Captum's LayerIntegratedGradients convention for text); perturbation and Shapley methods replace tokens by a
baseline token.

Agreement measured (float64, CPU, 24 Gauss-Legendre steps): LayerIntegratedGradients on nn.Embedding -> mean pool
-> Linear, per-token sums and per-dimension values, max relative difference 5e-9; completeness gap 6e-17.
"""

from __future__ import annotations

import importlib

import itertools
import math

import numpy as np
import pytest
import torch

from fxwidgets.compute.attribution import iter_attribution, plan_attribution
from tests.conftest import requires_cuda

captum_attr = importlib.import_module("captum.attr")

TOL = {"rtol": 1e-5, "atol": 1e-8}
VOCAB, T = 20, 6


def attribute(model, x, **kw):
    last = None
    for step in iter_attribution(plan_attribution(model, x, **kw)):
        last = step
    return last


class TinyText(torch.nn.Module):
    """nn.Embedding -> mean pool (over the tokens the mask keeps) -> tanh -> Linear."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(VOCAB, 8, padding_idx=0)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, ids, mask=None):
        e = self.emb(ids)
        if mask is None:
            pooled = e.mean(1)
        else:
            m = mask.to(e.dtype)[..., None]
            pooled = (e * m).sum(1) / m.sum(1)
        return self.fc(torch.tanh(pooled))


@pytest.fixture
def model():
    return TinyText().double().eval()


@pytest.fixture
def ids():
    g = torch.Generator().manual_seed(1)
    return torch.randint(1, VOCAB, (3, T), generator=g)


@pytest.mark.parametrize("rule", ["gausslegendre", "riemann_trapezoid"])
def test_token_ig_matches_captum_layer_ig_and_sums_per_token(model, ids, rule):
    r = attribute(model, ids, target=1, method="integrated_gradients", n_steps=24, rule=rule, chunk_size=5)
    theirs = captum_attr.LayerIntegratedGradients(model, model.emb).attribute(
        ids, baselines=torch.zeros_like(ids), target=1, n_steps=24, method=rule)
    if rule == "riemann_trapezoid":  # Captum's trapezoid weights sum to (n-1)/n (see test_attribution_captum.py)
        theirs = theirs * 24 / 23
    assert r.values.shape == (3, T) and r.extras["layer_values"].shape == (3, T, 8)
    torch.testing.assert_close(r.extras["layer_values"], theirs, **TOL)
    torch.testing.assert_close(r.values, theirs.sum(-1), **TOL)
    torch.testing.assert_close(r.feature_values, ids)  # the tokens the values belong to


def test_token_ig_is_complete(model, ids):
    r = attribute(model, ids, target=0, method="integrated_gradients", n_steps=64)
    with torch.no_grad():
        expected = model(ids)[:, 0] - model(torch.zeros_like(ids))[:, 0]
    np.testing.assert_allclose(r.values.sum(1).numpy(), expected.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose((r.outputs - r.base_values).numpy(), expected.numpy(), rtol=1e-12, atol=1e-14)
    assert r.diagnostics["max_abs_completeness_gap"] < 1e-9


def test_baseline_token_and_an_explicit_layer_and_a_mask(model, ids):
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[0, 4:] = False
    mask[2, 5:] = False
    plan = plan_attribution(model, ids, target=2, method="integrated_gradients", n_steps=16, baseline_token=3,
                            layer="emb", forward_args={"mask": mask})
    r = list(iter_attribution(plan))[-1]
    theirs = captum_attr.LayerIntegratedGradients(model, model.emb).attribute(
        ids, baselines=torch.full_like(ids, 3), target=2, n_steps=16, additional_forward_args=(mask,))
    torch.testing.assert_close(r.values, theirs.sum(-1), **TOL)
    assert float(r.values[0, 4:].abs().max()) == 0.0  # masked tokens do not reach the output
    assert plan.params["attributed_to"] == "layer output (summed per token)"


def test_token_saliency_and_input_x_gradient_at_the_embedding(model, ids):
    ixg = attribute(model, ids, target=0, method="input_x_gradient")
    theirs = captum_attr.LayerGradientXActivation(model, model.emb).attribute(ids, target=0)
    torch.testing.assert_close(ixg.values, theirs.sum(-1), rtol=1e-12, atol=1e-14)
    sal = attribute(model, ids, target=0, method="saliency")
    assert sal.values.shape == (3, T) and bool((sal.values >= 0).all())


def test_token_expected_gradients_default_to_the_pad_row_and_give_per_token_stderr(model, ids):
    truth = attribute(model, ids, target=1, method="integrated_gradients", n_steps=48).values
    r = attribute(model, ids, target=1, method="gradient_shap", n_samples=1500, seed=4)
    assert r.values.shape == r.stderr.shape == (3, T)
    assert float(((r.values - truth).abs() / r.stderr).max()) < 5
    sg = attribute(model, ids, target=1, method="smoothgrad", n_samples=6, stdev=0.1)
    assert sg.values.shape == sg.stderr.shape == (3, T)


def brute_force_token_shapley(model, row, target, pad=0):
    n = row.shape[0]

    def v(S):
        z = torch.full_like(row, pad)
        z[list(S)] = row[list(S)]
        with torch.no_grad():
            return float(model(z[None])[0, target])

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for S in itertools.combinations(others, size):
                w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                phi[i] += w * (v((*S, i)) - v(S))
    return phi


def test_shapley_on_token_ids_replaces_tokens_by_the_baseline_token(model, ids):
    exact = attribute(model, ids, target=2, method="shapley_exact", baseline_token=5)
    ks = attribute(model, ids, target=2, method="kernel_shap", baseline_token=5)
    assert exact.values.shape == (3, T) and exact.values.dtype == torch.float64
    for row in range(3):
        ref = brute_force_token_shapley(model, ids[row], 2, pad=5)
        np.testing.assert_allclose(exact.features[row].numpy(), ref, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(ks.features, exact.features, rtol=1e-8, atol=1e-12)
    ablation = attribute(model, ids, target=2, method="feature_ablation")
    assert ablation.values.shape == (3, T)


def test_shapley_on_token_ids_with_a_background_of_token_rows(model, ids):
    bg = torch.randint(1, VOCAB, (4, T), generator=torch.Generator().manual_seed(7))
    r = attribute(model, ids, target=0, method="shapley_exact", background=bg)
    with torch.no_grad():
        expected = model(ids)[:, 0] - model(bg)[:, 0].mean()
    np.testing.assert_allclose(r.features.sum(1).numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_integer_features_without_an_embedding_are_numbers():
    """Integer tabular data (no embedding in the model) is cast to the model's float dtype, not treated as ids."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1).double()
    x = torch.tensor([[1, 2, 3], [4, 5, 6]])
    r = attribute(lin, x, method="input_x_gradient")
    torch.testing.assert_close(r.values, x.double() * lin.weight[0].detach())


@pytest.mark.parametrize("kw,match", [
    ({"method": "integrated_gradients", "layer_side": "input"}, "cannot be differentiated"),
    ({"method": "integrated_gradients", "baseline_token": VOCAB}, "baseline_token 20 is outside"),
    ({"method": "integrated_gradients", "baseline_token": -1}, "baseline_token must be an integer >= 0"),
    ({"method": "integrated_gradients", "baseline": torch.zeros(3, T)}, "baseline must hold integer token ids"),
    ({"method": "gradient_shap", "background": torch.zeros(2, T + 1, dtype=torch.long)}, "background has shape"),
])
def test_bad_token_arguments_are_named(model, ids, kw, match):
    with pytest.raises(ValueError, match=match):
        plan_attribution(model, ids, target=0, **kw)


def test_ids_out_of_the_vocabulary_and_baseline_token_for_numbers(model, ids):
    with pytest.raises(ValueError, match="inputs hold token ids from 1 to 25, outside the embedding's 20 entries"):
        plan_attribution(model, torch.cat([ids, torch.tensor([[25] * T])]), target=0, method="ig")
    with pytest.raises(ValueError, match="baseline_token applies to integer token-id inputs"):
        plan_attribution(torch.nn.Linear(T, 1), ids.float(), method="shapley_exact", baseline_token=0)


@pytest.mark.parametrize("method,kw", [("integrated_gradients", {"n_steps": 7}), ("gradient_shap", {"n_samples": 4}),
                                       ("kernel_shap", {"n_samples": 20}), ("occlusion", {"sliding_window": (2,)})])
def test_token_results_do_not_depend_on_the_chunk_size(model, ids, method, kw):
    rs = [attribute(model, ids, target=0, method=method, chunk_size=c, **kw) for c in (1, 4, 1000)]
    for r in rs[1:]:
        torch.testing.assert_close(r.values, rs[0].values, rtol=1e-10, atol=1e-13)
    assert rs[0].values.shape == ids.shape


@requires_cuda
def test_token_ig_and_shapley_cpu_and_cuda_agree(model, ids):
    for method, kw in [("integrated_gradients", {"n_steps": 16}), ("shapley_exact", {})]:
        cpu = attribute(model, ids, target=1, method=method, **kw)
        gpu = attribute(model.cuda(), ids, target=1, method=method, **kw)  # CPU ids follow the model to the GPU
        model.cpu()
        assert gpu.values.device.type == "cuda"
        torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-9, atol=1e-12)
