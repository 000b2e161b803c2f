"""A seeded fuzz of the front-end boundary (issue 11): over 10 000 malformed messages spread over every view, delivered
through the path a real comm message takes (``widget._handle_msg(msg)``, which ipywidgets' comm calls for every
message from the page): RPC requests with unknown methods, junk args, NaN, huge integers and nested junk; trait
writes as the page sends them (``update`` with a state, sometimes with buffer paths) to the page's own controls, to
kernel-owned traits and to names that do not exist; Cancel; pictures; broken envelopes.

Counted: messages sent, error replies, refused writes, and escapes (an exception out of ``_handle_msg`` or one
caught by the boundary's last resort, ``boundary_faults``), which must be 0. Afterwards every view answers a good
request, its kernel-owned traits are what the kernel set, and its page-writable traits hold valid values."""

from __future__ import annotations

import logging
import math
import random
import time

import numpy as np
import pytest
import torch

import fxwidgets as fx
from fxwidgets.compute.evaluation import planted_image_task

SEED = 20240611
MESSAGES_PER_VIEW = 1150  # x 9 views = 10 350 messages


def build_views() -> dict:
    torch.manual_seed(0)
    g = np.random.default_rng(0)
    task = planted_image_task(4, size=8, seed=0)
    saliency = fx.attribute(task.model, task.inputs, target=1, method="saliency")
    tabular = fx.attribute(torch.nn.Linear(4, 3), torch.randn(6, 4), target=0, method="saliency")
    X = torch.randn(60, 5)
    return {
        "AffinityHeatmap": fx.AffinityHeatmap(np.eye(5) - 0.3, row_labels=list("abcde")),
        "ZoomHeatmap": fx.ZoomHeatmap(torch.randn(40, 3), tile_size=16),
        "PixelAffinity": fx.PixelAffinity(torch.randn(2, 4, 3, 3)),
        "AttributionView": fx.AttributionView(tabular, feature_names=list("abcd")),
        "AttributionSummary": fx.AttributionSummary(tabular),
        "FeatureRanking": fx.FeatureRanking(X, (X[:, 0] > 0).long(), methods=["fisher", "f_classif"], k=2,
                                            probe=False),
        "LayerComparison": fx.compare(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()),
                                      data=torch.randn(40, 3), batch_size=20, gram_samples=8).show(),
        "MetricsTable": fx.evaluate(task.model, task.inputs, {"saliency": saliency}, mask=task.mask,
                                    metrics=["complexity", "sparseness"]).show(),
        "Scatter": fx.Scatter(g.standard_normal((30, 2)), labels=g.integers(0, 3, 30)),
    }


#: a good request per view, answered ok after the fuzz
GOOD = {
    "AffinityHeatmap": ("cell", {"row": 1, "col": 2}),
    "ZoomHeatmap": ("cell", {"row": 0, "col": 3}),
    "PixelAffinity": ("row", {"b": 1, "i": 2, "j": 0}),
    "AttributionView": ("snapshot", {}),
    "AttributionSummary": ("row", {"row": 2}),
    "FeatureRanking": ("state", {}),
    "LayerComparison": ("grams", {"row": 0, "col": 1}),
    "MetricsTable": ("table", {}),
    "Scatter": ("row", {"index": 4}),
}

ARG_NAMES = ("row", "col", "b", "i", "j", "index", "level", "ti", "tj", "method", "metric", "sort_by", "feature")


def junk(rng: random.Random, depth: int = 0):
    """One value a broken or hostile page might send."""
    pick = rng.randrange(24)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324])
    if pick == 3:
        return rng.choice([10**30, -(10**30), 2**63, -1, 0, 1, 2, 3, 7, 2**31 - 1])
    if pick == 4:
        return rng.uniform(-5, 5)
    if pick == 5:
        return rng.randrange(-3, 40)
    if pick == 6:
        return "".join(rng.choice("ab<>&\"'\\\u0000\u202e😀 \n") for _ in range(rng.randrange(12)))
    if pick == 7:
        return "x" * rng.choice([0, 1, 300, 100_000])
    if pick == 8:
        return rng.choice(["viridis", "magma", "jet", "RdBu_r", "all", "positive", "summary", "dependence", "fisher",
                           "affinity", "labels", "label", "score", "none", "equal", "data", "label order",
                           "complexity", "method", "saliency", ""])
    if pick == 9 and depth < 3:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(5))]
    if pick == 10:
        return [rng.randrange(-2, 12) for _ in range(rng.randrange(4))]
    if pick == 11:
        return [rng.randrange(0, 6) for _ in range(rng.choice([0, 1, 2, 3, 3, 5000]))]
    if pick == 12 and depth < 3:
        return {str(junk(rng, 3))[:20]: junk(rng, depth + 1) for _ in range(rng.randrange(4))}
    if pick == 13:
        return {"rows": [rng.randrange(-1, 8) for _ in range(rng.randrange(3))],
                "cols": [rng.randrange(-1, 8) for _ in range(rng.randrange(3))]}
    if pick == 14:
        return {k: rng.randrange(-2, 50) for k in ("r0", "r1", "c0", "c1")}
    if pick == 15:
        return {"method": rng.choice(["saliency", "x", None]), "metric": rng.choice(["complexity", "nope", 3])}
    if pick == 16:
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 8, 64])))
    if pick == 17:
        return [rng.uniform(-50, 50) for _ in range(rng.choice([0, 2, 3, 3, 4]))]
    if pick == 18 and depth < 20:  # deep nesting
        v = junk(rng, 20)
        for _ in range(rng.randrange(30)):
            v = [v] if rng.random() < 0.5 else {"a": v}
        return v
    return rng.choice([0.1, 0.5, 1.0, 2.0, 50.0, 99.0, -1.0, 0])


def trait_names(view, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return rng.choice(sorted(view.page_writable))
    if r < 0.9:
        return rng.choice(sorted(view.keys))  # kernel-owned ones among them
    return rng.choice(["__class__", "_esm", "comm", "nonexistent", "", "x" * 500, "rpc", "job", "keys"])


def fuzz_message(view, rng: random.Random) -> dict:
    """One comm message as ipywidgets hands it to ``_handle_msg``."""
    kind = rng.random()
    if kind < 0.40:  # an RPC request
        methods = view.rpc.methods
        method = rng.choice(methods + ["nope", "__init__", "_run"]) if rng.random() < 0.8 else junk(rng)
        args = ({rng.choice(ARG_NAMES): junk(rng) for _ in range(rng.randrange(4))} if rng.random() < 0.85
                else junk(rng))
        content = {"type": "request", "id": rng.randrange(10**6) if rng.random() < 0.9 else junk(rng),
                   "method": method, "args": args}
        if rng.random() < 0.3:
            content["channel"] = rng.choice(["hover", "tile", f"c{rng.randrange(50)}"]) if rng.random() < 0.8 \
                else junk(rng)
        if rng.random() < 0.05:
            content = junk(rng)
        return {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    if kind < 0.48:  # Cancel
        return {"content": {"data": {"method": "custom", "content": {"type": "request", "id": rng.randrange(10**6),
                                                                     "method": "cancel", "args": {}}}},
                "buffers": []}
    if kind < 0.88:  # trait writes
        state = {trait_names(view, rng): junk(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))}
        data: dict = {"method": "update", "state": state}
        buffers: list = []
        if rng.random() < 0.1:
            data["buffer_paths"] = junk(rng) if rng.random() < 0.5 else [[rng.choice(list(state) + ["zz"])]]
            buffers = [memoryview(bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 13]))))]
        if rng.random() < 0.03:
            data["state"] = junk(rng)
        return {"content": {"data": data}, "buffers": buffers}
    if kind < 0.93:  # a picture message with junk
        content = {"type": "snapshot", "width": junk(rng), "height": junk(rng), "scale": junk(rng)}
        return {"content": {"data": {"method": "custom", "content": content}},
                "buffers": [b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(20))]}
    if kind < 0.95:
        return {"content": {"data": {"method": "request_state"}}, "buffers": []}
    # broken envelopes
    return rng.choice([
        {}, {"content": None}, {"content": {"data": None}}, {"content": {"data": {"method": junk(rng)}}},
        {"content": {"data": {"method": "echo_update", "state": {}}}}, {"content": {"data": {"method": "custom"}}},
        {"content": {"data": {"method": "update", "state": {}}}, "buffers": junk(rng)},
    ])


class Replies:
    def __init__(self):
        self.sent = 0
        self.errors = 0
        self.last: dict = {}

    def __call__(self, content, buffers=None):
        self.sent += 1
        if content.get("type") == "error" or (content.get("type") == "response" and content.get("ok") is False
                                                and not content.get("superseded")):
            self.errors += 1
        if content.get("type") == "response":
            self.last[content.get("id")] = content


def kernel_owned_state(view) -> dict:
    owned = [k for k in view.keys if k not in view.page_writable and k not in (
        "error", "status", "progress", "picture", "cmap_lut", "gram_cmap_lut", "generation", "panels", "selected",
        "_view_count", "layout", "tabbable", "tooltip", "_dom_classes", "panel_metrics")]
    state = {}
    for k in owned:
        v = getattr(view, k)
        state[k] = v.tolist() if isinstance(v, np.ndarray) else v
    return state


def test_ten_thousand_malformed_messages_to_every_view_escape_nothing(caplog):
    caplog.set_level(logging.CRITICAL, logger="fxwidgets")  # every refusal is logged; keep the run fast
    caplog.set_level(logging.CRITICAL, logger="fxwidgets.rpc")
    views = build_views()
    rng = random.Random(SEED)
    replies = {name: Replies() for name in views}
    before = {name: kernel_owned_state(v) for name, v in views.items()}
    for name, view in views.items():
        view.send = replies[name]
    sent = escapes = 0
    start = time.monotonic()
    order = [name for name in views for _ in range(MESSAGES_PER_VIEW)]
    rng.shuffle(order)
    for name in order:
        view = views[name]
        msg = fuzz_message(view, rng)
        sent += 1
        try:
            view._handle_msg(msg)
        except BaseException as exc:  # noqa: BLE001 - what we count
            escapes += 1
            print(f"ESCAPED from {name}: {type(exc).__name__}: {exc}"[:300])
    # every view still answers a good request, after the queued ones
    for name, view in views.items():
        method, args = GOOD[name]
        view._handle_msg({"content": {"data": {"method": "custom", "content": {
            "type": "request", "id": "good", "method": method, "args": args}}}, "buffers": []})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all("good" in r.last for r in replies.values()):
        time.sleep(0.02)
    took = time.monotonic() - start
    faults = sum(v.boundary_faults for v in views.values())
    refused = sum(v.page_refusals for v in views.values())
    errors = sum(r.errors for r in replies.values())
    answered = sum(v.rpc.answered for v in views.values())
    print(f"\nfuzz: {sent} messages to {len(views)} views in {took:.1f} s; {errors} error replies, "
          f"{answered} ok replies, {refused} refused writes/envelopes, {escapes} escaped, {faults} boundary faults")
    assert sent >= 10_000
    assert escapes == 0 and faults == 0
    for name, view in views.items():
        good = replies[name].last.get("good")
        assert good is not None and good["ok"], (name, good)
        assert view.rpc.channels == 0  # the channel table holds nothing once every request is answered
        # what the kernel owns is what the kernel set
        assert kernel_owned_state(view) == before[name], name
        for trait in view.page_writable:  # and every page-writable trait holds a value its own checks accept
            value = getattr(view, trait)
            if isinstance(value, float):
                assert math.isfinite(value), (name, trait, value)
    assert errors > 1000 and refused > 1000  # the fuzz did reach the checks


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_page_write_to_a_kernel_owned_trait_is_refused_and_undone(name):
    view = build_views()[name]
    owned = sorted(set(view.keys) - view.page_writable - {"_view_count"})
    sent_back = []
    view.send_state = lambda key=None: sent_back.append(key)
    before = {k: getattr(view, k) for k in owned}
    for k in owned:
        view._handle_msg({"content": {"data": {"method": "update", "state": {k: 12345}}}, "buffers": []})
    for k in owned:
        v = getattr(view, k)
        same = np.array_equal(v, before[k]) if isinstance(v, np.ndarray) else v == before[k]
        assert same or k == "error", (k, v, before[k])
    assert "set by the kernel" in view.error and view.page_refusals == len(owned)
    assert sorted(k for keys in sent_back if isinstance(keys, list) for k in keys) == owned  # told the kernel's value
    assert view.boundary_faults == 0
