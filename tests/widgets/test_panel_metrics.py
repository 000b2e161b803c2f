"""AttributionView's metrics strip (widgets/_panel_metrics.py) and its text mode for token-id models: the strip holds
exactly what fx.evaluate gives for the shown row, follows the target, says why a value is missing; token ids stay
ids and are shown one value per token; a wrong ``tokens`` list is refused naming ``tokens``."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.evaluation import planted_image_task
from fxwidgets.widgets._panel_metrics import DEFAULT_METRICS, mark_best, metric_request


@pytest.fixture(scope="module")
def task():
    return planted_image_task(4, size=12, seed=2)


def wait_for(cond, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def strip_values(view, i):
    return {m["name"]: m["value"] for m in view.panel_metrics[i]}


def test_evaluate_scores_every_panel_on_the_shown_row_as_fx_evaluate_does(task):
    methods = {"saliency": {}, "integrated_gradients": {"n_steps": 16}}
    view = fx.AttributionView(task.model, task.inputs, target=1, index=2, methods=methods, evaluate=True)
    assert view.wait(60) and wait_for(lambda: len(view.panel_metrics) == 2)
    x = task.inputs[2:3]
    for i, (m, p) in enumerate(methods.items()):
        r = fx.attribute(task.model, x, target=1, method=m, **p)
        ev = fx.evaluate(task.model, x, {view.titles[i]: r}, target=1, metrics=list(DEFAULT_METRICS))
        got = strip_values(view, i)
        assert list(got) == list(DEFAULT_METRICS)
        for k in DEFAULT_METRICS:
            assert got[k] == pytest.approx(float(ev[k].values[0]), rel=1e-5, abs=1e-6), (m, k)
    # the best panel of each metric is marked, by the metric's direction
    for k in DEFAULT_METRICS:
        vals = [strip_values(view, i)[k] for i in range(2)]
        hib = view.panel_metrics[0][list(DEFAULT_METRICS).index(k)]["higher_is_better"]
        best = int(np.argmax(vals) if hib else np.argmin(vals))
        assert [e["best"] for s in view.panel_metrics for e in s if e["name"] == k] == [i == best for i in range(2)]


def test_the_strip_is_recomputed_for_a_new_target(task):
    view = fx.AttributionView(task.model, task.inputs, target=1, methods=["saliency"], evaluate=["complexity", "deletion"])
    assert view.wait(60) and wait_for(lambda: len(view.panel_metrics) == 1)
    first = strip_values(view, 0)
    gen = view.generation
    view.target = 0
    assert wait_for(lambda: view.generation == gen + 1 and view.status == "done") and view.wait(60)
    assert wait_for(lambda: len(view.panel_metrics) == 1 and strip_values(view, 0) != first)
    r = fx.attribute(task.model, task.inputs[:1], target=0, method="saliency")
    ev = fx.evaluate(task.model, task.inputs[:1], {"saliency": r}, target=0, metrics=["complexity", "deletion"])
    assert strip_values(view, 0)["deletion"] == pytest.approx(float(ev["deletion"].values[0]), rel=1e-5, abs=1e-6)


def test_the_strip_is_recomputed_for_a_new_row(task):
    view = fx.AttributionView(task.model, task.inputs, target=1, index=0, methods=["saliency"],
                              evaluate=["complexity", "deletion"])
    assert view.wait(60) and wait_for(lambda: len(view.panel_metrics) == 1)
    first = strip_values(view, 0)
    gen = view.generation
    view.row = 3
    x = task.inputs[3:4]
    ev = fx.evaluate(task.model, x, {"saliency": fx.attribute(task.model, x, target=1, method="saliency")}, target=1,
                     metrics=["complexity", "deletion"])
    want = float(ev["deletion"].values[0])
    assert want != pytest.approx(first["deletion"], rel=1e-3)  # the rows differ, so a stale strip would show
    assert wait_for(lambda: view.generation > gen and view.status == "done") and view.wait(60)
    assert wait_for(lambda: strip_values(view, 0)["deletion"] == pytest.approx(want, rel=1e-5, abs=1e-6))


def test_metrics_from_a_finished_evaluation_show_the_shown_rows_values(task):
    maps = [fx.attribute(task.model, task.inputs, target=1, method=m) for m in ("saliency", "input_x_gradient")]
    ev = fx.evaluate(task.model, task.inputs, maps, metrics=["deletion", "sparseness"])
    view = maps[1].show(task.inputs, index=3, metrics=ev)
    assert isinstance(view, fx.AttributionView)
    assert view.panel_metrics == [[
        {"name": "deletion", "value": pytest.approx(float(ev["input_x_gradient", "deletion"].values[3])),
         "higher_is_better": False, "best": False},
        {"name": "sparseness", "value": pytest.approx(float(ev["input_x_gradient", "sparseness"].values[3])),
         "higher_is_better": True, "best": False}]]
    both = fx.AttributionView(maps + [fx.attribute(task.model, task.inputs, target=1, method="smoothgrad", n_samples=4)],
                              task.inputs, index=0, metrics=ev)
    assert [len(s) for s in both.panel_metrics] == [2, 2, 0]  # smoothgrad was not evaluated: an empty strip
    dele = [ev[m, "deletion"].values[0].item() for m in ("saliency", "input_x_gradient")]
    assert [s[0]["best"] for s in both.panel_metrics[:2]] == [i == int(np.argmin(dele)) for i in range(2)]


def test_bad_metrics_arguments_name_the_argument(task):
    maps = [fx.attribute(task.model, task.inputs, target=1, method="saliency")]
    with pytest.raises(ValueError, match="evaluate: unknown metric 'accuracy'"):
        fx.AttributionView(task.model, task.inputs, target=1, evaluate=["accuracy"])
    with pytest.raises(TypeError, match="evaluate must be True, a metric name"):
        fx.AttributionView(task.model, task.inputs, target=1, evaluate=3)
    with pytest.raises(ValueError, match="evaluate is empty"):
        metric_request([])
    with pytest.raises(TypeError, match="evaluate= needs the model"):
        fx.AttributionView(maps, task.inputs, evaluate=True)
    with pytest.raises(TypeError, match="metrics must be an EvaluationResult"):
        fx.AttributionView(maps, task.inputs, metrics={"deletion": 1.0})
    ev = fx.evaluate(task.model, task.inputs[:2], maps[0].values[:2], target=1, metrics=["complexity"])
    with pytest.raises(ValueError, match="metrics: the evaluation has 2 samples; the row shown \\(3\\)"):
        fx.AttributionView(maps, task.inputs, index=3, metrics=ev)
    assert metric_request(True) == list(DEFAULT_METRICS) and metric_request("entropy") == ["entropy"]


def test_mark_best_needs_a_direction_and_two_values():
    strips = mark_best([[{"name": "a", "value": 1.0, "higher_is_better": True}],
                        [{"name": "a", "value": 2.0, "higher_is_better": True}],
                        [{"name": "a", "value": None, "higher_is_better": True}]])
    assert [s[0]["best"] for s in strips] == [False, True, False]
    alone = mark_best([[{"name": "b", "value": 1.0, "higher_is_better": False}]])
    assert alone[0][0]["best"] is False
    none = mark_best([[{"name": "c", "value": 1.0, "higher_is_better": None}], [{"name": "c", "value": 2.0, "higher_is_better": None}]])
    assert not any(s[0]["best"] for s in none)


class BagOfEmbeddings(torch.nn.Module):
    def __init__(self, vocab=20, dim=4):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(vocab, dim)
        self.head = torch.nn.Linear(dim, 2)

    def forward(self, ids):
        return self.head(self.emb(ids).mean(1))


def test_a_token_id_model_is_shown_one_value_per_token():
    model = BagOfEmbeddings()
    ids = torch.tensor([[3, 7, 1, 12, 5], [2, 2, 9, 4, 0]])
    tokens = ["the", "plot", "was", "<b>great</b>", "!"]
    view = fx.AttributionView(model, ids, target=1, index=0, tokens=tokens,
                              methods={"integrated_gradients": {"n_steps": 32}, "feature_ablation": {}})
    assert view.kind == "text" and view.tokens == tokens
    assert view.wait(30) and wait_for(lambda: view.status == "done")
    ig = fx.attribute(model, ids[:1], target=1, method="integrated_gradients", n_steps=32)
    np.testing.assert_allclose(view.display_values(0), ig.values[0].numpy(), rtol=1e-5, atol=1e-7)
    assert view.display_values(1).shape == (5,)  # ablation replaces each token by token 0: one value per token
    # the same from the finished result, without tokens: text still (token ids are never a tabular row)
    shown = ig.show()
    assert isinstance(shown, fx.AttributionView) and shown.kind == "text"
    np.testing.assert_allclose(shown.display_values(0), ig.values[0].numpy(), rtol=1e-6)


def test_tokens_of_the_wrong_length_are_refused_naming_tokens():
    model = BagOfEmbeddings()
    ids = torch.tensor([[3, 7, 1, 12, 5]])
    with pytest.raises(ValueError, match="tokens has 4 entries but each input has 5 tokens"):
        fx.AttributionView(model, ids, target=1, tokens=["a", "b", "c", "d"])
    r = fx.attribute(model, ids, target=1, method="saliency")
    with pytest.raises(ValueError, match="tokens has 6 entries but each input has 5 tokens"):
        r.show(tokens=list("abcdef"))


def test_evaluating_a_token_id_model_says_why_it_cannot():
    model = BagOfEmbeddings()
    ids = torch.tensor([[3, 7, 1, 12, 5]])
    view = fx.AttributionView(model, ids, target=1, tokens=list("abcde"), methods=["saliency"], evaluate=["complexity"])
    assert view.wait(30) and wait_for(lambda: len(view.panel_metrics) == 1)
    (entry,) = view.panel_metrics[0]
    assert entry["value"] is None and "token ids cannot be perturbed" in entry["error"]


def test_metrics_of_a_finished_evaluation_beside_a_live_view_use_the_row_shown(task):
    maps = {"saliency": fx.attribute(task.model, task.inputs, target=1, method="saliency")}
    ev = fx.evaluate(task.model, task.inputs, maps, metrics=["complexity"])
    view = fx.AttributionView(task.model, task.inputs, target=1, index=3, methods=["saliency"], metrics=ev)
    assert view.panel_metrics[0][0]["value"] == pytest.approx(float(ev["complexity"].values[3]))
    view.wait(30)
