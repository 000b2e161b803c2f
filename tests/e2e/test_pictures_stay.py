"""End-to-end: pictures that stay. A notebook with every view is run in JupyterLab, saved, its kernel shut down,
and reopened:

* with widget state saved (JupyterLab's "save widget state" setting on), each view renders from the saved state
  and shows its last picture (never an empty canvas), its picture output hidden;
* without widget state (the setting's default), JupyterLab says "model not found" for the widget, and the picture
  output right before it shows the picture;
* ``jupyter nbconvert --to html`` of either file shows every picture, also opened with the network off.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys

import pytest

import lab
from test_view_kit import VIEWS

pytestmark = [pytest.mark.e2e]

NAME = "e2e_stay.ipynb"
SETUP = ("import numpy as np, torch, fxwidgets as fx\ng = torch.Generator().manual_seed(0)\n"
         "rng = np.random.default_rng(0)")


@pytest.fixture(scope="module")
def saving_server(artifacts):
    """A JupyterLab whose widget manager saves widget state into the notebook."""
    lab.require_chromium()
    server = lab.LabServer(artifacts=artifacts)
    settings = server.tmp / "lab-settings" / "@jupyter-widgets" / "jupyterlab-manager"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def page_of(browser, offline=False):
    console: list[str] = []
    context = browser.new_context(viewport=lab.VIEWPORT, offline=offline)
    blocked: list[str] = []
    if offline:
        def route(r):
            if r.request.url.startswith(("file:", "blob:", "data:")):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()
        context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
    page.blocked = blocked
    try:
        yield page
    finally:
        context.close()


SAVED_PICTURES_JS = r"""
const out = [];
for (const img of document.querySelectorAll('img.fx-picture')) {
  const child = img.closest('.jp-OutputArea-child');
  out.push({natural: img.naturalWidth, shown: img.getBoundingClientRect().width > 0 &&
            (!child || getComputedStyle(child).display !== 'none')});
}
return out;
"""


def nbconvert(src, dest_dir):
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", str(dest_dir),
                    str(src)], check=True, capture_output=True, timeout=300)
    return dest_dir / (src.stem + ".html")


def test_a_saved_notebook_reopens_with_pictures_and_exports_them(saving_server, browser, artifacts, tmp_path):
    import nbformat

    cells = [SETUP] + [code + f"\n{var}" for var, (_, code) in VIEWS.items()]
    saving_server.put_notebook(NAME, cells)
    with page_of(browser) as page:
        lab.open_notebook(page, saving_server.base_url, NAME)
        lab.run_all(page, NAME, timeout_ms=240_000)
        for var in VIEWS:
            lab.wait_python(page, f"{var}.picture is not None", bool, timeout_s=90, what=f"{var}'s picture")
        lab.evaluate_async(page, lab._JS_PANEL + "const p = await activate(arg); await p.context.save(); return 1;",
                           NAME, 60_000)
    saving_server.delete_all_sessions()  # the kernel is gone: what is left is the file

    path = saving_server.root_dir / NAME
    nb = nbformat.read(str(path), as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    fx_models = [m for m in state.values() if "picture" in m.get("state", {})]
    assert len(fx_models) >= len(VIEWS), f"widget state of {len(fx_models)} views saved"
    for cell in nb.cells[1:]:
        first = cell.outputs[0]
        assert first.data["text/html"].startswith('<img class="fx-picture"'), first.data["text/html"][:80]
        assert "image/png" in first.data and "application/vnd.jupyter.widget-view+json" in cell.outputs[1].data

    # Reopened with its widget state: every view renders from the state and shows its saved picture.
    with page_of(browser) as page:
        lab.open_notebook(page, saving_server.base_url, NAME)
        for var, (sel, _) in VIEWS.items():
            page.locator(sel).first.wait_for(state="attached", timeout=60_000)
        n = page.locator(".fx-root").count()
        assert n == len(VIEWS), n
        for k in range(n):
            root = page.locator(".fx-root").nth(k)
            root.scroll_into_view_if_needed()
            drawn = root.evaluate("r => r.dataset.saved === 'true' ? r.querySelector('img.fx-saved-picture').naturalWidth"
                                  " : (r.dataset.draws || r.dataset.ready || '')")
            assert drawn and drawn != "0", (k, drawn)  # its picture, or its own drawing from the saved traits
        shown = lab.evaluate_async(page, SAVED_PICTURES_JS)
        assert shown and not any(p["shown"] for p in shown), shown  # picture outputs hidden next to live views
        page.screenshot(path=str(artifacts / "reopened-with-state.png"), full_page=True)
    saving_server.delete_all_sessions()

    # Without widget state (JupyterLab's default). Untrusted (a file from elsewhere): the widget renderer is not
    # used at all, the widget output shows its text; trusted (signed by this server, as one's own saved notebook
    # is): "model not found". Either way the picture output before it shows the picture.
    plain = nbformat.read(str(path), as_version=4)
    plain.metadata.pop("widgets", None)
    plain_path = saving_server.root_dir / "e2e_stay_plain.ipynb"
    nbformat.write(plain, str(plain_path))
    for trusted in (False, True):
        if trusted:
            subprocess.run([sys.executable, "-m", "jupyter", "trust", str(plain_path)], env=saving_server._env(),
                           check=True, capture_output=True, timeout=60)
        with page_of(browser) as page:
            lab.open_notebook(page, saving_server.base_url, plain_path.name)
            tag = "trusted" if trusted else "untrusted"
            try:
                if trusted:
                    page.get_by_text("Error displaying widget: model not found").first.wait_for(timeout=60_000)
                else:
                    page.get_by_text("<fxwidgets.widgets.affinity_heatmap.AffinityHeatmap object").first.wait_for(
                        timeout=60_000)
                page.locator("img.fx-picture").first.wait_for(timeout=30_000)
                assert page.locator(".fx-root").count() == 0
                for k in range(len(VIEWS)):
                    page.locator("img.fx-picture").nth(k).scroll_into_view_if_needed()
                    page.locator("img.fx-picture").nth(k).evaluate(
                        "img => img.complete || new Promise(r => img.onload = r)")
                shown = lab.evaluate_async(page, SAVED_PICTURES_JS)
                assert len(shown) == len(VIEWS) and all(p["shown"] and p["natural"] > 100 for p in shown), shown
            finally:
                page.screenshot(path=str(artifacts / f"reopened-without-state-{tag}.png"), full_page=True)
        saving_server.delete_all_sessions()

    # nbconvert --to html, with and without widget state: every picture is in the page and shows offline.
    for src in (path, saving_server.root_dir / "e2e_stay_plain.ipynb"):
        html = nbconvert(src, tmp_path)
        text = html.read_text(encoding="utf-8")
        imgs = re.findall(r'<img\b[^>]*\bclass="fx-picture"[^>]*>', text)
        assert len(imgs) == len(VIEWS) and all('src="data:image/png;base64,' in i for i in imgs), (src.name, imgs[:1])
        with page_of(browser, offline=True) as page:
            page.goto(html.as_uri(), wait_until="load")
            shown = lab.evaluate_async(page, SAVED_PICTURES_JS)
            assert len(shown) == len(VIEWS) and all(p["shown"] and p["natural"] > 100 for p in shown), (src.name, shown)
            page.screenshot(path=str(artifacts / f"nbconvert-{src.stem}.png"), full_page=True)
