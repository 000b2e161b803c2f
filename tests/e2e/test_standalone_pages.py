"""End-to-end: ``save_html`` pages opened in Chromium with the network off (an offline context, and every request
that is not the file itself aborted): every view paints and answers a hover; the colour map, the sign mode, zoom
within the saved levels, a click on a layer pair and the rows of a batch work without a kernel.

No Jupyter here: the views are built in this process (the same code as test_view_kit's notebook) and saved.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from test_view_kit import VIEWS

pytestmark = [pytest.mark.e2e]

SETUP = ("import numpy as np, torch, fxwidgets as fx\ng = torch.Generator().manual_seed(0)\n"
         "rng = np.random.default_rng(0)\n")

# (canvas to hover, what shows the hover answered)
HOVER = {
    "heatmap": ("canvas.fx-heatmap-canvas", "tooltip"),
    "zoom": ("canvas.fx-zoom-canvas", "tooltip"),
    "pixaff": ("canvas.fx-pix-image", "data-hover"),
    "attribution": ("canvas.fx-attr-image", "tooltip"),
    "waterfall": ("div.fx-panels", "tooltip"),
    "ranking": ("canvas.fx-agree", "tooltip"),
    "layers": ("canvas.fx-cka", "tooltip"),
    "scatter": ("canvas.fx-scatter-canvas", "point"),  # a point's screen position from the plot
    "metrics": ("canvas.fx-detail", "detail"),  # the detail of a clicked cell (answered in the page), then its hover
    "summary": ("canvas.fx-swarm", "dot"),  # a coloured dot found in the canvas
}
PAINTED = {  # a canvas that must hold the data once the page is up
    "heatmap": "canvas.fx-heatmap-canvas", "zoom": "canvas.fx-zoom-canvas", "pixaff": "canvas.fx-pix-image",
    "attribution": "canvas.fx-attr-image", "waterfall": None, "ranking": "canvas.fx-agree", "layers": "canvas.fx-cka",
    "scatter": None, "metrics": "canvas.fx-detail", "summary": "canvas.fx-swarm",
}
# A pixel of a dot: strongly coloured (axes, grid and text are grey), in page coordinates.
DOT_JS = """([root, sel]) => { const c = root.querySelector(sel); c.scrollIntoView({block: 'center'});
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const r = c.getBoundingClientRect();
  const sx = r.width / c.width, sy = r.height / c.height; const found = [];
  for (let y = 2; y < c.height - 2; y += 2) for (let x = 2; x < c.width - 2; x += 2) { const i = 4 * (y * c.width + x);
    const hi = Math.max(px[i], px[i + 1], px[i + 2]), lo = Math.min(px[i], px[i + 1], px[i + 2]);
    if (hi - lo > 90) found.push([r.left + x * sx, r.top + y * sy]); }
  return found.length ? found[Math.floor(found.length / 2)] : null; }"""


@pytest.fixture(scope="module")
def views():
    ns: dict = {}
    exec(SETUP, ns)
    for var, (_, code) in VIEWS.items():
        exec(code, ns)
    ns["attribution"].wait(60)
    ns["waterfall"].wait(60)
    ns["ranking"].curve(timeout=120)
    return {var: ns[var] for var in VIEWS}


@pytest.fixture
def offline(browser):
    """A page whose context is offline and aborts every request that is not a file: or blob: URL."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, offline=True)
    blocked: list[str] = []
    console: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "blob:", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
    page.blocked, page.console = blocked, console
    try:
        yield page
    finally:
        context.close()


def poll(page, js: str, arg=None, timeout_s: float = 15.0):
    """Evaluate ``js`` (a function of ``arg``) until it returns something truthy. (The page's Content-Security-
    Policy forbids the string evaluation ``wait_for_function`` uses; ``evaluate`` goes through the debugger.)"""
    end = time.monotonic() + timeout_s
    while True:
        v = page.evaluate(js, arg)
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"never true within {timeout_s} s: {js}")
        page.wait_for_timeout(100)


def open_page(page, path):
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-fx-ready='true']", state="attached", timeout=30_000)


def hover_answered(page, root, var):
    sel, how = HOVER[var]
    if how == "detail":  # open another cell's detail: the page answers it from its table
        root.locator("td.fx-mcell[data-method='saliency'][data-metric='deletion']").first.click()
        poll(page, "(el) => el.dataset.detail === 'saliency|deletion'", root.element_handle())
    target = root.locator(sel).first
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    if how == "point":  # row 0's point, where regl-scatterplot draws it
        x, y = page.evaluate("""(root) => { const r = root.querySelector('canvas.fx-scatter-canvas').getBoundingClientRect();
            const [x, y] = root.fxScatter.plot.getScreenPosition(0); return [r.left + x, r.top + y]; }""",
                             root.element_handle())
    elif how == "dot":
        x, y = poll(page, DOT_JS, [root.element_handle(), sel])
    else:
        x, y = box["x"] + box["width"] * 0.38, box["y"] + box["height"] * 0.42
    page.mouse.move(x - 1, y - 1)
    page.mouse.move(x, y)
    if how == "point":  # the row's values come from the page's saved hover answers
        tip = root.locator(".fx-tooltip")
        poll(page, "(el) => el.textContent.includes('distance to the origin')", tip.element_handle())
        return tip.inner_text()
    if how == "dot":  # the row's details come from the page's saved row answers
        tip = root.locator(".fx-tooltip")
        poll(page, "(el) => el.querySelector('.fx-tt-feature') !== null", tip.element_handle())
        return tip.inner_text()
    if how in ("tooltip", "detail"):
        tip = root.locator(".fx-tooltip")
        tip.wait_for(state="visible", timeout=10_000)
        return tip.inner_text()
    return poll(page, "(el) => el.dataset.hover", root.element_handle())


def digest(page, root, sel):
    return page.evaluate("""([root, sel]) => { const c = root.querySelector(sel);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;
        for (let i = 0; i < px.length; i += 4) h = (h * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) % 2147483647;
        return h; }""", [root.element_handle(), sel])


def canvas_colours(page, root, sel):
    return page.evaluate("""([root, sel]) => { const c = root.querySelector(sel);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const s = new Set();
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0) s.add(px[i] << 16 | px[i + 1] << 8 | px[i + 2]);
        return s.size; }""", [root.element_handle(), sel])


@pytest.mark.parametrize("var", list(VIEWS))
def test_a_saved_page_paints_and_answers_a_hover_with_the_network_off(views, offline, artifacts, var, tmp_path):
    page = offline
    path = views[var].save_html(tmp_path / f"{var}.html")
    text = path.read_text(encoding="utf-8")
    assert "https://" not in text.split('id="fx-standalone-data"')[0]  # nothing but inline code before the data
    open_page(page, path)
    section = page.locator("section.fx-standalone-view")
    assert section.get_attribute("data-rendered") == "true"
    root = section.locator(VIEWS[var][0])
    if PAINTED[var]:
        poll(page, "([root, sel]) => { const c = root.querySelector(sel); if (!c || !c.width) return false;"
                   " const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
                   " for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++; return n > px.length / 8; }",
             [root.element_handle(), PAINTED[var]])
        assert canvas_colours(page, root, PAINTED[var]) >= 4
    if var == "scatter":
        poll(page, "(el) => el.dataset.ready === 'true' && Number(el.dataset.points) === 2000", root.element_handle())
    shown = hover_answered(page, root, var)
    assert shown, var
    if var == "summary":  # the dependence plot of another feature, answered in the page
        root.locator("button.fx-mode[data-mode='dependence']").click()
        poll(page, "(el) => el.dataset.mode === 'dependence' && Number(el.dataset.points) > 0", root.element_handle())
        paints = int(root.get_attribute("data-paints"))
        root.locator("select.fx-dep-feature").select_option("7")
        poll(page, "([el, n]) => Number(el.dataset.paints) > n && el.querySelector('.fx-caption').textContent"
                   ".includes('occupancy')", [root.element_handle(), paints])
        assert "needs the kernel" not in section.locator(".fx-offline-note").inner_text()
    root.screenshot(path=str(artifacts / f"standalone-{var}.png"))
    assert page.blocked == [], page.blocked  # nothing tried to reach the network
    assert not [c for c in page.console if "pageerror" in c], page.console


def test_colour_map_sign_mode_zoom_pairs_and_rows_work_offline(views, offline, artifacts, tmp_path):
    page = offline
    import torch

    import fxwidgets as fx

    g = torch.Generator().manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 12 * 12, 3))
    x = torch.randn(3, 1, 12, 12, generator=g)
    batch = fx.attribute(net, x, target=1, method="integrated_gradients", n_steps=8).show(
        x, row_names=["first", "second", "third"])
    path = fx.save_html([views["heatmap"], views["zoom"], views["layers"], batch], tmp_path / "four.html",
                        title="four views")
    open_page(page, path)
    sections = page.locator("section.fx-standalone-view")
    assert sections.count() == 4

    # colour map: the heatmap's pixels change when another map is picked
    heat = sections.nth(0).locator("div.fx-heatmap")
    before = digest(page, heat, "canvas.fx-heatmap-canvas")
    heat.locator("select.fx-cmap").select_option("magma")
    poll(page, "([root, d]) => { const c = root.querySelector('canvas.fx-heatmap-canvas');"
               " const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;"
               " for (let i = 0; i < px.length; i += 4) h = (h * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) % 2147483647;"
               " return h !== d; }", [heat.element_handle(), before])

    # zoom within the saved levels: a finer level is answered from the page, what is not saved is said
    zoom = sections.nth(1).locator("div.fx-zoom")
    answered = int(zoom.get_attribute("data-answered"))
    zoom.locator("button.fx-zoom-in").click()
    poll(page, "([root, n]) => Number(root.dataset.answered) > n && root.dataset.painted === root.dataset.needed",
         [zoom.element_handle(), answered])
    note = sections.nth(1).locator(".fx-offline-note")
    assert "zooming in past blocks of 2 rows" in note.inner_text(), note.inner_text()
    zoom.locator("button.fx-zoom-in").click()  # past the saved levels: the page says it needs the kernel
    poll(page, "(el) => el.textContent.includes('needs the kernel')", note.element_handle())

    # a click on a layer pair opens its Gram matrices (saved answers), in both orders
    layers = sections.nth(2).locator("div.fx-layers")
    grams = int(layers.get_attribute("data-grams") or 0)
    cka = layers.locator("canvas.fx-cka")
    cka.scroll_into_view_if_needed()
    box = cka.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.9)  # cell (4, 0)
    poll(page, "([root, n]) => Number(root.dataset.grams) > n", [layers.element_handle(), grams])
    layers.locator("select.fx-sort-by").select_option("data order")
    poll(page, "([root, n]) => Number(root.dataset.grams) > n + 1", [layers.element_handle(), grams])
    assert "not saved" not in sections.nth(2).locator(".fx-offline-note").inner_text()

    # sign mode and the rows of a batch
    attr = sections.nth(3).locator("div.fx-attr")
    before = digest(page, attr, "canvas.fx-attr-image")
    attr.locator("select.fx-sign").select_option("positive")
    poll(page, "([root, d, sel]) => { const c = root.querySelector(sel);"
               " const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let h = 0;"
               " for (let i = 0; i < px.length; i += 4) h = (h * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) % 2147483647;"
               " return h !== d; }", [attr.element_handle(), before, "canvas.fx-attr-image"])
    received = int(attr.get_attribute("data-received"))
    attr.locator("button.fx-row-next").click()
    poll(page, "([root, n]) => Number(root.dataset.received) > n", [attr.element_handle(), received])
    assert attr.locator(".fx-row-text").inner_text() == "input 2 of 3: second"
    page.screenshot(path=str(artifacts / "standalone-four.png"), full_page=True)
    assert page.blocked == [] and not [c for c in page.console if "pageerror" in c], (page.blocked, page.console)
    (artifacts / "standalone-notes.json").write_text(json.dumps(
        [sections.nth(i).locator(".fx-offline-note").inner_text() for i in range(4)], indent=1))
    assert np.isfinite(batch.display_values(0)).all()
