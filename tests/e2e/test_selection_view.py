"""End-to-end: the FeatureRanking view in JupyterLab. Drag the cut-off and click a bar in the browser, then read
``selected`` in Python; switch the method; the held-out curve and the agreement panel are painted.

Contract (fxwidgets/widgets/feature_ranking.py, module docstring): root ``div.fx-ranking`` with ``data-ready``, ``data-k``,
``data-method``, ``data-curve-points``, ``data-curve-done``; bars ``div.fx-bars > div.fx-row`` (``data-pos``,
``data-index``), 18 CSS px each; curve ``canvas.fx-curve``; agreement ``canvas.fx-agree``; ``select.fx-method``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import lab

pytestmark = [pytest.mark.e2e]

ROOT = "div.fx-ranking"
BARS = "div.fx-ranking div.fx-bars"
ROW = 18

SETUP = (
    "import numpy as np, fxwidgets as fx\n"
    "from sklearn.datasets import load_wine\n"
    "data = load_wine()\n"
    "view = fx.FeatureRanking(data.data, data.target, methods=['fisher', 'mi', 'inf_fs'], k=3,\n"
    "                         feature_names=data.feature_names, stability=5)\n"
    "view"
)


def _require_bundle():
    spec = importlib.util.find_spec("fxwidgets")
    assert spec is not None and spec.origin
    bundle = Path(spec.origin).parent / "static" / "feature_ranking.js"
    assert bundle.is_file(), f"front-end bundle missing: {bundle} (run `npm run build`)"


def _bars_box(page, nth: int) -> dict:
    """The bar list's client box, read again before each gesture (the notebook may still be scrolling)."""
    return page.evaluate(
        "([sel, nth]) => { const el = document.querySelectorAll(sel)[nth]; el.scrollIntoView({block: 'center'});"
        " const r = el.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height,"
        " scroll: el.scrollTop}; }",
        [BARS, nth],
    )


def _stable_box(page, nth: int) -> dict:
    prev = _bars_box(page, nth)
    for _ in range(50):
        page.wait_for_timeout(50)  # poll until two reads agree: a condition wait
        now = _bars_box(page, nth)
        if now == prev:
            return now
        prev = now
    return prev


def test_drag_the_cutoff_and_click_a_bar_set_selected_in_python(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(page, jupyter_server, "e2e_selection.ipynb", SETUP, ROOT)
    lab.wait_attr(page, ROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    lab.wait_attr(page, ROOT, "data-curve-done", "v === 'true'", 60_000, nth=nth)
    root = page.locator(ROOT).nth(nth)
    rows = root.locator("div.fx-row")
    assert rows.count() == 13
    # names are text, in score order, as Python ranks them
    expect = lab.run_cell_json(page, "[data.feature_names[i] for i in view.result.ranking.tolist()]")
    assert [rows.nth(i).locator(".fx-name").inner_text() for i in range(13)] == expect
    assert root.locator("div.fx-row.fx-kept").count() == 3
    # painted pixels: the curve (13 points) and the agreement matrix
    assert root.get_attribute("data-curve-points") == "13"
    curve = lab.canvas_stats(page, "div.fx-ranking canvas.fx-curve", nth)
    assert curve["distinct"] > 4 and curve["non_background"] > 0.01, curve
    agree = lab.canvas_stats(page, "div.fx-ranking canvas.fx-agree", nth)
    assert agree["distinct"] > 4 and agree["non_background"] > 0.2, agree
    root.screenshot(path=str(artifacts / "selection.png"))

    # drag the cut-off from below bar 3 to below bar 8 -> k = 8
    box = _stable_box(page, nth)
    x = box["x"] + box["w"] * 0.6
    y0 = box["y"] + 3 * ROW - box["scroll"] - 1
    y1 = box["y"] + 8 * ROW - box["scroll"] + 2
    hit = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('div.fx-bars')", [x, y0])
    assert hit, "the drag would not start on the bar list"
    page.mouse.move(x, y0)
    page.mouse.down()
    for i in range(1, 11):
        page.mouse.move(x, y0 + (y1 - y0) * i / 10)
    page.mouse.up()
    lab.wait_attr(page, ROOT, "data-k", "v === '8'", 10_000, nth=nth)
    got = lab.wait_python(page, "{'k': view.k, 'selected': view.selected, 'top': view.result.ranking[:8].tolist()}",
                          lambda v: v["k"] == 8, what="k after the drag")
    assert got["selected"] == got["top"] and len(got["selected"]) == 8
    assert root.locator("div.fx-row.fx-kept").count() == 8
    root.screenshot(path=str(artifacts / "selection-drag.png"))

    # click the 5th bar -> k = 5
    box = _stable_box(page, nth)
    page.mouse.click(box["x"] + box["w"] * 0.6, box["y"] + 4 * ROW + ROW / 2 - box["scroll"])
    got = lab.wait_python(page, "{'k': view.k, 'selected': view.selected, 'top': view.result.ranking[:5].tolist()}",
                          lambda v: v["k"] == 5, what="k after the click")
    assert got["selected"] == got["top"]

    # switch the method in the browser: Python follows, the bars re-sort, a new curve streams in
    before = lab.canvas_stats(page, "div.fx-ranking canvas.fx-curve", nth)["digest"]
    root.locator("select.fx-method").select_option("inf_fs")
    got = lab.wait_python(page, "{'m': view.method, 'selected': view.selected, 'top': view.result.ranking[:5].tolist()}",
                          lambda v: v["m"] == "inf_fs", what="method after the switch")
    assert got["selected"] == got["top"]
    lab.wait_attr(page, ROOT, "data-method", "v === 'inf_fs'", 10_000, nth=nth)
    lab.wait_attr(page, ROOT, "data-curve-points", "v === '13'", 60_000, nth=nth)
    lab.wait_canvas_change(page, "div.fx-ranking canvas.fx-curve", before, nth)
    expect = lab.run_cell_json(page, "[data.feature_names[i] for i in view.result.ranking.tolist()]")
    assert [rows.nth(i).locator(".fx-name").inner_text() for i in range(13)] == expect

    # Python sets k: the view follows
    lab.run_cell_and_read(page, "view.k = 2")
    lab.wait_attr(page, ROOT, "data-k", "v === '2'", 10_000, nth=nth)
    assert root.locator("div.fx-row.fx-kept").count() == 2


def test_feature_names_are_text_never_html(jupyter_server, lab_page):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_selection_names.ipynb",
        "import numpy as np, fxwidgets as fx\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "names = ['<img src=x onerror=\"window.__pwned=1\">', '<b>bold</b>', 'plain']\n"
        "view = fx.FeatureRanking(X, y, methods=['fisher'], k=1, feature_names=names, probe=False)\n"
        "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    root = page.locator(ROOT).nth(nth)
    texts = sorted(root.locator(".fx-name").all_inner_texts())
    assert texts == sorted(['<img src=x onerror="window.__pwned=1">', "<b>bold</b>", "plain"])
    assert root.locator("img").count() == 0 and root.locator(".fx-name b").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
