"""Evaluation metrics against values derived by hand (closed forms) and against scipy / skimage statistics."""

import importlib
import math

import numpy as np
import pytest
import scipy.stats
import torch

from fxwidgets.compute.evaluation import (
    average_ranks,
    entropy_complexity,
    evaluate,
    gini_sparseness,
    pearson,
    spearman,
    ssim,
)
from fxwidgets.compute.evaluation.randomisation import randomisable_layers
from tests.compute.evaluation_helpers import gradient


class Linear(torch.nn.Module):
    """f(x) = w . x (per row), one output per row."""

    def __init__(self, w):
        super().__init__()
        self.lin = torch.nn.Linear(len(w), 1, bias=False).double()
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w], dtype=torch.float64))

    def forward(self, x):
        return self.lin(x.reshape(x.shape[0], -1))[:, 0]


# -- complexity and sparseness --------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 7, 100])
def test_complexity_is_ln_d_for_a_uniform_map_and_zero_for_one_hot(d):
    uniform = torch.full((2, d), 0.3, dtype=torch.float64) * torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    one_hot = torch.zeros(2, d, dtype=torch.float64)
    one_hot[0, d // 2] = 5.0
    one_hot[1, 0] = -0.1
    assert torch.allclose(entropy_complexity(uniform), torch.full((2,), math.log(d), dtype=torch.float64), atol=1e-12)
    assert torch.equal(entropy_complexity(one_hot), torch.zeros(2, dtype=torch.float64))


def test_complexity_of_two_equal_features_is_ln_2_and_of_an_all_zero_map_undefined():
    a = torch.tensor([[0.0, 3.0, 0.0, -3.0]], dtype=torch.float64)
    assert entropy_complexity(a).item() == pytest.approx(math.log(2), abs=1e-14)
    assert math.isnan(entropy_complexity(torch.zeros(1, 4)).item())


@pytest.mark.parametrize("d", [2, 9, 64])
def test_gini_is_one_minus_one_over_d_for_one_hot_and_zero_for_uniform(d):
    one_hot = torch.zeros(3, d, dtype=torch.float64)
    one_hot[0, 0], one_hot[1, d - 1], one_hot[2, d // 2] = 1.0, -4.0, 0.5
    uniform = torch.full((1, d), -2.5, dtype=torch.float64)
    assert torch.allclose(gini_sparseness(one_hot), torch.full((3,), 1 - 1 / d, dtype=torch.float64), atol=1e-14)
    assert gini_sparseness(uniform).item() == pytest.approx(0.0, abs=1e-14)


def test_gini_matches_the_mean_absolute_difference_formula():
    # G = sum_i sum_j |a_i - a_j| / (2 d^2 mean(a)): the textbook definition, O(d^2)
    g = torch.Generator().manual_seed(0)
    a = torch.rand(4, 30, generator=g, dtype=torch.float64) ** 3
    slow = (a[:, :, None] - a[:, None, :]).abs().sum((1, 2)) / (2 * 30 ** 2 * a.mean(1))
    assert torch.allclose(gini_sparseness(a), slow, rtol=1e-12)


# -- deletion and insertion -------------------------------------------------------------------------------------
def test_deletion_area_of_a_linear_model_with_exact_attributions():
    # f = w . x, a = w * x (exact for baseline 0): order 6 (i=2), 4 (i=0), 2 (i=3), -2 (i=1)
    w, x = [4.0, -1.0, 2.0, 0.5], torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    model = Linear(w)
    a = x * torch.tensor(w, dtype=torch.float64)
    r = evaluate(model, x, a, metrics={"deletion": {"n_steps": 4}, "insertion": {"n_steps": 4}})
    # curve: f(x) = 10, then 10 - 6 = 4, 4 - 4 = 0, 0 - 2 = -2, -2 + 2 = 0
    assert r["deletion"].curves[0].tolist() == [10.0, 4.0, 0.0, -2.0, 0.0]
    assert r["deletion"].values.item() == pytest.approx(0.25 * (7 + 2 - 1 - 1), abs=1e-14)
    # insertion from the zero baseline adds the same features in the same order: 0, 6, 10, 12, 10
    assert r["insertion"].curves[0].tolist() == [0.0, 6.0, 10.0, 12.0, 10.0]
    assert r["insertion"].values.item() == pytest.approx(0.25 * (3 + 8 + 11 + 11), abs=1e-14)
    assert r["deletion"].curve_x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert r["deletion"].higher_is_better is False and r["insertion"].higher_is_better is True


def test_deletion_with_a_baseline_tensor_and_uneven_steps():
    # d = 5 features, 2 steps: floor(k * 5 / 2) = 0, 2, 5 features removed
    w = [1.0, 2.0, 3.0, 4.0, 5.0]
    x = torch.ones(1, 5, dtype=torch.float64)
    base = torch.full((5,), 0.5, dtype=torch.float64)
    a = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]], dtype=torch.float64)  # order 0, 1, 2, 3, 4
    r = evaluate(Linear(w), x, a, metrics={"deletion": {"n_steps": 2, "baseline": base}})
    assert r["deletion"].curves[0].tolist() == [15.0, 15.0 - 0.5 * 3, 7.5]


def test_abs_orders_by_magnitude():
    w = [1.0, 1.0, 1.0]
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    a = torch.tensor([[0.1, -5.0, 1.0]], dtype=torch.float64)
    signed = evaluate(Linear(w), x, a, metrics={"deletion": {"n_steps": 3}})["deletion"].curves[0]
    absolute = evaluate(Linear(w), x, a, metrics={"deletion": {"n_steps": 3, "abs": True}})["deletion"].curves[0]
    assert signed.tolist() == [6.0, 3.0, 2.0, 0.0]  # remove 2 (a=1), then 0 (a=0.1), then 1 (a=-5)
    assert absolute.tolist() == [6.0, 4.0, 1.0, 0.0]  # remove 1 (|a|=5), then 2, then 0


# -- infidelity and faithfulness correlation -----------------------------------------------------------------
def test_infidelity_of_exact_attributions_of_a_linear_model_is_zero():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, generator=g, dtype=torch.float64).tolist()
    x = torch.randn(5, 12, generator=g, dtype=torch.float64)
    model = Linear(w)
    wt = torch.tensor(w, dtype=torch.float64)
    base = torch.randn(12, generator=g, dtype=torch.float64)
    # global attributions (x - b) * w with subsets removed to b: f(x) - f(x~) = sum_S a exactly
    r = evaluate(model, x, (x - base) * wt, metrics={"infidelity": {"n_samples": 20, "baseline": base, "subset_size": 5},
                                                     "faithfulness_correlation": {"n_samples": 20, "baseline": base}})
    assert r["infidelity"].values.abs().max().item() < 1e-20
    # ... and the subset sums and output drops are then equal, so their correlation is 1
    assert torch.allclose(r["faithfulness_correlation"].values, torch.ones(5, dtype=torch.float64), atol=1e-12)
    # local attributions (the gradient w) with Gaussian perturbations: f(x) - f(x - I) = I . w exactly
    r = evaluate(model, x, wt.expand(5, 12), metrics={"infidelity": {"perturbation": "gaussian", "stdev": 0.3}})
    assert r["infidelity"].values.abs().max().item() < 1e-20


def test_infidelity_of_wrong_attributions_is_the_expected_squared_error():
    # a = 0: infidelity = E[(f(x) - f(x - I))^2] = E[(I . w)^2] = stdev^2 |w|^2 for Gaussian I, within 5 standard errors
    w = [3.0, -1.0, 2.0, 0.5]
    x = torch.zeros(2, 4, dtype=torch.float64)
    r = evaluate(Linear(w), x, torch.zeros_like(x),
                 metrics={"infidelity": {"perturbation": "gaussian", "stdev": 0.5, "n_samples": 4000}})
    expected = 0.25 * sum(v * v for v in w)
    rec = r["infidelity"]
    assert torch.all((rec.values - expected).abs() < 5 * rec.value_stderr)


def test_infidelity_normalize_ignores_the_attributions_scale():
    g = torch.Generator().manual_seed(2)
    w = torch.randn(6, generator=g, dtype=torch.float64)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64)
    a = x * w + 0.3 * torch.randn(3, 6, generator=g, dtype=torch.float64)
    kw = dict(metrics={"infidelity": {"normalize": True, "n_samples": 30}}, seed=4)
    one = evaluate(Linear(w.tolist()), x, a, **kw)["infidelity"].values
    many = evaluate(Linear(w.tolist()), x, 1000 * a, **kw)["infidelity"].values
    assert torch.allclose(one, many, rtol=1e-10)
    exact = evaluate(Linear(w.tolist()), x, 7 * x * w, **kw)["infidelity"].values  # a scaled exact map: beta = 1/7
    assert exact.abs().max().item() < 1e-20


# -- sensitivity -----------------------------------------------------------------------------------------------
def test_the_gradient_of_a_linear_model_has_zero_sensitivity():
    w = [1.0, -2.0, 0.5]
    x = torch.randn(4, 3, dtype=torch.float64)
    model = Linear(w)
    a = gradient(model, x, None)
    r = evaluate(model, x, a, explain_func=gradient, metrics=["max_sensitivity", "avg_sensitivity"])
    assert r["max_sensitivity"].values.abs().max().item() == 0.0
    assert r["avg_sensitivity"].values.abs().max().item() == 0.0


def test_sensitivity_of_input_times_weight_is_the_relative_size_of_the_noise():
    # a(x) = w * x, so a(x) - a(z) = w * (x - z); with norm='inf' and one feature the ratio is |x - z| / |x| <= r / |x|
    model = Linear([2.0])
    x = torch.tensor([[4.0]], dtype=torch.float64)

    def explain(m, inputs, target):
        return 2.0 * inputs

    r = evaluate(model, x, 2.0 * x, explain_func=explain,
                 metrics={"max_sensitivity": {"radius": 0.5, "n_samples": 200, "norm": "inf"},
                          "avg_sensitivity": {"radius": 0.5, "n_samples": 200, "norm": "inf", "relative": False}})
    mx = r["max_sensitivity"].values.item()
    assert 0.95 * 0.5 / 4 < mx <= 0.5 / 4  # the max of 200 uniform draws of |u| / 4 with |u| <= 0.5
    avg = r["avg_sensitivity"]  # absolute: E|2u| = 0.5 for u ~ U(-0.5, 0.5)
    assert abs(avg.values.item() - 0.5) < 5 * avg.value_stderr.item()


# -- randomisation ----------------------------------------------------------------------------------------------
def test_an_explanation_that_ignores_the_model_fails_both_sanity_checks(cnn, images):
    x, t = images

    def edge_detector(model, inputs, target):  # Adebayo et al.'s model-independent "explanation"
        return inputs.abs()

    a = x.abs()
    r = evaluate(cnn, x, a, target=t, explain_func=edge_detector,
                 metrics={"model_randomisation": {"summary": "mean"}, "random_target": {"similarity": "ssim"}})
    assert torch.allclose(r["model_randomisation"].curves, torch.ones_like(r["model_randomisation"].curves), atol=1e-12)
    assert torch.allclose(r["random_target"].values, torch.ones(6, dtype=torch.float64), atol=1e-12)
    assert r["model_randomisation"].curve_labels == tuple(randomisable_layers(cnn)[::-1])


def test_cascading_randomisation_of_a_linear_model_by_hand():
    # f = W x (one layer); the gradient explanation is the row W[t]. After reset_parameters under manual_seed(seed),
    # the row is the same row of a fresh nn.Linear initialised under that seed.
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(20, 3)).double().eval()
    x = torch.randn(4, 20, dtype=torch.float64)
    t = torch.tensor([0, 1, 2, 1])
    a = gradient(model, x, t)
    r = evaluate(model, x, a, target=t, explain_func=gradient, seed=11,
                 metrics={"model_randomisation": {"similarity": "pearson", "abs": False}})
    fresh = torch.nn.Linear(20, 3).double()
    torch.manual_seed(11)
    fresh.reset_parameters()
    expected = [np.corrcoef(model[0].weight[ti].detach().numpy(), fresh.weight[ti].detach().numpy())[0, 1] for ti in t.tolist()]
    assert np.allclose(r["model_randomisation"].values.numpy(), expected, atol=1e-12)
    # the original model is untouched
    assert torch.equal(gradient(model, x, t), a)


def test_random_target_draws_another_class_uniformly():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4).double().eval()
    x = torch.randn(400, 8, dtype=torch.float64)
    t = torch.zeros(400, dtype=torch.long)
    r = evaluate(model, x, gradient(model, x, t), target=t, explain_func=gradient,
                 metrics={"random_target": {"similarity": "spearman"}})
    other = r["random_target"].extras["other_target"]
    assert not bool((other == 0).any())
    counts = torch.bincount(other, minlength=4)[1:].double()
    assert float(((counts - 400 / 3) ** 2 / (400 / 3)).sum()) < 13.8  # chi-square, 2 dof, p = 0.001
    # the value is the Spearman correlation of |W[0]|-free rows: the gradient rows themselves
    W = model.weight.detach()
    expected = torch.tensor([scipy.stats.spearmanr(W[0].numpy(), W[o].numpy())[0] for o in other.tolist()])
    assert torch.allclose(r["random_target"].values, expected.double(), atol=1e-12)


# -- statistics against scipy and skimage ------------------------------------------------------------------------
def test_ranks_and_correlations_match_scipy():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 5, (6, 40), generator=g).double()  # many ties
    b = torch.randn(6, 40, generator=g, dtype=torch.float64)
    assert np.allclose(average_ranks(a).numpy(), scipy.stats.rankdata(a.numpy(), axis=1))
    sp = [scipy.stats.spearmanr(u, v)[0] for u, v in zip(a.numpy(), b.numpy())]
    pe = [scipy.stats.pearsonr(u, v)[0] for u, v in zip(a.numpy(), b.numpy())]
    assert np.allclose(spearman(a, b).numpy(), sp, atol=1e-12)
    assert np.allclose(pearson(a, b).numpy(), pe, atol=1e-12)
    assert math.isnan(pearson(torch.ones(1, 5), torch.randn(1, 5)).item())


def test_ssim_matches_skimage():
    skm = importlib.import_module("skimage.metrics")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 2, 12, 10, generator=g, dtype=torch.float64)
    b = a + 0.5 * torch.randn(3, 2, 12, 10, generator=g, dtype=torch.float64)
    for i in range(3):
        u, v = a[i].numpy(), b[i].numpy()
        rng = float(max(u.max(), v.max()) - min(u.min(), v.min()))
        flat = skm.structural_similarity(u.ravel(), v.ravel(), data_range=rng)
        image = skm.structural_similarity(u, v, data_range=rng, channel_axis=0)
        assert ssim(a[i:i + 1].reshape(1, -1), b[i:i + 1].reshape(1, -1)).item() == pytest.approx(flat, abs=1e-12)
        assert ssim(a[i:i + 1], b[i:i + 1], spatial_dims=2).item() == pytest.approx(image, abs=1e-12)
    assert ssim(torch.ones(1, 9), torch.ones(1, 9)).item() == 1.0


# -- fxwidgets' own methods as explain_func --------------------------------------------------------------------------
def test_attribution_explainer_runs_an_fxwidgets_method(cnn, images):
    from fxwidgets.compute.evaluation import attribution_explainer
    from tests.compute.evaluation_helpers import input_x_gradient

    x, t = images
    explain = attribution_explainer("input_x_gradient")
    assert torch.allclose(explain(cnn, x, t), input_x_gradient(cnn, x, t), atol=1e-12)
    ig = attribution_explainer("ig", n_steps=8)
    a = ig(cnn, x, t)
    r = evaluate(cnn, x, a, target=t, explain_func=ig, metrics={"max_sensitivity": {"n_samples": 2}, "random_target": {}})
    assert torch.isfinite(r["max_sensitivity"].values).all() and torch.isfinite(r["random_target"].values).all()
    with pytest.raises(TypeError, match="takes no parameter 'steps'"):
        attribution_explainer("integrated_gradients", steps=3)
    with pytest.raises(ValueError, match="method must be one of"):
        attribution_explainer("lime")


def test_insertion_starts_from_a_blurred_image_by_default(cnn, images):
    from fxwidgets.compute.evaluation.perturb import gaussian_blur

    x, t = images
    const = torch.full((1, 2, 9, 9), 3.0, dtype=torch.float64)
    assert torch.allclose(gaussian_blur(const, 2.0), const)  # a constant image is its own blur
    blurred = gaussian_blur(x, 3.0)
    assert blurred.std() < 0.5 * x.std()
    r = evaluate(cnn, x, torch.ones_like(x), target=t, metrics={"insertion": {"n_steps": 2}})
    assert r["insertion"].params["baseline"] == "blur"
    with torch.no_grad():
        start = cnn(blurred).gather(1, t[:, None])[:, 0]
    assert torch.allclose(r["insertion"].curves[:, 0], start, atol=1e-12)
    assert torch.allclose(r["insertion"].curves[:, -1], r.output, atol=1e-12)
    with pytest.raises(ValueError, match=r"baseline \(metric 'insertion'\)='blur' needs image-like inputs"):
        evaluate(Linear([1.0, 2.0]), torch.ones(2, 2, dtype=torch.float64), torch.ones(2, 2),
                 metrics={"insertion": {"baseline": "blur"}})
