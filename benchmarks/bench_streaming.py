"""End-to-end streaming throughput: kernel -> real JupyterLab -> AffinityHeatmap in headless Chromium, with the
bare transport measured beside it in the same run and a stage-by-stage profile.

Variants, interleaved in every repetition (the order rotates), in one JupyterLab server:

* ``view``: a cell creates an RBF affinity job over ``n`` points *without starting it*
  (``fxwidgets.testing.slow_affinity_job(n, delay=0, start=False)``) and displays its live view; once the view is
  on the page, a second cell starts the job. Timed: from that cell's ``job.start()`` (kernel clock) to the moment
  the view's root element first shows ``data-status="done"`` *and* ``data-tiles`` equal to the number of tile
  messages the kernel sent. This covers computing the matrix, coalescing, encoding, the websocket, JupyterLab's
  and the widget manager's handling, decoding and applying the tiles (and any redraw that ran meanwhile on the
  page's one main thread; the last redraw is scheduled on an animation frame and not waited for).
* ``loopback``: the same total bytes in the same message sizes as the view's previous repetition (the first
  repetition: the sizes of a dry run), sent back to back from a kernel thread through a plain anywidget whose JS
  listener only counts bytes. Timed from the first send to the page receiving the last message. This is the
  floor the transport sets (kernel iopub, zmq, the Jupyter server, the websocket, JupyterLab's deserialisation).
* ``--build NAME=JS`` (repeatable): the view again, with another build of js/affinity_heatmap.ts (e.g. the main
  branch's): a before/after of the page code in the same run.
* ``--loop-mib 1,8,32``: the loopback again with the same bytes in messages of that size each.

Each variant runs under two drivers, alternated too (``--drivers``):

* ``cdp``: Chromium started by pid and driven over bare CDP (benchmarks/cdp_page.py), with no websocket
  instrumentation: **what a user's browser gets**;
* ``playwright``: Playwright, whose driver copies every websocket frame base64-encoded to its Node process
  (e2e recipe, pitfall 10): the figure the e2e tests see, a lower bound.

Profile, every repetition: kernel-side send timing (each ``_send_message`` call), the page's websocket arrival of
each frame (a listener added by an init script before JupyterLab's own), the view's own stages
(``window.__fxStreamProfile``: tile application and paints, js/lib/profile.ts), the CPU seconds each process
used (kernel, Jupyter server, Chromium renderer and the rest of Chromium, Playwright's driver), and the websocket
subprotocol JupyterLab negotiated. Once per browser: what rescaling a 4096 x 4096 grid onto a canvas costs with
high- and low-quality smoothing. With ``--cpu-profile`` one more repetition per driver and variant runs under the
V8 sampling profiler (not timed) and its self time is summed by where the code comes from.

Kernel and browser share this machine's clock (``time.time()`` and ``performance.timeOrigin + now()``).

Run:   .venv/bin/python benchmarks/bench_streaming.py [--n 4096] [--reps 3] [--chunk-size 256]
           [--drivers cdp,playwright] [--no-loopback] [--build main=main.js] [--loop-mib 1,8,32] [--cpu-profile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
sys.path.insert(0, str(HERE))
import lab  # noqa: E402
from common import Row  # noqa: E402

ROOT = "div.fx-heatmap"
LOOP_ROOT = "div.fx-loop"
DRIVERS = ("cdp", "playwright")

PITFALL = ("Playwright instruments the page's websockets (every kernel frame is also copied base64 to its driver; "
           "e2e recipe pitfall 10); the cdp driver has no such tap and is what a user's browser gets")

# Runs before any page script: log the arrival of every large websocket frame, and keep the sockets so their
# negotiated subprotocol can be read. The listener is added in the constructor, so it runs before JupyterLab's
# own `onmessage` handler: `t` is when the frame reached page JS, before any JupyterLab work on it.
WS_TAP_JS = r"""
(() => {
  const Orig = window.WebSocket;
  if (!Orig || Orig.__fxTap) return;
  const log = (window.__fxWsLog = []);
  const sockets = (window.__fxSockets = []);
  class Tapped extends Orig {
    constructor(...args) {
      super(...args);
      sockets.push(this);
      this.addEventListener('message', (e) => {
        const d = e.data;
        const n = typeof d === 'string' ? d.length : (d && d.byteLength) || 0;
        if (n >= 65536) log.push({t: performance.timeOrigin + performance.now(), n});
      });
    }
  }
  Tapped.__fxTap = true;
  window.WebSocket = Tapped;
})();
"""

# Installs, once per page, a log of data-status / data-tiles / data-draws changes on every heatmap root.
OBSERVER_JS = r"""
if (window.__fxObserver) return true;
const now = () => performance.timeOrigin + performance.now();
const snap = (el) => {
  (el.__fxlog = el.__fxlog || []).push({t: now(), status: el.getAttribute('data-status'),
    tiles: Number(el.getAttribute('data-tiles') || 0), draws: Number(el.getAttribute('data-draws') || 0)});
};
window.__fxObserver = new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === 'attributes' && r.target.matches && r.target.matches('div.fx-heatmap')) snap(r.target);
    else if (r.type === 'childList') {
      for (const n of r.addedNodes) {
        if (!n.querySelectorAll) continue;
        if (n.matches('div.fx-heatmap')) snap(n);
        n.querySelectorAll('div.fx-heatmap').forEach(snap);
      }
    }
  }
});
window.__fxObserver.observe(document.body, {subtree: true, childList: true, attributes: true,
  attributeFilter: ['data-status', 'data-tiles', 'data-draws']});
return true;
"""

READ_LOG_JS = r"""
const el = document.querySelectorAll('div.fx-heatmap')[arg];
if (!el) throw new Error('no heatmap #' + arg);
return el.__fxlog || [];
"""

# Start a measurement: empty the websocket log, switch the view's stage profile on (an empty array).
RESET_JS = r"""
window.__fxWsLog.length = 0;
window.__fxStreamProfile = [];
window.__fxLoopLog = [];
return (window.__fxSockets || []).map(s => ({url: s.url.replace(/\?.*/, ''), protocol: s.protocol}));
"""

# End a measurement: the logs, with the stage profile's page-clock times made absolute; profiling off again.
COLLECT_JS = r"""
const origin = performance.timeOrigin;
const prof = (window.__fxStreamProfile || []).map(e => ({...e, t0: origin + e.t0, t1: origin + e.t1}));
window.__fxStreamProfile = undefined;
return {ws: window.__fxWsLog.slice(), prof, loop: (window.__fxLoopLog || []).slice()};
"""

# What one paint's rescale of a 4096 x 4096 grid costs the page, by smoothing quality: the grid is put into an
# offscreen canvas (a band of rows, as a paint does) and drawn shrunk onto a canvas in the page; the canvas records
# both and rasterises later, so a 1-pixel getImageData forces the work to happen inside the timed span.
RASTER_JS = r"""
const N = 4096;
const off = document.createElement('canvas'); off.width = N; off.height = N;
const octx = off.getContext('2d');
const img = octx.createImageData(N, N);
for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 7) & 255;
const c = document.createElement('canvas'); c.width = 640; c.height = 640;
document.body.appendChild(c);
const ctx = c.getContext('2d');
const out = {};
try {
  for (const mode of ['high', 'low', 'high', 'low']) {
    const ts = [];
    for (let k = 0; k < 5; k++) {
      const t0 = performance.now();
      octx.putImageData(img, 0, 0, 0, (k * 400) % N, N, 400);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = mode;
      ctx.drawImage(off, 0, 0, N, N, 0, 0, 640, 640);
      ctx.getImageData(0, 0, 1, 1);
      ts.push(performance.now() - t0);
      await new Promise(r => requestAnimationFrame(() => r()));
    }
    out[mode] = (out[mode] || []).concat(ts);
  }
} finally { c.remove(); }
const med = (xs) => { const a = xs.slice().sort((x, y) => x - y); return a[a.length >> 1]; };
return {high_ms: med(out.high), low_ms: med(out.low), high_range_ms: [Math.min(...out.high), Math.max(...out.high)],
        low_range_ms: [Math.min(...out.low), Math.max(...out.low)]};
"""

LOOP_ESM = r"""
export default {
  render({ model, el }) {
    el.className = 'fx-loop';
    let n = 0;
    let bytes = 0;
    const onMsg = (msg, buffers) => {
      let b = 0;
      for (const x of buffers || []) b += x.byteLength;
      n += 1;
      bytes += b;
      if (Array.isArray(window.__fxLoopLog)) window.__fxLoopLog.push({t: performance.timeOrigin + performance.now(), n, bytes: b});
      el.setAttribute('data-n', String(n));
      el.setAttribute('data-bytes', String(bytes));
    };
    model.on('msg:custom', onMsg);
    el.setAttribute('data-n', '0');
    return () => model.off('msg:custom', onMsg);
  },
};
"""


def _setup_cells(builds: dict[str, str] | None = None) -> list[str]:
    # One subclass per extra build of the page code: the same widget, another `_esm` (variants named by build).
    extra = "".join(
        f"class _Heatmap_{i}(_AH):\n    _esm = pathlib.Path({path!r})  # build {name!r}\n"
        for i, (name, path) in enumerate((builds or {}).items()))
    return [
        "import pathlib\n"
        "from fxwidgets.widgets.affinity_heatmap import AffinityHeatmap as _AH\n" + extra +
        "import time, gc, threading\n"
        "import numpy as np, anywidget\n"
        "from IPython.display import display\n"
        "import fxwidgets as fx\n"
        "from fxwidgets.testing import slow_affinity_job\n"
        f"LOOP_ESM = {LOOP_ESM!r}\n"
        "class _Loop(anywidget.AnyWidget):\n"
        "    _esm = LOOP_ESM\n"
        "def _instrument(view):\n"
        "    # kernel-side time of every tile message: (send called, send returned, payload bytes)\n"
        "    log, send = [], view._send_message\n"
        "    def timed(content, buffers):\n"
        "        t = time.time(); send(content, buffers)\n"
        "        log.append((t, time.time(), sum(memoryview(b).nbytes for b in (buffers or []))))\n"
        "    view._send_message = timed\n"
        "    return log\n"
        "def _loop_send(w, sizes, cols):\n"
        "    # the view's messages, same sizes and the same JSON shape, back to back from a thread like the view's\n"
        "    payload = memoryview(np.ones(max(sizes) // 4 + 1, dtype=np.float32)).cast('B')\n"
        "    log = []\n"
        "    def run():\n"
        "        for i, nb in enumerate(sizes):\n"
        "            content = {'type': 'tile', 'r0': i, 'c0': 0,\n"
        "                       'data': {'$array': 0, 'dtype': 'float32', 'shape': [nb // (4 * cols), cols]}}\n"
        "            t = time.time(); w.send(content, buffers=[payload[:nb]]); log.append((t, time.time(), nb))\n"
        "    th = threading.Thread(target=run, daemon=True); th.start()\n"
        "    return log, th\n"
        # warm up torch kernels and the widget bundle (the first render loads the ES module)
        "_w = slow_affinity_job(n=256, delay=0.0, chunk_size=64)\n"
        "_w.wait(60)\n"
        "_wv = _w.show()\n"
        "_wv",
        "_lw0 = _Loop(); _lw0",
    ]


# ---------------------------------------------------------------------------------------------------- CPU
def _proc_tree(pid: int) -> list:
    import psutil

    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu_snapshot(server, browser_root: int, driver_pid: int | None) -> dict[str, float]:
    """CPU seconds (user + system) so far, by role. Processes that ended in between are not counted."""
    import psutil

    out: dict[str, float] = {}

    def add(key: str, p) -> None:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[key] = out.get(key, 0.0) + t.user + t.system

    if server.proc is not None:
        tree = _proc_tree(server.proc.pid)
        for p in tree:
            add("server" if p.pid == server.proc.pid else "kernel", p)
    for p in _proc_tree(browser_root):
        if driver_pid is not None and p.pid == driver_pid:
            add("playwright driver", p)
            continue
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.cmdline())
            add("chromium renderer" if "--type=renderer" in cmd else "chromium other", p)
    return out


def _cpu_delta(a: dict, b: dict) -> dict[str, float]:
    return {k: round(b.get(k, 0.0) - a.get(k, 0.0), 3) for k in sorted(set(a) | set(b))}


# ---------------------------------------------------------------------------------------------------- sessions
class Session:
    """One browser (one driver) with the benchmark notebook open on its own kernel."""

    def __init__(self, driver: str, server, notebook: str, console: list[str], builds: dict[str, str] | None = None):
        self.driver, self.server, self.nb, self.console = driver, server, notebook, console
        self._pw = self._browser = self._cdp_browser = None
        self.pids: list[int] = []
        self.driver_pid: int | None = None
        if driver == "playwright":
            import psutil
            from playwright.sync_api import sync_playwright

            before = {p.pid for p in psutil.Process().children()}
            self._pw = sync_playwright().start()
            node = [p for p in psutil.Process().children() if p.pid not in before]
            self.driver_pid = node[0].pid if node else None
            self._browser, self.pids = lab.launch_browser(self._pw)
            self.page = lab.new_page(self._browser, console)
            self.page.context.add_init_script(WS_TAP_JS)
            self.cdp = self.page.context.new_cdp_session(self.page)
            self.root_pid = self.driver_pid or (self.pids[0] if self.pids else 0)
        elif driver == "cdp":
            from cdp_page import CdpBrowser

            self._cdp_browser = CdpBrowser(lab.require_chromium(), lab.CHROMIUM_ARGS)
            self.pids = self._cdp_browser.pids
            for pid in self.pids:
                lab.record_pid(pid, "chromium (cdp)")
            self.page = self._cdp_browser.page
            self.page.add_init_script(WS_TAP_JS)
            self.cdp = self.page
            self.root_pid = self._cdp_browser.proc.pid
        else:
            raise ValueError(f"driver must be one of {DRIVERS}, got {driver!r}")
        self.builds = list(builds or {})
        server.put_notebook(notebook, _setup_cells(builds))
        lab.open_notebook(self.page, server.base_url, notebook, timeout_ms=120_000)
        lab.run_all(self.page, notebook, timeout_ms=180_000)
        warm_id = lab.run_cell_json(self.page, "_wv.model_id")
        warm_nth = lab.widget_element_index(self.page, notebook, warm_id, ROOT, 60_000)
        lab.wait_attr(self.page, ROOT, "data-status", "v === 'done'", 60_000, nth=warm_nth)
        lab.evaluate_async(self.page, OBSERVER_JS, None, 5_000)
        self.protocols = lab.evaluate_async(self.page, RESET_JS, None, 5_000)

    def cpu(self) -> dict[str, float]:
        return _cpu_snapshot(self.server, self.root_pid, self.driver_pid)

    def close(self) -> None:
        try:
            if self._browser is not None:
                with contextlib.suppress(Exception):
                    self.page.context.close()
                with contextlib.suppress(Exception):
                    self._browser.close()
            if self._pw is not None:
                with contextlib.suppress(Exception):
                    self._pw.stop()
            if self._cdp_browser is not None:
                self._cdp_browser.close()
        finally:
            lab.kill_pids(self.pids)


# ---------------------------------------------------------------------------------------------------- profiles
def _match_frames(sizes: list[int], frames: list[dict]) -> list[float | None]:
    """Arrival time of each kernel message: the next websocket frame at least as large as its payload."""
    out: list[float | None] = []
    i = 0
    for nb in sizes:
        while i < len(frames) and not (nb <= frames[i]["n"] <= nb + 65536):
            i += 1
        out.append(frames[i]["t"] / 1000 if i < len(frames) else None)
        i += 1
    return out


def _stages(t0: float, klog: list, arrivals: list, prof: list, t_done: float) -> dict:
    """Where the time of one transfer went, in seconds from t0 (the kernel's start)."""
    tiles = [e for e in prof if e["what"] == "tile"]
    paints = [e for e in prof if e["what"] == "paint"]
    lat = [a - k[0] for k, a in zip(klog, arrivals) if a is not None]
    handled = [tiles[i]["t0"] / 1000 - a for i, a in enumerate(arrivals) if a is not None and i < len(tiles)]
    # Paint time that fell inside the transfer (the page's one main thread could not handle messages meanwhile).
    in_transfer = [p for p in paints if p["t0"] / 1000 < t_done]
    r = {
        "first_send_s": round(klog[0][0] - t0, 4) if klog else None,
        "last_send_returned_s": round(klog[-1][1] - t0, 4) if klog else None,
        "kernel_send_calls_s": round(sum(b - a for a, b, _ in klog), 4),
        "first_arrival_s": round(arrivals[0] - t0, 4) if arrivals and arrivals[0] else None,
        "last_arrival_s": round(arrivals[-1] - t0, 4) if arrivals and arrivals[-1] else None,
        "done_s": round(t_done - t0, 4),
        "send_to_arrival_median_s": round(statistics.median(lat), 4) if lat else None,
        "send_to_arrival_max_s": round(max(lat), 4) if lat else None,
        "arrival_to_view_handler_median_ms": round(1000 * statistics.median(handled), 2) if handled else None,
        "tile_apply_ms": round(sum(e["t1"] - e["t0"] for e in tiles), 2),
        "paints_in_transfer": len(in_transfer),
        "paint_ms_in_transfer": round(sum(e["t1"] - e["t0"] for e in in_transfer), 2),
        "paint_color_ms": round(sum(e.get("color_ms", 0) for e in in_transfer), 2),
        "paint_scale_ms": round(sum(e.get("scale_ms", 0) for e in in_transfer), 2),
        "full_recolors_in_transfer": sum(1 for e in in_transfer if e.get("full")),
    }
    return r


def _paint_log(t0: float, prof: list) -> list[dict]:
    """Each paint: when (s from t0), how long (ms), rows coloured, full recolour or not, rough (streaming) or not."""
    return [{"at_s": round(e["t0"] / 1000 - t0, 3), "ms": round(e["t1"] - e["t0"], 1), "rows": e.get("rows"),
             "full": e.get("full"), "rough": e.get("rough")} for e in prof if e["what"] == "paint"]


def _categorize_profile(profile: dict, top: int = 12) -> dict:
    """V8 CPU profile -> self time (ms) by origin of the code, and the hottest functions."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent: dict[int, int] = {}
    for n in profile["nodes"]:
        for c in n.get("children", []):
            parent[c] = n["id"]

    def origin(nid: int) -> str:
        seen = 0
        while nid is not None and seen < 200:
            fr = nodes[nid]["callFrame"]
            name, url = fr.get("functionName", ""), fr.get("url", "")
            if name in ("(idle)", "(garbage collector)", "(program)", "(root)"):
                return name
            if url:
                if url.startswith("blob:"):
                    return "widget ES modules (fxwidgets view / loopback)"
                if "jupyter-widgets" in url or "jupyterlab-manager" in url:
                    return "ipywidgets manager"
                if "anywidget" in url:
                    return "anywidget"
                if "/static/" in url:
                    return "JupyterLab"
                return url.rsplit("/", 1)[-1][:40]
            nid = parent.get(nid)
            seen += 1
        return "(native, no JS caller)"

    samples, deltas = profile.get("samples", []), profile.get("timeDeltas", [])
    by_origin: dict[str, float] = {}
    by_fn: dict[str, float] = {}
    for i, nid in enumerate(samples):
        dt = (deltas[i + 1] if i + 1 < len(deltas) else 0) / 1000.0  # ms the sample stood for
        o = origin(nid)
        by_origin[o] = by_origin.get(o, 0.0) + dt
        fr = nodes[nid]["callFrame"]
        key = f"{fr.get('functionName') or '(anonymous)'} [{o}]"
        by_fn[key] = by_fn.get(key, 0.0) + dt
    hot = sorted(by_fn.items(), key=lambda kv: -kv[1])[:top]
    return {"by_origin_ms": {k: round(v, 1) for k, v in sorted(by_origin.items(), key=lambda kv: -kv[1])},
            "hottest_ms": {k: round(v, 1) for k, v in hot}}


# ---------------------------------------------------------------------------------------------------- variants
def _run_view(s: Session, n: int, chunk_size: int, timeout_ms: int, profile: bool = False,
              build: str | None = None, metric: str = "rbf") -> dict:
    page = s.page
    make = f"_Heatmap_{s.builds.index(build)}.from_job(job)" if build else "job.show()"
    out = lab.run_cell_and_read(
        page,
        f"job = slow_affinity_job(n={n}, delay=0.0, chunk_size={chunk_size}, metric={metric!r}, start=False)\n"
        f"view = {make}; _klog = _instrument(view)\n"
        "display(view)\n"
        "print(view.model_id)",
        timeout_ms=timeout_ms)
    model_id = out.strip().splitlines()[-1]
    nth = lab.widget_element_index(page, s.nb, model_id, ROOT, timeout_ms)
    lab.wait_attr(page, ROOT, "data-status", "v === 'running'", 60_000, nth=nth)
    lab.evaluate_async(page, RESET_JS, None, 5_000)
    if profile:
        _profiler_start(s)
    cpu0 = s.cpu()
    lab.run_cell_and_read(page, "_t0 = time.time()\njob.start()\nprint('started')", timeout_ms=timeout_ms)
    lab.wait_attr(page, ROOT, "data-status", "v === 'done' || v === 'error' || v === 'cancelled'", timeout_ms,
                  nth=nth)
    k = lab.run_cell_json(
        page, "{'t0': _t0, 'messages': view.messages_sent, 'bytes': view.bytes_sent, 'status': job.status, "
              "'klog': _klog}", setup="job.wait(60)")
    assert k["status"] == "done", k
    tiles = lab.wait_attr(page, ROOT, "data-tiles", f"Number(v) >= {k['messages']}", 60_000, nth=nth)
    cpu1 = s.cpu()
    cpu_prof = _profiler_stop(s) if profile else None
    log = lab.evaluate_async(page, READ_LOG_JS, nth, 5_000)
    logs = lab.evaluate_async(page, COLLECT_JS, None, 10_000)
    done = [e for e in log if e["status"] == "done" and e["tiles"] >= k["messages"]]
    if not done:
        raise AssertionError(f"no log entry with status done and {k['messages']} tiles: {log[-5:]}")
    t_done = done[0]["t"] / 1000
    elapsed = t_done - k["t0"]
    sizes = [nb for _, _, nb in k["klog"]]
    arrivals = _match_frames(sizes, logs["ws"])
    rec = {
        "variant": build or "view", "driver": s.driver, "seconds": round(elapsed, 4), "messages": k["messages"],
        "bytes": k["bytes"], "view_tiles": int(tiles), "MB_per_s": round(k["bytes"] / elapsed / 1e6, 2),
        "sizes": sizes, "stages": _stages(k["t0"], k["klog"], arrivals, logs["prof"], t_done),
        "cpu_s": _cpu_delta(cpu0, cpu1), "draws": log[-1]["draws"] if log else None,
        "paints": _paint_log(k["t0"], logs["prof"]),
    }
    if cpu_prof is not None:
        rec["cpu_profile"] = cpu_prof
    lab.run_cell_and_read(page, "view.close(); del view, job; gc.collect(); print('ok')")
    return rec


def _run_loop(s: Session, sizes: list[int], cols: int, timeout_ms: int, profile: bool = False) -> dict:
    page = s.page
    out = lab.run_cell_and_read(page, "lw = _Loop(); display(lw); print(lw.model_id)", timeout_ms=timeout_ms)
    model_id = out.strip().splitlines()[-1]
    nth = lab.widget_element_index(page, s.nb, model_id, LOOP_ROOT, timeout_ms)
    lab.evaluate_async(page, RESET_JS, None, 5_000)
    if profile:
        _profiler_start(s)
    cpu0 = s.cpu()
    lab.run_cell_and_read(page, f"_t0 = time.time()\n_llog, _lth = _loop_send(lw, {sizes!r}, {cols})\nprint('ok')",
                          timeout_ms=timeout_ms)
    lab.wait_attr(page, LOOP_ROOT, "data-n", f"Number(v) >= {len(sizes)}", timeout_ms, nth=nth)
    cpu1 = s.cpu()
    cpu_prof = _profiler_stop(s) if profile else None
    k = lab.run_cell_json(page, "{'t0': _t0, 'klog': _llog}", setup="_lth.join(60)")
    logs = lab.evaluate_async(page, COLLECT_JS, None, 10_000)
    got = [e for e in logs["loop"] if e["n"] >= len(sizes)]
    if not got:
        raise AssertionError(f"loopback: the page logged {len(logs['loop'])} of {len(sizes)} messages")
    t_done = got[0]["t"] / 1000
    elapsed = t_done - k["t0"]
    total = sum(sizes)
    arrivals = _match_frames(sizes, logs["ws"])
    rec = {
        "variant": "loopback", "driver": s.driver, "seconds": round(elapsed, 4), "messages": len(sizes),
        "bytes": total, "MB_per_s": round(total / elapsed / 1e6, 2),
        "stages": _stages(k["t0"], k["klog"], arrivals, [], t_done), "cpu_s": _cpu_delta(cpu0, cpu1),
    }
    if cpu_prof is not None:
        rec["cpu_profile"] = cpu_prof
    lab.run_cell_and_read(page, "lw.close(); del lw; gc.collect(); print('ok')")
    return rec


def _profiler_start(s: Session) -> None:
    s.cdp.send("Profiler.enable")
    s.cdp.send("Profiler.setSamplingInterval", {"interval": 250})
    s.cdp.send("Profiler.start")


def _profiler_stop(s: Session) -> dict:
    prof = s.cdp.send("Profiler.stop")["profile"]
    s.cdp.send("Profiler.disable")
    return _categorize_profile(prof)


# ---------------------------------------------------------------------------------------------------- run
def _split(total: int, mib: float, row_bytes: int) -> list[int]:
    """``total`` bytes as messages of about ``mib`` MiB, whole rows each (the last one smaller)."""
    per = max(row_bytes, int(mib * 2**20) // row_bytes * row_bytes)
    return [min(per, total - a) for a in range(0, total, per)]


def _median(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 4) if xs else None


def _summarise(recs: list[dict]) -> dict:
    keys = sorted({k for r in recs for k in r["stages"]})
    cpu_keys = sorted({k for r in recs for k in r["cpu_s"]})
    return {
        "reps": len(recs),
        "median_MB_per_s": _median([r["MB_per_s"] for r in recs]),
        "MB_per_s": [r["MB_per_s"] for r in recs],
        "median_seconds": _median([r["seconds"] for r in recs]),
        "messages": [r["messages"] for r in recs],
        "stages_median": {k: _median([r["stages"].get(k) for r in recs]) for k in keys},
        "cpu_s_median": {k: _median([r["cpu_s"].get(k) for r in recs]) for k in cpu_keys},
    }


def run(n: int = 4096, reps: int = 3, chunk_size: int = 256, timeout_s: float = 240.0,
        drivers: tuple[str, ...] = DRIVERS, cpu_profile: bool = False, loopback: bool = True,
        builds: dict[str, str] | None = None, loop_mib: tuple[float, ...] = (), metric: str = "rbf") -> dict:
    lab.require_chromium()
    art = lab.artifacts_dir()
    server = lab.LabServer(artifacts=art).start()
    sessions: dict[str, Session] = {}
    records: list[dict] = []
    tmo = int(timeout_s * 1000)
    console: list[str] = []
    try:
        for d in drivers:
            sessions[d] = Session(d, server, f"bench_streaming_{d}.ipynb", console, builds)
        first = sessions[drivers[0]]
        # Compute alone (no view), for reference: what the transport adds on top of it.
        compute_s = lab.run_cell_json(
            first.page, "round(_dt, 4)",
            setup=f"_j = slow_affinity_job(n={n}, delay=0.0, chunk_size={chunk_size}, metric={metric!r}, "
                  "start=False)\n"
                  "_t = time.perf_counter(); _j.start(); _j.wait(120); _dt = time.perf_counter() - _t\n"
                  "assert _j.status == 'done', _j",
        )
        # Message sizes for the first loopback: a dry run of the view on each driver (also a warm-up).
        sizes = {d: _run_view(s, n, chunk_size, tmo, metric=metric)["sizes"] for d, s in sessions.items()}
        builds = builds or {}
        variants = (["view"] + (["loopback"] if loopback else []) + list(builds)
                    + [f"loopback@{m:g}MiB" for m in loop_mib])
        for rep in range(reps):
            for d in (drivers if rep % 2 == 0 else drivers[::-1]):
                s = sessions[d]
                order = variants[rep % len(variants):] + variants[:rep % len(variants)]  # rotate: A,B,C / B,C,A
                for v in order:
                    if v == "loopback":
                        r = _run_loop(s, sizes[d], n, tmo)
                    elif v.startswith("loopback@"):
                        r = _run_loop(s, _split(sum(sizes[d]), float(v[9:-3]), 4 * n), n, tmo)
                        r["variant"] = v
                    else:
                        r = _run_view(s, n, chunk_size, tmo, build=v if v in builds else None, metric=metric)
                        if v == "view":
                            sizes[d] = r["sizes"]
                    r["rep"] = rep
                    records.append(r)
                    st = r["stages"]
                    print(f"  rep {rep} {d:10s} {v:8s}: {r['seconds']:.3f} s, {r['messages']} messages, "
                          f"{r['bytes'] / 2**20:.1f} MiB -> {r['MB_per_s']:.1f} MB/s | first send "
                          f"{st['first_send_s']} s, last arrival {st['last_arrival_s']} s, done {st['done_s']} s, "
                          f"apply {st['tile_apply_ms']} ms, {st['paints_in_transfer']} paints "
                          f"{st['paint_ms_in_transfer']} ms | cpu {r['cpu_s']}", flush=True)
        profiles = []
        if cpu_profile:
            for d, s in sessions.items():
                profiles.append(_run_view(s, n, chunk_size, tmo, profile=True, metric=metric))
                for b in builds:
                    profiles.append(_run_view(s, n, chunk_size, tmo, profile=True, build=b, metric=metric))
                if loopback:
                    profiles.append(_run_loop(s, sizes[d], n, tmo, profile=True))
            for p in profiles:
                print(f"  cpu profile {p['driver']} {p['variant']} ({p['seconds']:.2f} s under the profiler): "
                      f"{p['cpu_profile']['by_origin_ms']}", flush=True)
                print(f"      hottest: {p['cpu_profile']['hottest_ms']}", flush=True)
        with contextlib.suppress(Exception):
            nth = lab.evaluate_async(sessions[drivers[0]].page,
                                     "return document.querySelectorAll('div.fx-heatmap').length - 1;", None, 5_000)
            if drivers[0] == "playwright":
                sessions[drivers[0]].page.locator(ROOT).nth(nth).screenshot(path=str(art / "bench_streaming.png"))
        protocols = {d: s.protocols for d, s in sessions.items()}
        raster = {d: lab.evaluate_async(s.page, RASTER_JS, None, 60_000) for d, s in sessions.items()}
    finally:
        for s in sessions.values():
            with contextlib.suppress(Exception):
                s.close()
        (art / "bench_console.log").write_text("\n".join(console) + "\n")
        server.stop()

    summary: dict = {
        "n": n, "metric": metric, "chunk_size": chunk_size, "reps": reps, "matrix_MiB": n * n * 4 / 2**20,
        "compute_only_seconds": compute_s, "websocket_protocols": protocols, "note": PITFALL,
        "rescale_4096_ms": raster,
        "drivers": {}, "runs": records, "cpu_profiles": profiles,
    }
    for d in drivers:
        summary["drivers"][d] = {
            v: _summarise([r for r in records if r["driver"] == d and r["variant"] == v])
            for v in ("view", "loopback", *(builds or {}), *(f"loopback@{m:g}MiB" for m in loop_mib)) if any(r["driver"] == d and r["variant"] == v for r in records)
        }
    headline = summary["drivers"].get("cdp", summary["drivers"][drivers[0]])["view"]
    summary["median_MB_per_s"] = headline["median_MB_per_s"]
    summary["median_seconds"] = headline["median_seconds"]
    (art / "bench_streaming.json").write_text(json.dumps(summary, indent=2))
    return summary


def rows(n: int = 4096, reps: int = 3, chunk_size: int = 256) -> list[Row]:
    """End-to-end seconds against computing the same matrix with no view (ratio: the share of the end-to-end time
    the compute takes); every repetition checks that the view applied every tile the kernel sent."""
    s = run(n=n, reps=reps, chunk_size=chunk_size)
    d = s["drivers"]
    note = "; ".join(
        f"{drv}: view {d[drv]['view']['median_MB_per_s']:.1f} MB/s, bare loopback "
        f"{d[drv].get('loopback', {}).get('median_MB_per_s') or float('nan'):.1f} MB/s" for drv in d)
    return [Row("streaming", "rbf affinity job -> AffinityHeatmap in JupyterLab", "the same job, no view",
                f"{n}x{n} float32 ({s['matrix_MiB']:.0f} MiB)", s["median_seconds"], s["compute_only_seconds"],
                1.0, "tiles applied / sent",
                note=note + " (cdp = a plain browser; playwright taps every websocket frame)")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=4096, help="matrix side (default 4096: 64 MiB of float32)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--chunk-size", type=int, default=256, help="rows per computed tile")
    p.add_argument("--metric", default="rbf", choices=("rbf", "cosine", "dot", "neg_sq_euclidean", "pearson"),
                   help="the job's metric (rbf and cosine have fixed colour limits; dot and neg_sq_euclidean take "
                        "them from the data, which grow as tiles arrive)")
    p.add_argument("--drivers", default=",".join(DRIVERS), help="comma-separated: cdp (a plain browser), playwright")
    p.add_argument("--no-loopback", action="store_true", help="time the view only")
    p.add_argument("--build", action="append", default=[], metavar="NAME=JS",
                   help="one more variant NAME: the same widget with another build JS of js/affinity_heatmap.ts "
                        "(e.g. the main branch's), interleaved with the others: a before/after of page code in one "
                        "run; repeatable")
    p.add_argument("--loop-mib", default="",
                   help="comma-separated message sizes in MiB: one more loopback variant each, the same total "
                        "bytes split into messages of that size (what message size costs the transport)")
    p.add_argument("--cpu-profile", action="store_true",
                   help="one more (untimed) repetition per driver and variant under the V8 sampling profiler")
    a = p.parse_args(argv)
    clash = [b for b in a.build if "=" not in b or b.split("=", 1)[0] in ("view", "loopback", "")]
    if clash:
        p.error(f"--build: give NAME=JS with a NAME other than view/loopback, got {clash}")
    drivers = tuple(x.strip() for x in a.drivers.split(",") if x.strip())
    bad = [x for x in drivers if x not in DRIVERS]
    if bad or not drivers:
        p.error(f"--drivers: unknown {bad}; choose from {DRIVERS}")
    print(f"bench_streaming: {a.n}x{a.n} float32 {a.metric} affinity streamed to an AffinityHeatmap in JupyterLab "
          f"(headless Chromium), {a.reps} reps, drivers {', '.join(drivers)}", flush=True)
    s = run(n=a.n, reps=a.reps, chunk_size=a.chunk_size, drivers=drivers, cpu_profile=a.cpu_profile,
            loopback=not a.no_loopback,
            builds={b.split("=", 1)[0]: str(Path(b.split("=", 1)[1]).resolve()) for b in a.build},
            loop_mib=tuple(float(x) for x in a.loop_mib.split(",") if x.strip()), metric=a.metric)
    print(PITFALL)
    print(f"websocket subprotocols negotiated: {s['websocket_protocols']}")
    print(f"compute alone {s['compute_only_seconds']:.2f} s")
    for d, r in s["rescale_4096_ms"].items():
        print(f"rescale of a 4096x4096 grid onto a 640x640 canvas [{d}]: high-quality smoothing {r['high_ms']:.1f} ms "
              f"{[round(x, 1) for x in r['high_range_ms']]}, low {r['low_ms']:.1f} ms "
              f"{[round(x, 1) for x in r['low_range_ms']]}")
    for d, vs in s["drivers"].items():
        for v, x in vs.items():
            print(f"bench_streaming [{d} {v}]: median {x['median_MB_per_s']} MB/s (reps {x['MB_per_s']}), "
                  f"{x['median_seconds']} s, messages {x['messages']}")
            print(f"    stages (median, s from start / ms): {x['stages_median']}")
            print(f"    cpu seconds (median): {x['cpu_s_median']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
