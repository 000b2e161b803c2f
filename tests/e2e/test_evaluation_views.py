"""End-to-end: the views that compare and summarise attributions, in a real JupyterLab + headless Chromium.

- MetricsTable (js/metrics_table.ts): pixels painted in every cell's spread; a header click sorts the rows (their
  order in the DOM) and writes ``sort_by`` to Python; a cell click writes ``selected`` to Python and draws that
  cell's deletion curve.
- AttributionSummary (js/attribution_summary.ts): the beeswarm painted; hovering a dot shows its row (the kernel's
  numbers for it); a click writes ``selection`` to Python; the mode buttons switch to the dependence plot.
- AttributionView's metrics strip: the values Python computed for each panel, shown under it.
- Each new view fits an output area 400 px wide (scrollWidth <= clientWidth).

Contract relied on: see the module docstrings of widgets/metrics_table.py, widgets/attribution_summary.py and
widgets/_panel_metrics.py (root classes, data attributes, element classes).
"""

from __future__ import annotations

import json

import pytest

import lab

pytestmark = [pytest.mark.e2e]

FIT_JS = r"""
const root = document.querySelectorAll(arg.sel)[arg.nth];
const area = root.closest('.jp-OutputArea-output') || root.parentElement;
const r = root.getBoundingClientRect(), a = area.getBoundingClientRect();
return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, areaScroll: area.scrollWidth,
        areaClient: area.clientWidth, right: Math.round(r.right - a.right), width: Math.round(r.width)};
"""

SETTLE_JS = "for (let i = 0; i < 6; i++) await new Promise(r => requestAnimationFrame(r)); return 1;"

# A pixel of a dot: strongly coloured (grid lines, axes and text are grey), in CSS px of the page.
DOT_JS = r"""
const el = document.querySelectorAll(arg.sel)[arg.nth];
const ctx = el.getContext('2d', {willReadFrequently: true});
const {width, height} = el;
const px = ctx.getImageData(0, 0, width, height).data;
const r = el.getBoundingClientRect();
const sx = r.width / width, sy = r.height / height;
const found = [];
for (let y = 2; y < height - 2; y += 2) for (let x = 2; x < width - 2; x += 2) {
  const i = 4 * (y * width + x);
  const hi = Math.max(px[i], px[i + 1], px[i + 2]), lo = Math.min(px[i], px[i + 1], px[i + 2]);
  if (hi - lo > 90) found.push([r.left + x * sx, r.top + y * sy]);
}
if (!found.length) throw new Error('no coloured dot in ' + arg.sel);
return found[Math.floor(found.length / 2)];
"""


def _fits(page, sel: str, nth: int, width: int | None, shot) -> dict:
    """Measure the view with the output area ``width`` px wide (None: as it is); screenshot it."""
    style = page.add_style_tag(content=f".jp-OutputArea-output {{ max-width: {width}px !important; }}") if width else None
    try:
        root = page.locator(sel).nth(nth)
        root.scroll_into_view_if_needed()
        lab.evaluate_async(page, SETTLE_JS)
        page.wait_for_timeout(200)
        lab.evaluate_async(page, SETTLE_JS)
        m = lab.evaluate_async(page, FIT_JS, {"sel": sel, "nth": nth})
        root.screenshot(path=str(shot))
    finally:
        if style is not None:
            style.evaluate("el => el.remove()")
    assert m["scrollWidth"] <= m["clientWidth"], m  # nothing sticks out of the view
    assert m["areaScroll"] <= m["areaClient"] and m["right"] <= 0, m  # nor out of the output area
    if width:
        assert m["width"] <= width, m
    return m


TABLE = """\
import torch, fxwidgets as fx
from fxwidgets.compute.evaluation import planted_image_task
task = planted_image_task(12, size=12, seed=0)
maps = {m: fx.attribute(task.model, task.inputs, target=1, method=m) for m in ('saliency', 'integrated_gradients')}
maps['random'] = torch.randn(task.inputs.shape, generator=torch.Generator().manual_seed(0))
result = fx.evaluate(task.model, task.inputs, maps, mask=task.mask,
                     metrics=['deletion', 'complexity', 'sparseness', 'top_k_precision', 'model_randomisation'])
table = result.show()
table
"""


def test_metrics_table_sorts_on_a_header_click_and_opens_a_cells_curve(jupyter_server, lab_page, artifacts):
    page = lab_page
    name = "e2e_metrics_table.ipynb"
    nth = lab.show_in_notebook(page, jupyter_server, name, TABLE, "div.fx-metrics", var="table")
    sel = "div.fx-metrics"
    lab.wait_attr(page, sel, "data-tables", "Number(v) >= 1", 60_000, nth=nth)
    root = page.locator(sel).nth(nth)
    assert root.locator("td.fx-mcell").count() == 3 * 5
    # the spread of every cell is painted (the random map's complexity is one of them)
    model_id = lab.run_cell_json(page, "table.model_id")
    cell = "td.fx-mcell[data-method='random'][data-metric='complexity'] canvas.fx-strip"
    stats = lab.canvas_stats(page, cell, lab.widget_element_index(page, name, model_id, cell))
    assert stats["opaque"] > 0 and stats["distinct"] >= 3, stats
    root.screenshot(path=str(artifacts / "metrics-table.png"))

    # a header click: rows sorted by complexity, best (lowest) first, in the DOM and in Python
    means = lab.run_cell_json(page, "{m: result[m, 'complexity'].mean for m in result.methods}")
    root.locator("th.fx-mhead button[data-metric='complexity']").first.click()
    lab.wait_attr(page, sel, "data-sort", "v === 'complexity ascending'", 10_000, nth=nth)
    order = root.locator("table.fx-mtable").first.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.method)")
    assert order == sorted(means, key=means.get), (order, means)
    lab.wait_python(page, "[table.sort_by, table.sort_ascending]", lambda v: v == ["complexity", True],
                    what="sort_by reached Python")
    root.locator("th.fx-mhead button[data-metric='complexity']").first.click()  # again: reversed
    lab.wait_attr(page, sel, "data-sort", "v === 'complexity descending'", 10_000, nth=nth)
    again = root.locator("table.fx-mtable").first.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.method)")
    assert again == order[::-1]

    # a cell click: `selected` in Python, and that method's deletion curve drawn
    root.locator("td.fx-mcell[data-method='integrated_gradients'][data-metric='deletion']").first.click()
    lab.wait_python(page, "table.selected", lambda v: v == {"method": "integrated_gradients", "metric": "deletion"},
                    what="selected reached Python")
    lab.wait_attr(page, sel, "data-detail", "v === 'integrated_gradients|deletion'", 20_000, nth=nth)
    detail = lab.widget_element_index(page, name, model_id, "canvas.fx-detail")
    n_steps = lab.run_cell_json(page, "int(result['integrated_gradients', 'deletion'].curve_x.numel())")
    assert page.locator("canvas.fx-detail").nth(detail).get_attribute("data-points") == str(n_steps)
    curve = lab.canvas_stats(page, "canvas.fx-detail", detail)
    assert curve["distinct"] > 20 and curve["non_background"] > 0.02, curve
    title = root.locator(".fx-detail-title").inner_text()
    assert title.startswith("Integrated Gradients — deletion")
    root.screenshot(path=str(artifacts / "metrics-table-detail.png"))

    # the sanity check's cell: its similarity per layer and the first sample's maps, original then randomised
    root.locator("td.fx-mcell[data-method='saliency'][data-metric='model_randomisation']").first.click()
    lab.wait_attr(page, sel, "data-detail", "v === 'saliency|model_randomisation'", 20_000, nth=nth)
    n_maps = lab.run_cell_json(page, "len(result['saliency', 'model_randomisation'].curve_labels) + 1")
    lab.wait_attr(page, sel, "data-maps", f"Number(v) === {n_maps}", 20_000, nth=nth)
    tiles = lab.canvas_stats(page, "canvas.fx-detail-maps", lab.widget_element_index(page, name, model_id, "canvas.fx-detail-maps"))
    assert tiles["distinct"] > 20 and tiles["non_background"] > 0.05, tiles
    assert "re-initialised" in root.locator(".fx-maps-caption").inner_text()
    root.screenshot(path=str(artifacts / "metrics-table-maps.png"))
    _fits(page, sel, nth, 400, artifacts / "metrics-table-400.png")


SUMMARY = """\
import torch, fxwidgets as fx
from fxwidgets.compute.evaluation import tabular_task
task = tabular_task(300, 8, 4, function='interaction', seed=1)
shap_values = fx.attribute(task.model, task.inputs, method='shapley_permutation', background=task.inputs[:16],
                           n_permutations=4)
names = ['<b>age</b>', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5']
summary = shap_values.show(feature_names=names, max_display=6)
summary
"""


def test_summary_view_hover_shows_a_row_and_a_click_selects_it(jupyter_server, lab_page, artifacts):
    page = lab_page
    name = "e2e_attribution_summary.ipynb"
    sel = "div.fx-summary"
    nth = lab.show_in_notebook(page, jupyter_server, name, SUMMARY, sel, var="summary")
    lab.wait_attr(page, sel, "data-points", "Number(v) === 300 * 6", 60_000, nth=nth)
    model_id = lab.run_cell_json(page, "summary.model_id")
    canvas = lab.widget_element_index(page, name, model_id, "canvas.fx-swarm")
    stats = lab.canvas_stats(page, "canvas.fx-swarm", canvas)
    assert stats["distinct"] > 50 and stats["non_background"] > 0.02, stats
    root = page.locator(sel).nth(nth)
    root.scroll_into_view_if_needed()
    lab.evaluate_async(page, SETTLE_JS)
    root.screenshot(path=str(artifacts / "summary.png"))
    assert root.locator(".fx-legend").is_visible()

    # hover a dot: its row is ringed and the tooltip shows the kernel's numbers for that row
    x, y = lab.evaluate_async(page, DOT_JS, {"sel": "canvas.fx-swarm", "nth": canvas})
    page.mouse.move(x, y)
    row = int(lab.wait_attr(page, sel, "data-hover-row", "v !== null && v !== ''", 10_000, nth=nth))
    tip = root.locator(".fx-tooltip")
    tip.locator(".fx-tt-output").wait_for(timeout=10_000)
    detail = lab.run_cell_json(page, f"summary.row_detail({row})")
    text = tip.inner_text()
    assert f"row {row}" in text and "model output f(x)" in text and "base value E[f]" in text, text
    top = detail["features"][0]
    assert top["name"] in text  # the row's largest attribution is listed by name (as text: '<b>age</b>' stays text)
    assert tip.locator("b").count() == 0
    root.screenshot(path=str(artifacts / "summary-hover.png"))

    # a click at the same dot selects that row, in Python
    page.mouse.click(x, y)
    lab.wait_python(page, "summary.selection", lambda v: v == [row], what=f"selection == [{row}]")
    lab.wait_attr(page, sel, "data-selection", f"v === '{row}'", 10_000, nth=nth)

    # the dependence plot, through the mode buttons
    root.locator("button.fx-mode[data-mode='dependence']").click()
    lab.wait_python(page, "summary.mode", lambda v: v == "dependence", what="mode == dependence")
    lab.wait_attr(page, sel, "data-mode", "v === 'dependence'", 10_000, nth=nth)
    lab.wait_attr(page, sel, "data-points", "Number(v) === 300", 20_000, nth=nth)
    colour = root.locator("select.fx-dep-color option").first.inner_text()
    partner = lab.run_cell_json(page, "summary.feature_names[summary.interaction(summary.feature)]")
    assert colour == f"auto: {partner}"
    root.screenshot(path=str(artifacts / "summary-dependence.png"))
    _fits(page, sel, nth, 400, artifacts / "summary-dependence-400.png")
    root.locator("button.fx-mode[data-mode='summary']").click()
    lab.wait_attr(page, sel, "data-mode", "v === 'summary'", 10_000, nth=nth)
    _fits(page, sel, nth, 400, artifacts / "summary-400.png")


STRIP = """\
import torch, fxwidgets as fx
from fxwidgets.compute.evaluation import planted_image_task
task = planted_image_task(2, size=12, seed=1)
view = fx.AttributionView(task.model, task.inputs, target=1, methods={'saliency': {}, 'integrated_gradients': {'n_steps': 16}},
                          evaluate=['deletion', 'complexity', 'sparseness'])
view
"""


def test_attribution_view_shows_each_panels_metrics_under_it(jupyter_server, lab_page, artifacts):
    page = lab_page
    sel = "div.fx-attr"
    nth = lab.show_in_notebook(page, jupyter_server, "e2e_panel_metrics.ipynb", STRIP, sel)
    lab.wait_attr(page, sel, "data-metrics", "Number(v) === 6", 60_000, nth=nth)
    strips = lab.run_cell_json(page, "view.panel_metrics")
    root = page.locator(sel).nth(nth)
    for i, strip in enumerate(strips):
        panel = root.locator(f".fx-panel[data-index='{i}']")
        vals = panel.locator(".fx-pmetrics .fx-pm-val")
        assert vals.count() == 3
        for j, entry in enumerate(strip):
            assert float(vals.nth(j).get_attribute("data-value")) == pytest.approx(entry["value"], rel=1e-6)
            assert vals.nth(j).get_attribute("data-name") == entry["name"]
            assert ("★" in vals.nth(j).inner_text()) == entry["best"]
        names = panel.locator(".fx-pmetrics .fx-pm-name").all_inner_texts()
        assert names == ["deletion ↓", "complexity ↓", "sparseness ↑"], names
    (artifacts / "panel-metrics.json").write_text(json.dumps(strips, indent=1))
    root.screenshot(path=str(artifacts / "attribution-metrics.png"))
    _fits(page, sel, nth, 400, artifacts / "attribution-metrics-400.png")
