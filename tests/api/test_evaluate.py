"""fx.evaluate: one method or several compared on the same draws, the aggregate row, the result object, and bad
input refused (naming the argument) before the model runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.evaluation import MetricRecord, planted_image_task
from fxwidgets.compute.evaluation.comparison import ComparisonAccumulator, iter_comparison, plan_comparison
from tests.compute.evaluation_helpers import small_cnn
from tests.conftest import requires_cuda


class Counting(torch.nn.Module):
    """Wraps a model and counts its forward passes (to prove errors come before the work)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.fixture
def cnn():
    return small_cnn()


@pytest.fixture
def images():
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64), torch.arange(6) % 5


def paired(a: MetricRecord, b: MetricRecord) -> tuple[float, float]:
    """Mean and standard error of the per-sample difference a - b (both rows scored on the same samples)."""
    d = (a.values - b.values).double()
    return float(d.mean()), float(d.std(unbiased=True) / math.sqrt(d.numel()))


def assert_same(r1, r2):
    assert r1.methods == r2.methods and r1.metric_names == r2.metric_names
    v1, v2 = r1.values(), r2.values()
    assert torch.equal(torch.isnan(v1), torch.isnan(v2)) and torch.equal(v1.nan_to_num(), v2.nan_to_num())


# -- the same answer blocking and streamed ---------------------------------------------------------------------
def test_blocking_equals_streamed_and_every_partial_table_is_valid(cnn, images):
    x, t = images
    methods = {"ig": fx.attribute(cnn, x, target=t, method="integrated_gradients", n_steps=8),
               "ixg": fx.attribute(cnn, x, target=t, method="input_x_gradient")}
    kw = dict(metrics={"faithfulness_correlation": {"n_samples": 6}, "deletion": {"n_steps": 8},
                       "max_sensitivity": {"n_samples": 2}, "complexity": {}},
              aggregate="sensitivity", chunk_size=5, seed=3)
    blocking = fx.evaluate(cnn, x, methods, **kw)
    job = fx.evaluate(cnn, x, methods, stream=True, **kw)
    streamed = job.result(timeout=120)
    assert isinstance(blocking, fx.EvaluationResult) and isinstance(streamed, fx.EvaluationResult)
    assert_same(blocking, streamed)
    assert blocking.aggregate.weights == streamed.aggregate.weights
    assert blocking.methods == ("ig", "ixg", "aggregate")

    # the generator behind both: progress rises to 1, and each partial table keeps finished cells
    plan = plan_comparison(cnn, x, methods, **kw)
    acc = ComparisonAccumulator(plan)
    last = 0.0
    for item in iter_comparison(plan):
        acc.add(item)
        assert last <= item.progress <= 1.0
        last = item.progress
        part = acc.partial()
        done = part.values()
        assert not torch.isinf(done).any()
    assert last == 1.0
    assert_same(fx.EvaluationResult.from_record(acc.result()), blocking)


# -- comparing methods where the truth is known ------------------------------------------------------------------
def test_exact_attributions_beat_random_ones_on_a_cnn_with_planted_evidence():
    task = planted_image_task(32, size=16, patch_size=4, seed=0, dtype=torch.float64)
    x, mask, t = task.inputs, task.mask, task.target
    good = {m: fx.attribute(task.model, x, target=t, method=m, **p) for m, p in [
        ("saliency", {}), ("input_x_gradient", {}), ("integrated_gradients", {"n_steps": 16}),
        ("occlusion", {"sliding_window": (1, 3, 3)})]}
    random = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    r = fx.evaluate(task.model, x, {**good, "random": random}, mask=mask,
                    metrics={"deletion": {"n_steps": 16}, "insertion": {"n_steps": 16}, "top_k_precision": {},
                             "mass_in_mask": {}})
    assert r.methods == (*good, "random") and r.metric_names == ("deletion", "insertion", "top_k_precision", "mass_in_mask")
    for m in good:
        # paired over the same images: the good map's deletion area is lower, its insertion area higher
        d, se = paired(r[m, "deletion"], r["random", "deletion"])
        assert d + 3 * se < 0, (m, d, se)
        d, se = paired(r[m, "insertion"], r["random", "insertion"])
        assert d - 3 * se > 0, (m, d, se)
        d, se = paired(r[m, "top_k_precision"], r["random", "top_k_precision"])
        assert d - 3 * se > 0.3, (m, d, se)
    # the model reads only the planted window: gradient maps put every one of their top-16 pixels there
    for m in ("saliency", "input_x_gradient", "integrated_gradients"):
        assert r[m, "top_k_precision"].mean == 1.0 and r[m, "mass_in_mask"].mean == pytest.approx(1.0, abs=1e-12)
    # a random map hits the 4x4 patch in about 16 / 256 of its top pixels
    assert abs(r["random", "top_k_precision"].mean - 16 / 256) < 3 * r["random", "top_k_precision"].stderr + 0.02
    assert r.best("top_k_precision") != "random" and r.best("deletion") != "random"


# -- an AttributionResult brings its target and its method ---------------------------------------------------------
def test_attribution_result_defaults_explain_func_and_target_to_its_own(cnn, images):
    x, t = images
    metrics = {"max_sensitivity": {"n_samples": 3, "radius": 0.05}, "random_target": {}, "deletion": {"n_steps": 6}}
    ig = fx.attribute(cnn, x, target=t, method="integrated_gradients", n_steps=8, rule="riemann_middle")
    implicit = fx.evaluate(cnn, x, ig, metrics=metrics, seed=2)
    explicit = fx.evaluate(cnn, x, ig.values, target=t, metrics=metrics, seed=2,
                           explain_func=fx.attribution_explainer("integrated_gradients", n_steps=8, rule="riemann_middle"))
    assert implicit.methods == ("integrated_gradients",) and explicit.methods == ("attributions",)
    assert torch.equal(implicit.target, t) and torch.equal(implicit.target, explicit.target)
    for k in metrics:
        assert torch.equal(implicit[k].values, explicit[k].values), k
    assert "n_steps=8" in implicit.params["explain_funcs"]["integrated_gradients"]
    # a different n_steps re-explains differently: the default really is the recorded method
    other = fx.evaluate(cnn, x, ig.values, target=t, metrics={"max_sensitivity": {"n_samples": 3, "radius": 0.05}},
                        seed=2, explain_func=fx.attribution_explainer("integrated_gradients", n_steps=2))
    assert not torch.allclose(other["max_sensitivity"].values, implicit["max_sensitivity"].values)

    # a sampling method is re-run with its recorded seed: re-explaining x reproduces its map exactly
    sg = fx.attribute(cnn, x, target=t, method="smoothgrad", n_samples=4, seed=5)
    r = fx.evaluate(cnn, x, sg, metrics={"max_sensitivity": {"n_samples": 1, "radius": 1e-300}})
    assert float(r["max_sensitivity"].values.abs().max()) == 0.0

    # a target other than the one the result explains is refused
    with pytest.raises(ValueError, match="target 0 differs from the target attributions explains"):
        fx.evaluate(cnn, x, ig, target=0, metrics=["complexity"])


def test_a_result_whose_parameters_cannot_be_rebuilt_skips_or_refuses_re_explaining(cnn, images):
    x, t = images
    ig = fx.attribute(cnn, x, target=t, method="integrated_gradients", n_steps=4, baseline=torch.zeros_like(x))
    r = fx.evaluate(cnn, x, ig, metrics=None)  # the default skips what needs explain_func
    assert "max_sensitivity" not in r.metric_names and "deletion" in r.metric_names
    assert "baseline was a tensor" in r.params["no_explain_func"]["integrated_gradients"]
    with pytest.raises(ValueError, match="metric 'max_sensitivity' needs explain_func for attributions: its baseline"):
        fx.evaluate(cnn, x, ig, metrics=["max_sensitivity"])


def test_grad_cam_maps_are_scored_per_pixel(cnn, images):
    x, t = images
    cam = fx.attribute(cnn, x, target=t, method="grad_cam", layer="2")
    r = fx.evaluate(cnn, x, cam, metrics={"deletion": {"n_steps": 4}, "max_sensitivity": {"n_samples": 1}})
    assert r["deletion"].values.shape == (6,) and r.records["grad_cam"].params["attribution_shape"] == [1, 8, 8]
    assert torch.isfinite(r["max_sensitivity"].values).all()


# -- the aggregate row ---------------------------------------------------------------------------------------------
def test_aggregate_weights_are_convex_and_it_is_no_more_sensitive_than_the_best_method(cnn):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 3, 8, 8, generator=g, dtype=torch.float64)
    t = torch.arange(8) % 5
    results = [fx.attribute(cnn, x, target=t, method=m, **p) for m, p in [
        ("input_x_gradient", {}), ("integrated_gradients", {"n_steps": 16}),
        ("smoothgrad", {"n_samples": 8, "base": "input_x_gradient"})]]
    r = fx.evaluate(cnn, x, results, metrics={"max_sensitivity": {"n_samples": 5, "radius": 0.05}, "complexity": {}},
                    aggregate="sensitivity", seed=2)
    w = r.aggregate.weights
    assert r.methods[-1] == "aggregate" and set(w) == {"input_x_gradient", "integrated_gradients", "smoothgrad"}
    assert min(w.values()) >= 0 and sum(w.values()) == pytest.approx(1.0, abs=1e-12)
    assert r.params["aggregate_weights"] == w and r.aggregate.params["radius"] == 0.05
    # the criterion the weights minimise (mean squared change of the unit-norm maps on the metric's own draws)
    assert r.aggregate.value <= min(r.aggregate.method_values.values()) + 1e-15
    assert r.aggregate.value <= r.aggregate.uniform_value + 1e-15
    # the table's (relative) max-sensitivity: the aggregate is at most the best single method's, paired over samples
    column = r.metric("max_sensitivity")
    best = min((m for m in column if m != "aggregate"), key=lambda m: column[m].mean)
    d, se = paired(column["aggregate"], column[best])
    assert d <= 2 * se + 1e-3 * column[best].mean, (best, d, se)
    # the aggregate's maps are the weighted unit-norm maps
    unit = {res.method: res.values / res.values.flatten(1).norm(dim=1).view(-1, 1, 1, 1) for res in results}
    expected = sum(w[k] * unit[k] for k in w)
    assert torch.allclose(r.aggregate.aggregate, expected, atol=1e-12)


def test_complexity_aggregate_is_no_more_complex_than_any_method(cnn, images):
    x, t = images
    maps = {"ixg": fx.attribute(cnn, x, target=t, method="input_x_gradient").values,
            "sal": fx.attribute(cnn, x, target=t, method="saliency").values}
    r = fx.evaluate(cnn, x, maps, target=t, metrics=["complexity"], aggregate="complexity")
    col = r.metric("complexity")
    assert col["aggregate"].mean <= min(col["ixg"].mean, col["sal"].mean) + 1e-9
    assert col["aggregate"].mean == pytest.approx(r.aggregate.value, rel=1e-9)


# -- the result object -------------------------------------------------------------------------------------------
def test_result_table_numbers_dict_and_figure(cnn, images):
    x, t = images
    ixg = fx.attribute(cnn, x, target=t, method="input_x_gradient")
    random = torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    r = fx.evaluate(cnn, x, {"ixg": ixg, "random": random}, explain_func=None,
                    metrics={"deletion": {"n_steps": 8}, "complexity": {}, "sparseness": {}})
    M, K, B = 2, 3, 6
    assert r.numpy().shape == (M, K, B)
    np.testing.assert_allclose(r.means().numpy(), np.nanmean(r.numpy(), axis=2), rtol=1e-12)
    assert isinstance(r["ixg", "pixel_flipping"], MetricRecord)  # aliases work
    assert r.metric("deletion")["random"] is r.records["random"].metrics["deletion"]
    with pytest.raises(KeyError, match="ambiguous with 2 methods"):
        r["deletion"]
    with pytest.raises(KeyError, match="no metric 'infidelity'"):
        r["ixg", "infidelity"]

    frame = r.table()
    assert frame.shape == (M, 2 * K) and list(frame.index) == ["ixg", "random"]
    assert frame.loc["ixg", ("complexity", "mean")] == r["ixg", "complexity"].mean
    assert frame.loc["random", ("deletion", "stderr")] == r["random", "deletion"].stderr
    plain = r.table(as_frame=False)
    assert plain["random"]["sparseness"] == (r["random", "sparseness"].mean, r["random", "sparseness"].stderr)

    d = r.to_dict()
    assert d["methods"] == ["ixg", "random"] and d["higher_is_better"] == {"deletion": False, "complexity": False,
                                                                          "sparseness": True}
    assert d["curves"]["ixg"]["deletion"]["curves"].shape == (B, 9)
    assert r.best("sparseness") == max(["ixg", "random"], key=lambda m: r[m, "sparseness"].mean)

    import matplotlib.pyplot as plt

    fig = r.plot()
    table_ax, curve_ax = fig.axes
    texts = [tx.get_text() for tx in table_ax.texts]
    # each column runs from red (worst) to green (best) in the metric's own direction
    import matplotlib

    colours = np.asarray(table_ax.images[0].get_array())
    red_yellow_green = matplotlib.colormaps["RdYlGn"]
    for j, k in enumerate(r.metric_names):
        best = r.methods.index(r.best(k))
        np.testing.assert_allclose(colours[best, j, :3], red_yellow_green(1.0)[:3])
        np.testing.assert_allclose(colours[1 - best, j, :3], red_yellow_green(0.0)[:3])
    assert f"{r['ixg', 'complexity'].mean:.3g}\n± {r['ixg', 'complexity'].stderr:.2g}" in texts
    for line, m in zip(curve_ax.lines, ["ixg", "random"]):
        np.testing.assert_allclose(line.get_ydata(), r[m, "deletion"].curves.mean(0).numpy(), rtol=1e-12)
    plt.close(fig)
    shown = r.show()  # the interactive table (tests/widgets/test_metrics_table.py)
    assert isinstance(shown, fx.MetricsTable) and shown.methods == ["ixg", "random"]
    assert "EvaluationResult" in repr(r) and "ixg" in repr(r)


def test_a_method_without_explain_func_leaves_the_metrics_that_need_one_empty(cnn, images):
    x, t = images
    ixg = fx.attribute(cnn, x, target=t, method="input_x_gradient")
    random = torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    r = fx.evaluate(cnn, x, {"ixg": ixg, "random": random}, aggregate="complexity",
                    metrics={"max_sensitivity": {"n_samples": 2}, "sparseness": {}})
    assert r.metric_names == ("max_sensitivity", "sparseness")
    assert r.params["skipped"]["random"] == {"max_sensitivity": "no explain_func: it was given as a tensor"}
    assert set(r.metric("max_sensitivity")) == {"ixg"} | ({"aggregate"} if r.aggregate.weights["random"] == 0 else set())
    assert math.isnan(r.means()[1, 0]) and math.isfinite(r.means()[1, 1])
    with pytest.raises(KeyError, match="method 'random' has no 'max_sensitivity'"):
        r["random", "max_sensitivity"]


def test_one_tensor_is_one_method_and_metric_access_is_direct(cnn, images):
    x, t = images
    a = fx.attribute(cnn, x, target=t, method="input_x_gradient").values
    r = fx.evaluate(cnn, x, a, target=t, metrics=["sparseness"])
    assert r.methods == ("attributions",) and r["sparseness"].values.shape == (6,)
    assert r["sparseness"] is r["attributions", "sparseness"]


@requires_cuda
def test_cuda_table_equals_cpu_table(cnn, images):
    x, t = images
    metrics = {"deletion": {"n_steps": 6}, "complexity": {}, "sparseness": {}}

    def table(model, inputs, target):
        results = [fx.attribute(model, inputs, target=target, method=m) for m in ("input_x_gradient", "saliency")]
        return fx.evaluate(model, inputs, results, metrics=metrics, aggregate="complexity")

    cpu = table(cnn, x, t)
    gpu = table(cnn.cuda(), x.cuda(), t.cuda())  # draws differ between devices: deterministic metrics only
    assert gpu["saliency", "deletion"].values.is_cuda
    assert torch.allclose(cpu.values(), gpu.values(), rtol=1e-8, atol=1e-10, equal_nan=True)
    assert cpu.aggregate.weights == pytest.approx(gpu.aggregate.weights, abs=1e-6)


# -- bad input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, match", [
    (lambda x, a, r: dict(attributions=a[..., :7]), ValueError, r"attributions have shape \(6, 3, 8, 7\)"),
    (lambda x, a, r: dict(attributions={"a": a, "b": a[..., :7]}), ValueError, r"attributions\['b'\] have shape"),
    (lambda x, a, r: dict(attributions={"a": a, "b": a.sum(1, keepdim=True)}), ValueError,
     "every method's maps must have one shape"),
    (lambda x, a, r: dict(attributions=a, metrics=["nope"]), ValueError, "metrics: unknown metric 'nope'"),
    (lambda x, a, r: dict(attributions=a, metrics={"deletion": {"steps": 3}}), TypeError, "takes no parameter 'steps'"),
    (lambda x, a, r: dict(attributions=a, stream="yes"), TypeError, "stream must be True or False"),
    (lambda x, a, r: dict(attributions=a, target=7), ValueError, "target 7 is out of range"),
    (lambda x, a, r: dict(attributions=a, metrics=["max_sensitivity"]), ValueError,
     "needs explain_func for attributions: it was given as a tensor"),
    (lambda x, a, r: dict(attributions={"a": a, "b": 2 * a}, metrics=["max_sensitivity"]), ValueError,
     r"needs explain_func for attributions\['a'\]: it was given as a tensor"),
    (lambda x, a, r: dict(attributions={"a": a, "r": r}, explain_func=lambda m, i, t: i), TypeError,
     "with 2 methods give a dict"),
    (lambda x, a, r: dict(attributions={"a": a, "r": r}, explain_func={"b": lambda m, i, t: i}), ValueError,
     r"explain_func has entries for \['b'\]"),
    (lambda x, a, r: dict(attributions=[r, a]), TypeError, "a list must hold only AttributionResults"),
    (lambda x, a, r: dict(attributions=[r, r]), ValueError, "several results of 'input_x_gradient'"),
    (lambda x, a, r: dict(attributions={}), ValueError, "attributions is an empty dict"),
    (lambda x, a, r: dict(attributions=r, aggregate="sensitivity"), ValueError, "aggregate needs at least two methods"),
    (lambda x, a, r: dict(attributions={"a": a, "r": r}, aggregate="fastest"), ValueError, "aggregate must be one of"),
    (lambda x, a, r: dict(attributions={"a": a, "r": r}, aggregate="sensitivity"), ValueError,
     r"aggregate='sensitivity' re-explains .* attributions\['a'\] has no explain_func"),
    (lambda x, a, r: dict(attributions={"a": a, "r": r}, aggregate={"objective": "complexity", "radius": 1.0}),
     ValueError, "takes no n_samples or radius"),
    (lambda x, a, r: dict(attributions={"aggregate": a, "r": r}, aggregate="mean"), ValueError, "name 'aggregate' is taken"),
    (lambda x, a, r: dict(attributions=a, mask=torch.ones(5, dtype=torch.bool)), ValueError, "mask has shape"),
    (lambda x, a, r: dict(attributions=a, chunk_size=0), ValueError, "chunk_size"),
])
def test_bad_input_names_the_argument_before_the_model_runs(cnn, images, make, error, match):
    x, t = images
    a = fx.attribute(cnn, x, target=t, method="input_x_gradient")
    model = Counting(cnn)
    kwargs = make(x, a.values, a)
    kwargs.setdefault("target", t if not isinstance(kwargs["attributions"], fx.AttributionResult) else None)
    with pytest.raises(error, match=match):
        fx.evaluate(model, x, **kwargs)
    # no model pass, except the plan's one pass over the inputs that finds the target out of range
    assert model.calls == (1 if match.startswith("target") else 0)
