"""Scatter in headless Chromium: time to first frame and time per frame while panning, at 10^5 and 10^6 points,
for fxwidgets' Scatter view next to bare regl-scatterplot (the library it draws with, as jupyter-scatter does).

Both run in the same page setup, on the same points (a seeded mixture of 10 Gaussian blobs, coloured by blob):

- **view**: the built bundle ``fxwidgets/static/scatter.js`` rendered with an in-page stand-in for the widget model
  (no Jupyter, no kernel: what is timed is the view's own work). Its ``snapshot`` request is answered at once with
  the ``points`` (float32) and ``codes`` (int32) messages, exactly as the kernel sends them.
- **bare**: regl-scatterplot bundled from ``node_modules`` the same way, drawn with ``draw([[x, y, code, 0], ...])``
  at the same canvas size and point size.

Timed:

- *first frame*: from nothing on the page to the first frame on the canvas. View: from ``render()`` to
  ``data-ready`` (creating the WebGL context, laying out axes and legend, decoding the messages, building the point
  arrays, the spatial index and drawing); bare: from creating the renderer and the plot to ``draw()`` resolving.
- *pan frame*: ``zoomToLocation`` to a target moved by 1 % of the view each step (what a drag does) until the
  frame that shows it is drawn; median and 90th percentile over ``--frames`` steps.

Run:   python benchmarks/bench_scatter.py [--sizes 100000,1000000] [--frames 20] [--reps 3]

Caveat: headless Chromium here has no GPU; WebGL runs on SwiftShader, a CPU rasterizer (2 cores on the machine
these figures were taken on). Frame times scale with points x pixels on the CPU, and would be ~two orders of
magnitude lower on any GPU. The ratio view / bare is the figure that carries over.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT_DIR = HERE.parent
sys.path.insert(0, str(ROOT_DIR / "tests" / "e2e"))
import lab  # noqa: E402
from common import Row, bench_parser  # noqa: E402

WIDTH, HEIGHT = 800, 576  # the view's canvas at an 848 px wide output area (its own layout)

# Seeded data, made in the page before anything is timed.
DATA_JS = r"""
({n}) => {
  let s = 12345 >>> 0;
  const r = () => { s = (s * 1664525 + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  const gauss = () => Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  const xy = new Float32Array(2 * n), codes = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 10; codes[i] = c;
    const a = 2 * Math.PI * c / 10;
    xy[2 * i] = 6 * Math.cos(a) + gauss(); xy[2 * i + 1] = 6 * Math.sin(a) + gauss();
  }
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2*i]); x1 = Math.max(x1, xy[2*i]); y0 = Math.min(y0, xy[2*i+1]); y1 = Math.max(y1, xy[2*i+1]);
  }
  window.__data = {n, xy, codes, bounds: [x0, x1, y0, y1]};
  return true;
}
"""

# The view with a stand-in model; resolves with the time to its first frame.
VIEW_JS = r"""
async ({code, size, opacity}) => {
  const {n, xy, codes, bounds} = window.__data;
  const palette = ['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
  const traits = {n_points: n, bounds, aspect: 'equal', classes: palette.map((_, i) => 'c' + i), palette,
    hidden_classes: [], color_by: 'label', has_scores: false, label_name: 'blob', score_name: 'score', cmap: 'viridis',
    vmin: null, vmax: null, point_size: size, opacity, x_label: 'x', y_label: 'y', title: '', has_images: false,
    value_names: [], selection: new DataView(new ArrayBuffer(0)), progress: 1, status: 'done', error: '',
    link_id: '', link_map: new DataView(new ArrayBuffer(0))};
  const listeners = new Map();
  const emit = (ev, ...a) => (listeners.get(ev) || []).slice().forEach(cb => cb(...a));
  const dv = (t) => new DataView(t.buffer, t.byteOffset, t.byteLength);
  const model = {
    get: (k) => traits[k], set: (k, v) => { traits[k] = v; emit('change:' + k); }, save_changes: () => {},
    on: (ev, cb) => { if (!listeners.has(ev)) listeners.set(ev, []); listeners.get(ev).push(cb); },
    off: (ev, cb) => { const l = listeners.get(ev); if (l) { const i = l.indexOf(cb); if (i >= 0) l.splice(i, 1); } },
    send: (content) => {
      if (!content || content.type !== 'request') return;
      queueMicrotask(() => {
        if (content.method === 'snapshot') {
          // what the kernel sends: at most 8 MiB per message
          const rows = (8 * 1024 * 1024) / 8;
          for (let s = 0; s < n; s += rows) {
            const part = xy.subarray(2 * s, 2 * Math.min(n, s + rows));
            emit('msg:custom', {type: 'points', start: s, xy: {$array: 0, dtype: 'float32', shape: [part.length / 2, 2]}}, [dv(part)]);
          }
          emit('msg:custom', {type: 'codes', start: 0, values: {$array: 0, dtype: 'int32', shape: [n]}}, [dv(codes)]);
        }
        emit('msg:custom', {type: 'response', id: content.id, ok: true, result: {rows: n}}, []);
      });
    },
  };
  document.body.innerHTML = '';
  const host = document.createElement('div');
  host.style.width = '848px';
  document.body.appendChild(host);
  const url = URL.createObjectURL(new Blob([code], {type: 'text/javascript'}));
  const view = (await import(url)).default;
  const t0 = performance.now();
  window.__cleanup = view.render({model, el: host});
  const root = host.querySelector('.fx-root');
  while (root.dataset.ready !== 'true') await new Promise(r => setTimeout(r, 2));
  const c = root.querySelector('canvas.fx-scatter-canvas');
  window.__plot = root.fxScatter.plot;
  return {firstFrameMs: performance.now() - t0, width: c.width, height: c.height};
}
"""

BARE_JS = r"""
async ({code, size, opacity, width, height}) => {
  const {n, xy, codes} = window.__data;
  document.body.innerHTML = '';
  const mod = await import(URL.createObjectURL(new Blob([code], {type: 'text/javascript'})));
  const t0 = performance.now();
  const canvas = document.createElement('canvas');
  document.body.appendChild(canvas);
  const renderer = mod.createRenderer();
  renderer.resize(width, height);
  const palette = ['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
  const plot = mod.default({renderer, canvas, width, height, pointSize: size, opacity, colorBy: 'valueA',
                            pointColor: palette, spatialIndexUseWorker: false});
  let x0 = Infinity, x1 = -Infinity;
  for (let i = 0; i < n; i++) { x0 = Math.min(x0, xy[2*i]); x1 = Math.max(x1, xy[2*i]); }
  const s = (x1 - x0) / 2, c = (x1 + x0) / 2;
  const pts = new Array(n);
  for (let i = 0; i < n; i++) pts[i] = [(xy[2*i] - c) / s, xy[2*i+1] / s, codes[i], 0];
  await plot.draw(pts, {zDataType: 'categorical'});
  window.__plot = plot;
  window.__cleanup = () => { plot.destroy(); renderer.destroy(); };
  return {firstFrameMs: performance.now() - t0, width: canvas.width, height: canvas.height};
}
"""

# Pan: move the camera target a little each frame and wait for that frame.
PAN_JS = r"""
async ({frames}) => {
  const plot = window.__plot;
  const cam = plot.get('camera');
  const target = [...cam.target];
  const dist = cam.distance[0] ?? cam.distance;
  const times = [];
  await plot.zoomToLocation(target, dist);  // settle
  for (let k = 1; k <= frames; k++) {
    const t = performance.now();
    await plot.zoomToLocation([target[0] + 0.02 * dist * k, target[1]], dist);
    times.push(performance.now() - t);
  }
  window.__cleanup();
  return times;
}
"""


def build_bare_bundle(out_dir: Path) -> str:
    """regl-scatterplot from node_modules as one ES module (what the view bundles, without the view)."""
    out = out_dir / "regl-scatterplot.bench.js"
    subprocess.run(["npx", "esbuild", "--bundle", "--format=esm", "--minify", "--target=es2020",
                    "--sourcefile=bench-entry.js", f"--outfile={out}"],
                   input='export { default, createRenderer } from "regl-scatterplot";\n', text=True,
                   cwd=ROOT_DIR, check=True, capture_output=True, timeout=120)
    return out.read_text()


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def measure(sizes: list[int], frames: int = 20, reps: int = 3) -> list[dict]:
    """One record per size: first-frame and pan-frame times of the view and of bare regl-scatterplot."""
    view_code = (ROOT_DIR / "fxwidgets" / "static" / "scatter.js").read_text()
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        bare_code = build_bare_bundle(Path(tmp))
        browser = pw.chromium.launch(executable_path=lab.require_chromium(), args=lab.CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        renderer = page.evaluate("() => { const gl = document.createElement('canvas').getContext('webgl');"
                                 " const d = gl && gl.getExtension('WEBGL_debug_renderer_info');"
                                 " return gl ? (d ? gl.getParameter(d.UNMASKED_RENDERER_WEBGL) : 'webgl') : 'none'; }")
        for n in sizes:
            size, opacity = (2.0, 0.3) if n >= 500_000 else (3.0, 0.6)
            row = {"n": n, "webgl": renderer}
            runs = {"view": ([], []), "bare": ([], [])}
            # view and bare alternate, so that a change of load on the machine touches both alike
            for _ in range(reps):
                for kind in ("view", "bare"):
                    page.goto("about:blank")
                    page.evaluate(DATA_JS, {"n": n})
                    if kind == "view":
                        r = lab.evaluate_async(page, f"return await ({VIEW_JS})(arg);",
                                               {"code": view_code, "size": size, "opacity": opacity}, 300_000)
                        row["canvas"] = [r["width"], r["height"]]
                    else:
                        r = lab.evaluate_async(page, f"return await ({BARE_JS})(arg);",
                                               {"code": bare_code, "size": size, "opacity": opacity,
                                                "width": row["canvas"][0], "height": row["canvas"][1]}, 300_000)
                    runs[kind][0].append(r["firstFrameMs"])
                    runs[kind][1].extend(lab.evaluate_async(page, f"return await ({PAN_JS})(arg);",
                                                            {"frames": frames}, 600_000))
            for kind, (firsts, pans) in runs.items():
                row[kind] = {"first_frame_ms": statistics.median(firsts), "first_frame_all": firsts,
                             "pan_frame_median_ms": statistics.median(pans),
                             "pan_frame_p90_ms": percentile(pans, 0.9)}
            row["ratio_first_frame"] = row["view"]["first_frame_ms"] / row["bare"]["first_frame_ms"]
            row["ratio_pan_frame"] = row["view"]["pan_frame_median_ms"] / row["bare"]["pan_frame_median_ms"]
            results.append(row)
            print(json.dumps(row), flush=True)
        browser.close()

    return results


def rows(sizes: list[int] | None = None, frames: int = 20, reps: int = 3) -> list[Row]:
    """Ratios bare / view (the share of the view's time the drawing library's own work takes)."""
    out = []
    for r in measure(sizes or [100_000, 1_000_000], frames, reps):
        v, b = r["view"], r["bare"]
        note = "WebGL on SwiftShader (CPU rasterizer)" if "SwiftShader" in r["webgl"] else f"WebGL {r['webgl']}"
        out.append(Row("scatter", "Scatter first frame", "bare regl-scatterplot", f"{r['n']:,} points",
                       v["first_frame_ms"] / 1e3, b["first_frame_ms"] / 1e3, None, "same points and canvas",
                       note=note))
        out.append(Row("scatter", "Scatter pan frame (median)", "bare regl-scatterplot", f"{r['n']:,} points",
                       v["pan_frame_median_ms"] / 1e3, b["pan_frame_median_ms"] / 1e3, None,
                       "same points and canvas", note=note))
    return out


def main(argv: list[str] | None = None) -> None:
    args = bench_parser(__doc__, sizes=[100_000, 1_000_000], frames=20, reps=3,
                        out=str(lab.artifacts_dir() / "bench_scatter.json")).parse_args(argv)
    # Frame times on a CPU rasterizer follow the machine's load: say what it was.
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average at the start: {load:.1f} on {os.cpu_count()} cores")
    results = measure(args.sizes, args.frames, args.reps)
    print()
    print(f"WebGL renderer: {results[0]['webgl'] if results else '?'} (no GPU: CPU rasterizer)")
    print(f"{'points':>9} | {'first frame: view':>18} {'bare':>8} {'ratio':>6} | {'pan frame (median / p90): view':>31} "
          f"{'bare':>15} {'ratio':>6}")
    for r in results:
        v, b = r["view"], r["bare"]
        print(f"{r['n']:>9,} | {v['first_frame_ms']:>15.0f} ms {b['first_frame_ms']:>5.0f} ms {r['ratio_first_frame']:>6.2f} | "
              f"{v['pan_frame_median_ms']:>20.0f} / {v['pan_frame_p90_ms']:>4.0f} ms {b['pan_frame_median_ms']:>6.0f} / "
              f"{b['pan_frame_p90_ms']:>4.0f} ms {r['ratio_pan_frame']:>6.2f}")
    Path(args.out).write_text(json.dumps({"load_average": load, "cores": os.cpu_count(), "rows": results}, indent=1))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
