"""End-to-end: AttributionView in a real JupyterLab + headless Chromium.

Contract relied on: the view's root is ``div.fx-attr`` with ``data-status``, ``data-paints``, ``data-sign``,
``data-target``, ``data-generation``; each image panel is a ``canvas.fx-attr-image``; the controls are
``select.fx-sign``, ``select.fx-target``, ``input.fx-opacity``; a tabular panel draws ``div.fx-wf-bar`` bars.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import lab
import pytest

pytestmark = [pytest.mark.e2e]

ROOT = "div.fx-attr"
CANVAS = "canvas.fx-attr-image"

SETUP = (
    "import torch, fxwidgets as fx\n"
    "torch.manual_seed(0)\n"
    "net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),\n"
    "                          torch.nn.Linear(4 * 12 * 12, 3))\n"
    "x = torch.randn(1, 1, 12, 12)\n"
)


def _require_bundle():
    spec = importlib.util.find_spec("fxwidgets")
    assert spec is not None and spec.origin, "fxwidgets is not importable: pip install -e . into the venv"
    bundle = Path(spec.origin).parent / "static" / "attribution_view.js"
    assert bundle.is_file(), f"front-end bundle missing: {bundle} (run `npm ci && npm run build`)"


def test_sign_mode_repaints_in_the_browser_and_target_recomputes_in_the_kernel(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    name = "e2e_attribution.ipynb"
    nth = lab.show_in_notebook(
        page, jupyter_server, name,
        SETUP + "view = fx.AttributionView(net, x, target=0, methods={'integrated_gradients': {'n_steps': 16},\n"
                "                          'occlusion': {'sliding_window': (1, 3, 3), 'strides': (1, 2, 2)}})\n"
                "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-status", "v === 'done'", 60_000, nth=nth)
    lab.wait_attr(page, ROOT, "data-received", "Number(v) >= 2", 30_000, nth=nth)
    lab.wait_attr(page, ROOT, "data-paints", "Number(v) >= 1", 30_000, nth=nth)
    model_id = lab.run_cell_json(page, "view.model_id")
    canvas = lab.widget_element_index(page, name, model_id, CANVAS)
    before = lab.canvas_stats(page, CANVAS, canvas)
    assert (before["width"], before["height"]) == (12, 12) and before["distinct"] > 20, before
    root = page.locator(ROOT).nth(nth)
    root.screenshot(path=str(artifacts / "attribution-all.png"))

    # Sign mode: painted in the browser (no kernel call needed); the trait follows to Python.
    root.locator("select.fx-sign").select_option("positive")
    lab.wait_attr(page, ROOT, "data-sign", "v === 'positive'", 10_000, nth=nth)
    lab.wait_canvas_change(page, CANVAS, before["digest"], canvas)
    positive = lab.canvas_stats(page, CANVAS, canvas)
    # With only the positive part shown, the pixels with negative attribution show the bare input: fewer
    # distinct colours than the signed overlay.
    assert positive["distinct"] < before["distinct"], (positive, before)
    lab.wait_python(page, "view.sign", lambda v: v == "positive", what="view.sign == 'positive'")
    root.screenshot(path=str(artifacts / "attribution-positive.png"))

    # Target: the kernel recomputes every panel; a new generation of values arrives and is painted.
    gen0 = lab.run_cell_json(page, "view.generation")
    root.locator("select.fx-target").select_option("2")
    lab.wait_python(page, "[view.target, view.generation, view.status]",
                    lambda v: v[0] == 2 and v[1] == gen0 + 1 and v[2] == "done", timeout_s=60,
                    what="target 2 recomputed")
    lab.wait_attr(page, ROOT, "data-generation", f"Number(v) === {gen0 + 1}", 30_000, nth=nth)
    lab.wait_canvas_change(page, CANVAS, positive["digest"], canvas)
    # The Python side holds the target-2 attributions, equal to a direct call.
    err = lab.run_cell_json(
        page,
        "float(abs(torch.as_tensor(view.display_values(0)) - fx.attribute(net, x, target=2, "
        "method='integrated_gradients', n_steps=16).values[0].sum(0)).max())",
    )
    assert err < 1e-5
    root.screenshot(path=str(artifacts / "attribution-target2.png"))


def test_tabular_waterfall_shows_every_feature_with_names_as_text(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_attribution_tab.ipynb",
        "import torch, fxwidgets as fx\n"
        "torch.manual_seed(0)\n"
        "mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))\n"
        "x = torch.randn(1, 6)\n"
        "names = ['<b>bold</b>', 'age', 'income', 'rooms', 'lat', 'lon']\n"
        "view = fx.AttributionView(mlp, x, methods={'shapley_permutation': {'n_permutations': 400}}, chunk_size=10,\n"
        "                          feature_names=names)\n"
        "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-status", "v === 'done'", 60_000, nth=nth)
    root = page.locator(ROOT).nth(nth)
    bars = root.locator("div.fx-wf-bar")
    bars.first.wait_for(timeout=20_000)
    assert bars.count() == 6
    names = root.locator("div.fx-wf-name").all_inner_texts()
    assert "<b>bold</b>" in names  # inserted as text, not parsed as HTML
    assert root.locator("div.fx-wf-name b").count() == 0
    readout = root.locator(".fx-readout").first.inner_text()
    assert "mean s.e." in readout and "permutations" in readout
    root.screenshot(path=str(artifacts / "attribution-waterfall.png"))


def test_text_tokens_are_coloured_and_inserted_as_text(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_attribution_text.ipynb",
        "import torch, fxwidgets as fx\n"
        "tokens = ['good', '<img src=x onerror=alert(1)>', 'bad', 'plot']\n"
        "emb = torch.tensor([[[2.0], [0.0], [-1.5], [0.3]]])\n"
        "view = fx.AttributionView(lambda e: e.sum((1, 2))[:, None], emb,\n"
        "                          methods={'integrated_gradients': {'n_steps': 8}}, tokens=tokens)\n"
        "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-status", "v === 'done'", 60_000, nth=nth)
    root = page.locator(ROOT).nth(nth)
    spans = root.locator("span.fx-token")
    spans.first.wait_for(timeout=20_000)
    assert spans.all_inner_texts() == ["good", "<img src=x onerror=alert(1)>", "bad", "plot"]
    assert root.locator("img").count() == 0  # a token is text, never markup
    values = [float(spans.nth(i).get_attribute("data-value")) for i in range(4)]
    assert values == pytest.approx([2.0, 0.0, -1.5, 0.3], abs=1e-5)  # linear model: IG = x * w exactly
    colours = [spans.nth(i).evaluate("e => getComputedStyle(e).backgroundColor") for i in range(4)]
    assert colours[0] != colours[2] and colours[1].endswith(", 0)")  # opposite signs differ; zero is transparent
    root.screenshot(path=str(artifacts / "attribution-text.png"))
