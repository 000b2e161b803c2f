"""Drive a real JupyterLab in headless Chromium (Playwright, sync API).

Used by ``tests/e2e/conftest.py`` and by ``benchmarks/bench_streaming.py``; it imports nothing from pytest.

What it does, and the pitfalls it avoids:

* the server runs as a plain child process (same process group, so a killed runner takes it along), on a free
  port, without a token, serving a *temporary* root dir (autosave never rewrites the repo's notebooks), with
  isolated config/runtime/settings/workspace dirs and the news/update toast switched off;
* Chromium is Debian's ``/usr/bin/chromium`` (never ``playwright install``), window 1280x900;
* every ``page.evaluate`` that awaits a promise races a timeout inside the page (``evaluate_async``), because
  ``page.evaluate`` itself has none;
* JupyterLab is driven through ``window.jupyterapp`` (``--LabApp.expose_app_in_browser=True``), after waiting
  for the status bar to read ``| Idle`` and making the notebook the current widget.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FX_CHROMIUM", "/usr/bin/chromium")

# Flags proven in the recipe. ``--user-data-dir`` must NOT be here (Playwright rejects it; launch() already uses a
# fresh temporary profile).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
VIEWPORT = {"width": 1280, "height": 900}

# Browser -> kernel messages above this are refused by tornado (default 10 MiB) with a silently closed socket.
WS_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


#: The front ends the tests drive: the server module, its flags (expose the app object to the page, no news or
#: update checks) and the URL of a notebook.
FRONTENDS = {
    "lab": {"module": "jupyterlab", "path": "/lab/tree/{name}?reset",
            "flags": ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
                      "--LabServerApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]},
    "notebook": {"module": "notebook", "path": "/notebooks/{name}",
                 "flags": ["--JupyterNotebookApp.expose_app_in_browser=True"]},
}


def artifacts_dir() -> Path:
    """``artifacts/e2e/`` at the repo root, or ``$FX_ARTIFACTS``; created if missing."""
    d = Path(os.environ.get("FX_ARTIFACTS") or REPO_ROOT / "artifacts" / "e2e")
    d.mkdir(parents=True, exist_ok=True)
    return d


def require_chromium() -> str:
    """Return the Chromium path or raise with an actionable message (the suite never skips silently)."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM}. The e2e suite needs Debian's chromium: "
            "`apt-get install -y chromium fonts-dejavu-core` (do not run `playwright install`), "
            "or point FX_CHROMIUM at another Chromium binary."
        )
    return CHROMIUM


def record_pid(pid: int, what: str) -> None:
    """Append ``pid what`` to ``pids.txt`` so CI can clean up if the runner itself is killed."""
    with open(artifacts_dir() / "pids.txt", "a") as f:
        f.write(f"{pid} {what}\n")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------------------------
# Notebooks on disk
# --------------------------------------------------------------------------------------------------------------


def write_notebook(path: Path, cells: Iterable[str | tuple[str, str]]) -> Path:
    """Write a notebook of code cells (or ``("markdown", text)`` tuples) with a python3 kernelspec."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for c in cells:
        if isinstance(c, tuple):
            kind, src = c
            new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
            nb.cells.append(new(src))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(c))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# --------------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------------


class LabServer:
    """A JupyterLab server on a free port, serving a temporary copy of a directory.

    ``start()`` returns once ``GET /api/status`` answers 200; ``stop()`` sends SIGTERM to the server's pid (it shuts
    its kernels down), then SIGKILL after 15 s, then kills any kernel that survived.
    """

    def __init__(self, source_dir: Path | None = None, artifacts: Path | None = None, python: str | None = None,
                 frontend: str = "lab"):
        if frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {sorted(FRONTENDS)}, got {frontend!r}")
        self.frontend = frontend
        self.artifacts = artifacts or artifacts_dir()
        self.python = python or sys.executable
        self.tmp = Path(tempfile.mkdtemp(prefix="fx-e2e-"))
        self.root_dir = self.tmp / "root"
        if source_dir is not None and Path(source_dir).is_dir():
            shutil.copytree(source_dir, self.root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        else:
            self.root_dir.mkdir()
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.log_path = self.artifacts / ("jupyterlab.log" if frontend == "lab" else f"jupyter-{frontend}.log")

    # -- environment ----------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        dirs = {
            "JUPYTER_CONFIG_DIR": self.tmp / "config",
            "JUPYTER_RUNTIME_DIR": self.tmp / "runtime",
            "JUPYTER_DATA_DIR": self.tmp / "data",
            "JUPYTERLAB_SETTINGS_DIR": self.tmp / "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": self.tmp / "lab-workspaces",
            "IPYTHONDIR": self.tmp / "ipython",
        }
        for k, v in dirs.items():
            v.mkdir(parents=True, exist_ok=True)
            env[k] = str(v)
        # Recipe pitfall 5: the news/update toast covers the bottom right of the page unless switched off here.
        notif = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
        notif.mkdir(parents=True, exist_ok=True)
        (notif / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env.pop("JUPYTER_TOKEN", None)
        env.pop("ANYWIDGET_HMR", None)
        env["PYTHONUNBUFFERED"] = "1"
        # The kernel must import the repo's fxwidgets even if it were not pip-installed (editable installs win anyway).
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO_ROOT), env.get("PYTHONPATH", "")] if p)
        return env

    def _cmd(self) -> list[str]:
        app = FRONTENDS[self.frontend]
        cmd = [
            self.python, "-m", app["module"],
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            *app["flags"],
            f"--ServerApp.tornado_settings={json.dumps({'websocket_max_message_size': WS_MAX_MESSAGE_BYTES})}",
            # The kernel's iopub limits count stream bytes; keep the defaults (comm traffic is what we test).
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # recipe pitfall 1
        return cmd

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> "LabServer":
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n===== {time.strftime('%H:%M:%S')} {' '.join(self._cmd())}\n".encode())
        self._log.flush()
        # Plain Popen (recipe pitfall 9): same process group as the runner, so a killed runner takes it along.
        self.proc = subprocess.Popen(
            self._cmd(), cwd=self.root_dir, env=self._env(), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        record_pid(self.proc.pid, "jupyterlab")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.proc.returncode} during start; see {self.log_path}:\n"
                    + self._log_tail()
                )
            try:
                with urllib.request.urlopen(self.base_url + "/api/status", timeout=2) as r:
                    if r.status == 200:
                        return self
            except Exception as e:  # noqa: BLE001 - still starting
                last = e
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer /api/status within {timeout} s ({last}); see {self.log_path}")

    def _log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def kernel_pids(self) -> list[int]:
        import psutil

        if self.proc is None:
            return []
        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.Error:
            return []

    def stop(self) -> None:
        import psutil

        if self.proc is None:
            return
        children = []
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(self.proc.pid).children(recursive=True)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for c in children:  # kernels that outlived their server, by pid
            with contextlib.suppress(psutil.Error):
                c.kill()
        with contextlib.suppress(psutil.Error):
            psutil.wait_procs(children, timeout=5)
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- REST -----------------------------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def delete_all_sessions(self) -> int:
        """DELETE every session (shuts its kernel down): the next test starts with a fresh kernel (pitfall 8)."""
        n = 0
        for s in self.api("GET", "/api/sessions") or []:
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{s['id']}")
                n += 1
        # Kernels not attached to a session (should not exist, but never let one leak into the next test).
        for k in self.api("GET", "/api/kernels") or []:
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/kernels/{k['id']}")
        return n

    def put_notebook(self, name: str, cells: Iterable[str | tuple[str, str]]) -> str:
        """Create/overwrite ``name`` in the served root (written to disk; the server sees it at once)."""
        write_notebook(self.root_dir / name, cells)
        return name


# --------------------------------------------------------------------------------------------------------------
# The browser
# --------------------------------------------------------------------------------------------------------------


def launch_browser(playwright):
    """Launch Debian's Chromium through Playwright; returns ``(browser, chromium_pids)``."""
    import psutil

    exe = require_chromium()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    browser = playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
    pids = [
        p.pid
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "chrom" in (p.name() or "").lower()
    ]
    for pid in pids:
        record_pid(pid, "chromium")
    return browser, pids


def kill_pids(pids: Iterable[int]) -> None:
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            p.kill()
            procs.append(p)
    with contextlib.suppress(psutil.Error):
        psutil.wait_procs(procs, timeout=5)


def new_page(browser, console: list[str] | None = None):
    """A fresh context + page at 1280x900 that records console messages and page errors into ``console``."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    if console is not None:
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        page.on("crash", lambda *_: console.append("[crash] page crashed"))
    return page


# --------------------------------------------------------------------------------------------------------------
# Page JS with a timeout (recipe pitfall 6)
# --------------------------------------------------------------------------------------------------------------


class PageTimeout(AssertionError):
    pass


def evaluate_async(page, body: str, arg: Any = None, timeout_ms: int = 30_000) -> Any:
    """Run ``body`` (the body of an ``async (arg) => {...}`` function) in the page, racing a timeout in JS.

    ``page.evaluate`` has no timeout of its own; a promise that never settles would hang the test until
    pytest-timeout. Here it rejects after ``timeout_ms`` with a clear message instead.
    """
    js = (
        "async ([arg, ms]) => {\n"
        "  const work = (async (arg) => {\n" + body + "\n  })(arg);\n"
        "  let timer;\n"
        "  const timeout = new Promise((_, reject) => {\n"
        "    timer = setTimeout(() => reject(new Error('page JS timed out after ' + ms + ' ms')), ms);\n"
        "  });\n"
        "  try { return await Promise.race([work, timeout]); } finally { clearTimeout(timer); }\n"
        "}"
    )
    try:
        return page.evaluate(js, [arg, timeout_ms])
    except Exception as e:  # playwright.Error
        if "page JS timed out" in str(e):
            raise PageTimeout(f"page JS timed out after {timeout_ms} ms: {body.strip()[:300]}") from e
        raise


# JS prelude: find the NotebookPanel for a path and make it the current widget.
_JS_PANEL = r"""
const app = window.jupyterapp;
if (!app) throw new Error('window.jupyterapp is missing: start the server with --LabApp.expose_app_in_browser=True');
const findPanel = (path) => {
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.content.model) return w;
  }
  return null;
};
const activate = async (path) => {
  const panel = findPanel(path);
  if (!panel) throw new Error('no open notebook ' + path);
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  // The tracker's current widget follows focus; wait until the notebook is what commands act on.
  for (let i = 0; i < 100 && app.shell.currentWidget !== panel; i++) await new Promise(r => setTimeout(r, 50));
  if (app.shell.currentWidget !== panel) throw new Error('could not make ' + path + ' the current widget');
  return panel;
};
const cellOutputText = (cellModel) => {
  const parts = [];
  const outs = cellModel.outputs;
  for (let i = 0; i < outs.length; i++) {
    const o = outs.get(i).toJSON();
    if (o.output_type === 'stream') parts.push(Array.isArray(o.text) ? o.text.join('') : o.text);
    else if (o.output_type === 'error')
      parts.push((o.ename || '') + ': ' + (o.evalue || '') + '\n' + (o.traceback || []).join('\n'));
    else if (o.data && o.data['text/plain'] !== undefined && !o.data['application/vnd.jupyter.widget-view+json']) {
      const t = o.data['text/plain']; parts.push((Array.isArray(t) ? t.join('') : t) + '\n');
    }
  }
  return parts.join('');
};
const hasError = (cellModel) => {
  const outs = cellModel.outputs;
  for (let i = 0; i < outs.length; i++) if (outs.get(i).type === 'error') return true;
  return false;
};
"""

# ANSI escape codes in tracebacks.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(s: str) -> str:
    return _ANSI.sub("", s)


# --------------------------------------------------------------------------------------------------------------
# Notebook actions
# --------------------------------------------------------------------------------------------------------------


class CellError(AssertionError):
    """A cell raised in the kernel; the message carries its traceback (ANSI stripped)."""


def open_notebook(page, base_url: str, name: str, timeout_ms: int = 60_000, frontend: str = "lab") -> None:
    """Open the notebook (JupyterLab: ``/lab/tree/<name>?reset``; Notebook 7: ``/notebooks/<name>``) and wait until
    the kernel is idle and the notebook is current."""
    page.goto(base_url + FRONTENDS[frontend]["path"].format(name=name), wait_until="domcontentloaded",
              timeout=timeout_ms)
    page.wait_for_function("() => !!window.jupyterapp && window.jupyterapp.shell", timeout=timeout_ms)
    page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=timeout_ms)
    wait_kernel_idle(page, timeout_ms)
    focus_notebook(page, name)


def wait_kernel_idle(page, timeout_ms: int = 60_000) -> None:
    """JupyterLab: wait for the status bar to say ``| Idle`` (the toolbar indicator says idle too early: recipe
    pitfall 3). Notebook 7 has no status bar: wait for the current notebook's kernel to report ``idle``."""
    if "/notebooks/" in page.url:
        page.wait_for_function(
            "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
            " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
            " return !!k && k.status === 'idle'; }", timeout=timeout_ms)
        return
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(state="visible", timeout=timeout_ms)


def focus_notebook(page, name: str, timeout_ms: int = 30_000) -> None:
    # A real click into the notebook's first prompt area gives it DOM focus (what the recipe did), then make it
    # current through the shell as well.
    with contextlib.suppress(Exception):
        page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").first.click(timeout=5_000)
    evaluate_async(page, _JS_PANEL + "await activate(arg); return true;", name, timeout_ms)


def run_all(page, name: str, timeout_ms: int = 120_000) -> dict:
    """Run every cell of the open notebook ``name``; return once all have finished.

    Raises ``CellError`` with the first traceback if any cell raised. Returns ``{"cells": n, "seconds": t}``.
    """
    focus_notebook(page, name)
    t0 = time.monotonic()
    res = evaluate_async(
        page,
        _JS_PANEL
        + r"""
const panel = await activate(arg);
const nb = panel.content;
// Resolves once every cell has run. Recipe pitfall 3 (a Run All that silently did nothing) is caught below:
// every code cell must then carry an execution count.
await app.commands.execute('notebook:run-all-cells');
const cells = [];
for (let i = 0; i < nb.model.cells.length; i++) {
  const c = nb.model.cells.get(i);
  if (c.type !== 'code') continue;
  cells.push({index: i, count: c.executionCount, error: hasError(c), text: hasError(c) ? cellOutputText(c) : ''});
}
return cells;
""",
        name,
        timeout_ms,
    )
    bad = [c for c in res if c["error"]]
    if bad:
        raise CellError(f"cell {bad[0]['index']} of {name} raised:\n{strip_ansi(bad[0]['text'])}")
    missing = [c["index"] for c in res if c["count"] is None]
    if missing:
        raise AssertionError(f"Run All finished but cells {missing} of {name} have no execution count")
    wait_kernel_idle(page, timeout_ms)
    return {"cells": len(res), "seconds": time.monotonic() - t0}


def run_cell_and_read(page, code: str, name: str | None = None, timeout_ms: int = 60_000, check: bool = True,
                      keep: bool = True) -> str:
    """Append a code cell holding ``code`` at the end of the current (or named) notebook, run it, return its text.

    The text is the concatenation of stream outputs and ``text/plain`` results (widget displays excluded). It is
    read from the cell's model once ``notebook:run-cell`` resolved, which happens after the execute reply *and*
    the kernel's idle status, so every output has arrived. With ``check`` a traceback raises ``CellError``.
    ``keep=False`` deletes the cell again afterwards (for polling; it also keeps the notebook from scrolling).
    """
    res = evaluate_async(
        page,
        _JS_PANEL
        + r"""
let panel;
if (arg.name) panel = await activate(arg.name);
else {
  panel = app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model) throw new Error('no current notebook');
}
const nb = panel.content;
const model = nb.model;
const index = model.cells.length;
model.sharedModel.insertCell(index, {cell_type: 'code', source: arg.code});
nb.activeCellIndex = index;
nb.deselectAll();
if (nb.activeCell.model.sharedModel.getSource() !== arg.code) throw new Error('cell source was not set');
const ok = await app.commands.execute('notebook:run-cell');
const cell = model.cells.get(index);
for (let i = 0; i < 200 && cell.executionCount === null && !hasError(cell); i++)
  await new Promise(r => setTimeout(r, 25));
const result = {ok, count: cell.executionCount, error: hasError(cell), text: cellOutputText(cell)};
if (!arg.keep) model.sharedModel.deleteCell(index);
return result;
""",
        {"code": code, "name": name, "keep": keep},
        timeout_ms,
    )
    text = strip_ansi(res["text"])
    if check and res["error"]:
        raise CellError(f"cell raised:\n--- code ---\n{code}\n--- output ---\n{text}")
    if check and res["count"] is None:
        raise AssertionError(f"cell did not finish (no execution count):\n{code}\n--- output so far ---\n{text}")
    return text


JSON_MARK = "@@FXJSON@@"


def run_cell_json(page, expr: str, setup: str = "", **kw) -> Any:
    """Evaluate the Python expression ``expr`` in the kernel (after ``setup``) and return it decoded from JSON."""
    code = (setup + "\n" if setup else "") + f"import json as _j\nprint({JSON_MARK!r} + _j.dumps({expr}))"
    out = run_cell_and_read(page, code, **kw)
    for line in out.splitlines():
        if line.startswith(JSON_MARK):
            return json.loads(line[len(JSON_MARK):])
    raise AssertionError(f"no JSON line in the output of {expr!r}:\n{out}")


def wait_attr(page, selector: str, attr: str, predicate_js: str, timeout_ms: int = 60_000, nth: int = 0) -> str:
    """Wait until ``selector``'s ``attr`` satisfies the JS expression ``predicate_js`` in ``v`` (string or null).

    On timeout raises ``AssertionError`` naming the element, the condition and the attribute values it had.
    """
    try:
        return _wait_attr(page, selector, attr, predicate_js, timeout_ms, nth)
    except Exception as e:
        if "Timeout" not in type(e).__name__ and "Timeout" not in str(e):
            raise
        state = page.evaluate(
            """([sel, nth]) => { const el = document.querySelectorAll(sel)[nth];
                 return el ? Object.fromEntries(Array.from(el.attributes).filter(a => a.name.startsWith('data-'))
                                                .map(a => [a.name, a.value])) : null; }""",
            [selector, nth],
        )
        raise AssertionError(
            f"{selector}[{nth}] never had {attr} satisfying ({predicate_js}) within {timeout_ms} ms; "
            f"its data attributes: {state}"
        ) from None


def _wait_attr(page, selector: str, attr: str, predicate_js: str, timeout_ms: int, nth: int) -> str:
    handle = page.wait_for_function(
        """([sel, attr, nth, pred]) => {
             const el = document.querySelectorAll(sel)[nth];
             if (!el) return false;
             const v = el.getAttribute(attr);
             return (new Function('v', 'return (' + pred + ');'))(v) ? (v === null ? '' : v) : false;
           }""",
        arg=[selector, attr, nth, predicate_js],
        timeout=timeout_ms,
        polling=50,
    )
    return handle.json_value()


def canvas_stats(page, selector: str, nth: int = 0, timeout_ms: int = 10_000) -> dict:
    """Pixel statistics of a ``<canvas>`` read with ``getImageData``: size, distinct colours, a digest.

    ``background`` is the colour of the most frequent pixel; ``non_background`` the share of pixels that differ
    from it; ``opaque`` the share with alpha > 0 (an undrawn canvas is transparent black); ``digest`` a cheap
    hash of all pixels (to detect that the picture changed).
    """
    return evaluate_async(
        page,
        r"""
const el = document.querySelectorAll(arg.sel)[arg.nth];
if (!el) throw new Error('no canvas ' + arg.sel);
const ctx = el.getContext('2d', {willReadFrequently: true});
if (!ctx) throw new Error('canvas has no 2d context');
const {width, height} = el;
const px = ctx.getImageData(0, 0, width, height).data;
const counts = new Map();
let h1 = 2166136261 >>> 0, h2 = 0;
for (let i = 0; i < px.length; i += 4) {
  const key = (px[i] << 24 | px[i + 1] << 16 | px[i + 2] << 8 | px[i + 3]) >>> 0;
  counts.set(key, (counts.get(key) || 0) + 1);
  h1 = Math.imul(h1 ^ key, 16777619) >>> 0;
  h2 = (h2 + key * ((i >> 2) % 65521 + 1)) % 4294967291;
}
let bg = 0, bgN = -1;
for (const [k, n] of counts) if (n > bgN) { bg = k; bgN = n; }
const total = width * height;
let opaque = 0;
for (let i = 3; i < px.length; i += 4) if (px[i] > 0) opaque++;
return {width, height, distinct: counts.size, opaque: total ? opaque / total : 0,
        background: [bg >>> 24, bg >>> 16 & 255, bg >>> 8 & 255, bg & 255],
        non_background: total ? 1 - bgN / total : 0, digest: h1.toString(16) + ':' + h2.toString(16)};
""",
        {"sel": selector, "nth": nth},
        timeout_ms,
    )


def canvas_pixel(page, selector: str, x: int, y: int, nth: int = 0) -> list[int]:
    """RGBA of one canvas pixel, in canvas (not CSS) coordinates."""
    return evaluate_async(
        page,
        r"""
const el = document.querySelectorAll(arg.sel)[arg.nth];
const ctx = el.getContext('2d', {willReadFrequently: true});
return Array.from(ctx.getImageData(arg.x, arg.y, 1, 1).data);
""",
        {"sel": selector, "nth": nth, "x": x, "y": y},
        5_000,
    )


# --------------------------------------------------------------------------------------------------------------
# Widgets: from a kernel-side model id to the DOM, and to the front-end model
# --------------------------------------------------------------------------------------------------------------

# JS: the ipywidgets renderer of each widget output keeps its manager in ``_manager`` (a PromiseDelegate; see
# @jupyter-widgets/jupyterlab-manager's WidgetRenderer). That is the only handle page JS has on the widget
# manager; it is private, so every use below fails loudly if it disappears.
_JS_WIDGETS = r"""
const widgetOutputs = (panel) => {
  const found = [];
  const nb = panel.content;
  for (let i = 0; i < nb.widgets.length; i++) {
    const cell = nb.widgets[i];
    if (!cell.outputArea) continue;
    const area = cell.outputArea;
    for (let j = 0; j < area.model.length; j++) {
      const out = area.model.get(j).toJSON();
      const data = out.data && out.data['application/vnd.jupyter.widget-view+json'];
      if (!data) continue;
      const child = area.widgets[j];
      let renderer = null;
      const stack = [child];
      while (stack.length && !renderer) {
        const w = stack.pop();
        if (!w) continue;
        if (w._manager && w._manager.promise) renderer = w;
        else if (w.widgets) stack.push(...w.widgets);
      }
      found.push({cellIndex: i, outputIndex: j, modelId: data.model_id, node: child ? child.node : null, renderer});
    }
  }
  return found;
};
const frontModel = async (panel, modelId) => {
  const outs = widgetOutputs(panel).filter(o => o.renderer);
  if (!outs.length) throw new Error('no rendered widget output with a widget manager handle (renderer._manager)');
  const manager = await outs[0].renderer._manager.promise;
  return await manager.get_model(modelId);
};
"""


def widget_element_index(page, name: str, model_id: str, selector: str, timeout_ms: int = 30_000) -> int:
    """Index, among ``document.querySelectorAll(selector)``, of the element inside the output that displays the
    widget ``model_id`` (its kernel-side ``model_id``). Waits until that element exists."""
    return evaluate_async(
        page,
        _JS_PANEL + _JS_WIDGETS + r"""
const panel = findPanel(arg.name);
if (!panel) throw new Error('no open notebook ' + arg.name);
for (;;) {
  const outs = widgetOutputs(panel).filter(o => o.modelId === arg.modelId && o.node);
  for (const o of outs) {
    const el = o.node.querySelector(arg.sel);
    if (el) return Array.from(document.querySelectorAll(arg.sel)).indexOf(el);
  }
  await new Promise(r => setTimeout(r, 100));
}
""",
        {"name": name, "modelId": model_id, "sel": selector},
        timeout_ms,
    )


def show_in_notebook(page, server, name: str, code: str, selector: str, var: str = "view",
                     timeout_ms: int = 30_000) -> int:
    """Write a one-cell notebook ``name`` running ``code`` (which displays the widget bound to ``var``), open
    it, run it, and return the index among ``querySelectorAll(selector)`` of that widget's root element."""
    server.put_notebook(name, [code])
    open_notebook(page, server.base_url, name, frontend=server.frontend)
    run_all(page, name)
    model_id = run_cell_json(page, f"{var}.model_id")
    return widget_element_index(page, name, model_id, selector, timeout_ms)


def send_to_model(page, name: str, model_id: str, messages: list, expect_replies: int, timeout_ms: int = 30_000,
                  settle_ms: int = 0) -> list:
    """Send raw custom messages through the front-end model of ``model_id`` (exactly what the view's own code
    would do with ``model.send``) and collect the ``msg:custom`` replies until ``expect_replies`` arrived.

    Each message is sent as is (so it may be a string, a list, ``null``...). Returns the replies' contents.
    """
    return evaluate_async(
        page,
        _JS_PANEL + _JS_WIDGETS + r"""
const panel = findPanel(arg.name);
if (!panel) throw new Error('no open notebook ' + arg.name);
const model = await frontModel(panel, arg.modelId);
const replies = [];
let done;
const enough = new Promise(r => { done = r; });
const onMsg = (content, buffers) => {
  // Tiles and other traffic may flow at the same time; keep only answers to what we sent.
  if (content && (content.type === 'response' || content.type === 'error')) {
    replies.push(content);
    if (replies.length >= arg.expect) done();
  }
};
model.on('msg:custom', onMsg);
try {
  for (const m of arg.messages) model.send(m, {}, []);
  if (arg.expect > 0) await enough;
  if (arg.settle) await new Promise(r => setTimeout(r, arg.settle));
} finally {
  model.off('msg:custom', onMsg);
}
return replies;
""",
        {"name": name, "modelId": model_id, "messages": messages, "expect": expect_replies, "settle": settle_ms},
        timeout_ms,
    )


def wait_canvas_change(page, selector: str, digest: str, nth: int = 0, timeout_ms: int = 15_000) -> None:
    """Wait until the canvas' pixel digest (see ``canvas_stats``) differs from ``digest``."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        now = canvas_stats(page, selector, nth)["digest"]
        if now != digest:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"canvas {selector}[{nth}] did not change within {timeout_ms} ms")
        page.wait_for_timeout(100)  # poll interval of a condition wait, not a fixed sleep


def wait_python(page, expr: str, predicate, timeout_s: float = 15.0, setup: str = "", what: str = "") -> Any:
    """Re-evaluate ``expr`` in the kernel (one new cell per try) until ``predicate(value)`` holds; return the value.

    A single cell that waited in Python would deadlock: the kernel does not process the view's comm messages
    (trait updates) while a cell is executing.
    """
    deadline = time.monotonic() + timeout_s
    value = None
    while True:
        value = run_cell_json(page, expr, setup=setup, keep=False)
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            shown = repr(value)
            shown = shown if len(shown) < 600 else shown[:600] + "..."
            raise AssertionError(f"{what or expr} never held within {timeout_s} s; last value {shown}")
        page.wait_for_timeout(200)
