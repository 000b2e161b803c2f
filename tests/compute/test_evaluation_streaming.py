"""Chunking never changes the answer, the same seed gives the same numbers, and every streamed partial record is
valid and ends equal to the blocking one."""

import math

import numpy as np
import pytest
import torch

from fxwidgets.compute.evaluation import (
    EvaluationAccumulator,
    evaluate,
    iter_evaluation,
    metric_names,
    plan_evaluation,
)
from tests.compute.evaluation_helpers import input_x_gradient
from tests.conftest import requires_cuda

ALL = {"faithfulness_correlation": {"n_samples": 12}, "deletion": {"n_steps": 9}, "insertion": {"n_steps": 9},
       "infidelity": {"n_samples": 5}, "max_sensitivity": {"n_samples": 4}, "avg_sensitivity": {"n_samples": 4},
       "complexity": {}, "sparseness": {}, "model_randomisation": {}, "random_target": {},
       "top_k_precision": {}, "mass_in_mask": {}}


def run(cnn, x, t, **kw):
    mask = torch.zeros_like(x, dtype=torch.bool)
    mask[:, :, 2:5, 2:5] = True
    kw.setdefault("metrics", ALL)
    return evaluate(cnn, x, input_x_gradient(cnn, x, t), target=t, explain_func=input_x_gradient, mask=mask, **kw)


def test_every_metric_is_requested_by_default_when_its_arguments_are_given(cnn, images):
    x, t = images
    assert set(ALL) == set(metric_names(input_x_gradient, mask=True, n_outputs=5))
    r = run(cnn, x, t, metrics=None)
    assert set(r.names) == set(ALL)
    # without explain_func or mask, only the metrics that need neither
    r = evaluate(cnn, x, input_x_gradient(cnn, x, t), target=t, chunk_size=64)
    assert set(r.names) == {"faithfulness_correlation", "deletion", "insertion", "infidelity", "complexity", "sparseness"}


@pytest.mark.parametrize("chunk_size", [1, 5, 13])
def test_chunk_size_does_not_change_any_value(cnn, images, chunk_size):
    x, t = images
    ref = run(cnn, x, t, chunk_size=1000)
    other = run(cnn, x, t, chunk_size=chunk_size)
    for name in ALL:
        a, b = ref[name], other[name]
        assert torch.allclose(a.values, b.values, rtol=1e-10, atol=1e-12, equal_nan=True), name
        if a.curves is not None:
            assert torch.allclose(a.curves, b.curves, rtol=1e-10, atol=1e-12), name
    assert torch.equal(ref["random_target"].extras["other_target"], other["random_target"].extras["other_target"])


def test_same_seed_same_numbers_other_seed_other_numbers(cnn, images):
    x, t = images
    stochastic = ("faithfulness_correlation", "infidelity", "max_sensitivity", "avg_sensitivity", "model_randomisation")
    one, again, other = run(cnn, x, t, seed=3), run(cnn, x, t, seed=3), run(cnn, x, t, seed=4)
    for name in ALL:
        assert torch.equal(one[name].values, again[name].values), name
    for name in stochastic:
        assert not torch.allclose(one[name].values, other[name].values), name
    assert one.seed == 3 and one["infidelity"].params["n_samples"] == 5


def test_a_sample_values_do_not_depend_on_the_other_samples(cnn, images):
    # draws are keyed by (seed, metric, sample, draw): evaluating the first three samples alone gives their values
    x, t = images
    whole = run(cnn, x, t)
    part = run(cnn, x[:3], t[:3])
    for name in ALL:
        assert torch.allclose(whole[name].values[:3], part[name].values, rtol=1e-10, atol=1e-12, equal_nan=True), name


def test_streamed_partial_records_are_valid_and_end_equal_to_the_blocking_record(cnn, images):
    x, t = images
    a = input_x_gradient(cnn, x, t)
    mask = torch.zeros_like(x, dtype=torch.bool)
    mask[:, :, 2:5, 2:5] = True
    kw = dict(target=t, explain_func=input_x_gradient, mask=mask, metrics=ALL, chunk_size=4, seed=7)
    blocking = evaluate(cnn, x, a, **kw)
    plan = plan_evaluation(cnn, x, a, **kw)
    acc = EvaluationAccumulator(plan)
    last, n_steps = 0.0, 0
    for step in iter_evaluation(plan):
        n_steps += 1
        assert 0.0 <= step.progress <= 1.0 and step.progress >= last
        last = step.progress
        acc.add(step)
        rec = acc.partial()
        assert rec.progress == step.progress
        for name, m in rec.metrics.items():
            done = acc.done[name]
            final = blocking[name].values
            # the samples done so far carry their final values, the rest are NaN
            assert torch.allclose(m.values[:done], final[:done], equal_nan=True)
            assert bool(torch.isnan(m.values[done:]).all())
            finite = m.values[torch.isfinite(m.values)]
            if finite.numel():
                assert m.mean == pytest.approx(float(finite.mean()))
            else:
                assert math.isnan(m.mean)
    assert last == 1.0 and n_steps > len(ALL)
    final = acc.result()
    for name in ALL:
        assert torch.equal(final[name].values, blocking[name].values, ) or torch.allclose(
            final[name].values, blocking[name].values, equal_nan=True)
        assert final[name].mean == pytest.approx(blocking[name].mean, nan_ok=True)


def test_result_before_the_end_refuses(cnn, images):
    x, t = images
    plan = plan_evaluation(cnn, x, input_x_gradient(cnn, x, t), target=t, metrics=["complexity", "deletion"], chunk_size=2)
    acc = EvaluationAccumulator(plan)
    acc.add(next(iter_evaluation(plan)))
    with pytest.raises(RuntimeError, match="incomplete"):
        acc.result()


def test_mean_and_standard_error_are_those_of_the_per_sample_values(cnn, images):
    x, t = images
    r = run(cnn, x, t, metrics=["avg_sensitivity", "infidelity", "deletion"])
    for name in ("avg_sensitivity", "infidelity", "deletion"):
        v = r[name].values.numpy()
        assert r[name].mean == pytest.approx(v.mean(), rel=1e-12)
        assert r[name].stderr == pytest.approx(v.std(ddof=1) / np.sqrt(len(v)), rel=1e-10)
        assert r[name].n_valid == len(v)
    assert r["avg_sensitivity"].value_stderr.shape == (6,)


def test_a_user_perturb_func_is_seeded_and_leaves_the_global_generator_alone(cnn, images):
    x, t = images
    a = input_x_gradient(cnn, x, t)

    def noisy(inputs):
        noise = 0.05 * torch.randn_like(inputs)
        return noise, inputs - noise

    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    kw = dict(target=t, metrics={"infidelity": {"perturb_func": noisy, "n_samples": 6}}, chunk_size=5, seed=1)
    one = evaluate(cnn, x, a, **kw)["infidelity"].values
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(one, evaluate(cnn, x, a, **kw)["infidelity"].values)


@requires_cuda
def test_cuda_and_cpu_agree(cnn, images):
    x, t = images
    cpu = run(cnn, x, t, chunk_size=7)
    gpu = run(cnn.cuda(), x.cuda(), t.cuda(), chunk_size=7)
    for name in ALL:
        if name in ("faithfulness_correlation", "infidelity", "max_sensitivity", "avg_sensitivity", "random_target",
                    "model_randomisation"):
            continue  # draws come from each device's own generator
        assert gpu[name].values.is_cuda
        assert torch.allclose(cpu[name].values, gpu[name].values.cpu(), rtol=1e-8, atol=1e-10, equal_nan=True), name
