"""End-to-end: what the view kit (js/lib) promises every view, in a real JupyterLab + headless Chromium.

* Nothing is clipped: with the output area 400 px wide and at full width, every view's root has
  scrollWidth <= clientWidth and fits its output area; each has labelled axes or a colour bar with ticks.
  Screenshots of every view at both widths land in ``artifacts/e2e/gallery/``.
* Pictures that stay: every view sends a PNG of itself after it settles (``{"type": "snapshot", ...}`` + the PNG
  as a buffer); ``to_png()`` returns it, decoded here it is not one colour; the display's picture output is
  updated with it and hidden while the view is live; a view rendered without live data shows its saved picture.
  With ``FX_GALLERY=1`` the pictures are also written to ``docs/images/view-<view>.png`` (the README's gallery;
  committed, never rewritten by an ordinary test run).
* ``cmap="plasma"`` and a Colormap object set from Python: the heatmap's pixels take those maps' colours.
* The LayerComparison view (js/layer_comparison.ts) against its traits and ``grams`` RPC (docs/protocol.md).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

import lab

pytestmark = [pytest.mark.e2e]

VIEWS = {  # root class -> code building the view bound to the variable of the same name
    "heatmap": (
        "div.fx-heatmap",
        "labels = np.repeat(['cat', 'dog', 'bird', 'fish'], 15)\n"
        "heatmap = fx.AffinityHeatmap(np.corrcoef(rng.normal(size=(60, 8)) + np.repeat(rng.normal(size=(4, 8)), 15, 0) * 2),"
        " row_labels=labels, col_labels=labels, title='affinity, sorted by class', value_label='correlation')",
    ),
    "zoom": (
        "div.fx-zoom",
        "zl = torch.randint(0, 5, (3000,), generator=g)\n"
        "zoom = fx.ZoomHeatmap(torch.randn(5, 16, generator=g)[zl] + torch.randn(3000, 16, generator=g), labels=zl.numpy(),"
        " title='3000 rows')",
    ),
    "pixaff": (
        "div.fx-pixaff",
        "im = torch.nn.functional.interpolate(torch.rand(3, 3, 6, 8, generator=g), size=(64, 80), mode='bicubic',"
        " align_corners=False).clamp(0, 1)\n"
        "pixaff = fx.PixelAffinity(torch.nn.functional.avg_pool2d(torch.cat([im, im ** 2, 1 - im], 1), 4), images=im,"
        " title='three frames', max_matches=24)",
    ),
    "attribution": (
        "div.fx-attr",
        "net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),"
        " torch.nn.Linear(4 * 12 * 12, 3))\n"
        "attribution = fx.AttributionView(net, torch.randn(1, 1, 12, 12, generator=g), target=0,"
        " methods={'integrated_gradients': {'n_steps': 16}, 'saliency': {},"
        " 'occlusion': {'sliding_window': (1, 3, 3), 'strides': (1, 2, 2)}})",
    ),
    "waterfall": (
        "div.fx-attr",
        "mlp = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))\n"
        "waterfall = fx.AttributionView(mlp, torch.randn(1, 6, generator=g), methods={'shapley_permutation':"
        " {'n_permutations': 200}}, feature_names=['median income', 'house age', 'rooms per household',"
        " 'a rather long feature name', 'latitude', 'longitude'])",
    ),
    "scatter": (
        "div.fx-scatter",
        "sl = rng.integers(0, 4, 2000)\n"
        "scatter = fx.Scatter(np.array([[0, 0], [4, 1], [1, 4], [5, 5]])[sl] + rng.normal(size=(2000, 2)),"
        " labels=np.array(['airplane', 'automobile', 'bird', 'cat'])[sl], label_name='class',"
        " x_label='UMAP 1', y_label='UMAP 2', title='an embedding of 2000 rows')",
    ),
    "ranking": (
        "div.fx-ranking",
        "from sklearn.datasets import load_wine\n"
        "wine = load_wine()\n"
        "ranking = fx.FeatureRanking(wine.data, wine.target, methods=['fisher', 'mi', 'inf_fs'], k=3,"
        " feature_names=wine.feature_names, stability=5)",
    ),
    "layers": (
        "div.fx-layers",
        "def mlp():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(16, 48), torch.nn.ReLU(), torch.nn.Linear(48, 24), torch.nn.ReLU(),"
        " torch.nn.Linear(24, 5))\n"
        "LX = torch.randn(600, 16, generator=g)\n"
        "layers = fx.compare(mlp(), mlp(), LX, labels=(LX[:, 0] > 0).long() + (LX[:, 1] > 0).long(), batch_size=60,"
        " gram_samples=90).show()\n"
        "layers.select(1, 3)",
    ),
}

# Something labelled in each view: an axis' tick labels or a colour bar's.
LABELLED = {
    "heatmap": [".fx-axis-left .fx-tick-label", ".fx-axis-bottom .fx-tick-label", ".fx-colorbar-box .fx-tick-label"],
    "zoom": [".fx-axis-left .fx-tick-label", ".fx-colorbar-box .fx-tick-label"],
    "pixaff": [".fx-colorbar-box .fx-tick-label"],
    "attribution": [".fx-colorbar-box .fx-tick-label", "canvas.fx-attr-input"],
    "waterfall": ["div.fx-wf-name"],
    "ranking": [".fx-matrix .fx-axis-bottom .fx-tick-label", ".fx-matrix .fx-axis-left .fx-tick-label"],
    "layers": [".fx-axis-left .fx-tick-label", ".fx-axis-bottom .fx-tick-label", ".fx-axis-title",
               ".fx-colorbar-box .fx-tick-label"],
    "scatter": [".fx-axis-left .fx-tick-label", ".fx-axis-bottom .fx-tick-label", ".fx-legend-item"],
}

READY = {  # when each view has drawn its data
    "heatmap": ("data-draws", "Number(v) >= 1"),
    "zoom": ("data-answered", "Number(v) >= 1"),
    "pixaff": ("data-ready", "v === 'true'"),
    "attribution": ("data-received", "Number(v) >= 3"),
    "waterfall": ("data-received", "Number(v) >= 1"),
    "ranking": ("data-ready", "v === 'true'"),
    "layers": ("data-grams", "Number(v) >= 1"),
    "scatter": ("data-ready", "v === 'true'"),
}

MEASURE_JS = r"""
const out = [];
for (const [name, id] of Object.entries(arg.names)) {
  const root = document.querySelectorAll(arg.sels[name])[id];
  const area = root.closest('.jp-OutputArea-output') || root.parentElement;
  const r = root.getBoundingClientRect(), a = area.getBoundingClientRect();
  const labelled = arg.labelled[name].map(sel => root.querySelectorAll(sel).length);
  out.push({name, scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, areaScroll: area.scrollWidth,
            areaClient: area.clientWidth, right: Math.round(r.right - a.right), width: Math.round(r.width), labelled});
}
return out;
"""


def _gallery(artifacts: Path) -> Path:
    d = artifacts / "gallery"
    d.mkdir(exist_ok=True)
    return d


def _settle(page) -> None:
    # two animation frames after the width change: the ResizeObserver's frame, then the redraw's
    lab.evaluate_async(page, "for (let i = 0; i < 6; i++) await new Promise(r => requestAnimationFrame(r)); return 1;")


def test_every_view_fits_400px_and_full_width_with_labels(jupyter_server, lab_page, artifacts):
    page = lab_page
    name = "e2e_view_kit.ipynb"
    cells = ["import numpy as np, torch, fxwidgets as fx\ng = torch.Generator().manual_seed(0)\n"
             "rng = np.random.default_rng(0)"]
    for var, (_, code) in VIEWS.items():
        cells.append(code + f"\n{var}")
    jupyter_server.put_notebook(name, cells)
    lab.open_notebook(page, jupyter_server.base_url, name)
    lab.run_all(page, name, timeout_ms=180_000)
    ids, sels = {}, {}
    for var, (sel, _) in VIEWS.items():
        model_id = lab.run_cell_json(page, f"{var}.model_id", keep=False)
        ids[var] = lab.widget_element_index(page, name, model_id, sel)
        sels[var] = sel
        attr, pred = READY[var]
        lab.wait_attr(page, sel, attr, pred, 90_000, nth=ids[var])
    gallery = _gallery(artifacts)
    report = {}
    for width in (400, None):
        style = None
        if width:
            style = page.add_style_tag(content=f".jp-OutputArea-output {{ max-width: {width}px !important; }}")
        tag = f"{width}px" if width else "full"
        got = []
        for var in VIEWS:
            # JupyterLab skips the layout of cells out of view (content-visibility): bring each view into view,
            # let its ResizeObserver and redraw run, then measure it.
            root = page.locator(sels[var]).nth(ids[var])
            root.scroll_into_view_if_needed()
            _settle(page)
            page.wait_for_timeout(200)  # a redraw at the new size may ask the kernel (zoom tiles)
            _settle(page)
            got += lab.evaluate_async(page, MEASURE_JS, {"names": {var: ids[var]}, "sels": sels, "labelled": LABELLED})
            root.screenshot(path=str(gallery / f"{var}-{tag}.png"))
        report[tag] = got
        for m in got:
            assert m["scrollWidth"] <= m["clientWidth"], (tag, m)  # nothing sticks out of the view
            assert m["areaScroll"] <= m["areaClient"] and m["right"] <= 0, (tag, m)  # nor out of the output area
            assert all(n > 0 for n in m["labelled"]), (tag, m, LABELLED[m["name"]])
            if width:
                assert m["width"] <= width, (tag, m)
        if style is not None:
            style.evaluate("el => el.remove()")
    (artifacts / "view-kit-widths.json").write_text(json.dumps(report, indent=1))

    # Every view's picture reached Python; to_png() returns it and, decoded here, it is not one colour.
    for var in VIEWS:
        lab.wait_python(page, f"{var}.picture is not None and {var}.pictures_dropped == 0", bool, timeout_s=60,
                        what=f"{var}'s picture reached Python")
    pictures = artifacts / "pictures"
    pictures.mkdir(exist_ok=True)
    paths = {var: str(pictures / f"{var}.png") for var in VIEWS}
    lab.run_cell_and_read(page, f"for _v, _p in {paths!r}.items():\n    open(_p, 'wb').write(globals()[_v].to_png())",
                          keep=False)
    for var, path in paths.items():
        png = Path(path).read_bytes()
        rgb = _decode(png)
        assert rgb.shape[0] > 80 and rgb.shape[1] > 150, (var, rgb.shape)
        assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20, var  # not blank: data, axes and text
        if os.environ.get("FX_GALLERY") == "1":
            out = lab.REPO_ROOT / "docs" / "images" / f"view-{var}.png"
            out.write_bytes(_small_png(png))
            assert out.stat().st_size < 200_000, (out, out.stat().st_size)


def _decode(png: bytes):
    import matplotlib.image

    return (matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(np.uint8)


def _small_png(png: bytes, limit: int = 190_000) -> bytes:
    """The picture for the README's gallery: as is when small, else with a 256-colour palette, then halved."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    while True:
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        if buf.tell() <= limit:
            return buf.getvalue()
        buf = io.BytesIO()
        img.quantize(256).save(buf, format="PNG", optimize=True)
        if buf.tell() <= limit:
            return buf.getvalue()
        img = img.resize((img.width // 2, img.height // 2), Image.LANCZOS)


PICTURED = """\
import numpy as np, fxwidgets as fx

class Frozen(fx.AffinityHeatmap):
    # A view with no kernel behind it (a notebook reopened with saved widget state): nothing is ever answered.
    def _on_custom_msg(self, widget, content, buffers):
        pass

m = np.add.outer(np.arange(40.0), np.arange(40.0)) % 17
labels = np.repeat(['a', 'b', 'c', 'd'], 10)
view = fx.AffinityHeatmap(m, row_labels=labels, col_labels=labels, title='pictured', value_label='v')
view
"""


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", png[:16]
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_a_view_sends_its_picture_and_shows_it_without_live_data(jupyter_server, lab_page, artifacts):
    page = lab_page
    name = "e2e_pictures.ipynb"
    nth = lab.show_in_notebook(page, jupyter_server, name, PICTURED, "div.fx-heatmap")
    lab.wait_attr(page, "div.fx-heatmap", "data-snapshots", "Number(v) >= 1", 30_000, nth=nth)
    pic = lab.wait_python(
        page,
        "None if view.picture is None else dict(width=view.picture['width'], height=view.picture['height'],"
        " n=len(view.picture['png']), head=list(view.picture['png'][:24]), dropped=view.pictures_dropped)",
        lambda v: v is not None, what="the picture reached Python")
    png_w, png_h = _png_size(bytes(pic["head"]))
    assert pic["dropped"] == 0  # the browser's pictures pass the kernel's checks (PNG, size = CSS size x scale)
    # the display's picture output (before the widget) was updated with it, and is hidden while the view is live
    out = lab.evaluate_async(page, lab._JS_PANEL + r"""
const panel = findPanel(arg);
const cell = panel.content.widgets[0];
const first = cell.outputArea.model.get(0).toJSON();
const child = cell.outputArea.node.querySelector('.jp-OutputArea-child');
return {html: String(first.data['text/html'] || ''), png: !!first.data['image/png'],
        hidden: getComputedStyle(child).display === 'none', widget: !!cell.outputArea.model.get(1).toJSON().data[
        'application/vnd.jupyter.widget-view+json']};
""", name)
    assert out["html"].startswith('<img class="fx-picture" src="data:image/png;base64,') and out["png"], out
    assert out["hidden"] and out["widget"], out
    # the picture is cropped to what the view paints: inside the view's box, and reaching past its canvas
    root_box = page.locator("div.fx-heatmap").nth(nth).bounding_box()
    canvas_box = page.locator("div.fx-heatmap canvas.fx-heatmap-canvas").nth(nth).bounding_box()
    assert pic["width"] <= root_box["width"] + 1 and pic["height"] <= root_box["height"] + 1, (pic, root_box)
    assert pic["width"] >= canvas_box["x"] + canvas_box["width"] - root_box["x"], (pic, canvas_box, root_box)
    # the toolbar is left out of the picture (and its room closed); the colour bar below the canvas is in it
    toolbar_h = page.locator("div.fx-heatmap .fx-toolbar").nth(nth).bounding_box()["height"]
    assert pic["height"] >= canvas_box["y"] + canvas_box["height"] - root_box["y"] - toolbar_h + 30, (pic, canvas_box)
    assert pic["n"] < 2 * 2**20
    # The picture holds the heatmap and its labels: decode it in the kernel and look at its colours.
    stats = lab.run_cell_json(
        page,
        "(lambda a: dict(shape=list(a.shape), colours=len(np.unique((a[..., :3] * 255).round().reshape(-1, 3), axis=0))))"
        "(__import__('matplotlib.pyplot').pyplot.imread(__import__('io').BytesIO(view.picture['png'])))",
        keep=False)
    assert stats["shape"][:2] == [png_h, png_w] and stats["colours"] > 40, stats
    lab.run_cell_and_read(page, f"open({str(artifacts / 'picture-heatmap.png')!r}, 'wb').write(view.picture['png'])",
                          keep=False)

    # No live data: the saved picture is shown in place of the (empty) view, and says what it is after a while.
    lab.run_cell_and_read(page, "frozen = Frozen(m, row_labels=labels, col_labels=labels, title='pictured')\n"
                                "frozen.picture = view.picture\nfrozen")
    model_id = lab.run_cell_json(page, "frozen.model_id", keep=False)
    k = lab.widget_element_index(page, name, model_id, "div.fx-heatmap")
    lab.wait_attr(page, "div.fx-heatmap", "data-saved", "v === 'true'", 15_000, nth=k)
    root = page.locator("div.fx-heatmap").nth(k)
    img = root.locator("img.fx-saved-picture")
    img.wait_for(state="visible", timeout=10_000)
    natural = img.evaluate("e => [e.naturalWidth, e.naturalHeight, e.getBoundingClientRect().width]")
    assert natural[:2] == [png_w, png_h] and abs(natural[2] - pic["width"]) <= 2, natural
    assert not root.locator("canvas.fx-heatmap-canvas").is_visible()
    root.locator(".fx-saved-note").wait_for(state="visible", timeout=10_000)
    root.screenshot(path=str(artifacts / "picture-saved.png"))

    # With live data the picture goes away at once.
    lab.run_cell_and_read(page, "live = fx.AffinityHeatmap(m, row_labels=labels, col_labels=labels)\n"
                                "live.picture = view.picture\nlive")
    model_id = lab.run_cell_json(page, "live.model_id", keep=False)
    k = lab.widget_element_index(page, name, model_id, "div.fx-heatmap")
    lab.wait_attr(page, "div.fx-heatmap", "data-draws", "Number(v) >= 1", 15_000, nth=k)
    lab.wait_attr(page, "div.fx-heatmap", "data-saved", "v === 'false'", 15_000, nth=k)
    assert page.locator("div.fx-heatmap").nth(k).locator("canvas.fx-heatmap-canvas").is_visible()

    # Any matplotlib map, by name or as an object, set from Python: the cells take that map's colours (values 0..16
    # over the data's range: 0 is the map's first entry, 16 its last, 8 the entry floor(0.5 * 256) = 128).
    canvas = "div.fx-heatmap canvas.fx-heatmap-canvas"
    cells = {(0, 0): 0, (0, 16): 16, (4, 4): 8}
    size = lab.canvas_stats(page, canvas, nth)
    import matplotlib
    from matplotlib.colors import ListedColormap

    rgb3 = ListedColormap(["#ff0000", "#00ff00", "#0000ff"], name="rgb3")
    for setting, cmap in (("'plasma'", matplotlib.colormaps["plasma"]),
                          ("__import__('matplotlib.colors').colors.ListedColormap(['#ff0000', '#00ff00', '#0000ff'],"
                           " name='rgb3')", rgb3)):
        before = lab.canvas_stats(page, canvas, nth)["digest"]
        lab.run_cell_and_read(page, f"view.cmap = {setting}", keep=False)
        lab.wait_canvas_change(page, canvas, before, nth=nth)
        assert lab.run_cell_json(page, "view.cmap", keep=False) == cmap.name
        page.locator(canvas).nth(nth).scroll_into_view_if_needed()
        for (i, j), value in cells.items():
            x = int((j + 0.5) * size["width"] / 40)
            y = int((i + 0.5) * size["height"] / 40)
            k = min(255, int(value / 16 * 256))
            want = [int(round(c * 255)) for c in cmap(k / 255)[:3]]  # matplotlib's own colour
            assert lab.canvas_pixel(page, canvas, x, y, nth)[:3] == want, (cmap.name, i, j)


LAYERS = """\
import numpy as np, torch, fxwidgets as fx

torch.manual_seed(0)
def mlp():
    return torch.nn.Sequential(torch.nn.Linear(16, 48), torch.nn.ReLU(), torch.nn.Linear(48, 24), torch.nn.ReLU(),
                               torch.nn.Linear(24, 5))
X = torch.randn(600, 16)
y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
res = fx.compare(mlp(), mlp(), X, labels=y, batch_size=60, gram_samples=90)
lc = res.show(title="CKA, layer × layer")
lc
"""


def test_layer_comparison_view_draws_names_values_and_opens_the_clicked_pair(jupyter_server, lab_page, artifacts):
    page = lab_page
    name = "e2e_layers.ipynb"
    nth = lab.show_in_notebook(page, jupyter_server, name, LAYERS, "div.fx-layers", var="lc")
    assert nth == 0  # the only LayerComparison on the page: its Gram canvases are the first two
    lab.wait_attr(page, "div.fx-layers", "data-draws", "Number(v) >= 1", 60_000, nth=nth)
    root = page.locator("div.fx-layers").nth(nth)
    info = lab.run_cell_json(page, "dict(a=lc.layers_a, b=lc.layers_b, v=res.values.numpy().round(4).tolist(),"
                                   " se=res.se.numpy().tolist())", keep=False)
    # layer names on both axes and the networks' names as titles
    assert root.locator(".fx-axis-left .fx-tick-label").all_inner_texts() == info["a"]
    assert root.locator(".fx-axis-bottom .fx-tick-label").first.inner_text() == info["b"][0]
    titles = root.locator(".fx-axis-title").all_inner_texts()
    assert "network A: layer" in titles and "network B: layer" in titles, titles
    # the colour range is the data's, not 0..1
    ticks = [float(t) for t in root.locator(".fx-colorbar-box .fx-tick-label").all_inner_texts()]
    finite = [x for row in info["v"] for x in row if x == x]
    assert min(ticks) >= min(finite) - 1e-3 and max(ticks) <= max(finite) + 1e-3, (ticks, min(finite), max(finite))
    # hover a cell: value and standard error in the tooltip
    canvas = page.locator("div.fx-layers canvas.fx-cka").nth(nth)
    canvas.scroll_into_view_if_needed()
    _settle(page)
    box = canvas.bounding_box()
    n_a, n_b = len(info["a"]), len(info["b"])
    i, j = 1, 3
    x, y = box["x"] + box["width"] * (j + 0.5) / n_b, box["y"] + box["height"] * (i + 0.5) / n_a
    page.mouse.move(x, y)
    value = root.locator(".fx-tooltip .fx-tt-value")
    value.wait_for(state="visible", timeout=10_000)
    text = value.inner_text()
    assert "±" in text and "s.e." in text, text
    shown = float(text.split(":", 1)[1].split("±")[0])
    assert abs(shown - info["v"][i][j]) <= 5e-4, (text, info["v"][i][j])
    # click it: Python gets the pair, answers with the Gram matrices, both are drawn with class blocks
    page.mouse.click(x, y)
    lab.wait_python(page, "lc.pair", lambda v: v == [i, j], what="lc.pair follows the click")
    lab.wait_attr(page, "div.fx-layers", "data-grams", "Number(v) >= 1", 30_000, nth=nth)
    grams = root.locator("canvas.fx-gram")
    assert grams.count() == 2
    for k in range(2):
        s = lab.canvas_stats(page, "div.fx-layers canvas.fx-gram", k)
        assert s["distinct"] >= 16 and s["opaque"] > 0.9, s
    assert root.locator(".fx-gram-panel .fx-axis-left .fx-tick-label").count() >= 2  # class blocks named
    root.screenshot(path=str(artifacts / "layer-comparison.png"))
    # re-sort from the browser
    root.locator("select.fx-sort-by").select_option("data order")
    lab.wait_python(page, "lc.sort_by", lambda v: v == "data order", what="the sort select reaches Python")
