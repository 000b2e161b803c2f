"""End-to-end: fx.compare's live layer x layer CKA view (js/layer_comparison.ts) streamed to the end; a click on a
cell opens the two layers' Gram matrices, sorted by label; the sort select re-orders them."""

from __future__ import annotations

import pytest

import lab
from test_tour import _require_bundle

pytestmark = [pytest.mark.e2e]

NOTEBOOK = "e2e_similarity.ipynb"
ROOT = "div.fx-layers"
CKA = "div.fx-layers canvas.fx-cka"

CODE = """\
import torch, fxwidgets as fx
torch.manual_seed(0)
def mlp():
    return torch.nn.Sequential(torch.nn.Linear(16, 48), torch.nn.ReLU(), torch.nn.Linear(48, 24), torch.nn.ReLU(),
                               torch.nn.Linear(24, 5))
a, b = mlp(), mlp()
X = torch.randn(1200, 16)
y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
job = fx.compare(a, b, X, labels=y, batch_size=60, gram_samples=120, stream=True)
view = job.show()
view
"""


def test_clicking_a_cell_opens_the_two_layers_gram_matrices(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(page, jupyter_server, NOTEBOOK, CODE, ROOT)
    lab.wait_attr(page, ROOT, "data-status", "v === 'done'", 120_000, nth=nth)  # the matrix streamed to the end
    info = lab.run_cell_json(page, "dict(examples=view.examples, n=view.n_examples, status=job.status, "
                                   "layers=view.layers_a, pair=view.pair, sort=view.sort_by, "
                                   "finite=bool(__import__('numpy').isfinite(view.values).all()))", keep=False)
    assert info["status"] == "done" and info["examples"] == 1200 and info["n"] == 1200
    assert info["layers"] == ["0", "1", "2", "3", "4"] and info["finite"]
    assert info["pair"] == [] and info["sort"] == "label"
    root = page.locator(ROOT).nth(nth)
    assert root.locator(".fx-examples").inner_text() == "1,200 of 1,200 examples seen"
    assert root.locator(".fx-axis-left .fx-tick-label").all_inner_texts() == info["layers"]
    stats = lab.canvas_stats(page, CKA, nth)
    assert stats["distinct"] >= 5 and stats["opaque"] > 0.9, stats

    # -- click cell (row 1, col 3) of the matrix ---------------------------------------------------------------
    canvas = page.locator(CKA).nth(nth)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 3.5 / 5, box["y"] + box["height"] * 1.5 / 5
    page.mouse.move(x, y)
    tip = root.locator(".fx-tooltip .fx-tt-value")
    tip.wait_for(state="visible", timeout=10_000)
    assert "±" in tip.inner_text()  # the value with its standard error
    page.mouse.click(x, y)

    # Python side: the view's pair trait follows the click; the browser asked for the pair's Gram matrices.
    lab.wait_python(page, "view.pair", lambda v: v == [1, 3], timeout_s=30, what="view.pair == [1, 3]")
    lab.wait_attr(page, ROOT, "data-grams", "Number(v) >= 1", 30_000, nth=nth)
    grams = lab.run_cell_json(page, "(lambda g: dict(a=list(g['a'].shape), b=list(g['b'].shape), first=g['labels'][0],"
                                    " last=g['labels'][-1]))(view.grams(1, 3))", keep=False)
    assert grams["a"] == [120, 120] and grams["b"] == [120, 120]
    assert (grams["first"], grams["last"]) == ("0", "2")  # sorted by label
    titles = root.locator(".fx-gram-title").all_inner_texts()
    assert titles == ["network A · 1", "network B · 3"], titles

    # Browser side: both Gram panels painted, with the label blocks named on their axes.
    for k in range(2):
        s = lab.canvas_stats(page, "div.fx-layers canvas.fx-gram", k)
        assert s["width"] > 20 and s["opaque"] > 0.5, s
        assert s["distinct"] >= 16 and s["non_background"] > 0.2, s
    ticks = root.locator(".fx-gram-panel").first.locator(".fx-axis-left .fx-tick-label").all_inner_texts()
    assert ticks[0] == "0" and ticks[-1] == "2", ticks
    root.screenshot(path=str(artifacts / "similarity-grams.png"))

    # Re-sorting from the browser's select reorders the panels (a second gesture, read back in Python).
    drawn = int(root.get_attribute("data-grams"))
    root.locator("select.fx-sort-by").select_option("data order")
    lab.wait_python(page, "view.sort_by", lambda v: v == "data order", timeout_s=30, what="sort_by follows the select")
    lab.wait_attr(page, ROOT, "data-grams", f"Number(v) > {drawn}", 30_000, nth=nth)
    assert "example (data order)" in root.locator(".fx-gram-panel .fx-axis-title").all_inner_texts()
