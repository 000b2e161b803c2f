// LayerComparison view (traits and messages: docs/protocol.md, "LayerComparison").
//
// The layer x layer similarity (CKA) of two networks: layer names on both axes, the networks' names as axis
// titles, the value printed in each cell when it fits, the standard error in the tooltip, and a colour range taken
// from the data (so that CKA values between 0.8 and 1 still show their differences). A click on a cell writes
// `pair`; the two layers' Gram matrices (the example x example similarities CKA compares) come by RPC and are
// drawn side by side below (stacked when narrow), sorted by label with class blocks marked.

import type { NdArray } from "./lib/codec";
import { colorLimits, finiteRange, resolveLut, type Lut } from "./lib/colormaps";
import { fmt } from "./lib/format";
import { cellUnder, createMatrixFrame, drawBoundaries, drawCellValues, fixed, outlineCell, paintMatrix, type MatrixFrame } from "./lib/matrix";
import type { AxisSpec } from "./lib/scale";
import { sideBySide } from "./lib/sizing";
import { createTooltip } from "./lib/tooltip";
import { colorControls, labelled, selectOf, toolbar } from "./lib/toolbar";
import { h, setHidden } from "./lib/ui";
import { defineView, type View } from "./lib/view";

interface Traits {
  layers_a: string[];
  layers_b: string[];
  model_names: string[];
  /** float32 bytes, len(layers_a) x len(layers_b), C order; NaN = not estimated yet */
  cka: DataView | null;
  /** float32 bytes, same shape: standard error of each estimate (NaN = none) */
  cka_se?: DataView | null;
  metric: string;
  examples: number;
  n_examples: number | null;
  pair: number[];
  sort_by: string;
  has_labels: boolean;
  cmap: string;
  vmin: number | null;
  vmax: number | null;
  gram_cmap: string;
  /** the table of `gram_cmap` when Python sampled it (a map without a built-in table) */
  gram_cmap_lut?: unknown;
  title: string;
  progress: number;
  status: string;
  error: string;
  [key: string]: unknown;
}

interface GramReply {
  a: NdArray; // (n, n) float32, examples in the shown order
  b: NdArray;
  labels?: string[]; // one per example in the shown order ("" or absent: none)
  index?: NdArray; // (n,) int32: the example numbers in the shown order
  lim_a: number;
  lim_b: number;
  layer_a?: string;
  layer_b?: string;
}

const CSS = `
.fx-layers { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-layers canvas.fx-cka { cursor: pointer; }
.fx-layers .fx-grams { display: flex; flex-wrap: wrap; gap: 12px 20px; align-items: flex-start; margin-top: 10px; max-width: 100%; }
.fx-layers .fx-gram-panel { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.fx-layers .fx-gram-title { font-weight: 600; overflow-wrap: anywhere; }
`;

/** float32 values from a bytes trait (a DataView), or null. */
export function floatsOf(v: unknown, n: number): Float32Array | null {
  if (!v || !ArrayBuffer.isView(v) || v.byteLength < 4 * n || n <= 0) return null;
  const out = new Float32Array(n);
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}

/** "0.9342 ± 0.0021" when there is a standard error, else the value alone. */
export function withError(v: number, se: number | undefined): string {
  return se !== undefined && Number.isFinite(se) && se > 0 ? `${fmt(v)} ± ${fmt(se, 2)} (s.e.)` : fmt(v);
}

function setup(view: View<Traits>): void {
  const { root } = view;
  view.data({ status: "", draws: 0, grams: 0 });

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const controls = colorControls(view, () => draw(), { center: false });
  const sortSelect = selectOf("fx-sort-by", "sort examples by", [["label", "label"], ["data order", "data order"]]);
  const sortLabel = labelled("sort examples by", sortSelect);
  const seen = h("span", { class: "fx-examples" });
  const frame = createMatrixFrame("fx-cka", () => view.theme.fontFamily, "layer by layer similarity");
  const hint = h("div", { class: "fx-info", text: "Click a cell to compare the two layers' Gram matrices (how similar each pair of examples looks to each layer): CKA compares exactly these." });
  const grams = h("div", { class: "fx-grams" });
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(title, toolbar(...controls.items, sortLabel, seen), frame.el, hint, grams, job.row, job.errorBox);

  const na = () => (view.get("layers_a") ?? []).length;
  const nb = () => (view.get("layers_b") ?? []).length;
  const names = () => {
    const m = view.get("model_names") ?? [];
    return [m[0] || "network A", m[1] || "network B"];
  };
  const metric = () => view.get("metric") || "CKA";
  const values = () => floatsOf(view.get("cka"), na() * nb());
  const errors = () => floatsOf(view.get("cka_se"), na() * nb());
  const lut = (): Lut => resolveLut(view.get("cmap"), view.get("cmap_lut"));
  /** vmin/vmax, else the data's range: CKA between 0.8 and 1 keeps its contrast. */
  const limits = (v: Float32Array | null): [number, number] => {
    const lim = colorLimits(v ? finiteRange(v) : null, view.get("vmin"), view.get("vmax"));
    if (!lim) return [0, 1];
    return lim[0] === lim[1] ? [lim[0] - 0.005, lim[1] + 0.005] : lim;
  };

  // ---- the layer x layer matrix ----------------------------------------------------------------------
  let draws = 0;
  function draw(): void {
    const rows = na();
    const cols = nb();
    const v = values();
    const lim = limits(v);
    const [A, B] = names();
    const L = frame.layout({
      avail: view.width(),
      rows: Math.max(1, rows),
      cols: Math.max(1, cols),
      rowAxis: { kind: "labels", labels: view.get("layers_a") ?? [] },
      colAxis: { kind: "labels", labels: view.get("layers_b") ?? [] },
      rowTitle: `${A}: layer`,
      colTitle: `${B}: layer`,
      maxSide: Math.min(560, Math.max(rows, cols) * 72),
      minSide: 48,
      colorbar: { lut: lut(), limits: lim, title: metric() },
    });
    const ov = frame.overlay.getContext("2d");
    ov?.setTransform(1, 0, 0, 1, 0, 0);
    ov?.clearRect(0, 0, frame.overlay.width, frame.overlay.height);
    if (!v) {
      const ctx = frame.canvas.getContext("2d");
      if (ctx) {
        ctx.fillStyle = view.theme.layout2;
        ctx.fillRect(0, 0, frame.canvas.width, frame.canvas.height);
      }
      return;
    }
    paintMatrix(frame, v, rows, cols, lut(), lim, view.theme.layout0);
    const ctx = frame.canvas.getContext("2d");
    if (ctx) drawCellValues(ctx, v, rows, cols, L.cssW, L.cssH, lut(), lim, view.theme.fontFamily, fixed(lim[1] - lim[0] < 0.1 ? 3 : 2));
    const p = view.get("pair");
    if (Array.isArray(p) && p.length === 2) outlineCell(frame, p[0], p[1], rows, cols, view.theme.brand);
    const total = view.get("n_examples");
    seen.textContent = `${(view.get("examples") ?? 0).toLocaleString()}${total ? ` of ${total.toLocaleString()}` : ""} examples seen`;
    setHidden(sortLabel, !view.get("has_labels"));
    sortSelect.value = view.get("sort_by") ?? "label";
    draws += 1;
    view.data("draws", draws);
    view.live(); // the values live in the traits: a saved notebook still draws them
    view.settled();
  }

  view.dom<PointerEvent>(frame.canvas, "pointermove", (ev) => {
    const c = cellUnder(frame, ev, na(), nb());
    const v = values();
    if (!c || !v) return tip.hide();
    const [A, B] = names();
    const se = errors();
    const x = v[c.i * nb() + c.j];
    const r = root.getBoundingClientRect();
    tip.show([
      { label: A, value: (view.get("layers_a") ?? [])[c.i] ?? "" },
      { label: B, value: (view.get("layers_b") ?? [])[c.j] ?? "" },
      { cls: "fx-tt-value", label: metric(), value: Number.isFinite(x) ? withError(x, se?.[c.i * nb() + c.j]) : "not estimated yet", strong: true },
    ]);
    tip.place(ev.clientX - r.left, ev.clientY - r.top);
  });
  view.dom(frame.canvas, "pointerleave", () => tip.hide());
  view.dom<PointerEvent>(frame.canvas, "click", (ev) => {
    const c = cellUnder(frame, ev, na(), nb());
    if (c) view.set("pair", [c.i, c.j]);
  });
  view.dom(sortSelect, "change", () => view.set("sort_by", sortSelect.value));

  // ---- the clicked pair's Gram matrices ----------------------------------------------------------------
  let gramData: GramReply | null = null;
  let gramKey = "";
  const gramFrames: Array<{ panel: HTMLElement; title: HTMLElement; frame: MatrixFrame }> = [];

  function gramFrame(k: number) {
    if (!gramFrames[k]) {
      const titleEl = h("div", { class: "fx-gram-title" });
      const f = createMatrixFrame("fx-gram", () => view.theme.fontFamily, "Gram matrix");
      const panel = h("div", { class: "fx-gram-panel", children: [titleEl, f.el] });
      grams.appendChild(panel);
      view.dom<PointerEvent>(f.canvas, "pointermove", (ev) => gramTip(k, ev));
      view.dom(f.canvas, "pointerleave", () => tip.hide());
      gramFrames[k] = { panel, title: titleEl, frame: f };
    }
    return gramFrames[k];
  }

  function fetchGrams(): void {
    const p = view.get("pair");
    if (!Array.isArray(p) || p.length !== 2) {
      grams.replaceChildren();
      gramFrames.length = 0;
      gramData = null;
      return;
    }
    const key = `${p[0]},${p[1]},${view.get("sort_by")}`;
    if (key === gramKey) return;
    gramKey = key;
    void view.request<GramReply>("grams", { row: p[0], col: p[1], sort_by: view.get("sort_by") }, { channel: "grams", timeoutMs: 60000 })
      .then((reply) => {
        if (!reply || gramKey !== key) return;
        gramData = reply.result;
        drawGrams();
        view.data("grams", Number(root.dataset.grams ?? 0) + 1);
      });
  }

  function gramAxis(labels: string[] | undefined, n: number): AxisSpec {
    return Array.isArray(labels) && labels.length === n && labels.some((s) => s !== "") ? { kind: "labels", labels } : { kind: "index", n };
  }

  function drawGrams(): void {
    const g = gramData;
    const p = view.get("pair");
    if (!g || !Array.isArray(p) || p.length !== 2) return;
    const [A, B] = names();
    const lay = sideBySide(view.width(), 240, 240, 20);
    const each = lay.side ? Math.floor((view.width() - 20) / 2) : view.width();
    const lutG = resolveLut(view.get("gram_cmap") ?? "RdBu_r", view.get("gram_cmap_lut"), "RdBu_r");
    const sorted = view.get("sort_by") === "label" && view.get("has_labels") ? "sorted by label" : "data order";
    const sides = [
      { m: g.a, lim: g.lim_a, who: A, layer: g.layer_a ?? (view.get("layers_a") ?? [])[p[0]] ?? "" },
      { m: g.b, lim: g.lim_b, who: B, layer: g.layer_b ?? (view.get("layers_b") ?? [])[p[1]] ?? "" },
    ];
    sides.forEach((s, k) => {
      const { title: t, frame: f, panel } = gramFrame(k);
      const n = s.m.shape[0];
      const lim: [number, number] = s.lim > 0 ? [-s.lim, s.lim] : [-1, 1];
      t.textContent = `${s.who} · ${s.layer}`;
      panel.style.width = `${each}px`;
      const L = f.layout({
        avail: each,
        rows: n,
        cols: n,
        rowAxis: gramAxis(g.labels, n),
        colAxis: gramAxis(g.labels, n),
        rowTitle: `example (${sorted})`,
        colTitle: `example (${sorted})`,
        maxSide: 420,
        colorbar: { lut: lutG, limits: lim, title: "centred Gram (similarity of two examples)" },
      });
      paintMatrix(f, s.m.data as Float32Array, n, n, lutG, lim, view.theme.layout0);
      const ov = f.overlay.getContext("2d");
      if (ov) {
        ov.setTransform(1, 0, 0, 1, 0, 0);
        ov.clearRect(0, 0, f.overlay.width, f.overlay.height);
        drawBoundaries(ov, L.rowLayout.boundaries, L.colLayout.boundaries, L.cssW, L.cssH, view.theme);
      }
    });
    view.settled();
  }

  function gramTip(k: number, ev: PointerEvent): void {
    const g = gramData;
    if (!g) return;
    const m = k === 0 ? g.a : g.b;
    const n = m.shape[0];
    const c = cellUnder(gramFrames[k].frame, ev, n, n);
    if (!c) return tip.hide();
    const idx = g.index?.data;
    const who = (i: number) => `#${idx ? idx[i] : i}${g.labels?.[i] ? ` (${g.labels[i]})` : ""}`;
    const r = root.getBoundingClientRect();
    tip.show([
      { label: "examples", value: `${who(c.i)} and ${who(c.j)}` },
      { cls: "fx-tt-value", label: "centred Gram", value: (m.data as Float32Array)[c.i * n + c.j], strong: true },
    ]);
    tip.place(ev.clientX - r.left, ev.clientY - r.top);
  }

  // ---- traits ----------------------------------------------------------------------------------------
  view.on(["cka", "cka_se", "layers_a", "layers_b", "model_names", "metric", "examples", "n_examples", "has_labels", "sort_by"], draw);
  view.on("pair", draw, fetchGrams);
  view.on("sort_by", fetchGrams);
  view.on(["gram_cmap", "gram_cmap_lut"], drawGrams);
  view.onTheme(() => {
    draw();
    drawGrams();
  });
  view.onResize(() => {
    draw();
    drawGrams();
  });
  fetchGrams();
}

export default defineView<Traits>({ name: "fx-layers", css: CSS }, setup);
