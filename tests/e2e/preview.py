"""Render a view's built bundle in headless Chromium with an in-page stand-in for the widget model (no Jupyter,
no kernel) and take screenshots at several widths: a fast loop for looking at a view while changing its drawing.

    python tests/e2e/preview.py heatmap [--widths 400,900] [--out artifacts/preview]

Each scenario below is a JS function body that receives ``fake`` (helpers to build traits and answer requests)
and returns ``{bundle, traits, answer(method, args) -> result | [result, messages]}``. Measured for every width:
the view root's scrollWidth vs clientWidth (nothing may stick out), written next to the PNGs in ``report.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402

STATIC = lab.REPO_ROOT / "fxwidgets" / "static"

# The stand-in model: get/set/on/off/send/save_changes over a plain object, requests answered by the scenario,
# arrays packed as the codec does ({"$array": i, dtype, shape} + binary buffers).
HOST_JS = r"""
async ({code, scenario, width, name}) => {
  const pack = (obj, buffers) => {
    if (obj instanceof Float32Array || obj instanceof Uint8Array || obj instanceof Int32Array) {
      throw new Error('pack typed arrays with fake.array(data, shape)');
    }
    if (obj && obj.__array) {
      buffers.push(new DataView(obj.data.buffer, obj.data.byteOffset, obj.data.byteLength));
      return {"$array": buffers.length - 1, dtype: obj.dtype, shape: obj.shape};
    }
    if (Array.isArray(obj)) return obj.map(x => pack(x, buffers));
    if (obj && typeof obj === 'object' && !(obj instanceof DataView)) {
      const out = {}; for (const [k, v] of Object.entries(obj)) out[k] = pack(v, buffers); return out;
    }
    return obj;
  };
  const fake = {
    array(data, shape) {
      const dtype = data instanceof Float32Array ? 'float32' : data instanceof Uint8Array ? 'uint8' : 'int32';
      return {__array: true, data, shape, dtype};
    },
    rng(seed) { let s = seed >>> 0; return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; }; },
    bytes(typed) { return new DataView(typed.buffer, typed.byteOffset, typed.byteLength); },
  };
  const sc = await (new Function('fake', 'return (async () => {' + scenario + '})()'))(fake);
  const traits = sc.traits;
  const listeners = new Map();
  const emit = (ev, ...a) => (listeners.get(ev) || []).slice().forEach(cb => cb(...a));
  window.__sent = [];
  const model = {
    get: (k) => traits[k],
    set: (k, v) => { traits[k] = v; emit('change:' + k); },
    save_changes: () => {},
    on: (ev, cb) => { if (!listeners.has(ev)) listeners.set(ev, []); listeners.get(ev).push(cb); },
    off: (ev, cb) => { const l = listeners.get(ev); if (l) { const i = l.indexOf(cb); if (i >= 0) l.splice(i, 1); } },
    send: (content, _cb, buffers) => {
      window.__sent.push({content, nbuffers: (buffers || []).length, bytes: (buffers || []).map(b => b.byteLength)});
      if (content && content.type === 'request') setTimeout(async () => {
        let res = sc.answer ? await sc.answer(content.method, content.args, model) : null;
        let msgs = [];
        if (Array.isArray(res) && res.length === 2 && Array.isArray(res[1]) && res.__withMessages) { msgs = res[1]; res = res[0]; }
        if (res && res.__messages) { msgs = res.__messages; res = res.result; }
        for (const m of msgs) { const b = []; const c = pack(m, b); emit('msg:custom', c, b); }
        const b = []; const result = pack(res === undefined ? null : res, b);
        emit('msg:custom', {type: 'response', id: content.id, ok: res !== null || content.method === 'cancel', result,
                            error: res === null ? 'no answer in this scenario' : undefined}, b);
      }, 5);
    },
    widget_manager: {},
  };
  window.__model = model;
  const host = document.createElement('div');
  host.id = 'host';
  host.style.width = width + 'px';
  host.style.padding = '8px';
  host.style.boxSizing = 'content-box';
  document.body.appendChild(host);
  const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
  const mod = await import(url);
  const def = mod.default;
  const view = typeof def === 'function' ? await def() : def;
  window.__cleanup = view.render({model, el: host});
  return true;
}
"""

SCENARIOS: dict[str, str] = {}

SCENARIOS["heatmap"] = r"""
const n = 60, labels = [];
for (let i = 0; i < n; i++) labels.push(['cat', 'dog', 'bird', 'fish'][Math.floor(i / 15)]);
const m = new Float32Array(n * n);
const r = fake.rng(1);
for (let i = 0; i < n; i++) for (let j = 0; j < n; j++)
  m[i * n + j] = (labels[i] === labels[j] ? 0.7 : 0.1) + 0.25 * r() + (i === j ? 0.3 : 0);
return {
  bundle: 'affinity_heatmap',
  traits: {shape: [n, n], display_shape: [n, n], block: [1, 1], row_labels: labels, col_labels: labels,
           cmap: 'viridis', vmin: null, vmax: null, title: 'cosine affinity, sorted by class', value_label: 'cosine',
           progress: 1, status: 'done', error: '', selection: {rows: [], cols: []}},
  answer: (method, args) => method === 'snapshot'
    ? {result: {tiles: 1, rows: n}, __messages: [{type: 'tile', r0: 0, c0: 0, data: fake.array(m, [n, n])}]}
    : method === 'cell' ? {row: args.row, col: args.col, value: m[args.row * n + args.col]} : null,
};
"""

SCENARIOS["heatmap_big"] = r"""
const n = 1797, h = 599, labels = [];
for (let i = 0; i < n; i++) labels.push(String(Math.floor(i / 180)));
const m = new Float32Array(h * h);
const r = fake.rng(2);
for (let i = 0; i < h; i++) for (let j = 0; j < h; j++)
  m[i * h + j] = (Math.floor(i * 3 / 180) === Math.floor(j * 3 / 180) ? 0.6 : 0.1) + 0.3 * r();
return {
  bundle: 'affinity_heatmap',
  traits: {shape: [n, n], display_shape: [h, h], block: [3, 3], row_labels: labels, col_labels: labels,
           cmap: 'magma', vmin: null, vmax: null, title: 'digits, 1797 x 1797 (block means)', value_label: 'rbf',
           progress: 1, status: 'done', error: '', selection: {rows: [30, 31, 32], cols: [300, 301, 302]}},
  answer: (method, args) => method === 'snapshot'
    ? {result: {tiles: 1, rows: h}, __messages: [{type: 'tile', r0: 0, c0: 0, data: fake.array(m, [h, h])}]}
    : method === 'cell' ? {row: args.row, col: args.col, value: 0.5} : null,
};
"""


def render(page, name: str, width: int, out: Path, hover: tuple[float, float] | None = None) -> dict:
    scenario = SCENARIOS[name]
    bundle_name = None
    # the scenario names its bundle; read it by evaluating the scenario's return value's `bundle` in page
    page.goto("about:blank")
    page.set_viewport_size({"width": max(1300, width + 40), "height": 1000})
    page.set_content("<html><body style='margin:0;font-family:sans-serif;background:#fff'></body></html>")
    bundle_name = page.evaluate(
        "async (s) => (await (new Function('fake', 'return (async () => {' + s + '})()'))("
        "{array: (d, s) => ({}), rng: () => () => 0.5, bytes: (x) => x})).bundle", scenario)
    code = (STATIC / f"{bundle_name}.js").read_text()
    page.evaluate(HOST_JS, {"code": code, "scenario": scenario, "width": width, "name": name})
    page.wait_for_timeout(600)
    if hover:
        box = page.locator("#host canvas").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * hover[0], box["y"] + box["height"] * hover[1])
        page.wait_for_timeout(300)
    dims = page.evaluate("() => { const r = document.querySelector('#host .fx-root');"
                         " return {scrollWidth: r.scrollWidth, clientWidth: r.clientWidth,"
                         " hostScroll: document.querySelector('#host').scrollWidth,"
                         " sent: window.__sent.map(s => s.content.type + ':' + (s.content.method || ''))}; }")
    path = out / f"{name}-{width}{'-hover' if hover else ''}.png"
    page.locator("#host").screenshot(path=str(path))
    dims["png"] = str(path)
    return dims


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=sorted(SCENARIOS))
    ap.add_argument("--widths", default="400,900")
    ap.add_argument("--out", default=str(lab.REPO_ROOT / "artifacts" / "preview"))
    ap.add_argument("--hover", default="")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    report = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=lab.require_chromium(), args=lab.CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        console: list[str] = []
        page.on("console", lambda m: console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: console.append(f"[pageerror] {e}"))
        for name in args.names:
            for w in [int(x) for x in args.widths.split(",")]:
                hover = tuple(float(v) for v in args.hover.split(",")) if args.hover else None
                report[f"{name}-{w}"] = render(page, name, w, out, hover)
        browser.close()
    report["console"] = console
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
