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
async ({code, scenario, width, name, pictures}) => {
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
  if (pictures) traits.picture = null;  // the model has a `picture` trait: the view sends its PNG
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
      if (content && content.type === 'snapshot') window.__picture = new Uint8Array(buffers[0]);
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

SCENARIOS["heatmap_linked"] = r"""
// rows 15..29 selected in a linked view (rows, no columns): drawn as a band, the other rows veiled
const n = 60, labels = [];
for (let i = 0; i < n; i++) labels.push(['cat', 'dog', 'bird', 'fish'][Math.floor(i / 15)]);
const m = new Float32Array(n * n);
const r = fake.rng(1);
for (let i = 0; i < n; i++) for (let j = 0; j < n; j++)
  m[i * n + j] = (labels[i] === labels[j] ? 0.7 : 0.1) + 0.25 * r() + (i === j ? 0.3 : 0);
const rows = []; for (let i = 15; i < 30; i++) rows.push(i);
return {
  bundle: 'affinity_heatmap',
  traits: {shape: [n, n], display_shape: [n, n], block: [1, 1], row_labels: labels, col_labels: labels,
           cmap: 'viridis', vmin: null, vmax: null, title: 'rows selected in a linked scatter', value_label: 'cosine',
           progress: 1, status: 'done', error: '', selection: {rows, cols: []}},
  answer: (method, args) => method === 'snapshot'
    ? {result: {tiles: 1, rows: n}, __messages: [{type: 'tile', r0: 0, c0: 0, data: fake.array(m, [n, n])}]}
    : null,
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

SCENARIOS["zoom"] = r"""
const N = 20000, T = 256, levels = 8, groups = 6;
const bounds = []; for (let g = 1; g < groups; g++) bounds.push(Math.round(g * N / groups));
const grp = (r) => Math.min(groups - 1, Math.floor(r * groups / N));
return {
  bundle: 'zoom_heatmap',
  traits: {n: N, tile_size: T, levels, metric: 'cosine', estimate: 'exact at every level', order: 'labels',
           boundaries: bounds, cmap: 'viridis', vmin: null, vmax: null, title: '20k rows', viewport: [0, 0, 0],
           selection: {}, status: 'done', group_labels: ['airplane', 'car', 'bird', 'cat', 'deer', 'dog']},
  answer: (method, args) => {
    if (method === 'tile') {
      const b = 2 ** args.level, rows = Math.min(T, Math.ceil(N / b) - args.ti * T), cols = Math.min(T, Math.ceil(N / b) - args.tj * T);
      const v = new Float32Array(rows * cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
        const r = (args.ti * T + i) * b, c = (args.tj * T + j) * b;
        v[i * cols + j] = (grp(r) === grp(c) ? 0.6 : 0.05) + 0.1 * Math.sin(r * 0.01) * Math.cos(c * 0.013);
      }
      return {level: args.level, ti: args.ti, tj: args.tj, block: b, values: fake.array(v, [rows, cols]), exact: true};
    }
    if (method === 'cell') return {row: args.row, col: args.col, i: args.row, j: args.col, value: 0.5, row_label: '1', col_label: '2'};
    return null;
  },
};
"""

SCENARIOS["pixaff"] = r"""
const B = 3, H = 64, W = 80, gh = 16, gw = 20, D = 16;
const r = fake.rng(3);
const img = new Uint8Array(B * H * W * 4);
for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
  const o = ((b * H + y) * W + x) * 4;
  img[o] = 60 + 120 * (x / W); img[o + 1] = 80 + 100 * (y / H); img[o + 2] = 150 + 40 * b; img[o + 3] = 255;
}
const feats = new Float32Array(B * gh * gw * D);
for (let i = 0; i < feats.length; i++) feats[i] = r() - 0.5;
for (let p = 0; p < B * gh * gw; p++) { let s = 0; for (let d = 0; d < D; d++) s += feats[p * D + d] ** 2; s = Math.sqrt(s);
  for (let d = 0; d < D; d++) feats[p * D + d] /= s; }
const P = 40, matches = new Int32Array(P * 6);
for (let p = 0; p < P; p++) { const b = p % 2; matches.set([b, Math.floor(r() * gh), Math.floor(r() * gw), b + 1, Math.floor(r() * gh), Math.floor(r() * gw)], 6 * p); }
return {
  bundle: 'pixel_affinity',
  traits: {n_images: B, grid: [gh, gw], image_shape: [H, W], path: 'browser', path_reason: 'browser: the unit-norm features (3x320 locations x 16 channels = 0.06 MiB as float32) fit the 8 MiB budget',
           temperature: 0.1, threshold: -1, mode: 'affinity', modes: ['affinity'], show_matches: true, n_matches: P,
           cmap: 'magma', title: 'three frames', captions: ['frame 0', 'frame 1', 'frame 2'], tokens: [], location: [0, 5, 7],
           progress: 1, status: 'done', error: ''},
  answer: (method) => method === 'init' ? {images: fake.array(img, [B, H, W, 4]), matches: fake.array(matches, [P, 6]),
    scores: fake.array(new Float32Array(P), [P]), features: fake.array(feats, [B * gh * gw, D])} : null,
};
"""

SCENARIOS["attr_image"] = r"""
const H = 32, W = 32, r = fake.rng(5);
const bg = new Uint8Array(H * W * 3);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
  const o = 3 * (y * W + x), d = Math.hypot(x - 16, y - 14);
  bg.set(d < 9 ? [220, 120, 40] : [40 + 2 * y, 110, 60 + 3 * x], o);
}
const ig = new Float32Array(H * W), occ = new Float32Array(H * W), cam = new Float32Array(H * W);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
  const d = Math.hypot(x - 16, y - 14);
  ig[y * W + x] = (d < 9 ? 0.8 : -0.2) * (r() - 0.3);
  occ[y * W + x] = Math.exp(-d * d / 60) - 0.3 * Math.exp(-((x - 5) ** 2 + (y - 25) ** 2) / 20);
}
const panels = [
  {method: 'integrated_gradients', title: 'integrated_gradients', status: 'done', progress: 1, gap: 0.0012},
  {method: 'occlusion', title: 'occlusion', status: 'done', progress: 1, done: 49, done_label: 'windows'},
  {method: 'grad_cam', title: 'grad_cam', status: 'done', progress: 1},
];
return {
  bundle: 'attribution_view',
  traits: {kind: 'image', titles: panels.map(p => p.title), shape: [H, W], tokens: [], feature_names: [], target: 2,
           target_names: ['airplane', 'car', 'cat', 'dog'], can_recompute: true, sign: 'all', cmap: 'RdBu_r',
           opacity: 0.7, clip: 99, panels, generation: 1, title: 'Why “cat”?', progress: 1, status: 'done', error: '',
           n_rows: 8, row: 2, row_names: ['', '', 'cat (p = 0.91)']},
  answer: (method) => method === 'snapshot' ? {result: {panels: 3}, __messages: [
    {type: 'background', image: fake.array(bg, [H, W, 3])},
    {type: 'panel', index: 0, generation: 1, values: fake.array(ig, [H, W])},
    {type: 'panel', index: 1, generation: 1, values: fake.array(occ, [H, W])},
    {type: 'panel', index: 2, generation: 1, values: fake.array(cam, [H, W])}]} : null,
};
"""

SCENARIOS["attr_tabular"] = r"""
const names = ['MedInc', 'HouseAge', 'AveRooms', 'AveBedrms', 'Population', 'AveOccup', 'Latitude', 'a rather long feature name here'];
const v = Float32Array.from([0.91, -0.12, 0.33, -0.05, 0.02, -0.41, 0.77, -0.6]);
const panels = [{method: 'shapley_permutation', title: 'shapley_permutation', status: 'done', progress: 1, base_value: 2.07,
                 output: 2.07 + v.reduce((a, b) => a + b, 0), stderr: 0.0123, stderr_history: [0.1, 0.05, 0.03, 0.02, 0.0123],
                 done: 400, done_label: 'permutations', gap: 1e-7}];
return {
  bundle: 'attribution_view',
  traits: {kind: 'tabular', titles: ['shapley_permutation'], shape: [8], tokens: [], feature_names: names, target: null,
           target_names: [], can_recompute: false, sign: 'all', cmap: 'RdBu_r', opacity: 0.7, clip: 99, panels,
           generation: 0, title: 'house price', progress: 1, status: 'done', error: ''},
  answer: (method) => method === 'snapshot' ? {result: {panels: 1}, __messages: [
    {type: 'panel', index: 0, generation: 0, values: fake.array(v, [8])}]} : null,
};
"""

SCENARIOS["attr_text"] = r"""
const tokens = ['the', 'movie', 'was', 'not', 'good', 'at', 'all', ',', 'but', 'the', 'acting', 'was', 'superb', '.'];
const v = Float32Array.from([0.01, 0.1, 0, -0.6, 0.5, 0.02, -0.2, 0, 0.1, 0, 0.3, 0.05, 0.9, 0]);
const panels = [{method: 'integrated_gradients', title: 'integrated_gradients', status: 'done', progress: 1}];
return {
  bundle: 'attribution_view',
  traits: {kind: 'text', titles: ['integrated_gradients'], shape: [14], tokens, feature_names: [], target: 1,
           target_names: ['negative', 'positive'], can_recompute: true, sign: 'all', cmap: 'RdBu_r', opacity: 0.7,
           clip: 99, panels, generation: 0, title: '', progress: 1, status: 'done', error: ''},
  answer: (method) => method === 'snapshot' ? {result: {panels: 1}, __messages: [
    {type: 'panel', index: 0, generation: 0, values: fake.array(v, [14])}]} : null,
};
"""

SCENARIOS["ranking"] = r"""
const names = ['alcohol', 'malic_acid', 'ash', 'alcalinity_of_ash', 'magnesium', 'total_phenols', 'flavanoids',
  'nonflavanoid_phenols', 'proanthocyanins', 'color_intensity', 'hue', 'od280/od315_of_diluted_wines', 'proline'];
const scores = Float32Array.from([0.55, 0.2, 0.05, 0.19, 0.04, 0.41, 0.93, 0.1, 0.15, 0.5, 0.45, 0.8, 0.85]);
const order = Int32Array.from(Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]));
const lo = scores.map(v => v * 0.8), hi = scores.map(v => Math.min(1, v * 1.2));
const ks = Int32Array.from([1,2,3,4,5,6,7,8,9,10,11,12,13]);
const acc = Float32Array.from([0.73, 0.88, 0.86, 0.9, 0.97, 0.97, 0.97, 1, 1, 0.97, 0.97, 0.97, 0.97]);
const stab = Float32Array.from([0.4, 0.73, 0.65, 0.84, 0.87, 0.77, 0.97, 0.85, 0.8, 0.83, 0.87, 0.9, 1]);
const M = Float32Array.from([1, 0.95, 0.95, 0.95, 1, 0.91, 0.95, 0.91, 1]);
return {
  bundle: 'feature_ranking',
  traits: {names, methods: ['fisher', 'mi', 'inf_fs'], method: 'fisher', k: 3, selected: [6, 12, 11], n_features: 13,
           max_bars: 300, curve_label: 'held-out accuracy', title: 'wine', progress: 1, status: 'done', error: ''},
  answer: (method) => method === 'state' ? {
    ranking: {method: 'fisher', larger_is_better: true, scores: fake.array(scores, [13]), order: fake.array(order, [13]),
              lo: fake.array(lo, [13]), hi: fake.array(hi, [13]), stab_k: fake.array(ks, [13]), stab_jaccard: fake.array(stab, [13])},
    curve: {method: 'fisher', done: true, k: fake.array(ks, [13]), score: fake.array(acc, [13])},
    agreement: {methods: ['fisher', 'mi', 'inf_fs'], matrix: fake.array(M, [3, 3])}} : null,
};
"""

SCENARIOS["layers"] = r"""
const la = ['0', '1', '2', '3', '4'], lb = ['0', '1', '2', '3', '4'];
const cka = new Float32Array(25), se = new Float32Array(25);
for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) { cka[i * 5 + j] = 0.8 + 0.2 * Math.exp(-Math.abs(i - j) / 2) - 0.01 * (i + j) / 2; se[i * 5 + j] = 0.002 + 0.001 * i; }
const n = 120, labels = [], idx = new Int32Array(n);
for (let i = 0; i < n; i++) { labels.push(String(Math.floor(i / 40))); idx[i] = (i * 37) % 1200; }
const r = fake.rng(9);
const gram = (s) => { const g = new Float32Array(n * n); for (let i = 0; i < n; i++) for (let j = 0; j < n; j++)
  g[i * n + j] = s * ((labels[i] === labels[j] ? 1 : -0.4) + 0.8 * (r() - 0.5)) + (i === j ? 2 * s : 0); return g; };
return {
  bundle: 'layer_comparison',
  traits: {layers_a: la, layers_b: lb, model_names: ['network A', 'network B'], cka: fake.bytes(cka), cka_se: fake.bytes(se),
           metric: 'CKA', examples: 1200, n_examples: 1200, pair: [1, 3], sort_by: 'label', has_labels: true,
           cmap: 'viridis', vmin: null, vmax: null, gram_cmap: 'RdBu_r', title: 'CKA, layer × layer', progress: 1, status: 'done', error: ''},
  answer: (method) => method === 'grams' ? {a: fake.array(gram(3.6), [n, n]), b: fake.array(gram(0.37), [n, n]), labels,
    index: fake.array(idx, [n]), lim_a: 3.651807, lim_b: 0.377795, layer_a: '1', layer_b: '3'} : null,
};
"""


SCENARIOS["scatter"] = r"""
// Three Gaussian blobs of 3000 points each, coloured by class; a score on every row.
const n = 9000, xy = new Float32Array(2 * n), codes = new Int32Array(n), scores = new Float32Array(n);
const r = fake.rng(3), gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
const centres = [[-4, 0], [3, 2], [1, -3]];
for (let i = 0; i < n; i++) {
  const c = i % 3; codes[i] = c;
  xy[2 * i] = centres[c][0] + gauss(); xy[2 * i + 1] = centres[c][1] + 0.6 * gauss();
  scores[i] = xy[2 * i] + 0.5 * xy[2 * i + 1];
}
let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
for (let i = 0; i < n; i++) { x0 = Math.min(x0, xy[2*i]); x1 = Math.max(x1, xy[2*i]); y0 = Math.min(y0, xy[2*i+1]); y1 = Math.max(y1, xy[2*i+1]); }
return {
  bundle: 'scatter',
  traits: {n_points: n, bounds: [x0, x1, y0, y1], aspect: 'equal', classes: ['airplane', 'automobile', 'bird'],
           palette: ['#1f77b4', '#ff7f0e', '#2ca02c'], hidden_classes: [], color_by: 'label', has_scores: true,
           label_name: 'class', score_name: 'x + y / 2', cmap: 'viridis', vmin: null, vmax: null, point_size: 3,
           opacity: 0.8, x_label: 'PC1 (41.2% of variance)', y_label: 'PC2 (18.0% of variance)',
           title: 'PCA of 9000 rows', selection: new DataView(new ArrayBuffer(0)), has_images: false, value_names: [],
           progress: 1, status: 'done', error: '', link_id: '', link_map: new DataView(new ArrayBuffer(0))},
  answer: (method, args) => method === 'snapshot'
    ? {result: {rows: n}, __messages: [{type: 'points', start: 0, xy: fake.array(xy, [n, 2])},
                                       {type: 'codes', start: 0, values: fake.array(codes, [n])},
                                       {type: 'scores', start: 0, values: fake.array(scores, [n])}]}
    : method === 'row' ? {index: args.index, values: {}} : null,
};
"""


def render(page, name: str, width: int, out: Path, hover: tuple[float, float] | None = None,
           pictures: bool = False) -> dict:
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
    page.evaluate(HOST_JS, {"code": code, "scenario": scenario, "width": width, "name": name, "pictures": pictures})
    page.wait_for_timeout(600)
    if hover:
        box = page.locator("#host canvas").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] * hover[0], box["y"] + box["height"] * hover[1])
        page.wait_for_timeout(300)
    dims = page.evaluate("() => { const r = document.querySelector('#host .fx-root');"
                         " return {scrollWidth: r.scrollWidth, clientWidth: r.clientWidth,"
                         " hostScroll: document.querySelector('#host').scrollWidth,"
                         " over: Array.from(r.querySelectorAll('*')).filter(e => e.getBoundingClientRect().right >"
                         "   r.getBoundingClientRect().right + 0.5).map(e => e.tagName + '.' + e.className + ' ' +"
                         "   Math.round(e.getBoundingClientRect().right - r.getBoundingClientRect().right)).slice(0, 8),"
                         " sent: window.__sent.map(s => s.content.type + ':' + (s.content.method || ''))}; }")
    path = out / f"{name}-{width}{'-hover' if hover else ''}.png"
    page.locator("#host").screenshot(path=str(path))
    dims["png"] = str(path)
    if pictures:
        page.wait_for_function("() => !!window.__picture", timeout=10_000)
        data = page.evaluate("() => Array.from(window.__picture)")
        pic = out / f"{name}-{width}-picture.png"
        pic.write_bytes(bytes(data))
        dims["picture"] = str(pic)
    return dims


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=sorted(SCENARIOS))
    ap.add_argument("--widths", default="400,900")
    ap.add_argument("--out", default=str(lab.REPO_ROOT / "artifacts" / "preview"))
    ap.add_argument("--hover", default="")
    ap.add_argument("--pictures", action="store_true", help="also save the PNG each view sends to Python")
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
                report[f"{name}-{w}"] = render(page, name, w, out, hover, args.pictures)
        browser.close()
    report["console"] = console
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
