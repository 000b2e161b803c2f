"""Known ground truth: the planted tasks' models depend only on the planted features, exact attributions score
perfectly, and the scores rank a correct map above a wrong one."""

import pytest
import torch

from fxwidgets.compute.evaluation import (
    evaluate,
    mass_in_mask,
    planted_image_task,
    tabular_task,
    top_k_precision,
)
from tests.compute.evaluation_helpers import gradient


@pytest.mark.parametrize("function", ["linear", "interaction", "sine"])
def test_tabular_models_read_only_the_relevant_features(function):
    task = tabular_task(64, 15, 4, function=function, seed=2, dtype=torch.float64)
    x, m = task.inputs, task.mask
    noise = torch.randn_like(x) * ~m  # change every irrelevant feature
    assert torch.equal(task.model(x), task.model(x + noise))
    g = gradient(task.model, x, None)
    assert torch.equal(g[~m], torch.zeros_like(g[~m]))
    # the gradient has the whole mass on the relevant features and ranks them first
    r = evaluate(task.model, x, g, mask=m, metrics=["top_k_precision", "mass_in_mask"])
    assert torch.all(r["top_k_precision"].values == 1) and torch.allclose(r["mass_in_mask"].values, torch.ones(64, dtype=torch.float64))
    assert task.params["relevant"] == torch.nonzero(m[0]).flatten().tolist()


def test_tabular_task_is_reproducible_and_checks_its_arguments():
    a, b = tabular_task(seed=5), tabular_task(seed=5)
    assert torch.equal(a.inputs, b.inputs) and a.params == b.params
    assert not torch.equal(a.inputs, tabular_task(seed=6).inputs)
    with pytest.raises(ValueError, match="n_relevant must be even"):
        tabular_task(function="interaction", n_relevant=3)
    with pytest.raises(ValueError, match="n_relevant must be at most n_features"):
        tabular_task(n_features=3, n_relevant=4)


def test_planted_image_model_depends_only_on_the_planted_patch():
    task = planted_image_task(40, size=24, patch_size=5, seed=1, dtype=torch.float64)
    x, m = task.inputs, task.mask
    out = task.model(x)
    assert out.shape == (40, 2) and bool((out[:, 1] > 0).all())  # every image has the pattern: class 1 wins
    g = gradient(task.model, x, torch.full((40,), task.target))
    assert torch.equal(g[~m], torch.zeros_like(g[~m]))  # the max picks the planted window in every image
    assert bool((g[m] != 0).all())
    precision = top_k_precision(g, m)
    assert torch.equal(precision, torch.ones(40, dtype=torch.float64))
    assert torch.allclose(mass_in_mask(g, m), torch.ones(40, dtype=torch.float64))


def test_ground_truth_scores_rank_a_correct_map_above_a_random_one():
    task = planted_image_task(32, size=20, seed=3, dtype=torch.float64)
    x, m, t = task.inputs, task.mask, task.target
    correct = gradient(task.model, x, torch.full((32,), t)) * x
    wrong = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    metrics = {"top_k_precision": {}, "mass_in_mask": {}, "deletion": {"n_steps": 20}}
    good = evaluate(task.model, x, correct, target=t, mask=m, metrics=metrics)
    bad = evaluate(task.model, x, wrong, target=t, mask=m, metrics=metrics)
    assert good["top_k_precision"].mean == 1.0
    share = 25 / 400  # a random map puts about patch / image of its top-k and its mass on the patch
    assert abs(bad["top_k_precision"].mean - share) < 4 * bad["top_k_precision"].stderr + 0.02
    assert abs(bad["mass_in_mask"].mean - share) < 4 * bad["mass_in_mask"].stderr + 0.02
    assert good["deletion"].mean < bad["deletion"].mean - 5 * (good["deletion"].stderr + bad["deletion"].stderr)


def test_top_k_precision_by_hand():
    a = torch.tensor([[0.9, -0.8, 0.1, 0.05], [0.0, 0.0, 0.2, 0.1]])
    m = torch.tensor([[True, False, True, False], [False, False, False, False]])
    # row 0: |a| order 0, 1, 2, 3; k = 2 relevant -> {0, 1} has one relevant -> 0.5; with k=3 -> 2/3
    assert top_k_precision(a, m)[0].item() == 0.5
    assert top_k_precision(a, m, 3)[0].item() == pytest.approx(2 / 3)
    assert top_k_precision(a, m, 2, absolute=False)[0].item() == 1.0  # signed: 0.9, 0.1 first
    assert torch.isnan(top_k_precision(a, m)[1])  # nothing relevant: undefined
    assert mass_in_mask(a, m)[0].item() == pytest.approx(1.0 / 1.85)
