"""End-to-end: fx.Scatter in JupyterLab (WebGL through headless Chromium's SwiftShader) and fx.link.

Real gestures, Python-side assertions: the WebGL frame is painted (pixels read from the scatter's 2-D canvas, onto
which each WebGL frame is copied); a legend click hides a class (pixels of its colour vanish, `hidden_classes` in
Python); a lasso drawn with the mouse sets `scatter.selection` in Python, and the linked AffinityHeatmap
(`selection` rows), AttributionView (`row`) and FeatureRanking (`rows_ranked`) follow; while the kernel is busy,
the heatmap already shows the lassoed rows (the in-page bus), and Python confirms once the kernel is free; a drag
in the heatmap selects its rows in the scatter. notebooks/06_datasets.ipynb, run in JupyterLab: a lasso around one
digit's cluster in its t-SNE scatter moves the linked AttributionView's `row` in Python.

Contract: fxwidgets/widgets/scatter.py (module docstring) and docs/protocol.md ("Scatter", "Linked views").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import lab

pytestmark = [pytest.mark.e2e]

ROOT = "div.fx-scatter"
CANVAS = "div.fx-scatter canvas.fx-scatter-canvas"
HEAT = "div.fx-heatmap"

SETUP = """\
import numpy as np, torch, fxwidgets as fx
rng = np.random.default_rng(0)
centres = np.array([[-4.0, 0.0], [3.0, 2.0], [1.0, -3.0]])
y = np.repeat(np.arange(3), 100)
xy = centres[y] + 0.5 * rng.standard_normal((300, 2))
X = np.hstack([xy, rng.standard_normal((300, 4))]).astype(np.float32)
names = np.array(['ant', 'bee', 'cat'])[y]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
scatter = fx.Scatter(xy, labels=names, values={'feature 3': X[:, 3]}, title='three blobs', label_name='class')
heat = fx.affinity(X, metric='cosine').show()
attr = fx.AttributionView(model, torch.tensor(X), methods=['saliency'], feature_names=[f'f{i}' for i in range(6)])
# the ranking's target is not the blob (a lassoed blob has one class; it has two of these)
target = (X[:, 3] > 0).astype(int)
ranking = fx.FeatureRanking(X, target, methods=['fisher'], k=2, probe=False)
link = fx.link(scatter, heat, attr, ranking)
scatter"""

# Pixels of the scatter canvas close to an RGB colour (anti-aliased edges and blending give near colours).
COUNT_COLOUR_JS = r"""
const el = document.querySelectorAll(arg.sel)[arg.nth];
const ctx = el.getContext('2d', {willReadFrequently: true});
const px = ctx.getImageData(0, 0, el.width, el.height).data;
let n = 0;
for (let i = 0; i < px.length; i += 4) {
  if (px[i + 3] < 128) continue;
  const d = Math.abs(px[i] - arg.rgb[0]) + Math.abs(px[i + 1] - arg.rgb[1]) + Math.abs(px[i + 2] - arg.rgb[2]);
  if (d <= 60) n++;
}
return n;
"""

# Screen boxes (page px) of the points of each class, read through the view's plot (test hook on the root).
CLASS_BOXES_JS = r"""
const root = document.querySelectorAll(arg.sel)[arg.nth];
const canvas = root.querySelector('canvas.fx-scatter-canvas');
const r = canvas.getBoundingClientRect();
const plot = root.fxScatter.plot;
const boxes = {};
for (const [name, lo, hi] of arg.classes) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = lo; i < hi; i++) {
    const [x, y] = plot.getScreenPosition(i);
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  boxes[name] = {x0: r.left + x0, x1: r.left + x1, y0: r.top + y0, y1: r.top + y1};
}
return {boxes, canvas: {x: r.left, y: r.top, w: r.width, h: r.height}};
"""


def _require_bundle(name: str) -> None:
    spec = importlib.util.find_spec("fxwidgets")
    assert spec is not None and spec.origin
    bundle = Path(spec.origin).parent / "static" / f"{name}.js"
    assert bundle.is_file(), f"front-end bundle missing: {bundle} (run `npm run build`)"


def _count(page, rgb, nth):
    return lab.evaluate_async(page, COUNT_COLOUR_JS, {"sel": CANVAS, "nth": nth, "rgb": rgb}, 10_000)


def _class_boxes(page, nth):
    classes = [["ant", 0, 100], ["bee", 100, 200], ["cat", 200, 300]]
    page.locator(ROOT).nth(nth).scroll_into_view_if_needed()
    prev = lab.evaluate_async(page, CLASS_BOXES_JS, {"sel": ROOT, "nth": nth, "classes": classes}, 10_000)
    for _ in range(50):  # wait until the notebook stopped scrolling: two reads agree
        page.wait_for_timeout(50)
        now = lab.evaluate_async(page, CLASS_BOXES_JS, {"sel": ROOT, "nth": nth, "classes": classes}, 10_000)
        if now == prev:
            return now
        prev = now
    return prev


def _lasso_around(page, box, pad=14, steps=10):
    """A free-form lasso drawn with the mouse: down, along the four sides of `box` grown by `pad`, up."""
    x0, x1, y0, y1 = box["x0"] - pad, box["x1"] + pad, box["y0"] - pad, box["y1"] + pad
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    page.mouse.move(corners[0][0] + 1, corners[0][1] + 1)  # the lasso starts at the first move
    page.wait_for_timeout(30)
    for (ax, ay), (bx, by) in zip(corners, corners[1:]):
        for k in range(1, steps + 1):
            page.mouse.move(ax + (bx - ax) * k / steps, ay + (by - ay) * k / steps)
            page.wait_for_timeout(15)  # regl-scatterplot adds a lasso point at most every 10 ms
    page.wait_for_timeout(50)
    page.mouse.up()


def _run_cell_in_background(page, code: str) -> None:
    """Start a cell and return at once (the kernel stays busy with it)."""
    lab.evaluate_async(page, lab._JS_PANEL + r"""
const panel = app.shell.currentWidget;
const nb = panel.content;
const index = nb.model.cells.length;
nb.model.sharedModel.insertCell(index, {cell_type: 'code', source: arg});
nb.activeCellIndex = index;
nb.deselectAll();
app.commands.execute('notebook:run-cell');  // not awaited
return true;
""", code, 10_000)


def test_scatter_lasso_legend_and_linked_views(jupyter_server, lab_page, artifacts):
    page = lab_page
    for b in ("scatter", "affinity_heatmap", "attribution_view", "feature_ranking"):
        _require_bundle(b)
    name = "e2e_scatter.ipynb"
    jupyter_server.put_notebook(name, [SETUP, "heat", "attr"])
    lab.open_notebook(page, jupyter_server.base_url, name)
    lab.run_all(page, name)
    ids = lab.run_cell_json(page, "[scatter.model_id, heat.model_id]")
    nth = lab.widget_element_index(page, name, ids[0], ROOT)
    hn = lab.widget_element_index(page, name, ids[1], HEAT)
    lab.wait_attr(page, ROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    root = page.locator(ROOT).nth(nth)
    root.scroll_into_view_if_needed()

    # -- the WebGL frame is painted: three class colours on the canvas --------------------------------------------
    stats = lab.canvas_stats(page, CANVAS, nth)
    assert stats["width"] > 200 and stats["opaque"] > 0.005, stats
    ant, bee, cat = (31, 119, 180), (255, 127, 14), (44, 160, 44)  # tab10's first three
    counts = [_count(page, c, nth) for c in (ant, bee, cat)]
    assert all(c > 50 for c in counts), counts
    assert root.get_attribute("data-points") == "300"
    assert root.locator("div.fx-legend .fx-legend-item").count() == 3
    root.screenshot(path=str(artifacts / "scatter.png"))

    # -- a legend click hides a class: its pixels go, Python sees hidden_classes --------------------------------
    root.locator("div.fx-legend .fx-legend-item[data-code='0']").click()
    lab.wait_python(page, "scatter.hidden_classes", lambda v: v == [0], what="hidden_classes after the click")
    lab.wait_attr(page, ROOT, "data-hidden", "v === '0'", 10_000, nth=nth)
    for _ in range(40):  # the next frame drops the class
        if _count(page, ant, nth) == 0:
            break
        page.wait_for_timeout(50)
    assert _count(page, ant, nth) == 0
    assert _count(page, bee, nth) > 50 and _count(page, cat, nth) > 50
    root.screenshot(path=str(artifacts / "scatter-hidden.png"))
    root.locator("div.fx-legend .fx-legend-item[data-code='0']").click()
    lab.wait_python(page, "scatter.hidden_classes", lambda v: v == [], what="hidden_classes after the second click")

    # -- a lasso drawn with the mouse while the kernel is busy --------------------------------------------------
    root.locator("button.fx-mode[data-mode='lasso']").click()
    lab.wait_attr(page, ROOT, "data-mode", "v === 'lasso'", 5_000, nth=nth)
    # the new cell scrolls the notebook: start it first, then bring the scatter back and measure
    _run_cell_in_background(page, "import time; time.sleep(8)")
    geo = _class_boxes(page, nth)
    bee_box = geo["boxes"]["bee"]
    assert bee_box["x1"] - bee_box["x0"] > 20 and bee_box["y1"] - bee_box["y0"] > 20, geo
    hit = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('div.fx-scatter')",
                        [bee_box["x0"] - 14, bee_box["y0"] - 14])
    assert hit, "the lasso would not start on the scatter"
    _lasso_around(page, bee_box)
    # the page answers at once: the scatter shows 100 selected rows and the heatmap draws their bands, with the
    # kernel still asleep (the in-page bus; Python has not seen the selection yet)
    lab.wait_attr(page, ROOT, "data-selected", "v === '100'", 5_000, nth=nth)
    lab.wait_attr(page, HEAT, "data-bands", "Number(v) > 0", 5_000, nth=hn)
    root.screenshot(path=str(artifacts / "scatter-lasso.png"))
    page.locator(HEAT).nth(hn).screenshot(path=str(artifacts / "scatter-linked-heatmap.png"))
    lab.wait_kernel_idle(page, 30_000)

    got = lab.wait_python(page, "scatter.selection.tolist()", lambda v: len(v) == 100, timeout_s=30,
                          what="scatter.selection after the lasso")
    assert got == list(range(100, 200))
    # the linked views, in Python
    linked = lab.wait_python(
        page, "{'heat': heat.selection, 'row': attr.row, 'ranked': ranking.rows_ranked, 'errors': link.errors}",
        lambda v: v["ranked"] == 100, timeout_s=30, what="the linked views")
    assert linked["heat"] == {"rows": list(range(100, 200)), "cols": []}
    assert linked["row"] == 100
    assert linked["errors"] == []
    assert lab.run_cell_json(page, "ranking.selected == [int(i) for i in "
                             "fx.select(X[100:200], target[100:200], method='fisher', k=2).ranking[:2]]")

    # -- a drag in the heatmap selects its rows in the scatter ------------------------------------------------
    canvas = page.locator(f"{HEAT} canvas.fx-heatmap-canvas").nth(hn)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.02)
    page.mouse.down()
    for k in range(1, 9):
        page.mouse.move(box["x"] + box["width"] * (0.05 + 0.05 * k), box["y"] + box["height"] * (0.02 + 0.03 * k))
    page.mouse.up()
    both = lab.wait_python(page, "[heat.selection['rows'], scatter.selection.tolist()]",
                           lambda v: len(v[0]) > 0 and v[0] == v[1] and v[0][0] < 100, timeout_s=20,
                           what="the scatter following the heatmap's drag")
    assert both[0] == list(range(both[0][0], both[0][-1] + 1))


def test_scatter_hover_shows_row_values_and_a_box_selects(jupyter_server, lab_page):
    page = lab_page
    _require_bundle("scatter")
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_scatter_hover.ipynb",
        "import numpy as np, fxwidgets as fx\n"
        "xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])\n"
        "imgs = np.zeros((3, 8, 8), dtype=np.float32); imgs[1, 2:6, 2:6] = 1\n"
        "view = fx.Scatter(xy, labels=['<b>x</b>', 'y', 'z'], scores=[0.5, 2.0, np.nan], images=imgs,\n"
        "                  values={'loss': [0.1, 0.25, 0.3]}, point_size=12)\n"
        "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    root = page.locator(ROOT).nth(nth)
    root.scroll_into_view_if_needed()
    pos = lab.evaluate_async(page, r"""
const root = document.querySelectorAll(arg.sel)[arg.nth];
const r = root.querySelector('canvas.fx-scatter-canvas').getBoundingClientRect();
const [x, y] = root.fxScatter.plot.getScreenPosition(1);
return [r.left + x, r.top + y];
""", {"sel": ROOT, "nth": nth})
    page.mouse.move(pos[0] - 20, pos[1] - 20)
    page.mouse.move(pos[0], pos[1])
    tip = root.locator("div.fx-tooltip")
    tip.wait_for(state="visible", timeout=10_000)
    lab.wait_attr(page, ROOT, "data-thumbnails", "Number(v) >= 1", 15_000, nth=nth)
    text = tip.inner_text()
    assert "row 1" in text and "loss" in text and "0.25" in text, text
    assert tip.locator("canvas.fx-tt-image").count() == 1
    # box selection: a rectangle dragged around rows 0 and 1 (row 2 lies further right)
    root.locator("button.fx-mode[data-mode='box']").click()
    lab.wait_attr(page, ROOT, "data-mode", "v === 'box'", 5_000, nth=nth)
    positions = r"""
const root = document.querySelectorAll(arg.sel)[arg.nth];
const c = root.querySelector('canvas.fx-scatter-canvas');
c.scrollIntoView({block: 'center'});
const r = c.getBoundingClientRect();
return [0, 1, 2].map(i => { const [x, y] = root.fxScatter.plot.getScreenPosition(i); return [r.left + x, r.top + y]; });
"""
    p = lab.evaluate_async(page, positions, {"sel": ROOT, "nth": nth})
    for _ in range(50):  # until the notebook stopped scrolling
        page.wait_for_timeout(50)
        now = lab.evaluate_async(page, positions, {"sel": ROOT, "nth": nth})
        if now == p:
            break
        p = now
    assert p[2][0] - p[1][0] > 40, p
    x0, x1 = p[0][0] - 15, p[1][0] + 15
    y0, y1 = p[1][1] - 15, p[0][1] + 15
    for x, y in ((x0, y0), (x1, y1)):
        assert page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.classList.contains('fx-scatter-canvas')",
                             [x, y]), ("the box would not lie on the plot", x, y)
    page.mouse.move(x0, y0)
    page.mouse.down()
    # regl-scatterplot starts the box at the first move after the button went down, and takes the last position
    # after its 10 ms throttle: a 1 px first step, and a pause before letting go
    page.mouse.move(x0 + 1, y0 + 1)
    page.wait_for_timeout(30)
    for k in range(1, 13):
        page.mouse.move(x0 + (x1 - x0) * k / 12, y0 + (y1 - y0) * k / 12)
        page.wait_for_timeout(15)
    page.wait_for_timeout(50)
    page.mouse.up()
    got = lab.wait_python(page, "view.selection.tolist()", lambda v: len(v) > 0, what="selection after the box")
    assert got == [0, 1]
    # labels are text, never HTML
    root.locator("div.fx-legend").wait_for()
    assert "<b>x</b>" in root.locator("div.fx-legend").inner_text()
    assert root.locator("div.fx-legend b").count() == 0
    # colour by score in the browser: Python follows, a colour bar with ticks appears, the points change colour
    canvas = "div.fx-scatter canvas.fx-scatter-canvas"
    before = lab.canvas_stats(page, canvas, nth)["digest"]
    root.locator("select.fx-color-by").select_option("score")
    lab.wait_python(page, "view.color_by", lambda v: v == "score", what="color_by after the select")
    lab.wait_attr(page, ROOT, "data-color-by", "v === 'score'", 5_000, nth=nth)
    lab.wait_canvas_change(page, canvas, before, nth)
    assert root.locator(".fx-colorbar-box .fx-tick-label").count() >= 2
    # points moved in place from Python: the picture changes, the axes follow the new range
    before = lab.canvas_stats(page, canvas, nth)["digest"]
    lab.run_cell_and_read(page, "view.update([[6.0, 3.0]], start=2)")
    lab.wait_canvas_change(page, canvas, before, nth)
    moved = lab.evaluate_async(page, r"""
const root = document.querySelectorAll(arg.sel)[arg.nth];
return Array.from(root.fxScatter.xy().subarray(4, 6));
""", {"sel": ROOT, "nth": nth})
    assert moved == [6.0, 3.0]


PICTURED = """\
import numpy as np, traitlets, fxwidgets as fx

class PicturedScatter(fx.Scatter):
    # The `picture` trait the view kit sends its PNG to (docs/viewkit-python-todo.md), in a few lines.
    picture = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)

    def _on_custom_msg(self, widget, content, buffers):
        if isinstance(content, dict) and content.get("type") == "snapshot":
            self.picture = {"png": bytes(buffers[0]), "width": content["width"], "height": content["height"]}
            return
        super()._on_custom_msg(widget, content, buffers)

rng = np.random.default_rng(0)
y = np.repeat(np.arange(2), 200)
view = PicturedScatter(np.array([[-3.0, 0.0], [3.0, 0.0]])[y] + rng.normal(size=(400, 2)), labels=y, point_size=6,
                       title='pictured')
view"""


def test_the_picture_holds_the_webgl_points(jupyter_server, lab_page, artifacts):
    """The kit's picture of the view (sent to Python) contains the points drawn with WebGL, not a blank plot."""
    page = lab_page
    _require_bundle("scatter")
    nth = lab.show_in_notebook(page, jupyter_server, "e2e_scatter_picture.ipynb", PICTURED, ROOT)
    lab.wait_attr(page, ROOT, "data-snapshots", "Number(v) >= 1", 30_000, nth=nth)
    got = lab.wait_python(
        page,
        "None if view.picture is None else __import__('base64').b64encode(view.picture['png']).decode()",
        lambda v: v is not None, what="the picture reached Python")
    import base64
    import io

    from PIL import Image

    png = base64.b64decode(got)
    (artifacts / "scatter-picture.png").write_bytes(png)
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    near = lambda rgb: int((np.abs(img - np.array(rgb)).sum(axis=-1) <= 60).sum())  # noqa: E731
    assert near((31, 119, 180)) > 100 and near((255, 127, 14)) > 100, (near((31, 119, 180)), near((255, 127, 14)))


DATASETS = "06_datasets.ipynb"

# For each class: the screen box of its points, and the rows of every class inside that box grown by `pad` px
# (the lasso runs along the grown box). Read through the view's plot (test hook on the root), in page px.
CLASS_LASSO_JS = r"""
const root = document.querySelectorAll(arg.sel)[arg.nth];
const canvas = root.querySelector('canvas.fx-scatter-canvas');
const r = canvas.getBoundingClientRect();
const plot = root.fxScatter.plot;
const pos = arg.labels.map((_, i) => { const [x, y] = plot.getScreenPosition(i); return [r.left + x, r.top + y]; });
const out = {};
for (const c of new Set(arg.labels)) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  arg.labels.forEach((l, i) => {
    if (l !== c) return;
    x0 = Math.min(x0, pos[i][0]); x1 = Math.max(x1, pos[i][0]); y0 = Math.min(y0, pos[i][1]); y1 = Math.max(y1, pos[i][1]);
  });
  const inside = (pad) => pos.flatMap(([x, y], i) => (x >= x0 - pad && x <= x1 + pad && y >= y0 - pad && y <= y1 + pad) ? [i] : []);
  out[c] = {box: {x0, x1, y0, y1}, surely: inside(arg.pad - 3), maybe: inside(arg.pad + 3)};
}
return {classes: out, canvas: {x: r.left, y: r.top, w: r.width, h: r.height}};
"""


def test_datasets_notebook_a_lasso_moves_the_linked_attribution_view(jupyter_server, lab_page, artifacts):
    """notebooks/06 run in JupyterLab; a lasso drawn with the mouse around one digit's cluster in its t-SNE scatter
    lands in `scatter.selection`, and the linked AttributionView's `row` in Python moves to the first lassoed row."""
    page = lab_page
    for b in ("scatter", "affinity_heatmap", "attribution_view", "feature_ranking"):
        _require_bundle(b)
    assert (jupyter_server.root_dir / DATASETS).exists(), f"{DATASETS} is missing from notebooks/"
    lab.open_notebook(page, jupyter_server.base_url, DATASETS)
    lab.run_all(page, DATASETS, timeout_ms=300_000)
    before = lab.run_cell_json(page, "{'row': attr.row, 'id': scatter.model_id, 'y': [int(v) for v in y], "
                                     "'selected': len(scatter.selection)}")
    assert before["selected"] == 0  # the notebook ends with link.select([])
    nth = lab.widget_element_index(page, DATASETS, before["id"], ROOT)
    lab.wait_attr(page, ROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    assert page.locator(ROOT).nth(nth).get_attribute("data-points") == "1797"
    root = page.locator(ROOT).nth(nth)
    root.locator("button.fx-mode[data-mode='lasso']").click()
    lab.wait_attr(page, ROOT, "data-mode", "v === 'lasso'", 5_000, nth=nth)

    pad = 12
    arg = {"sel": ROOT, "nth": nth, "labels": before["y"], "pad": pad}
    root.scroll_into_view_if_needed()
    geo = lab.evaluate_async(page, CLASS_LASSO_JS, arg, 20_000)
    for _ in range(50):  # wait until the notebook stopped scrolling: two reads agree
        page.wait_for_timeout(50)
        now = lab.evaluate_async(page, CLASS_LASSO_JS, arg, 20_000)
        if now == geo:
            break
        geo = now
    canvas = geo["canvas"]

    def fits(g):  # the grown box lies on the canvas, and the lasso would start on the scatter
        b = g["box"]
        return (b["x0"] - pad > canvas["x"] + 2 and b["x1"] + pad < canvas["x"] + canvas["w"] - 2
                and b["y0"] - pad > canvas["y"] + 2 and b["y1"] + pad < canvas["y"] + canvas["h"] - 2)

    # the digit whose box holds the fewest rows of other digits, and whose first row is not the one shown now
    candidates = [(len(g["maybe"]) - sum(before["y"][i] == int(c) for i in g["maybe"]), int(c), g)
                  for c, g in geo["classes"].items() if fits(g) and min(g["surely"], default=-1) != before["row"]]
    assert candidates, geo["canvas"]
    _, digit, target = min(candidates, key=lambda t: t[:2])
    x, y = target["box"]["x0"] - pad, target["box"]["y0"] - pad
    assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('div.fx-scatter')", [x, y]), \
        "the lasso would not start on the scatter"
    _lasso_around(page, target["box"], pad=pad, steps=16)
    lab.wait_attr(page, ROOT, "data-selected", "Number(v) > 0", 10_000, nth=nth)
    root.screenshot(path=str(artifacts / "datasets-lasso.png"))

    got = lab.wait_python(page, "{'sel': scatter.selection.tolist(), 'row': attr.row}",
                          lambda v: len(v["sel"]) > 0 and v["row"] == v["sel"][0], timeout_s=60,
                          what="the AttributionView's row following the lasso")
    assert got["row"] != before["row"]
    assert set(target["surely"]) <= set(got["sel"]) <= set(target["maybe"]), (digit, len(got["sel"]))
    assert sum(before["y"][i] == digit for i in got["sel"]) > 0.8 * len(got["sel"])
    # the ranking ranks the lassoed rows again; a lasso that caught one digit only leaves it nothing to separate,
    # and it says so (by name) instead of ranking
    n, one_digit = len(got["sel"]), len({before["y"][i] for i in got["sel"]}) == 1
    linked = lab.wait_python(
        page, "{'ranked': ranking.rows_ranked, 'error': ranking.error, 'link': len(link.rows), 'errors': link.errors}",
        lambda v: ("single class" in v["error"]) if one_digit else v["ranked"] == n, timeout_s=60,
        what="the ranking following the lasso")
    assert linked["link"] == n and linked["errors"] == []
    if one_digit:
        assert f"the {n} selected rows hold a single class" in linked["error"] and linked["ranked"] == 1797
