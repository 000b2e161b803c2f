"""End-to-end in Jupyter Notebook 7 (the ``notebook`` package): a view renders and a real click reaches Python.

The JupyterLab tests cover every view in depth; this one proves the same bundle works in the other front end
people use: pixels painted in the page, the click's cell in ``heatmap.selection`` read back in the kernel, and
the picture output updated with the view's picture (hidden while the view is live).
"""

from __future__ import annotations

import contextlib

import pytest

import lab

pytestmark = [pytest.mark.e2e]

CANVAS = "div.fx-heatmap canvas.fx-heatmap-canvas"
N = 16  # a 16 x 16 matrix: cells many CSS pixels wide, so a click at a cell's centre is unambiguous

SETUP = (
    "import numpy as np, fxwidgets as fx\n"
    f"M = np.add.outer(np.arange({N}), np.arange({N}) * 0.01).astype(np.float32)\n"
    "heatmap = fx.AffinityHeatmap(M, title='Notebook 7')\n"
    "heatmap"
)


@pytest.fixture(scope="module")
def notebook7_server(artifacts):
    lab.require_chromium()
    server = lab.LabServer(artifacts=artifacts, frontend="notebook").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def nb7_page(notebook7_server, browser):
    console: list[str] = []
    page = lab.new_page(browser, console)
    page.set_default_timeout(60_000)
    try:
        yield page
    finally:
        with contextlib.suppress(Exception):
            page.context.close()
        with contextlib.suppress(Exception):
            notebook7_server.delete_all_sessions()


def test_heatmap_renders_and_a_click_reaches_python_in_notebook7(nb7_page, notebook7_server, artifacts):
    page = nb7_page
    nth = lab.show_in_notebook(page, notebook7_server, "nb7.ipynb", SETUP, "div.fx-heatmap", var="heatmap")
    assert "/notebooks/" in page.url  # the Notebook 7 front end, not JupyterLab
    lab.wait_attr(page, "div.fx-heatmap", "data-draws", "Number(v) >= 1", 60_000, nth=nth)
    stats = lab.canvas_stats(page, CANVAS, nth=nth)
    assert stats["opaque"] > 0.9 and stats["distinct"] >= N, stats  # the gradient was painted, not a blank canvas
    box = page.locator(CANVAS).nth(nth)
    box.scroll_into_view_if_needed()
    r = box.bounding_box()
    row, col = 11, 4
    page.mouse.click(r["x"] + (col + 0.5) * r["width"] / N, r["y"] + (row + 0.5) * r["height"] / N)
    sel = lab.wait_python(page, "heatmap.selection", lambda s: bool(s and s.get("rows")), timeout_s=20,
                          what="the clicked cell in heatmap.selection")
    assert sel == {"rows": [row], "cols": [col]}
    # the view's picture reaches Python; the picture output before the widget holds it and is hidden (live view)
    lab.wait_python(page, "heatmap.picture is not None", bool, timeout_s=30, what="the picture reached Python")
    hidden = page.evaluate("""() => Array.from(document.querySelectorAll('img.fx-picture')).map(img =>
        getComputedStyle(img.closest('.jp-OutputArea-child')).display === 'none' && img.naturalWidth > 0)""")
    assert hidden and all(hidden), hidden
    page.screenshot(path=str(artifacts / "notebook7.png"))
