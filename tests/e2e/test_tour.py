"""End-to-end: the tour notebook and the AffinityHeatmap in a real JupyterLab + headless Chromium.

Contract relied on (docs/protocol.md and the e2e brief):

* ``notebooks/00_tour.ipynb`` runs top to bottom on CPU and binds an ``AffinityHeatmap`` to ``heatmap``;
* the view's root is ``div.fx-heatmap`` with ``data-status`` / ``data-tiles`` / ``data-draws``; the drawing is
  ``canvas.fx-heatmap-canvas`` (one per view), whose CSS box covers exactly the ``display_shape`` grid, row 0 at
  the top, column 0 at the left; the tooltip is ``div.fx-tooltip``; the colormap ``select.fx-cmap``; the cancel
  button ``button.fx-cancel``;
* ``heatmap.selection`` is ``{"rows": [...], "cols": [...]}`` in full-matrix indices.
"""

from __future__ import annotations

import importlib.util
import math
import re
import time
from pathlib import Path

import pytest

import lab

pytestmark = [pytest.mark.e2e]

ROOT = "div.fx-heatmap"
CANVAS = "div.fx-heatmap canvas.fx-heatmap-canvas"
TOUR = "00_tour.ipynb"
DRAG_TOLERANCE_CELLS = 1


# --------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------


def _require_bundle():
    """The view's built front end must exist, else the widget renders a placeholder and every wait times out."""
    spec = importlib.util.find_spec("fxwidgets")
    assert spec is not None and spec.origin, "fxwidgets is not importable: pip install -e . into the venv"
    bundle = Path(spec.origin).parent / "static" / "affinity_heatmap.js"
    assert bundle.is_file(), f"front-end bundle missing: {bundle} (run `npm ci && npm run build`)"


def _require_tour(server):
    path = server.root_dir / TOUR
    assert path.exists(), (
        f"{TOUR} is missing from notebooks/ (served copy: {path}); the tour test needs the lead's notebook"
    )


def _traits(page, var: str = "heatmap") -> dict:
    return lab.run_cell_json(
        page,
        "{k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in dict("
        f"model_id={var}.model_id, shape={var}.shape, display_shape={var}.display_shape, block={var}.block, "
        f"cmap={var}.cmap, status={var}.status, selection={var}.selection).items()}}",
        keep=False,
    )


def _wait_drawn(page, nth: int, timeout_ms: int = 90_000) -> dict:
    lab.wait_attr(page, ROOT, "data-status", "v === 'done'", timeout_ms, nth=nth)
    lab.wait_attr(page, ROOT, "data-draws", "Number(v) >= 1", timeout_ms, nth=nth)
    el = page.locator(ROOT).nth(nth)
    return {a: el.get_attribute(a) for a in ("data-status", "data-tiles", "data-draws")}


class Grid:
    """Maps display cells to page (client) coordinates the way the view does.

    The view maps a pointer to a cell through the canvas' content box: ``x = (clientX - rect.left) *
    (cssW + 2*border) / rect.width - border`` and ``j = floor(x / cssW * w)`` (js/affinity_heatmap.ts ``toCss``,
    js/lib/grid.ts ``cellAt``). Display cells may be smaller than a CSS pixel (the 1797-sample tour matrix is
    drawn in <= 640 px, ~0.36 px per cell), so the test clicks at *integer* client pixels whose cell position is
    well inside a cell (fraction in [0.25, 0.75]); then the expected cell is exact whatever sub-pixel rounding
    the browser applies to pointer coordinates.
    """

    def __init__(self, geo: dict, display_shape, block, shape):
        self.g = geo
        self.h, self.w = display_shape
        self.fr, self.fc = block
        self.n_rows, self.n_cols = shape

    def _u(self, client: float, axis: str) -> float:
        g = self.g
        if axis == "x":
            x = (client - g["left"]) * (g["cssW"] + 2 * g["bl"]) / g["width"] - g["bl"]
            return x / g["cssW"] * self.w
        y = (client - g["top"]) * (g["cssH"] + 2 * g["bt"]) / g["height"] - g["bt"]
        return y / g["cssH"] * self.h

    def _pick(self, frac: float, axis: str) -> tuple[int, int]:
        """An integer client coordinate near ``frac`` of the way across, and the display index it maps to."""
        g = self.g
        start = (g["left"] + g["bl"] + frac * g["cssW"]) if axis == "x" else (g["top"] + g["bt"] + frac * g["cssH"])
        for d in range(0, 40):
            for cand in (round(start) + d, round(start) - d):
                u = self._u(cand, axis)
                if 0.25 <= u - math.floor(u) <= 0.75:
                    return int(cand), int(math.floor(u))
        raise AssertionError(f"no client pixel maps well inside a cell near {frac} on {axis}: {g}")

    def point(self, fy: float, fx: float) -> tuple[int, int, int, int]:
        """``(clientX, clientY, row, col)`` of a point about (fy, fx) of the way down/across the heatmap."""
        x, c = self._pick(fx, "x")
        y, r = self._pick(fy, "y")
        return x, y, r, c

    def full_rows(self, r: int) -> list[int]:
        return list(range(r * self.fr, min((r + 1) * self.fr, self.n_rows)))

    def full_cols(self, c: int) -> list[int]:
        return list(range(c * self.fc, min((c + 1) * self.fc, self.n_cols)))


# The canvas' geometry once it has stopped moving: JupyterLab's windowed notebook keeps adjusting its scroll
# position for a few frames after cells are added/removed, and a press read from a stale position misses the canvas.
CANVAS_GEOMETRY_JS = r"""
const c = document.querySelectorAll(arg.sel)[arg.nth];
if (!c) throw new Error('no canvas ' + arg.sel + '[' + arg.nth + ']');
const read = () => {
  const r = c.getBoundingClientRect();
  return {left: r.left, top: r.top, width: r.width, height: r.height, bl: c.clientLeft || 0, bt: c.clientTop || 0,
          cssW: parseFloat(c.style.width) || c.clientWidth, cssH: parseFloat(c.style.height) || c.clientHeight,
          pixelW: c.width, pixelH: c.height};
};
const frame = () => new Promise(r => requestAnimationFrame(() => r()));
let last = JSON.stringify(read()), same = 0;
while (same < 5) {
  await frame();
  const now = JSON.stringify(read());
  same = now === last ? same + 1 : 0;
  last = now;
}
return JSON.parse(last);
"""

HIT_JS = r"""
const c = document.querySelectorAll(arg.sel)[arg.nth];
return arg.points.map(([x, y]) => document.elementFromPoint(x, y) === c);
"""


def _assert_one_cell(sel: dict, grid: Grid, r: int, c: int) -> None:
    rows, cols = sel.get("rows"), sel.get("cols")
    if grid.fr == 1 and grid.fc == 1:
        assert rows == [r] and cols == [c], f"clicked display cell ({r}, {c}); selection is {sel}"
    else:
        # Downsampled view: a display cell is a block of the matrix. Accept the block, or one index inside it.
        ok_rows = rows == grid.full_rows(r) or (len(rows) == 1 and rows[0] in grid.full_rows(r))
        ok_cols = cols == grid.full_cols(c) or (len(cols) == 1 and cols[0] in grid.full_cols(c))
        assert ok_rows and ok_cols, f"clicked display cell ({r}, {c}) with block {grid.fr}x{grid.fc}; selection {sel}"


def _summ(sel: dict) -> str:
    """A selection in a few characters (the lists can hold thousands of indices)."""
    def one(xs):
        if not xs:
            return "[]"
        return f"{xs[0]}..{xs[-1]} ({len(xs)}{', contiguous' if _contiguous(xs) else ', NOT contiguous'})"
    return f"rows {one(sel.get('rows', []))}, cols {one(sel.get('cols', []))}"


def _contiguous(xs: list[int]) -> bool:
    return bool(xs) and xs == list(range(xs[0], xs[0] + len(xs)))


# --------------------------------------------------------------------------------------------------------------
# the tour
# --------------------------------------------------------------------------------------------------------------


def test_tour_heatmap_renders_and_interacts(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    _require_tour(jupyter_server)
    timings = {}
    t0 = time.monotonic()
    lab.open_notebook(page, jupyter_server.base_url, TOUR)
    timings["open"] = time.monotonic() - t0
    t1 = time.monotonic()
    lab.run_all(page, TOUR, timeout_ms=180_000)
    timings["run_all"] = time.monotonic() - t1

    tr = _traits(page)
    nth = lab.widget_element_index(page, TOUR, tr["model_id"], ROOT)
    attrs = _wait_drawn(page, nth)
    timings["drawn"] = time.monotonic() - t0
    assert int(attrs["data-tiles"] or 0) >= 1, attrs
    tr = _traits(page)  # after the job finished
    assert tr["status"] == "done", tr
    print(f"\nheatmap traits: {tr}\nview attrs: {attrs}")

    root = page.locator(ROOT).nth(nth)
    canvas = root.locator("canvas.fx-heatmap-canvas").first
    root.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "tour.png"))
    root.screenshot(path=str(artifacts / "heatmap.png"))

    # -- not blank ---------------------------------------------------------------------------------------------
    stats = lab.canvas_stats(page, CANVAS, nth)
    print(f"canvas stats: {stats}")
    assert stats["width"] > 0 and stats["height"] > 0, stats
    assert stats["opaque"] > 0.5, f"most of the canvas is transparent (undrawn): {stats}"
    assert stats["distinct"] >= 16, f"too few distinct colours for a heatmap: {stats}"
    assert stats["non_background"] > 0.2, f"the canvas is mostly one colour: {stats}"

    def fresh_grid() -> Grid:
        # Cells appended by run_cell_and_read scroll the notebook: re-read the geometry before every gesture.
        canvas.scroll_into_view_if_needed()
        geo = lab.evaluate_async(page, CANVAS_GEOMETRY_JS, {"sel": CANVAS, "nth": nth}, 5_000)
        assert geo["cssW"] > 20 and geo["cssH"] > 20, geo
        on_screen = geo["top"] >= 0 and geo["top"] + geo["height"] <= page.viewport_size["height"]
        assert on_screen, f"canvas off screen {geo}"
        return Grid(geo, tr["display_shape"], tr["block"], tr["shape"])

    def assert_on_canvas(*points) -> None:
        hits = lab.evaluate_async(page, HIT_JS, {"sel": CANVAS, "nth": nth, "points": [list(p) for p in points]})
        assert all(hits), f"points {points} are not all on the canvas (something covers it, or it moved): {hits}"

    grid = fresh_grid()
    print(f"canvas geometry: {grid.g}")
    # Points far from the edges and from each other.
    x, y, r_click, c_click = grid.point(0.3, 0.6)

    # -- hover -> tooltip ----------------------------------------------------------------------------------------
    assert_on_canvas((x, y), (x - 3, y - 3))
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y, steps=3)
    tooltip = root.locator("div.fx-tooltip").first
    tooltip.wait_for(state="visible", timeout=10_000)
    page.wait_for_function(
        """([sel, nth]) => { const root = document.querySelectorAll(sel)[nth];
                             const t = root && root.querySelector('div.fx-tooltip');
                             return t && /row/i.test(t.textContent) && /\\d/.test(t.textContent); }""",
        arg=[ROOT, nth],
        timeout=10_000,
    )
    tip = tooltip.inner_text()
    print(f"tooltip: {tip!r}")
    assert re.search(r"row", tip, re.I) and re.search(r"\d", tip), tip
    page.screenshot(path=str(artifacts / "tour-hover.png"))

    # -- click -> selection of exactly one cell ------------------------------------------------------------------
    before = tr["selection"]
    grid = fresh_grid()
    x, y, r_click, c_click = grid.point(0.3, 0.6)
    assert_on_canvas((x, y))
    page.mouse.click(x, y)
    sel = lab.wait_python(page, "heatmap.selection", lambda s: bool(s) and s != before and s.get("rows"),
                          what="heatmap.selection changed after a click")
    print(f"click at client ({x}, {y}) = display ({r_click}, {c_click}) -> selection {sel}")
    _assert_one_cell(sel, grid, r_click, c_click)

    # -- drag -> a contiguous block --------------------------------------------------------------------------------
    grid = fresh_grid()
    x0, y0, r0, c0 = grid.point(0.2, 0.25)
    x1, y1, r1, c1 = grid.point(0.55, 0.7)
    assert_on_canvas((x0, y0), (x1, y1))
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    prev = sel
    sel = lab.wait_python(page, "heatmap.selection", lambda s: bool(s) and s != prev and len(s.get("rows", [])) > 1,
                          what="heatmap.selection became a block after a drag")
    page.screenshot(path=str(artifacts / "tour-drag.png"))
    rows, cols = sel["rows"], sel["cols"]
    assert _contiguous(rows) and _contiguous(cols), f"drag selection is not contiguous: {_summ(sel)}"
    # Expected endpoints in full-matrix indices: the first full row of the press cell to the last full row of the
    # release cell (inclusive). Press and release are at integer pixels well inside their cells (see Grid), so
    # the mapping itself is exact; TOLERANCE allows one display cell (= one block) at each end, only so that a
    # view that treated the release cell as exclusive would not fail this test (the brief allows +-1). The
    # printed line says whether the match was exact.
    exp_r = (grid.full_rows(r0)[0], grid.full_rows(r1)[-1])
    exp_c = (grid.full_cols(c0)[0], grid.full_cols(c1)[-1])
    tol_r, tol_c = grid.fr * DRAG_TOLERANCE_CELLS, grid.fc * DRAG_TOLERANCE_CELLS
    exact = (rows[0], rows[-1]) == exp_r and (cols[0], cols[-1]) == exp_c
    print(f"drag display ({r0},{c0})->({r1},{c1}): rows {rows[0]}..{rows[-1]} (expected {exp_r}), "
          f"cols {cols[0]}..{cols[-1]} (expected {exp_c}); {'exact' if exact else 'within tolerance'}")
    assert abs(rows[0] - exp_r[0]) <= tol_r and abs(rows[-1] - exp_r[1]) <= tol_r, (_summ(sel), exp_r)
    assert abs(cols[0] - exp_c[0]) <= tol_c and abs(cols[-1] - exp_c[1]) <= tol_c, (_summ(sel), exp_c)

    # -- colormap: Python follows and the pixels change ----------------------------------------------------------
    fresh_grid()
    page.mouse.move(2, 2)  # move away so the tooltip/hover outline does not mask the redraw
    before_digest = lab.canvas_stats(page, CANVAS, nth)["digest"]
    select = root.locator("select.fx-cmap").first
    options = select.locator("option").evaluate_all("els => els.map(e => e.value)")
    current = select.input_value()
    target = next((o for o in ("magma", "gray", "coolwarm", "RdBu_r", "viridis") if o in options and o != current),
                  None)
    assert target, f"no other colormap to choose in {options} (current {current!r})"
    select.select_option(target)
    lab.wait_python(page, "heatmap.cmap", lambda v: v == target, what=f"heatmap.cmap == {target!r}")
    lab.wait_canvas_change(page, CANVAS, before_digest, nth)
    after = lab.canvas_stats(page, CANVAS, nth)
    print(f"cmap {current} -> {target}; canvas stats after: {after}")
    assert after["distinct"] >= 16, after
    root.screenshot(path=str(artifacts / f"heatmap-{target}.png"))

    timings["total"] = time.monotonic() - t0
    print("timings (s): " + ", ".join(f"{k}={v:.1f}" for k, v in timings.items()))


# --------------------------------------------------------------------------------------------------------------
# streaming + cancel
# --------------------------------------------------------------------------------------------------------------

STREAM_NB = "e2e_stream_cancel.ipynb"


def test_streaming_job_cancel_from_the_view(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    # fxwidgets.testing.slow_affinity_job(n, delay) returns a running Job of an n x n affinity matrix that sleeps
    # `delay` s per tile (512 rows / 16 per tile * 0.2 s = ~6.4 s in all: ample time to click Cancel on a loaded
    # machine), and job.show() returns its live AffinityHeatmap.
    nth = lab.show_in_notebook(
        page, jupyter_server, STREAM_NB,
        "import fxwidgets as fx\n"
        "from fxwidgets.testing import slow_affinity_job\n"
        "job = slow_affinity_job(n=512, delay=0.2)\n"
        "view = job.show()\n"
        "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-status", "v === 'running'", 30_000, nth=nth)
    lab.wait_attr(page, ROOT, "data-tiles", "Number(v) > 0", 30_000, nth=nth)
    tiles_at_click = int(page.locator(ROOT).nth(nth).get_attribute("data-tiles"))

    page.locator(ROOT).nth(nth).locator("button.fx-cancel").first.click()
    lab.wait_attr(page, ROOT, "data-status", "v === 'cancelled'", 30_000, nth=nth)
    page.locator(ROOT).nth(nth).screenshot(path=str(artifacts / "stream-cancelled.png"))

    state = lab.run_cell_json(page, "{'status': job.status, 'progress': job.progress, 'view': view.status}")
    print(f"\ncancelled after {tiles_at_click} tiles in the view; kernel: {state}")
    assert state["status"] == "cancelled", state
    assert state["view"] == "cancelled", state
    assert state["progress"] < 1.0, f"the job finished before the cancel took effect: {state}"
    assert lab.run_cell_and_read(page, "print(1 + 1)").strip() == "2"


# --------------------------------------------------------------------------------------------------------------
# malformed messages from the front end
# --------------------------------------------------------------------------------------------------------------

MALFORMED_NB = "e2e_malformed.ipynb"


def test_malformed_messages_do_not_break_the_widget(jupyter_server, lab_page):
    """Garbage sent through the *front-end* model (the same path the view's own requests take) is answered with
    errors; afterwards a valid request is still answered and the kernel still runs code."""
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(
        page, jupyter_server, MALFORMED_NB,
        "import torch, fxwidgets as fx\n"
        "torch.manual_seed(0)\n"
        "X = torch.randn(48, 8)\n"
        "job = fx.affinity(X, metric='rbf', stream=True, chunk_size=16)\n"
        "job.result(timeout=60)\n"
        "view = job.show()\n"
        "view",
        ROOT,
    )
    name = MALFORMED_NB
    model_id = lab.run_cell_json(page, "view.model_id")
    _wait_drawn(page, nth, 60_000)

    garbage = [
        "not an object",
        [1, 2, 3],
        None,
        {"no": "type"},
        {"type": "bogus"},
        {"type": "request"},  # no id
        {"type": "request", "id": "bad-1", "method": "no_such_method", "args": {}},
        {"type": "request", "id": "bad-2", "method": "cell", "args": "not a dict"},
        {"type": "request", "id": "bad-3", "method": "cell", "args": {"row": "x", "col": None}},
        {"type": "request", "id": "bad-4", "method": "cell", "args": {"row": 10**9, "col": -10**9}},
        {"type": "request", "id": "bad-5", "method": "cell", "args": {"row": 0, "col": 0}, "channel": 7},
    ]
    replies = lab.send_to_model(page, name, model_id, garbage, expect_replies=len(garbage), timeout_ms=30_000)
    print(f"\n{len(replies)} replies to {len(garbage)} malformed messages:")
    for r in replies:
        print("  ", r)
    assert len(replies) == len(garbage)
    assert all(r.get("type") == "error" or r.get("ok") is False for r in replies), replies
    by_id = {r.get("id"): r for r in replies if r.get("type") == "response"}
    for i in ("bad-1", "bad-2", "bad-3", "bad-4", "bad-5"):
        assert i in by_id and by_id[i]["ok"] is False and by_id[i].get("error"), (i, replies)

    # Still alive: a valid request through the same path, the kernel's own value to compare with.
    ok = lab.send_to_model(
        page, name, model_id,
        [{"type": "request", "id": "good-1", "method": "cell", "args": {"row": 3, "col": 5}, "channel": None}],
        expect_replies=1,
    )
    assert ok and ok[0].get("ok") is True, ok
    expected = lab.run_cell_json(page, "float(job.result().values[3, 5])")
    assert math.isclose(ok[0]["result"]["value"], expected, rel_tol=1e-5, abs_tol=1e-6), (ok, expected)
    assert page.locator(ROOT).nth(nth).get_attribute("data-status") == "done"
    assert lab.run_cell_and_read(page, "print(1 + 1)").strip() == "2"
