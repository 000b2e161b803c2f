"""Attributions over many rows keep what a summary (beeswarm) and a dependence view need: per-row values, the
per-row base value and output (values + base value = output where the method is additive), and the values of
the features the attributions belong to."""

from __future__ import annotations

import pytest
import torch

from fxwidgets.compute.attribution import AttributionAccumulator, iter_attribution, plan_attribution


def record(model, x, **kw):
    plan = plan_attribution(model, x, **kw)
    acc = AttributionAccumulator(plan)
    steps = []
    for step in iter_attribution(plan):
        acc.add(step)
        steps.append(step)
    return acc.result(), steps


@pytest.fixture(scope="module")
def tabular():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)).double().eval()
    x = torch.randn(300, 5, dtype=torch.float64)
    return model, x


@pytest.mark.parametrize("method,kw", [("kernel_shap", {}), ("shapley_permutation", {"n_permutations": 4}),
                                       ("gradient_shap", {"n_samples": 16})])
def test_a_whole_table_explained_against_a_background(tabular, method, kw):
    model, x = tabular
    bg = x[:20]
    rec, steps = record(model, x, method=method, background=bg, chunk_size=512, **kw)
    with torch.no_grad():
        out, base = model(x)[:, 0], model(bg)[:, 0].mean()
    assert rec.values.shape == (300, 5)
    torch.testing.assert_close(rec.outputs, out)
    torch.testing.assert_close(rec.base_values, base.expand(300), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rec.feature_values, x)  # colour of each dot: the feature's value in that row
    if method != "gradient_shap":  # additive exactly; expected gradients only in expectation
        torch.testing.assert_close(rec.values.sum(1) + rec.base_values, rec.outputs, rtol=1e-10, atol=1e-12)
    for step in steps:  # every streamed step carries them too
        assert step.base_values is not None and step.outputs is not None and step.feature_values is not None


def test_per_row_baselines_give_per_row_base_values(tabular):
    model, x = tabular
    base = torch.randn(300, 5, dtype=torch.float64)
    rec, _ = record(model, x[:, :], method="integrated_gradients", baseline=base, n_steps=32)
    with torch.no_grad():
        torch.testing.assert_close(rec.base_values, model(base)[:, 0])


def test_grouped_features_report_the_group_mean_as_the_feature_value(tabular):
    model, x = tabular
    mask = torch.tensor([0, 0, 1, 2, 2])
    rec, _ = record(model, x[:10], method="shapley_exact", feature_mask=mask)
    expected = torch.stack([x[:10, :2].mean(1), x[:10, 2], x[:10, 3:].mean(1)], 1)
    torch.testing.assert_close(rec.feature_values, expected)
    assert rec.features.shape == (10, 3)


def test_methods_without_a_reference_have_no_base_value_and_maps_no_feature_values(tabular):
    model, x = tabular
    sal, _ = record(model, x[:4], method="saliency")
    assert sal.base_values is None
    assert torch.equal(sal.feature_values, x[:4])

    class Cnn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, z):
            return self.fc(torch.relu(self.conv(z)).mean((2, 3)))

    cam, _ = record(Cnn(), torch.randn(2, 1, 6, 6), target=0, method="grad_cam", layer="conv", upsample=False)
    assert cam.feature_values is None and cam.values.shape == (2, 6, 6)
