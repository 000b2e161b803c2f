"""AttributionView kernel side: panels fill from jobs, the target recomputes, messages carry the values."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import traitlets

import fxwidgets as fx
from fxwidgets.runtime.codec import unpack
from fxwidgets.widgets.attribution_view import AttributionView


class TinyCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.act = torch.nn.ReLU()
        self.head = torch.nn.Linear(3 * 8 * 8, 4)

    def forward(self, x):
        return self.head(self.act(self.conv(x)).flatten(1))


def capture(view):
    sent = []
    view._send_message = lambda content, buffers: sent.append(unpack(content, buffers))
    return sent


def wait_for(cond, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def test_image_view_fills_every_panel_and_recomputes_on_target_change():
    net = TinyCNN()
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match="sliding_window is required"):
        AttributionView(net, x, target=1, methods=["occlusion"])
    view = AttributionView(net, x, target=1, index=1,
                           methods={"integrated_gradients": {"n_steps": 8}, "saliency": {},
                                    "occlusion": {"sliding_window": (1, 2, 2)}})
    assert view.kind == "image" and view.titles == ["integrated_gradients", "saliency", "occlusion"]
    assert view.wait(20) and wait_for(lambda: view.status == "done")
    ig = fx.attribute(net, x[1:2], target=1, method="integrated_gradients", n_steps=8)
    np.testing.assert_allclose(view.display_values(0), ig.values[0].sum(0).numpy(), rtol=1e-5, atol=1e-6)
    assert view.target_names == ["0", "1", "2", "3"] and view.can_recompute
    gen = view.generation
    view.target = 3
    assert view.wait(20) and wait_for(lambda: view.status == "done" and view.generation == gen + 1)
    ig3 = fx.attribute(net, x[1:2], target=3, method="integrated_gradients", n_steps=8)
    np.testing.assert_allclose(view.display_values(0), ig3.values[0].sum(0).numpy(), rtol=1e-5, atol=1e-6)
    sent = capture(view)
    view._rpc_snapshot({})
    kinds = [m["type"] for m in sent]
    assert kinds.count("panel") == 3 and kinds[0] == "background"
    assert sent[0]["image"].shape == (8, 8, 3) and sent[0]["image"].dtype == np.uint8
    assert sent[1]["values"].dtype == np.float32 and sent[1]["values"].shape == (8, 8)


def test_sampling_method_streams_a_shrinking_stderr():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(1, 6)
    names = [f"f{i}" for i in range(6)]
    view = AttributionView(mlp, x, methods={"shapley_permutation": {"n_permutations": 300}}, chunk_size=20,
                           feature_names=names)
    assert view.kind == "tabular" and not view.can_recompute
    assert view.wait(30) and wait_for(lambda: view.panels and view.panels[0].get("status") == "done")
    info = view.panels[0]
    assert abs(info["output"] - float(mlp(x))) < 1e-5 and "base_value" in info
    hist = info["stderr_history"]
    assert len(hist) >= 5 and hist[-1] < hist[0] / 2


def test_a_job_shown_late_catches_up_with_what_it_computed():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(3, 6)
    job = fx.attribute(mlp, x, method="kernel_shap", stream=True)
    job.wait(30)
    view = job.show(index=2)
    assert wait_for(lambda: view.panels and view.panels[0].get("status") == "done")
    np.testing.assert_allclose(view.display_values(0), job.result().features[2].numpy(), rtol=1e-6)


def test_text_view_from_results_and_trait_validation():
    emb = torch.nn.Linear(3, 2)
    x = torch.randn(1, 4, 3)

    def model(z):
        return emb(z).sum(1)

    r = fx.attribute(model, x, target=0, method="input_x_gradient")
    view = r.show(x, tokens=["<b>a</b>", "b", "c", "d"])
    assert view.kind == "text" and view.tokens[0] == "<b>a</b>"
    np.testing.assert_allclose(view.display_values(0), r.values[0].sum(1).numpy(), rtol=1e-6)
    for name, bad in (("sign", "both"), ("cmap", "jett"), ("opacity", 2.0), ("clip", 10.0)):
        with pytest.raises(traitlets.TraitError, match=name):
            setattr(view, name, bad)
    view.sign = "absolute_value"
    assert view.sign == "absolute_value"


def test_cancel_stops_every_panel():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))
    x = torch.randn(1, 12)
    view = AttributionView(mlp, x, target=0, methods={"shapley_permutation": {"n_permutations": 200000},
                                                      "kernel_shap": {"n_samples": 4000}}, chunk_size=22)
    view._rpc_cancel({})
    assert wait_for(lambda: view.status in ("cancelled", "done"))
    assert view.status == "cancelled"


def test_concepts_show_one_panel_per_concept():
    net = TinyCNN()
    x = torch.rand(2, 1, 8, 8)
    r = fx.attribute(net, x, target=0, method="concepts", layer="act", n_concepts=3, n_iter=20)
    view = r.show(x, index=1)
    assert view.kind == "image" and view.titles == ["concept 0", "concept 1", "concept 2"]
    np.testing.assert_allclose(view.display_values(2), r.values[1, 2].numpy(), rtol=1e-6)
    tab = fx.attribute(torch.nn.Linear(3, 1), torch.randn(2, 3), method="shapley_exact")
    both = AttributionView([tab, tab], feature_names=["a", "b", "c"])
    assert both.kind == "tabular" and both.titles == ["shapley_exact (1)", "shapley_exact (2)"]
    np.testing.assert_allclose(both.display_values(1), tab.features[0].detach().numpy(), rtol=1e-6)


def test_rows_of_finished_results_are_browsed_without_recomputing():
    net = TinyCNN()
    x = torch.randn(3, 1, 8, 8)
    r = fx.attribute(net, x, target=2, method="integrated_gradients", n_steps=8)
    view = r.show(x, row_names=["first", "second", "third"])
    assert (view.n_rows, view.row, view.row_names) == (3, 0, ["first", "second", "third"])
    sent = capture(view)
    gen = view.generation
    view.row = 2  # what the view's "next" button sets (twice)
    panels = [m for m in sent if m["type"] == "panel"]
    assert [m["type"] for m in sent][0] == "background" and len(panels) == 1
    assert panels[0]["generation"] > gen and view.generation == panels[0]["generation"]
    np.testing.assert_allclose(panels[0]["values"], r.values[2].sum(0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(view.display_values(0), r.values[2].sum(0).numpy(), rtol=1e-6)
    assert view.panels[0]["output"] == pytest.approx(float(net(x[2:3])[0, 2]), abs=1e-5)  # that input's f(x)
    with pytest.raises(traitlets.TraitError, match="row must be an integer in 0..2"):
        view.row = 3
    with pytest.raises(ValueError, match="row_names has 2 entries for 3 inputs"):
        r.show(x, row_names=["a", "b"])


def test_rows_of_a_model_built_view_are_recomputed_for_their_own_target():
    net = TinyCNN()
    x = torch.randn(4, 1, 8, 8)
    view = AttributionView(net, x, methods=["saliency"], index=1)
    assert view.n_rows == 4 and view.row == 1
    assert view.wait(30)
    first = view.display_values(0)
    gen = view.generation
    view.row = 3
    assert view.wait(30)
    assert wait_for(lambda: view.status == "done" and view.display_values(0) is not None)
    assert view.generation > gen
    assert view.target == int(net(x[3:4]).argmax())  # no target given: each input's predicted class
    want = fx.attribute(net, x[3:4], target=view.target, method="saliency").values[0].sum(0).numpy()
    np.testing.assert_allclose(view.display_values(0), want, rtol=1e-5, atol=1e-7)
    assert not np.allclose(view.display_values(0), first)


def test_rows_of_a_batch_job_are_resent_from_its_latest_step():
    net = TinyCNN()
    x = torch.randn(3, 1, 8, 8)
    job = fx.attribute(net, x, target=[0, 1, 2], method="input_x_gradient", stream=True)
    final = job.result(timeout=30)
    view = job.show()
    assert view.n_rows == 3
    view.row = 1
    assert view.target == 1  # the job's target for that input
    np.testing.assert_allclose(view.display_values(0), final.values[1].sum(0).numpy(), rtol=1e-6)
    assert view.status != "error", view.error


def test_a_new_target_cancels_the_running_jobs_cleanly():
    # A recompute while the panels are still running: the old jobs stop at their next chunk (cancelled, not
    # done), nothing they produce after the change reaches the page, and the new jobs are the ones shown.
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    view = AttributionView(mlp, torch.randn(1, 12), target=0,
                           methods={"shapley_permutation": {"n_permutations": 200000}}, chunk_size=22)
    sent = []
    view.send = lambda content, buffers=None: sent.append(content)
    old = view._panels[0].job
    assert wait_for(lambda: old.items > 0)
    view.target = 2
    mark, gen = len(sent), view._generation
    new = view._panels[0].job
    assert new is not old and old.wait(10) and old.status == "cancelled"
    assert wait_for(lambda: new.items > 0)
    assert wait_for(lambda: any(c.get("type") == "panel" for c in sent[mark:]))  # the new job's values arrive
    after = [c for c in sent[mark:] if c.get("type") == "panel"]
    assert all(c["generation"] == gen for c in after)  # and nothing of the old job after the change
    answered = view.rpc.handle({"type": "request", "id": "c", "method": "cancel"})
    answered.result(10)
    assert new.status == "cancelled" and sent[-1] == {"type": "response", "id": "c", "ok": True,
                                                      "result": {"status": "cancelled"}}
