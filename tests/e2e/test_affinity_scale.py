"""End-to-end: ZoomHeatmap (zoom in -> tiles requested, answered by the kernel and painted; shift-drag -> a block
selection read in Python) and PixelAffinity (hovering a location changes the overlay; a click reaches Python)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import lab

pytestmark = [pytest.mark.e2e]

ZROOT = "div.fx-zoom"
ZCANVAS = "div.fx-zoom canvas.fx-zoom-canvas"
PROOT = "div.fx-pixaff"
POVERLAY = "div.fx-pixaff canvas.fx-pix-overlay"


def _require_bundle(name):
    spec = importlib.util.find_spec("fxwidgets")
    bundle = Path(spec.origin).parent / "static" / f"{name}.js"
    assert bundle.is_file(), f"front-end bundle missing: {bundle} (run `npm ci && npm run build`)"


def _box(page, selector, nth):
    box = page.locator(selector).nth(nth).bounding_box()
    assert box and box["width"] > 100, box
    return box


def test_zoom_in_fetches_finer_tiles_and_a_block_selection_reaches_python(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle("zoom_heatmap")
    name = "e2e_zoom.ipynb"
    nth = lab.show_in_notebook(
        page, jupyter_server, name,
        "import numpy as np, torch, fxwidgets as fx\n"
        "g = torch.Generator().manual_seed(0)\n"
        "labels = torch.randint(0, 6, (20000,), generator=g)\n"
        "X = torch.randn(6, 16, generator=g)[labels] + 0.8 * torch.randn(20000, 16, generator=g)\n"
        "zoom = fx.ZoomHeatmap(X, labels=labels.numpy(), title='20k rows')\n"
        "zoom",
        ZROOT, var="zoom",
    )
    # the overview: every tile of the coarse level requested, answered and painted
    lab.wait_attr(page, ZROOT, "data-answered", "Number(v) >= 1", 60_000, nth=nth)
    lab.wait_attr(page, ZROOT, "data-painted", "Number(v) >= 1 && v === document.querySelectorAll('div.fx-zoom')"
                  f"[{nth}].dataset.needed", 60_000, nth=nth)
    root = page.locator(ZROOT).nth(nth)
    level0 = int(root.get_attribute("data-level"))
    answered0 = int(root.get_attribute("data-answered"))
    before = lab.canvas_stats(page, ZCANVAS, nth)
    assert before["distinct"] > 20 and before["opaque"] == 1.0
    served0 = lab.run_cell_json(page, "zoom.tiles_served", keep=False)
    assert served0 == answered0

    # zoom in with the mouse wheel around the middle of the canvas
    box = _box(page, ZCANVAS, nth)
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    page.mouse.move(cx, cy)
    for _ in range(4):
        page.mouse.wheel(0, -600)
    lab.wait_attr(page, ZROOT, "data-level", f"Number(v) < {level0} - 2", 30_000, nth=nth)
    lab.wait_attr(page, ZROOT, "data-answered", f"Number(v) > {answered0}", 30_000, nth=nth)
    lab.wait_attr(page, ZROOT, "data-painted", "Number(v) >= 1 && v === document.querySelectorAll('div.fx-zoom')"
                  f"[{nth}].dataset.needed", 30_000, nth=nth)
    level1 = int(root.get_attribute("data-level"))
    lab.wait_canvas_change(page, ZCANVAS, before["digest"], nth)
    page.locator(ZROOT).nth(nth).screenshot(path=str(artifacts / "zoom-heatmap-zoomed.png"))
    state = lab.wait_python(page, "{'vp': zoom.viewport, 'levels': sorted({l for l, _, _ in zoom.served})}",
                            lambda s: s["vp"][2] < 2000 and level1 in s["levels"], what="viewport synced")
    assert min(state["levels"]) == level1  # the kernel computed tiles at the finer level the view asked for

    # shift-drag selects a block; Python reads the rows and columns of X (the cells run since may have scrolled
    # the notebook: measure the canvas again)
    box = _box(page, ZCANVAS, nth)
    # hover readout: the block value from the tile, then the exact value and labels from the kernel
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = root.locator(".fx-tooltip")
    tip.wait_for(state="visible", timeout=10_000)
    page.wait_for_function("el => /X\\[\\d+\\] \\(\\d\\) · X\\[\\d+\\] \\(\\d\\): /.test(el.textContent)",
                           arg=tip.element_handle(), timeout=15_000)
    text = tip.inner_text()
    assert "cosine" in text and "row" in text and "col" in text, text
    x_a, y_a = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.30
    x_b, y_b = box["x"] + box["width"] * 0.60, box["y"] + box["height"] * 0.70
    page.keyboard.down("Shift")
    page.mouse.move(x_a, y_a)
    page.mouse.down()
    page.mouse.move(x_b, y_b, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    sel = lab.wait_python(
        page,
        "{'sel': zoom.selection, 'vp': zoom.viewport, 'rows': zoom.selected_rows.tolist(), "
        "'cols': zoom.selected_cols.tolist(), 'ok_rows': zoom.selected_rows.tolist() == "
        "zoom.order_indices[zoom.selection['r0']:zoom.selection['r1']].tolist() if zoom.selection else False}",
        lambda s: bool(s["sel"]), what="selection set",
    )
    y0, x0, span = sel["vp"]
    s = sel["sel"]
    assert abs(s["r0"] - (y0 + 0.30 * span)) <= 2 and abs(s["r1"] - (y0 + 0.70 * span)) <= 2, (s, sel["vp"])
    assert abs(s["c0"] - (x0 + 0.25 * span)) <= 2 and abs(s["c1"] - (x0 + 0.60 * span)) <= 2, (s, sel["vp"])
    assert len(sel["rows"]) == s["r1"] - s["r0"] and len(sel["cols"]) == s["c1"] - s["c0"]
    assert sel["ok_rows"]
    assert len(set(sel["rows"])) == len(sel["rows"])  # indices of X, each once


def test_hovering_a_pixel_changes_every_overlay_and_a_click_reaches_python(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle("pixel_affinity")
    name = "e2e_pixaff.ipynb"
    nth_root = lab.show_in_notebook(
        page, jupyter_server, name,
        "import numpy as np, torch, fxwidgets as fx\n"
        "g = torch.Generator().manual_seed(0)\n"
        "imgs = torch.rand(2, 3, 64, 80, generator=g)\n"
        "feats = torch.nn.functional.avg_pool2d(torch.randn(2, 16, 64, 80, generator=g), 4)\n"
        "feats[1] = torch.roll(feats[0], shifts=(2, 3), dims=(1, 2))\n"
        "pa = fx.PixelAffinity(feats, images=imgs)\n"
        "pa",
        PROOT, var="pa",
    )
    lab.wait_attr(page, PROOT, "data-ready", "v === 'true'", 60_000, nth=nth_root)
    root = page.locator(PROOT).nth(nth_root)
    assert root.get_attribute("data-path") == "browser"
    overlays = root.locator("canvas.fx-pix-overlay")
    assert overlays.count() == 2
    first = page.evaluate("([sel, el]) => Array.from(document.querySelectorAll(sel)).indexOf("
                          "document.querySelectorAll(el)[%d].querySelector(sel.split(' ').slice(-1)[0]))" % nth_root,
                          [POVERLAY, PROOT])
    digests = [lab.canvas_stats(page, POVERLAY, first + i)["digest"] for i in range(2)]
    box = _box(page, "div.fx-pixaff canvas.fx-pix-image", first)
    # hover location (row 5, col 7) of the 16 x 20 feature grid of image 0
    px = box["x"] + box["width"] * (7.5 / 20)
    py = box["y"] + box["height"] * (5.5 / 16)
    page.mouse.move(px, py)
    lab.wait_attr(page, PROOT, "data-hover", "v === '0,5,7'", 15_000, nth=nth_root)
    for i in range(2):
        lab.wait_canvas_change(page, POVERLAY, digests[i], first + i)
    stats = lab.canvas_stats(page, POVERLAY, first + 1)
    assert stats["non_background"] > 0.01
    page.locator(PROOT).nth(nth_root).screenshot(path=str(artifacts / "pixel-affinity-hover.png"))
    # the brightest overlay pixel of image 1 is where the features moved to: (5 + 2, 7 + 3)
    peak = lab.run_cell_json(page, "pa.peak_of(0, 5, 7)", keep=False)
    assert peak == [[0, 5, 7], [1, 7, 10]]
    page.mouse.click(px, py)
    loc = lab.wait_python(page, "pa.location", lambda v: v == [0, 5, 7], what="pa.location set by the click")
    assert loc == [0, 5, 7]
    # hover latency on the browser path: synthetic pointer moves over 40 locations, each answered in the page
    # (the row of dot products + the overlays redrawn happen inside the event handler)
    lat = lab.evaluate_async(page, r"""
const img = document.querySelectorAll('div.fx-pixaff canvas.fx-pix-image')[arg.first];
const root = document.querySelectorAll('div.fx-pixaff')[arg.nth];
const r = img.getBoundingClientRect();
const out = [];
for (let k = 0; k < 40; k++) {
  const i = k % 16, j = (3 * k) % 20;
  const t0 = performance.now();
  img.dispatchEvent(new PointerEvent('pointermove', {clientX: r.left + (j + 0.5) / 20 * r.width,
                                                     clientY: r.top + (i + 0.5) / 16 * r.height, bubbles: true}));
  out.push({ms: performance.now() - t0, hover: root.dataset.hover, want: `0,${i},${j}`});
}
return out;
""", {"first": first, "nth": nth_root})
    assert all(x["hover"] == x["want"] for x in lat)
    ms = sorted(x["ms"] for x in lat)
    (artifacts / "pixel-affinity-hover-latency.txt").write_text(
        f"browser-path hover, 2 images x 16 x 20 locations x 16 channels: p50 {ms[len(ms) // 2]:.2f} ms, "
        f"p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms over {len(ms)} moves\n")


def test_kernel_path_answers_each_hover_by_rpc(jupyter_server, lab_page):
    page = lab_page
    _require_bundle("pixel_affinity")
    name = "e2e_pixaff_kernel.ipynb"
    nth = lab.show_in_notebook(
        page, jupyter_server, name,
        "import torch, fxwidgets as fx\n"
        "g = torch.Generator().manual_seed(1)\n"
        "feats = torch.randn(2, 8, 12, 12, generator=g)\n"
        "pk = fx.PixelAffinity(feats, path='kernel')\n"
        "pk",
        PROOT, var="pk",
    )
    lab.wait_attr(page, PROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    root = page.locator(PROOT).nth(nth)
    assert root.get_attribute("data-path") == "kernel"
    img = root.locator("canvas.fx-pix-image").nth(1)
    box = img.bounding_box()
    page.mouse.move(box["x"] + box["width"] * (4.5 / 12), box["y"] + box["height"] * (9.5 / 12))
    lab.wait_attr(page, PROOT, "data-hover", "v === '1,9,4'", 15_000, nth=nth)
    served = lab.wait_python(page, "pk.rows_served", lambda v: v >= 1, what="a row answered by the kernel")
    assert served >= 1
    text = root.locator(".fx-readout").inner_text()
    peak = lab.run_cell_json(page, "pk.peak_of(1, 9, 4)", keep=False)
    assert "image 0: max" in text and f"at ({peak[0][1]}, {peak[0][2]})" in text


def test_hovering_a_token_colours_the_other_sentence(jupyter_server, lab_page):
    page = lab_page
    _require_bundle("pixel_affinity")
    name = "e2e_tokens.ipynb"
    nth = lab.show_in_notebook(
        page, jupyter_server, name,
        "import torch, fxwidgets as fx\n"
        "g = torch.Generator().manual_seed(0)\n"
        "a = torch.randn(5, 8, generator=g)\n"
        "feats = torch.stack([a, a[[2, 0, 1, 4, 3]]])\n"
        "tokens = [['the', 'cat', '<b>sat</b>', 'on', 'mats'], ['<b>sat</b>', 'the', 'cat', 'mats', 'on']]\n"
        "pt = fx.PixelAffinity(feats, tokens=tokens)\n"
        "pt",
        PROOT, var="pt",
    )
    lab.wait_attr(page, PROOT, "data-ready", "v === 'true'", 60_000, nth=nth)
    root = page.locator(PROOT).nth(nth)
    sat = root.locator("span.fx-token[data-index='0'][data-t='2']")
    assert sat.inner_text() == "<b>sat</b>"                 # inserted as text, never as markup
    assert root.locator("span.fx-token b").count() == 0
    target = root.locator("span.fx-token[data-index='1'][data-t='0']")
    before = target.evaluate("e => getComputedStyle(e).backgroundColor")
    sat.hover()
    lab.wait_attr(page, PROOT, "data-hover", "v === '0,0,2'", 15_000, nth=nth)
    after = target.evaluate("e => getComputedStyle(e).backgroundColor")
    others = [root.locator(f"span.fx-token[data-index='1'][data-t='{t}']").evaluate(
        "e => parseFloat(getComputedStyle(e).backgroundColor.split(',')[3])") for t in range(1, 5)]
    assert after != before
    alpha = float(after.split(",")[3].rstrip(")"))
    assert alpha > 0.85 and all(alpha > o for o in others)  # the moved copy of 'sat' is the brightest
