"""End-to-end: fx.compare's live layer x layer CKA heatmap; a click opens the two layers' Gram matrices."""

from __future__ import annotations

import pytest

import lab
from test_tour import CANVAS, CANVAS_GEOMETRY_JS, HIT_JS, ROOT, Grid, _require_bundle, _wait_drawn

pytestmark = [pytest.mark.e2e]

NOTEBOOK = "e2e_similarity.ipynb"

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

COUNT_DRAWN_JS = r"""
const roots = Array.from(document.querySelectorAll(arg.sel));
return roots.slice(arg.from).filter(r => r.dataset.status === 'done' && Number(r.dataset.draws) >= 1).length;
"""


def test_clicking_a_cell_opens_the_two_layers_gram_matrices(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(page, jupyter_server, NOTEBOOK, CODE, ROOT)
    _wait_drawn(page, nth)  # the matrix streamed to the end
    info = lab.run_cell_json(page, "dict(examples=view.examples, info=view.info.value, status=job.status, "
                                   "shape=view.matrix.shape, display_shape=view.matrix.display_shape, "
                                   "block=view.matrix.block, labels=view.matrix.row_labels, pair=view.pair, "
                                   "panels=len(view.panels.children), sort=view.sort_by)", keep=False)
    assert info["status"] == "done" and info["examples"] == 1200 and info["info"] == "1200 of 1200 examples seen"
    assert info["shape"] == [5, 5] and info["labels"] == ["0", "1", "2", "3", "4"]
    assert info["pair"] == [] and info["panels"] == 0 and info["sort"] == "label"
    stats = lab.canvas_stats(page, CANVAS, nth)
    assert stats["distinct"] >= 5 and stats["non_background"] > 0.5, stats

    # -- click cell (row 1, col 3) of the matrix ---------------------------------------------------------------
    root = page.locator(ROOT).nth(nth)
    root.scroll_into_view_if_needed()
    geo = lab.evaluate_async(page, CANVAS_GEOMETRY_JS, {"sel": CANVAS, "nth": nth}, 5_000)
    grid = Grid(geo, info["display_shape"], info["block"], info["shape"])
    x, y, r, c = grid.point(0.3, 0.7)  # rows/cols 1 and 3 of 5
    assert (r, c) == (1, 3), (r, c, geo)
    hits = lab.evaluate_async(page, HIT_JS, {"sel": CANVAS, "nth": nth, "points": [[x, y]]})
    assert hits == [True], f"({x}, {y}) is not on the matrix canvas: {geo}"
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.up()

    # Python side: the view's pair trait follows the click, and two Gram heatmaps exist.
    lab.wait_python(page, "view.pair", lambda v: v == [1, 3], timeout_s=30, what="view.pair == [1, 3]")
    panels = lab.run_cell_json(page, "[dict(title=v.title, shape=v.shape, first=v.row_labels[0], "
                                     "last=v.row_labels[-1]) for v in view.panels.children]", keep=False)
    assert [p["shape"] for p in panels] == [[120, 120], [120, 120]]
    assert panels[0]["title"].startswith("model A: 1") and panels[1]["title"].startswith("model B: 3")
    assert (panels[0]["first"], panels[0]["last"]) == ("0", "2")  # sorted by label

    # Browser side: both Gram panels rendered and painted.
    page.wait_for_function(
        "([sel, from]) => { const roots = Array.from(document.querySelectorAll(sel)).slice(from);"
        " return roots.filter(r => r.dataset.status === 'done' && Number(r.dataset.draws) >= 1).length >= 3; }",
        arg=[ROOT, nth], timeout=30_000)
    for k in (nth + 1, nth + 2):
        s = lab.canvas_stats(page, CANVAS, k)
        assert s["width"] > 20 and s["opaque"] > 0.5, s
        assert s["distinct"] >= 16 and s["non_background"] > 0.2, s
    page.locator("div.fx-layer-comparison").first.screenshot(path=str(artifacts / "similarity-grams.png"))

    # Re-sorting from the browser's dropdown reorders the panels (a second gesture, read back in Python).
    page.locator("div.fx-layer-comparison div.fx-sort-by select").first.select_option("data order")
    lab.wait_python(page, "[view.sort_by, view.panels.children[0].row_labels[0]]",
                    lambda v: v[0] == "data order" and v[1].startswith("#"), timeout_s=30,
                    what="panels re-sorted in data order")
