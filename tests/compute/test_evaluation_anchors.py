"""Agreement with Captum (infidelity, sensitivity_max) and Quantus on the same inputs, model and perturbations.

The perturbations are made equal by replaying one table of draws to both sides in the order each visits its
rows (Captum and fxwidgets: sample-major; Quantus: draw-major), or by reproducing Quantus' own numpy draws.
Captum runs in float64 and agrees to rounding; Quantus casts to float32, so the tolerances are float32's, scaled
to the largest value.
"""

import importlib
import warnings

import numpy as np
import pytest
import torch

from fxwidgets.compute.evaluation import evaluate
from tests.compute.evaluation_helpers import Queue, input_x_gradient, small_cnn


def rel_err(ref, ours) -> float:
    ref = np.asarray(ref, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    return float(np.nanmax(np.abs(ref - ours)) / np.nanmax(np.abs(ref)))


# -- Captum -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("normalize", [False, True])
def test_infidelity_agrees_with_captum(cnn, images, normalize):
    captum_metrics = importlib.import_module("captum.metrics")
    x, t = images
    a = input_x_gradient(cnn, x, t)
    n = 7
    table = 0.1 * torch.randn(x.shape[0] * n, *x.shape[1:], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    theirs = captum_metrics.infidelity(cnn, Queue(table, "pair"), x, a, target=t, n_perturb_samples=n, normalize=normalize)
    ours = evaluate(cnn, x, a, target=t, chunk_size=5,
                    metrics={"infidelity": {"n_samples": n, "normalize": normalize, "perturb_func": Queue(table, "pair")}})
    assert rel_err(theirs, ours["infidelity"].values) < 1e-12


def test_sensitivity_max_agrees_with_captum(cnn, images):
    captum_metrics = importlib.import_module("captum.metrics")
    x, t = images
    a = input_x_gradient(cnn, x, t)
    n = 7
    table = (2 * torch.rand(x.shape[0] * n, *x.shape[1:], generator=torch.Generator().manual_seed(4), dtype=torch.float64) - 1) * 0.05

    def explanation_func(inputs, target):  # Captum passes a tuple of inputs and wants a tuple back
        return (input_x_gradient(cnn, inputs[0] if isinstance(inputs, tuple) else inputs, target),)

    theirs = captum_metrics.sensitivity_max(explanation_func, x, perturb_func=Queue(table, "add"), n_perturb_samples=n, target=t)
    ours = evaluate(cnn, x, a, target=t, chunk_size=4, explain_func=input_x_gradient,
                    metrics={"max_sensitivity": {"n_samples": n, "perturb_func": Queue(table, "add")}})
    assert rel_err(theirs, ours["max_sensitivity"].values) < 1e-12


# -- Quantus ------------------------------------------------------------------------------------------------------
@pytest.fixture
def qsetup():
    quantus = importlib.import_module("quantus")
    warnings.filterwarnings("ignore", module="quantus")
    net = small_cnn(torch.float32)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, 8, 8, generator=g)
    t = torch.arange(6) % 5
    a = input_x_gradient(net, x, t)
    return quantus, net, x, t, a


def qexplain(model, inputs, targets, **kwargs):
    return input_x_gradient(model, inputs, targets).numpy()


def test_complexity_and_sparseness_agree_with_quantus(qsetup):
    quantus, net, x, t, a = qsetup
    ours = evaluate(net, x, a, target=t, metrics=["complexity", "sparseness"])
    qc = quantus.Complexity(disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(), a_batch=a.numpy())
    qs = quantus.Sparseness(disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(), a_batch=a.numpy())
    assert rel_err(qc, ours["complexity"].values) < 1e-5
    assert rel_err(qs, ours["sparseness"].values) < 1e-5  # Quantus adds 1e-7 to every |a| before the Gini index


def test_faithfulness_correlation_agrees_with_quantus(qsetup):
    quantus, net, x, t, a = qsetup
    B, D, runs, k = x.shape[0], x[0].numel(), 20, 30
    # Quantus draws each run's subsets sample by sample with np.random.choice, then (inside its baseline
    # helper) one np.random.uniform per sample whatever the baseline: reproduce both to get its subsets
    np.random.seed(3)
    idx = np.zeros((B, runs, k), dtype=int)
    for r in range(runs):
        for b in range(B):
            idx[b, r] = np.random.choice(D, k, replace=False)
        np.random.uniform(0, 1, size=B)
    np.random.seed(3)
    theirs = quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=k, perturb_baseline="black", return_aggregate=False,
                                             disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(),
                                                                    a_batch=a.numpy())
    masks = torch.zeros(B, runs, D)
    for b in range(B):
        for r in range(runs):
            masks[b, r, idx[b, r]] = 1
    ours = evaluate(net, x, a, target=t, chunk_size=7,
                    metrics={"faithfulness_correlation": {"n_samples": runs, "baseline": "black",
                                                          "perturb_func": Queue(masks.view(B * runs, *x.shape[1:]), "mask")}})
    assert rel_err(theirs, ours["faithfulness_correlation"].values) < 1e-5


@pytest.mark.parametrize("name, cls", [("max_sensitivity", "MaxSensitivity"), ("avg_sensitivity", "AvgSensitivity")])
def test_sensitivity_agrees_with_quantus(qsetup, name, cls):
    quantus, net, x, t, a = qsetup
    B, D, n, radius = x.shape[0], x[0].numel(), 5, 0.1
    np.random.seed(5)  # Quantus: one uniform draw over the whole batch per step
    noise = np.stack([np.random.uniform(-radius, radius, size=(B, D)) for _ in range(n)], 1)
    np.random.seed(5)
    theirs = getattr(quantus, cls)(nr_samples=n, lower_bound=radius, disable_warnings=True)(
        model=net, x_batch=x.numpy(), y_batch=t.numpy(), a_batch=a.numpy(), explain_func=qexplain)
    table = torch.tensor(noise, dtype=torch.float32).reshape(B * n, *x.shape[1:])
    ours = evaluate(net, x, a, target=t, chunk_size=4, explain_func=input_x_gradient,
                    metrics={name: {"n_samples": n, "perturb_func": Queue(table, "add")}})
    assert rel_err(theirs, ours[name].values) < 1e-5


@pytest.mark.parametrize("softmax", [False, True])
def test_deletion_curve_agrees_with_quantus_pixel_flipping(qsetup, softmax):
    quantus, net, x, t, a = qsetup
    D, step = x[0].numel(), 16
    theirs = quantus.PixelFlipping(features_in_step=step, perturb_baseline="black", disable_warnings=True)(
        model=net, x_batch=x.numpy(), y_batch=t.numpy(), a_batch=a.numpy(), softmax=softmax)
    model = torch.nn.Sequential(net, torch.nn.Softmax(1)) if softmax else net
    ours = evaluate(model, x, a, target=t, metrics={"deletion": {"n_steps": D // step, "baseline": "black"}})
    # Quantus' curve starts after the first step; ours starts at f(x)
    assert rel_err(np.array(theirs), ours["deletion"].curves[:, 1:]) < 1e-5


def test_model_randomisation_agrees_with_quantus_mprt(qsetup):
    quantus, net, x, t, a = qsetup
    theirs = quantus.MPRT(seed=42, disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(),
                                                          a_batch=a.numpy(), explain_func=qexplain)
    # Quantus re-initialises every layer under manual_seed(seed + 1); fxwidgets under manual_seed(seed)
    rec = evaluate(net, x, a, target=t, explain_func=input_x_gradient, seed=43, chunk_size=4,
                   metrics=["model_randomisation"])["model_randomisation"]
    assert rec.curve_labels == tuple(k for k in theirs if k != "original")
    for j, layer in enumerate(rec.curve_labels):
        assert rel_err(theirs[layer], rec.curves[:, j]) < 1e-5


def test_random_target_agrees_with_quantus_random_logit(qsetup):
    quantus, net, x, t, a = qsetup
    B = x.shape[0]
    # SSIM depends on each map's scale and Quantus scales by the maximum over its whole batch: compare one sample
    # per call, with the other class Quantus draws (np.random.seed(seed), then randint over the n - 1 others)
    theirs, others = [], []
    for i in range(B):
        np.random.seed(42)
        r = int(np.random.randint(0, 4, 1)[0])
        others.append(r + int(r >= int(t[i])))
        theirs.append(quantus.RandomLogit(num_classes=5, seed=42, disable_warnings=True)(
            model=net, x_batch=x[i:i + 1].numpy(), y_batch=t[i:i + 1].numpy(), a_batch=a[i:i + 1].numpy(),
            explain_func=qexplain)[0])
    ours = evaluate(net, x, a, target=t, explain_func=input_x_gradient,
                    metrics={"random_target": {"other_target": torch.tensor(others)}})
    assert rel_err(theirs, ours["random_target"].values) < 1e-5
    # Spearman ignores the scale: the whole batch at once
    theirs = quantus.RandomLogit(num_classes=5, seed=42, similarity_func=quantus.similarity_func.correlation_spearman,
                                 disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(),
                                                        a_batch=a.numpy(), explain_func=qexplain)
    np.random.seed(42)
    r = np.random.randint(0, 4, B)
    others = torch.tensor(np.where(r >= t.numpy(), r + 1, r))
    ours = evaluate(net, x, a, target=t, explain_func=input_x_gradient,
                    metrics={"random_target": {"other_target": others, "similarity": "spearman"}})
    assert rel_err(theirs, ours["random_target"].values) < 1e-5


def test_ground_truth_scores_agree_with_quantus(qsetup):
    quantus, net, x, t, a = qsetup
    a1 = a.sum(1, keepdim=True)  # one map per pixel, as Quantus' localisation metrics want
    mask = np.zeros((x.shape[0], 1, 8, 8), dtype=bool)
    mask[:, :, 2:5, 2:6] = True
    ours = evaluate(net, x, a1, target=t, mask=torch.tensor(mask), metrics={"top_k_precision": {"k": 5}, "mass_in_mask": {}})
    tk = quantus.TopKIntersection(k=5, abs=True, disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(),
                                                                        a_batch=a1.numpy(), s_batch=mask)
    rma = quantus.RelevanceMassAccuracy(abs=True, disable_warnings=True)(model=net, x_batch=x.numpy(), y_batch=t.numpy(),
                                                                         a_batch=a1.numpy(), s_batch=mask)
    assert np.allclose(tk, ours["top_k_precision"].values.numpy(), atol=1e-12)
    assert rel_err(rma, ours["mass_in_mask"].values) < 1e-5
