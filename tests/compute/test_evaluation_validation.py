"""Bad input raises before any long work, and the error names the argument."""

import pytest
import torch

from fxwidgets.compute.evaluation import evaluate, plan_evaluation
from fxwidgets.compute.memory import options
from tests.compute.evaluation_helpers import input_x_gradient


class Counting(torch.nn.Module):
    """A model that counts the rows it was given."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.rows = inner, 0

    def forward(self, x):
        self.rows += x.shape[0]
        return self.inner(x)


@pytest.fixture
def setup(cnn, images):
    x, t = images
    return cnn, x, t, input_x_gradient(cnn, x, t)


@pytest.mark.parametrize("kwargs, match", [
    (dict(attributions=torch.zeros(6, 3, 8)), r"attributions have shape \(6, 3, 8\)"),
    (dict(attributions=torch.zeros(5, 3, 8, 8)), r"attributions have shape \(5, 3, 8, 8\)"),
    (dict(attributions=torch.zeros(6, 2, 8, 8)), "attributions have shape"),
    (dict(attributions="map"), "attributions must hold real numbers"),
    (dict(target=5), "target 5 is out of range"),
    (dict(target=None), "target is required"),
    (dict(target=[0, 1]), "target must be an int or 6 integers"),
    (dict(metrics=["deletion", "fidelity"]), "unknown metric 'fidelity'"),
    (dict(metrics={"deletion": {"steps": 3}}), "metric 'deletion' takes no parameter 'steps'"),
    (dict(metrics={"deletion": {"n_steps": 0}}), r"n_steps \(metric 'deletion'\) must be an integer in 1..192"),
    (dict(metrics={"deletion": {"n_steps": 193}}), r"n_steps \(metric 'deletion'\)"),
    (dict(metrics={"deletion": {"baseline": "grey"}}), r"baseline \(metric 'deletion'\) must be a number"),
    (dict(metrics={"deletion": {"baseline": torch.zeros(4)}}), r"baseline \(metric 'deletion'\) has shape \(4,\)"),
    (dict(metrics={"faithfulness_correlation": {"subset_size": 192}}), r"subset_size \(metric 'faithfulness_correlation'\)"),
    (dict(metrics={"faithfulness_correlation": {"n_samples": 1}}), r"n_samples \(metric 'faithfulness_correlation'\)"),
    (dict(metrics={"infidelity": {"perturbation": "salt"}}), r"perturbation \(metric 'infidelity'\) must be one of"),
    (dict(metrics={"infidelity": {"normalize": "yes"}}), r"normalize \(metric 'infidelity'\) must be True or False"),
    (dict(metrics={"max_sensitivity": {"radius": -1}}, explain_func=input_x_gradient), r"radius \(metric 'max_sensitivity'\)"),
    (dict(metrics={"max_sensitivity": {"norm": "l1"}}, explain_func=input_x_gradient), r"norm \(metric 'max_sensitivity'\)"),
    (dict(metrics=["max_sensitivity"]), "metric 'max_sensitivity' needs explain_func"),
    (dict(metrics=["top_k_precision"]), "metric 'top_k_precision' needs mask"),
    (dict(metrics={"random_target": {"similarity": "cosine"}}, explain_func=input_x_gradient), r"similarity \(metric 'random_target'\)"),
    (dict(metrics={"random_target": {"other_target": 9}}, explain_func=input_x_gradient), r"other_target \(metric 'random_target'\) 9 is out of range"),
    (dict(metrics={"random_target": {"other_target": [0, 1, 2, 3, 4, 0]}}, explain_func=input_x_gradient), "equals the target for sample 0"),
    (dict(metrics={"model_randomisation": {"layers": ["head"]}}, explain_func=input_x_gradient), r"layers \(metric 'model_randomisation'\): 'head'"),
    (dict(metrics={"model_randomisation": {"order": "random"}}, explain_func=input_x_gradient), r"order \(metric 'model_randomisation'\)"),
    (dict(metrics=["complexity"], chunk_size=0), "chunk_size must be a positive integer"),
    (dict(metrics=["complexity"], seed=1.5), "seed must be an integer"),
    (dict(metrics=["complexity"], mask=torch.zeros(7, 7)), r"mask has shape \(7, 7\)"),
    (dict(metrics=["complexity"], explain_func="saliency"), "explain_func must be callable"),
])
def test_bad_arguments_raise_naming_them_before_any_model_pass(setup, kwargs, match):
    cnn, x, t, a = setup
    model = Counting(cnn)
    args = dict(target=t, metrics=["deletion"])
    args.update(kwargs)
    attributions = args.pop("attributions", a)
    with pytest.raises((ValueError, TypeError), match=match):
        plan_evaluation(model, x, attributions, **args)
    # checks that need the model's output (target range, other_target) may run it once on the inputs, no more
    assert model.rows in (0, x.shape[0])


def test_non_finite_inputs_and_attributions_are_refused(setup):
    cnn, x, t, a = setup
    bad = a.clone()
    bad[2, 1, 3, 4] = float("nan")
    with pytest.raises(ValueError, match=r"attributions have 1 non-finite value\(s\).*\(2, 1, 3, 4\)"):
        plan_evaluation(cnn, x, bad, target=t)
    xb = x.clone()
    xb[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="inputs have non-finite values"):
        plan_evaluation(cnn, xb, a, target=t)


def test_explain_func_with_the_wrong_shape_is_caught_at_plan_time(setup):
    cnn, x, t, a = setup
    with pytest.raises(ValueError, match=r"explain_func returned shape \(1, 3, 8\)"):
        plan_evaluation(cnn, x, a, target=t, metrics=["max_sensitivity"],
                        explain_func=lambda m, inp, tt: torch.zeros(inp.shape[0], 3, 8))


def test_perturb_func_with_the_wrong_return_names_it(setup):
    cnn, x, t, a = setup
    with pytest.raises(ValueError, match="perturb_func must return \\(perturbation, perturbed_inputs\\)"):
        evaluate(cnn, x, a, target=t, metrics=["infidelity"], perturb_func=lambda inp: inp)
    with pytest.raises(ValueError, match="perturb_func returned perturbed inputs of shape"):
        evaluate(cnn, x, a, target=t, metrics=["infidelity"], perturb_func=lambda inp: (inp, inp[:, :1]))


def test_random_target_needs_classes_and_model_randomisation_a_module(setup):
    cnn, x, t, a = setup
    single = lambda inp: cnn(inp)[:, 0]
    with pytest.raises(ValueError, match="metric 'random_target' needs a model with at least 2 outputs"):
        plan_evaluation(single, x, a, metrics=["random_target"], explain_func=input_x_gradient)
    with pytest.raises(ValueError, match="model must be a torch.nn.Module"):
        plan_evaluation(single, x, a, metrics=["model_randomisation"], explain_func=input_x_gradient)
    # by default, metrics the call cannot run are left out instead
    plan = plan_evaluation(single, x, a, explain_func=lambda m, inp, tt: inp)
    assert "random_target" not in [s.name for s in plan.metrics]
    assert "model_randomisation" not in [s.name for s in plan.metrics]


def test_memory_guard_raises_before_any_model_pass_and_names_chunk_size(setup):
    cnn, x, t, a = setup
    model = Counting(cnn)
    old = options.memory_budget
    options.memory_budget = 10_000
    try:
        with pytest.raises(MemoryError, match="chunk_size=64 .* lower chunk_size"):
            plan_evaluation(model, x, a, target=t, metrics=["deletion"], chunk_size=64)
        assert model.rows == 0
        plan_evaluation(model, x, a, target=t, metrics=["complexity"], chunk_size=64)  # no scratch: fits
    finally:
        options.memory_budget = old


def test_aliases_and_the_record_of_parameters(setup):
    cnn, x, t, a = setup
    r = evaluate(cnn, x, a, target=t, metrics={"pixel_flipping": {"n_steps": 4}, "gini": None}, seed=9, chunk_size=32)
    assert r.names == ("deletion", "sparseness")
    assert r["deletion"].params == {"n_steps": 4, "baseline": 0.0, "abs": False, "blur_sigma": 3.0}
    assert r.params["chunk_size"] == 32 and r.params["seed"] == 9
    assert torch.equal(r.target, t) and r.output.shape == (6,)
