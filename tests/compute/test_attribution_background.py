"""Background sets: interventional Shapley values and expected gradients, against shap and Captum on the same
background (anchors-compute.md section 2), the closed form of a linear model, and efficiency against E_b f(b).

Agreement measured (float64, CPU): shap Exact / KernelExplainer (all coalitions) vs fxwidgets shapley_exact and
kernel_shap: max |difference| ~1e-15 for values of size ~0.5; shap Permutation vs fxwidgets shapley_permutation on a
pairwise game (both exact with one antithetic pair): ~5e-16. Expected gradients (3000 samples) against the
background mean of IG: fxwidgets 1.9, Captum GradientShap 1.9, shap GradientExplainer 1.4 standard errors at most
(standard error ~1.5e-3 for values up to 0.23).
"""

from __future__ import annotations

import importlib

import warnings

import numpy as np
import pytest
import torch

from fxwidgets.compute.attribution import iter_attribution, plan_attribution
from tests.conftest import requires_cuda

shap = importlib.import_module("shap")


def attribute(model, x, **kw):
    last = None
    for step in iter_attribution(plan_attribution(model, x, **kw)):
        last = step
    return last


def mlp(d=6, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double().eval()


class Pairwise(torch.nn.Module):
    """f = sum w_i x_i + sum_{i<j} v_ij x_i x_j: a game with at most pairwise interactions."""

    def __init__(self, d=7, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(d, generator=g, dtype=torch.float64))
        self.v = torch.nn.Parameter(torch.triu(torch.randn(d, d, generator=g, dtype=torch.float64), 1))

    def forward(self, x):
        return x @ self.w + torch.einsum("bi,ij,bj->b", x, self.v, x)


def data(d=6, n=4, k=10, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(k, d, generator=g, dtype=torch.float64)


def as_numpy_fn(model, target=None):
    def f(z):
        with torch.no_grad():
            out = model(torch.as_tensor(z, dtype=torch.float64))
        return (out if target is None else out[:, target]).numpy()

    return f


@pytest.fixture(scope="module")
def exact_case():
    model = mlp()
    x, bg = data(n=2)
    ours = attribute(model, x, target=1, method="shapley_exact", background=bg)
    return model, x, bg, ours


@pytest.mark.slow  # shap's first Exact call compiles its numba kernels (~15 s)
def test_exact_interventional_values_match_shap_exact(exact_case):
    model, x, bg, ours = exact_case
    masker = shap.maskers.Independent(bg.numpy(), max_samples=bg.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.explainers.Exact(as_numpy_fn(model, 1), masker)(x.numpy())
    scale = float(ours.features.abs().max())
    np.testing.assert_allclose(ours.features.numpy(), theirs.values, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(ours.base_values.numpy(), theirs.base_values, rtol=0, atol=1e-12)


def test_kernel_shap_with_every_coalition_matches_shap_kernel_explainer(exact_case):
    model, x, bg, exact = exact_case
    ours = attribute(model, x, target=1, method="kernel_shap", background=bg, n_samples=2**6 - 2)
    explainer = shap.KernelExplainer(as_numpy_fn(model, 1), bg.numpy())
    theirs = explainer.shap_values(x.numpy(), nsamples=2**6, silent=True)
    scale = float(exact.features.abs().max())
    np.testing.assert_allclose(ours.features.numpy(), theirs, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(ours.features.numpy(), exact.features.numpy(), rtol=0, atol=1e-10 * scale)
    assert abs(float(explainer.expected_value) - float(ours.base_values[0])) < 1e-12


def test_permutation_with_one_antithetic_pair_matches_shap_permutation_on_a_pairwise_game():
    model = Pairwise(7)
    x, bg = data(7, 3, 8)
    exact = attribute(model, x, method="shapley_exact", background=bg)
    ours = attribute(model, x, method="shapley_permutation", background=bg, n_permutations=2, seed=4)
    masker = shap.maskers.Independent(bg.numpy(), max_samples=bg.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.explainers.Permutation(as_numpy_fn(model), masker, seed=0)(x.numpy(), max_evals=2 * 7 + 2)
    scale = float(exact.features.abs().max())
    np.testing.assert_allclose(ours.features.numpy(), exact.features.numpy(), rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(theirs.values, exact.features.numpy(), rtol=0, atol=1e-12 * scale)


def test_linear_model_closed_form_is_w_times_x_minus_the_background_mean():
    torch.manual_seed(3)
    model = torch.nn.Linear(5, 2).double()
    x, bg = data(5, 3, 7)
    w = model.weight[0].detach()
    expected = (x - bg.mean(0)) * w
    for method, kw in [("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 3}), ("kernel_shap", {})]:
        r = attribute(model, x, target=0, method=method, background=bg, **kw)
        torch.testing.assert_close(r.features, expected, rtol=1e-10, atol=1e-12, msg=method)
        torch.testing.assert_close(r.base_values, model(bg)[:, 0].mean().expand(3).detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method,kw", [("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 7}),
                                       ("kernel_shap", {"n_samples": 30})])
def test_efficiency_against_the_background_mean(method, kw):
    """Every streamed estimate of the sampling methods is efficient; exact Shapley is a partial sum until the end."""
    model = mlp(6, seed=2)
    x, bg = data(6, 3, 5, seed=4)
    with torch.no_grad():
        expected = model(x)[:, 2] - model(bg)[:, 2].mean()
    plan = plan_attribution(model, x, target=2, method=method, background=bg, chunk_size=11, **kw)
    steps = list(iter_attribution(plan))
    assert len(steps) > 2
    for step in steps if method != "shapley_exact" else steps[-1:]:
        np.testing.assert_allclose(step.features.sum(1).numpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose((step.outputs - step.base_values).numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method,kw", [("shapley_exact", {"interactions": True}),
                                       ("shapley_permutation", {"n_permutations": 5}), ("kernel_shap", {"n_samples": 40})])
def test_a_background_of_one_row_equals_that_baseline(method, kw):
    model = mlp(5, seed=5)
    x, bg = data(5, 3, 1, seed=6)
    a = attribute(model, x, target=0, method=method, background=bg, seed=2, **kw)
    b = attribute(model, x, target=0, method=method, baseline=bg[0], seed=2, **kw)
    torch.testing.assert_close(a.features, b.features, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(a.base_values, b.base_values, rtol=1e-12, atol=1e-14)
    if "interactions" in kw:
        torch.testing.assert_close(a.extras["interactions"], b.extras["interactions"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method,kw", [("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 6}),
                                       ("kernel_shap", {"n_samples": 40}), ("gradient_shap", {"n_samples": 9})])
def test_background_results_do_not_depend_on_the_chunk_size(method, kw):
    model = mlp(5, seed=7)
    x, bg = data(5, 3, 4, seed=8)
    rs = [attribute(model, x, target=1, method=method, background=bg, chunk_size=c, **kw) for c in (1, 7, 10_000)]
    for r in rs[1:]:
        torch.testing.assert_close(r.values, rs[0].values, rtol=1e-10, atol=1e-12)


def test_the_interventional_game_is_the_mean_over_the_background():
    """Brute force: v(S) = mean_k f(x_S, bg_k), Shapley by its coalition formula, for one row."""
    import itertools
    import math

    model = mlp(4, seed=9)
    x, bg = data(4, 1, 6, seed=10)

    def v(S):
        z = bg.clone()
        z[:, list(S)] = x[0, list(S)]
        with torch.no_grad():
            return float(model(z)[:, 0].mean())

    n = 4
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for S in itertools.combinations(others, size):
                w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                phi[i] += w * (v((*S, i)) - v(S))
    r = attribute(model, x, target=0, method="shapley_exact", background=bg)
    np.testing.assert_allclose(r.features[0].numpy(), phi, rtol=1e-10, atol=1e-13)


def test_per_row_forward_args_with_a_background():
    """A per-row extra argument (a scale per row) is paired with each input row, for every background row."""

    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = mlp(4, seed=11)

        def forward(self, x, scale):
            return self.net(x)[:, 0] * scale

    model = Scaled()
    x, bg = data(4, 3, 5, seed=12)
    scale = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    r = attribute(model, x, method="shapley_exact", background=bg, forward_args=(scale,))
    for row in range(3):
        one = attribute(lambda z, s=float(scale[row]): model.net(z)[:, 0] * s, x[row:row + 1], method="shapley_exact",
                        background=bg)
        torch.testing.assert_close(r.features[row:row + 1], one.features, rtol=1e-12, atol=1e-14)
    with torch.no_grad():
        np.testing.assert_allclose(r.base_values.numpy(), (model.net(bg)[:, 0].mean() * scale).numpy(), rtol=1e-12)


# -- expected gradients ------------------------------------------------------------------------------------


def ig_average(model, x, bg, target, n_steps=64):
    """The expectation of expected gradients: the mean over background rows of IG from each row (Gauss-Legendre)."""
    total = torch.zeros_like(x)
    for b in bg:
        total += attribute(model, x, target=target, method="integrated_gradients", baseline=b, n_steps=n_steps).values
    return total / bg.shape[0]


@pytest.fixture(scope="module")
def eg_case():
    model = mlp(6, seed=13)
    x, bg = data(6, 3, 5, seed=14)
    truth = ig_average(model, x, bg, target=0)
    ours = attribute(model, x, target=0, method="gradient_shap", background=bg, n_samples=3000, seed=1)
    return model, x, bg, truth, ours


def test_expected_gradients_converge_to_the_background_mean_of_ig_within_their_stderr(eg_case):
    model, _x, bg, truth, ours = eg_case
    z = (ours.values - truth).abs() / ours.stderr
    assert float(z.max()) < 5, float(z.max())
    with torch.no_grad():
        base = model(bg)[:, 0].mean()
    torch.testing.assert_close(ours.base_values, base.expand(3), rtol=1e-12, atol=1e-12)
    # completeness holds for the truth exactly and for the estimate within its standard error
    np.testing.assert_allclose(truth.sum(1).numpy(), (ours.outputs - base).numpy(), rtol=1e-8, atol=1e-10)


def test_captum_gradient_shap_has_the_same_expectation(eg_case):
    """Captum's GradientShap is the same estimator (random background row, alpha ~ U(0, 1), input - baseline):
    with as many samples its error against the truth is of the size of our standard error."""
    captum_attr = importlib.import_module("captum.attr")
    model, x, bg, truth, ours = eg_case
    torch.manual_seed(0)
    theirs = captum_attr.GradientShap(model).attribute(x, baselines=bg, target=0, n_samples=3000, stdevs=0.0)
    z = (theirs - truth).abs() / ours.stderr
    assert float(z.max()) < 6, float(z.max())


def test_shap_gradient_explainer_has_the_same_expectation(eg_case):
    model, x, bg, truth, ours = eg_case

    class Head(torch.nn.Module):  # shap's GradientExplainer explains every output; keep the target's
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, z):
            return self.model(z.double())[:, :1]  # shap hands float32 rows to the model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = shap.GradientExplainer(Head(), bg).shap_values(x, nsamples=3000, rseed=0)
    theirs = torch.as_tensor(np.asarray(theirs)).reshape(x.shape)
    z = (theirs - truth).abs() / ours.stderr
    assert float(z.max()) < 6, float(z.max())


def test_expected_gradients_of_a_linear_model_are_exact_in_expectation_and_baselines_still_works():
    torch.manual_seed(15)
    model = torch.nn.Linear(4, 1).double()
    x, bg = data(4, 2, 6, seed=16)
    r = attribute(model, x, method="gradient_shap", background=bg, n_samples=4000, seed=2)
    expected = (x - bg.mean(0)) * model.weight[0].detach()
    assert float(((r.values - expected).abs() / r.stderr).max()) < 5
    old = attribute(model, x, method="gradient_shap", baselines=bg, n_samples=50, seed=2)
    new = attribute(model, x, method="gradient_shap", background=bg, n_samples=50, seed=2)
    torch.testing.assert_close(old.values, new.values, rtol=0, atol=0)


@pytest.mark.parametrize("kw,match", [
    ({"method": "shapley_exact", "background": torch.zeros(4, 3)}, r"background has shape \(4, 3\); expected \(K, 5\)"),
    ({"method": "kernel_shap", "background": torch.zeros(0, 5)}, "background has shape"),
    ({"method": "shapley_exact", "background": torch.zeros(2, 5), "baseline": 0.0}, "not both"),
    ({"method": "gradient_shap", "background": torch.zeros(2, 5), "baselines": torch.zeros(2, 5)}, "not both"),
    ({"method": "gradient_shap", "background": torch.full((2, 5), float("nan"))}, "background have 10 non-finite"),
    ({"method": "shapley_permutation", "background": [[1, 2]]}, "background has shape"),
])
def test_bad_backgrounds_are_named(kw, match):
    model = torch.nn.Linear(5, 1)
    with pytest.raises(ValueError, match=match):
        plan_attribution(model, torch.randn(2, 5), **kw)


@requires_cuda
@pytest.mark.parametrize("method,kw", [("shapley_exact", {}), ("shapley_permutation", {"n_permutations": 6}),
                                       ("kernel_shap", {"n_samples": 40}), ("gradient_shap", {"n_samples": 8})])
def test_background_cpu_and_cuda_agree(method, kw):
    model = mlp(5, seed=17)
    x, bg = data(5, 3, 6, seed=18)
    cpu = attribute(model, x, target=0, method=method, background=bg, **kw)
    gpu = attribute(model.cuda(), x, target=0, method=method, background=bg, **kw)
    assert gpu.values.device.type == "cuda" and gpu.base_values.device.type == "cuda"
    torch.testing.assert_close(gpu.values.cpu(), cpu.values, rtol=1e-9, atol=1e-12)
