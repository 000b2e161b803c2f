"""End-to-end: a failing job's error reaches the view as readable text, and the view follows the Lab theme."""

from __future__ import annotations

import pytest

import lab
from test_tour import CANVAS, ROOT, _require_bundle, _wait_drawn

pytestmark = [pytest.mark.e2e]


def test_an_error_in_the_worker_is_shown_in_the_view_and_kept_in_python(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_error.ipynb",
        "from fxwidgets.testing import slow_affinity_job\n"
        "job = slow_affinity_job(n=128, delay=0.05, chunk_size=16, fail_at=3)\n"
        "view = job.show()\n"
        "view",
        ROOT,
    )
    lab.wait_attr(page, ROOT, "data-status", "v === 'error'", 30_000, nth=nth)
    box = page.locator(ROOT).nth(nth).locator(".fx-error")
    box.wait_for(state="visible", timeout=10_000)
    assert "RuntimeError: deliberate failure at tile 3" in box.inner_text()
    page.locator(ROOT).nth(nth).screenshot(path=str(artifacts / "error.png"))
    # The tiles computed before the failure are still drawn.
    assert lab.canvas_stats(page, CANVAS, nth)["distinct"] > 8
    state = lab.run_cell_json(page, "{'status': job.status, 'error': job.error_text, 'view': view.error}")
    assert state == {"status": "error", "error": "RuntimeError: deliberate failure at tile 3",
                     "view": "RuntimeError: deliberate failure at tile 3"}


def luminance(rgba: list[int]) -> float:
    return 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]


def test_the_view_follows_the_jupyterlab_theme(jupyter_server, lab_page, artifacts):
    page = lab_page
    _require_bundle()
    # NaN cells are drawn in the theme's background colour: the top-left cell shows it.
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_theme.ipynb",
        "import numpy as np, fxwidgets as fx\n"
        "m = np.arange(16.0).reshape(4, 4)\n"
        "m[0, 0] = np.nan\n"
        "view = fx.AffinityHeatmap(m)\n"
        "view",
        ROOT,
    )
    _wait_drawn(page, nth, 60_000)
    stats = lab.canvas_stats(page, CANVAS, nth)
    x, y = stats["width"] // 8, stats["height"] // 8  # the middle of cell (0, 0)
    light = lab.canvas_pixel(page, CANVAS, x, y, nth)
    assert luminance(light) > 200, light
    top_before = lab.canvas_pixel(page, CANVAS, 7 * x, 7 * y, nth)  # cell (3, 3): the colour map's top
    try:
        lab.evaluate_async(page, "await window.jupyterapp.commands.execute('apputils:change-theme', "
                                 "{theme: 'JupyterLab Dark'}); return true;", timeout_ms=30_000)
        page.wait_for_function("document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
        lab.wait_canvas_change(page, CANVAS, stats["digest"], nth)
        dark = lab.canvas_pixel(page, CANVAS, x, y, nth)
        page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=30_000)  # Lab's theme-change splash
        page.locator(ROOT).nth(nth).screenshot(path=str(artifacts / "heatmap-dark.png"))
        assert luminance(dark) < 80, dark
        # Data cells keep their colours whatever the theme.
        assert lab.canvas_pixel(page, CANVAS, 7 * x, 7 * y, nth) == top_before
    finally:
        lab.evaluate_async(page, "await window.jupyterapp.commands.execute('apputils:change-theme', "
                                 "{theme: 'JupyterLab Light'}); return true;", timeout_ms=30_000)


def test_hover_on_a_downsampled_matrix_asks_the_kernel_for_the_exact_value(jupyter_server, lab_page, artifacts):
    """200 x 200 drawn as 20 x 20 block means: the tooltip names the block's rows and columns and, after a
    burst of hovers (latest wins), shows the exact value the kernel holds for the block's top-left cell."""
    page = lab_page
    _require_bundle()
    nth = lab.show_in_notebook(
        page, jupyter_server, "e2e_blocks.ipynb",
        "import numpy as np, fxwidgets as fx\n"
        "m = np.random.default_rng(0).standard_normal((200, 200))\n"
        "view = fx.AffinityHeatmap(m, max_display=20)\n"
        "view",
        ROOT,
    )
    _wait_drawn(page, nth, 60_000)
    assert lab.run_cell_json(page, "view.block") == [10, 10]
    canvas = page.locator(CANVAS).nth(nth)
    box = canvas.bounding_box()
    cell = box["width"] / 20
    # A burst of hovers across the diagonal, then rest on display cell (13, 6).
    for k in range(20):
        page.mouse.move(box["x"] + (k + 0.5) * cell, box["y"] + (k + 0.5) * cell)
    page.mouse.move(box["x"] + 6.5 * cell, box["y"] + 13.5 * cell)
    exact = page.locator(ROOT).nth(nth).locator(".fx-tt-exact")
    page.wait_for_function(
        "el => el && /\\(130, 60\\): -?[0-9]/.test(el.textContent)", arg=exact.element_handle(), timeout=15_000)
    text = exact.inner_text()
    tooltip = page.locator(ROOT).nth(nth).locator(".fx-tooltip").inner_text()
    assert "rows 130–139" in tooltip and "cols 60–69" in tooltip, tooltip
    shown = float(text.rsplit(":", 1)[1])
    state = lab.run_cell_json(page, "{'value': float(m[130, 60]), 'block_mean': float(m[130:140, 60:70].mean()), "
                                    "'answered': view.rpc.answered, 'superseded': view.rpc.superseded}")
    print(f"\ntooltip {text!r}; kernel {state}")
    assert abs(shown - state["value"]) <= 5e-4 * abs(state["value"]) + 1e-4, (text, state)
    assert abs(state["value"] - state["block_mean"]) > 1e-3  # the exact value is not what the grid draws
    page.locator(ROOT).nth(nth).screenshot(path=str(artifacts / "heatmap-blocks.png"))
