"""Smoke test of the harness itself, with a plain ipywidgets slider (no fxwidgets needed).

If this fails, the problem is the server/browser/JupyterLab plumbing, not the library.
"""

from __future__ import annotations

import lab


def test_harness_runs_a_notebook_and_reads_cells(jupyter_server, lab_page, artifacts):
    page = lab_page
    name = jupyter_server.put_notebook(
        "harness_smoke.ipynb",
        [
            "import ipywidgets as w\nslider = w.IntSlider(value=3, min=0, max=10, description='n')\nslider",
            "x = 40 + 2\nprint('x is', x)",
        ],
    )
    lab.open_notebook(page, jupyter_server.base_url, name)
    res = lab.run_all(page, name)
    assert res["cells"] == 2

    # The widget rendered (the ipywidgets labextension is loaded and the comm is open).
    page.locator(".widget-slider").first.wait_for(state="visible", timeout=30_000)
    assert "x is 42" in page.locator(".jp-OutputArea-output").nth(1).inner_text()

    # Kernel state is shared with cells appended later.
    assert lab.run_cell_and_read(page, "print(x + 1)").strip() == "43"
    assert lab.run_cell_json(page, "{'value': slider.value, 'n': x}") == {"value": 3, "n": 42}

    # A front-end gesture reaches the kernel: move the slider with the keyboard.
    page.locator(".widget-slider .noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => { const r = document.querySelector('.widget-readout'); return !!r && r.textContent.trim() === '4'; }",
        timeout=10_000,
    )
    assert lab.run_cell_and_read(page, "print(slider.value)").strip() == "4"

    # Errors surface as CellError with the traceback.
    try:
        lab.run_cell_and_read(page, "1/0")
    except lab.CellError as e:
        assert "ZeroDivisionError" in str(e)
    else:
        raise AssertionError("a raising cell did not raise CellError")
    page.screenshot(path=str(artifacts / "harness.png"))


ECHO_WIDGET = '''
import anywidget, traitlets

class Echo(anywidget.AnyWidget):
    _esm = """
    export default { render({ model, el }) {
      const d = document.createElement('div');
      d.className = 'e2e-echo';
      d.setAttribute('data-status', 'ready');
      d.textContent = 'echo';
      el.appendChild(d);
    } };
    """
    seen = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.on_msg(self._echo)

    def _echo(self, _w, content, buffers):
        self.seen += 1
        if isinstance(content, dict) and 'id' in content:
            self.send({'type': 'response', 'id': content['id'], 'ok': True, 'result': content.get('args')})
        else:
            self.send({'type': 'error', 'error': 'not a request: %r' % (content,)})

a, b = Echo(), Echo()
display(a)
b
'''


def test_harness_reaches_front_end_models(jupyter_server, lab_page):
    """widget_element_index and send_to_model: from a kernel-side model id to the DOM and the front-end model."""
    page = lab_page
    name = jupyter_server.put_notebook("harness_models.ipynb", ["from IPython.display import display", ECHO_WIDGET])
    lab.open_notebook(page, jupyter_server.base_url, name)
    lab.run_all(page, name)
    ids = lab.run_cell_json(page, "[a.model_id, b.model_id]")
    assert lab.widget_element_index(page, name, ids[0], "div.e2e-echo") == 0
    assert lab.widget_element_index(page, name, ids[1], "div.e2e-echo") == 1
    replies = lab.send_to_model(
        page, name, ids[1], ["junk", {"type": "request", "id": "r1", "args": {"x": 1}}], expect_replies=2
    )
    assert {"type": "error", "error": "not a request: 'junk'"} in replies, replies
    assert {"type": "response", "id": "r1", "ok": True, "result": {"x": 1}} in replies, replies
    assert lab.run_cell_json(page, "[a.seen, b.seen]") == [0, 2]
