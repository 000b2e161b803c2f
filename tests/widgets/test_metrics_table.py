"""MetricsTable kernel side: the table message equals the result's numbers, the detail of a cell, the streamed table
filling in and ending at the blocking answer, and the traits the page writes validated (naming the argument)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.compute.evaluation import planted_image_task
from fxwidgets.runtime.codec import pack, unpack
from fxwidgets.widgets.metrics_table import MAX_STRIP_SAMPLES, MetricsTable, detail_message, table_message

METRICS = ["deletion", "complexity", "sparseness", "model_randomisation", "top_k_precision"]


@pytest.fixture(scope="module")
def task():
    return planted_image_task(12, size=12, seed=3)


@pytest.fixture(scope="module")
def maps(task):
    out = {m: fx.attribute(task.model, task.inputs, target=1, method=m) for m in ("saliency", "input_x_gradient")}
    out["random"] = torch.randn(task.inputs.shape, generator=torch.Generator().manual_seed(0))
    return out


@pytest.fixture(scope="module")
def result(task, maps):
    return fx.evaluate(task.model, task.inputs, maps, mask=task.mask, metrics=METRICS)


def capture(view):
    """Stands in for the comm: every message the view sends (pushed tables and RPC answers), arrays unpacked."""
    sent = []
    view.send = lambda content, buffers=None: sent.append(unpack(content, list(buffers or [])))
    return sent


def test_show_opens_the_table_with_the_results_numbers(result):
    view = result.show()
    assert isinstance(view, MetricsTable)
    assert view.methods == ["saliency", "input_x_gradient", "random"]
    assert view.metric_names == METRICS
    assert view.higher_is_better == [False, False, True, False, True]
    assert view.curve_metrics == ["deletion", "model_randomisation"]
    assert view.n_samples == 12 and view.status == "done"
    t = view._rpc_table({})
    np.testing.assert_allclose(t["means"], result.means().numpy(), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(t["stderrs"], result.stderrs().numpy(), rtol=1e-6, equal_nan=True)
    # the random map cannot run model_randomisation (no explain_func): an empty cell, not a zero
    assert np.isnan(t["means"][2, 3]) and t["n_valid"][2, 3] == 0
    # the best method of each column is the one result.best names
    for j, k in enumerate(METRICS):
        best = result.best(k)
        assert (t["best"][j] == -1) if best is None else view.methods[t["best"][j]] == best
        assert t["goodness"][view.methods.index(best), j] == 1.0
    # the box and whiskers are the quantiles of every sample's value
    v = result.values().numpy()
    np.testing.assert_allclose(t["quantiles"][0, 1], np.quantile(v[0, 1], [0, .25, .5, .75, 1]), rtol=1e-6)
    np.testing.assert_array_equal(t["samples"][1, 0], v[1, 0].astype(np.float32))
    # what goes on the wire: float32 and int32 arrays as binary buffers, never JSON lists
    content, buffers = pack({"type": "table", **t})
    assert content["means"]["dtype"] == "float32" and content["best"]["dtype"] == "int32" and len(buffers) == 7


def test_the_strip_keeps_a_bounded_evenly_spaced_subset_of_the_samples():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 5, generator=g)
    model = torch.nn.Linear(5, 2)
    maps = {"a": torch.randn(600, 5, generator=g), "b": torch.randn(600, 5, generator=g)}
    r = fx.evaluate(model, x, maps, target=0, metrics=["complexity", "sparseness"])
    t = table_message(r, list(r.methods), list(r.metric_names))
    assert t["samples"].shape == (2, 2, MAX_STRIP_SAMPLES)
    full = r.values().numpy()[0, 0]
    assert t["samples"][0, 0, 0] == np.float32(full[0]) and t["samples"][0, 0, -1] == np.float32(full[-1])
    np.testing.assert_allclose(t["quantiles"][0, 0, 2], np.median(full), rtol=1e-6)  # from every sample


def test_detail_of_a_curve_a_layer_check_and_a_plain_metric(result):
    d = detail_message(result, "input_x_gradient", "deletion")
    rec = result["input_x_gradient", "deletion"]
    curves = rec.curves.double().numpy()
    assert d["kind"] == "curve" and d["x"].shape == (curves.shape[1],)
    np.testing.assert_allclose(d["curve_mean"], curves.mean(0), rtol=1e-5)
    np.testing.assert_allclose(d["curve_stderr"], curves.std(0, ddof=1) / np.sqrt(curves.shape[0]), rtol=1e-4, atol=1e-7)
    assert [o["method"] for o in d["others"]] == ["saliency", "random"]
    assert d["y_label"] == "model output at the target" and d["axis"] == "fraction of features removed"
    lay = detail_message(result, "saliency", "model_randomisation")
    assert lay["kind"] == "layers" and lay["labels"] == list(result["saliency", "model_randomisation"].curve_labels)
    assert "with the original map" in lay["y_label"]
    plain = detail_message(result, "random", "complexity")
    assert plain["kind"] == "values" and "curve_mean" not in plain
    np.testing.assert_allclose(plain["values"], result["random", "complexity"].values.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(plain["sample_index"], np.arange(12))
    with pytest.raises(ValueError, match="no values for method 'random' and metric 'model_randomisation'"):
        detail_message(result, "random", "model_randomisation")


def test_rpc_detail_refuses_unknown_cells_and_the_server_answers_with_an_error(result):
    view = MetricsTable(result)
    sent = capture(view)
    with pytest.raises(ValueError, match="method must be one of"):
        view._rpc_detail({"method": "nope", "metric": "deletion"})
    with pytest.raises(ValueError, match="metric must be one of"):
        view._rpc_detail({"method": "saliency", "metric": "nope"})
    view.rpc.handle({"type": "request", "id": "1", "method": "detail", "args": {"method": "x", "metric": "deletion"}}, [])
    view.rpc.handle({"type": "request", "id": "2", "method": "detail",
                     "args": {"method": "saliency", "metric": "deletion"}}, [])
    end = time.monotonic() + 10
    while len(sent) < 2 and time.monotonic() < end:
        time.sleep(0.01)
    replies = {m["id"]: m for m in sent}
    assert replies["1"]["ok"] is False and "method must be one of" in replies["1"]["error"]
    assert replies["2"]["ok"] is True and replies["2"]["result"]["kind"] == "curve"


def test_selected_and_sort_by_are_validated_naming_the_argument(result):
    view = MetricsTable(result)
    view.selected = {"method": "saliency", "metric": "deletion"}
    assert view.selected == {"method": "saliency", "metric": "deletion"}
    view.selected = None
    for bad, match in [({"method": "nope", "metric": "deletion"}, r"selected\['method'\]"),
                       ({"method": "saliency", "metric": "accuracy"}, r"selected\['metric'\]"),
                       ({"method": "saliency"}, "selected must be None or"),
                       ("saliency", "selected")]:
        with pytest.raises(traitlets.TraitError, match=match):
            view.selected = bad
    view.sort_by = "complexity"
    view.sort_by = "method"
    with pytest.raises(traitlets.TraitError, match="sort_by must be"):
        view.sort_by = "accuracy"


def test_construction_errors_name_the_argument(result):
    with pytest.raises(TypeError, match="exactly one"):
        MetricsTable()
    with pytest.raises(TypeError, match="result must be an EvaluationResult"):
        MetricsTable(result.means())
    with pytest.raises(traitlets.TraitError, match="selected"):
        MetricsTable(result, selected={"method": "saliency", "metric": "nope"})


def test_a_streamed_evaluation_fills_the_table_and_ends_at_the_blocking_result(task, maps):
    job = fx.evaluate(task.model, task.inputs, maps, mask=task.mask, metrics=["deletion", "complexity"],
                      chunk_size=4, stream=True)
    view = job.show()
    assert isinstance(view, MetricsTable)
    sent = capture(view)
    assert view.methods == ["saliency", "input_x_gradient", "random"] and view.metric_names == ["deletion", "complexity"]
    assert view.higher_is_better == [False, False]  # known from the plans before any value
    assert job.wait(60)
    end = time.monotonic() + 10
    while view.status != "done" and time.monotonic() < end:
        time.sleep(0.01)
    assert view.status == "done" and view.progress == 1.0
    tables = [m for m in sent if m.get("type") == "table"]
    assert tables, "no table message"
    progress = [m["progress"] for m in tables]
    assert progress == sorted(progress) and progress[-1] == 1.0
    for m in tables:  # every partial table is valid: a cell is NaN until its method has values, then finite
        assert m["means"].shape == (3, 2) and m["quantiles"].shape == (3, 2, 5)
        assert np.all(np.isnan(m["means"]) == (m["n_valid"] == 0))
    blocking = fx.evaluate(task.model, task.inputs, maps, mask=task.mask, metrics=["deletion", "complexity"])
    np.testing.assert_allclose(tables[-1]["means"], blocking.means().numpy(), rtol=1e-6)
    np.testing.assert_allclose(view._rpc_table({})["stderrs"], blocking.stderrs().numpy(), rtol=1e-6)
    assert view.result.progress == 1.0


def test_a_cancelled_stream_keeps_its_partial_table(task, maps):
    job = fx.evaluate(task.model, task.inputs, maps, metrics=["deletion"], chunk_size=1, stream=True)
    view = job.show()
    job.cancel()
    assert job.wait(30)
    end = time.monotonic() + 10
    while view.status == "running" and time.monotonic() < end:
        time.sleep(0.01)
    assert view.status in ("cancelled", "done")
    t = view._rpc_table({})
    assert t["means"].shape == (3, 1) and t["progress"] <= 1.0


def test_detail_of_a_randomisation_check_carries_the_sample_maps_before_and_after(task, maps, result):
    import copy

    from fxwidgets.compute.evaluation.randomisation import MAP_BYTES, reset_layer

    rec = result["saliency", "model_randomisation"]
    d = detail_message(result, "saliency", "model_randomisation")
    layers = list(rec.curve_labels)
    assert d["maps"].dtype == np.float32 and d["maps"].shape == (len(layers) + 1, 12, 12)
    assert d["map_labels"] == ["original", *(f"after {n}" for n in layers)] and d["map_row"] == 0
    row = d["map_row"]
    # first: the method's own map of that row (its one channel summed away)
    np.testing.assert_array_equal(d["maps"][0], maps["saliency"].numpy()[row].sum(0))
    # last: the map of the model with every layer re-initialised (seeded as the check seeds it)
    work = copy.deepcopy(task.model)
    for name in layers:
        reset_layer(work.get_submodule(name), result.seed, torch.device("cpu"))
    again = fx.attribute(work, task.inputs[row:row + 1], target=1, method="saliency")
    np.testing.assert_allclose(d["maps"][-1], again.numpy()[0].sum(0), rtol=1e-5, atol=1e-7)
    assert not np.allclose(d["maps"][-1], d["maps"][0])
    kept = rec.extras["maps"]
    assert kept.shape[:2] == (4, len(layers) + 1) and kept.numel() * kept.element_size() <= MAP_BYTES


def test_detail_of_random_target_carries_the_other_class_map(task, maps):
    res = fx.evaluate(task.model, task.inputs, {"saliency": maps["saliency"]}, mask=task.mask, metrics=["random_target"])
    rec = res["saliency", "random_target"]
    d = detail_message(res, "saliency", "random_target")
    other = int(rec.extras["other_target"][0])
    assert d["kind"] == "values" and d["maps"].shape == (2, 12, 12) and d["map_labels"] == ["original", f"class {other}"]
    np.testing.assert_array_equal(d["maps"][0], maps["saliency"].numpy()[0].sum(0))
    again = fx.attribute(task.model, task.inputs[:1], target=other, method="saliency")
    np.testing.assert_allclose(d["maps"][1], again.numpy()[0].sum(0), rtol=1e-5, atol=1e-7)


def test_the_kept_maps_are_bounded_and_leave_the_values_alone(task, maps, monkeypatch):
    from fxwidgets.compute.evaluation import randomisation

    def run():
        return fx.evaluate(task.model, task.inputs, {"saliency": maps["saliency"]}, metrics=["model_randomisation"],
                           chunk_size=3)["saliency", "model_randomisation"]

    full = run()
    per_row = 2 * 12 * 12 * 4  # original + one randomised layer, float32
    monkeypatch.setattr(randomisation, "MAP_BYTES", 2 * per_row + 7)
    two = run()
    assert two.extras["maps"].shape[0] == 2 and torch.equal(two.extras["maps"], full.extras["maps"][:2])
    monkeypatch.setattr(randomisation, "MAP_BYTES", per_row - 1)
    none = run()
    assert "maps" not in none.extras
    assert torch.equal(none.values, full.values) and torch.equal(two.values, full.values)
