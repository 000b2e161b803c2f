// AttributionSummary (contract: fxwidgets/widgets/attribution_summary.py, module docstring).
//
// Two modes on one canvas. Summary: a beeswarm, one dot per row per feature (x = attribution, spread vertically by
// density, coloured by the row's feature value from low to high), features top to bottom by mean |attribution|.
// Dependence: one feature's value against its attribution, coloured by a second feature. Hovering a dot rings the
// same row's dots everywhere and shows the row (asked from the kernel); a click selects a row, a drag selects
// every row with a dot in the rectangle (shift adds), and `selection` goes to Python. Clicking a feature's name
// opens its dependence plot. Every position and colour comes from the kernel; the view scales and paints.

import type { NdArray } from "./lib/codec";
import { chartBox, drawChartAxes, setupCanvas, type PlotBox } from "./lib/chart";
import { createColorBar } from "./lib/axis";
import { lutAt, resolveLut, type Lut } from "./lib/colormaps";
import { fmt } from "./lib/format";
import type { AxisSpec } from "./lib/scale";
import { createTooltip, type TipLine } from "./lib/tooltip";
import { colorControls, labelled, selectOf, setOptions, toolbar } from "./lib/toolbar";
import { h, setHidden } from "./lib/ui";
import { defineView, type View } from "./lib/view";

interface Traits {
  mode: "summary" | "dependence";
  feature_names: string[];
  order: number[];
  importance: number[];
  max_display: number;
  feature: number;
  color_feature: number | null;
  selection: number[];
  n_rows: number;
  n_drawn: number;
  note: string;
  x_label: string;
  has_values: boolean;
  cmap: string;
  title: string;
  progress: number;
  status: string;
  error: string;
  [key: string]: unknown;
}

export interface SummaryPoints {
  labels: string[];
  features: number[];
  x: NdArray;
  y: NdArray;
  c: NdArray;
  row: NdArray;
  x_range: [number, number];
}

export interface DependencePoints {
  feature: number;
  color_feature: number;
  color_label: string;
  color_limits: [number, number] | null;
  x: NdArray;
  y: NdArray;
  c: NdArray;
  row: NdArray;
  x_label: string;
  y_label: string;
}

interface RowDetail {
  row: number;
  base_value: number | null;
  output: number | null;
  total: number;
  features: Array<{ index: number; name: string; value: number | null; attribution: number }>;
  n_features: number;
}

const ROW_H = 26; // CSS px per feature row of the beeswarm
const DEP_H = 320;
const MAX_W = 760;
const DOT = 2.4; // dot radius, CSS px
const GREY = "#777777"; // rows without a feature value (shap's colour for them)
const HIT = 7; // pointer distance that still hits a dot, CSS px

const CSS = `
.fx-summary { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; gap: 4px; }
.fx-summary .fx-modes { display: inline-flex; gap: 0; }
.fx-summary .fx-modes button { border-radius: 0; }
.fx-summary .fx-modes button:first-child { border-radius: 3px 0 0 3px; }
.fx-summary .fx-modes button:last-child { border-radius: 0 3px 3px 0; margin-left: -1px; }
.fx-summary .fx-modes button[aria-pressed="true"] { background: var(--jp-brand-color1, #1976d2); color: #fff;
  border-color: var(--jp-brand-color1, #1976d2); }
.fx-summary .fx-note, .fx-summary .fx-caption { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); overflow-wrap: anywhere;
  line-height: 1.35; max-width: 100%; }
.fx-summary .fx-plot-wrap { position: relative; line-height: 0; max-width: 100%; touch-action: none; user-select: none; }
.fx-summary canvas.fx-swarm { display: block; cursor: crosshair; }
.fx-summary canvas.fx-swarm-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.fx-summary .fx-brush { position: absolute; border: 1px dashed var(--jp-brand-color1, #1976d2);
  background: rgba(25, 118, 210, 0.08); pointer-events: none; }
.fx-summary .fx-legend { display: flex; align-items: center; gap: 6px; font-size: 11px; color: var(--jp-ui-font-color2, rgba(0,0,0,.6));
  flex-wrap: wrap; max-width: 100%; }
.fx-summary .fx-legend canvas { width: 120px; height: 10px; border: 1px solid var(--jp-border-color2, #e0e0e0); }
.fx-summary .fx-legend .fx-legend-title { color: var(--jp-ui-font-color1, rgba(0,0,0,.8)); }
`;

/** Pixel geometry of the plot: where a data point lands. */
export interface Geometry {
  box: PlotBox;
  /** x data -> px */
  x: (v: number) => number;
  /** y data -> px (summary: plot row + jitter; dependence: attribution) */
  y: (v: number) => number;
}

/** The range an axis shows: the finite values' [min, max] widened by 5 % (and to include `also`), never empty. */
export function paddedRange(values: ArrayLike<number>, also: number | null = null): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (also !== null && Number.isFinite(also)) {
    lo = Math.min(lo, also);
    hi = Math.max(hi, also);
  }
  if (!(hi >= lo)) return [0, 1];
  if (hi === lo) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/**
 * A grid of point indices by screen position (cells of `cell` px), for hit tests in O(1) per hover over tens of
 * thousands of dots.
 */
export class PointGrid {
  private cells = new Map<number, number[]>();
  constructor(private readonly cell: number, readonly px: Float32Array, readonly py: Float32Array) {
    for (let i = 0; i < px.length; i++) {
      if (!Number.isFinite(px[i]) || !Number.isFinite(py[i])) continue;
      const k = this.key(Math.floor(px[i] / cell), Math.floor(py[i] / cell));
      const list = this.cells.get(k);
      if (list) list.push(i);
      else this.cells.set(k, [i]);
    }
  }
  private key(cx: number, cy: number): number {
    return (cy + 4096) * 8192 + (cx + 4096);
  }
  /** The point nearest to (x, y) within `radius` px (the last drawn, i.e. topmost, on a tie), or -1. */
  nearest(x: number, y: number, radius: number): number {
    const r = Math.ceil(radius / this.cell);
    const cx = Math.floor(x / this.cell);
    const cy = Math.floor(y / this.cell);
    let best = -1;
    let bestD = radius * radius;
    for (let gy = cy - r; gy <= cy + r; gy++) {
      for (let gx = cx - r; gx <= cx + r; gx++) {
        for (const i of this.cells.get(this.key(gx, gy)) ?? []) {
          const d = (this.px[i] - x) ** 2 + (this.py[i] - y) ** 2;
          if (d <= bestD) {
            bestD = d;
            best = i;
          }
        }
      }
    }
    return best;
  }
  /** Indices of the points inside the rectangle [x0, x1] x [y0, y1] (any corner order). */
  inside(x0: number, y0: number, x1: number, y1: number): number[] {
    const [ax, bx] = x0 <= x1 ? [x0, x1] : [x1, x0];
    const [ay, by] = y0 <= y1 ? [y0, y1] : [y1, y0];
    const out: number[] = [];
    for (let gy = Math.floor(ay / this.cell); gy <= Math.floor(by / this.cell); gy++) {
      for (let gx = Math.floor(ax / this.cell); gx <= Math.floor(bx / this.cell); gx++) {
        for (const i of this.cells.get(this.key(gx, gy)) ?? []) {
          if (this.px[i] >= ax && this.px[i] <= bx && this.py[i] >= ay && this.py[i] <= by) out.push(i);
        }
      }
    }
    return out;
  }
}

/** The new selection after a click or drag hit `rows`: replace, or with shift toggle/add. Sorted, unique. */
export function nextSelection(current: readonly number[], rows: readonly number[], shift: boolean, drag: boolean): number[] {
  const set = new Set(shift ? current : []);
  if (shift && !drag && rows.length === 1 && set.has(rows[0])) set.delete(rows[0]);
  else for (const r of rows) set.add(r);
  return Array.from(set).sort((a, b) => a - b);
}

function setup(view: View<Traits>): void {
  const { root } = view;
  view.data({
    mode: view.get("mode"),
    points: 0,
    paints: 0,
    hoverRow: "",
    selection: (view.get("selection") ?? []).join(","),
  });

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const modeSummary = h("button", { class: "fx-mode", text: "summary", attrs: { type: "button", "data-mode": "summary" } });
  const modeDep = h("button", { class: "fx-mode", text: "dependence", attrs: { type: "button", "data-mode": "dependence" } });
  modeSummary.title = "every feature: one dot per row, coloured by the feature's value";
  modeDep.title = "one feature: its value against its attribution, coloured by a second feature";
  const modes = h("span", { class: "fx-modes", attrs: { role: "group", "aria-label": "view" }, children: [modeSummary, modeDep] });
  const depFeature = selectOf("fx-dep-feature", "feature of the dependence plot", []);
  const depColor = selectOf("fx-dep-color", "colour the dependence plot by", []);
  const depFeatureLabel = labelled("feature", depFeature);
  const depColorLabel = labelled("colour by", depColor);
  const controls = colorControls(view, () => draw(), { limits: false, center: false });
  const note = h("div", { class: "fx-note" });
  const canvas = h("canvas", { class: "fx-swarm", attrs: { role: "img", "aria-label": "attributions of every row" } });
  const overlay = h("canvas", { class: "fx-swarm-overlay", attrs: { "aria-hidden": "true" } });
  const brush = h("div", { class: "fx-brush" });
  setHidden(brush, true);
  const wrap = h("div", { class: "fx-plot-wrap", children: [canvas, overlay, brush] });
  const legendLow = h("span", { text: "low" });
  const legendHigh = h("span", { text: "high" });
  const legendStrip = h("canvas", { attrs: { width: "256", height: "1", "aria-hidden": "true" } });
  const legend = h("div", { class: "fx-legend", children: [h("span", { class: "fx-legend-title", text: "feature value:" }), legendLow, legendStrip, legendHigh] });
  const colorbar = createColorBar(() => view.theme.fontFamily, "fx-dep-colorbar");
  const caption = h("div", { class: "fx-caption" });
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(title, toolbar(modes, depFeatureLabel, depColorLabel, ...controls.items), note, wrap, legend, colorbar.el, caption, job.row, job.errorBox);

  // ---- state -----------------------------------------------------------------------------------------
  let summary: SummaryPoints | null = null;
  let dependence: DependencePoints | null = null;
  let geom: Geometry | null = null;
  let grid: PointGrid | null = null;
  let shownRows: Int32Array | null = null;
  let width = 0;
  let height = 0;
  let paints = 0;
  let hoverRow = -1;
  const lut = (): Lut => resolveLut(view.get("cmap") ?? "coolwarm", view.get("cmap_lut"), "coolwarm");
  const mode = () => view.get("mode") ?? "summary";

  function colourOf(c: number, L: Lut, fallback: string): string {
    if (!Number.isFinite(c)) return fallback;
    const [r, g, b] = lutAt(L, c);
    return `rgb(${r}, ${g}, ${b})`;
  }

  // ---- drawing ---------------------------------------------------------------------------------------
  const draw = view.frame(paint);

  function paint(): void {
    const m = mode();
    modeSummary.setAttribute("aria-pressed", String(m === "summary"));
    modeDep.setAttribute("aria-pressed", String(m === "dependence"));
    setHidden(depFeatureLabel, m !== "dependence");
    setHidden(depColorLabel, m !== "dependence");
    view.data("mode", m);
    width = Math.max(160, Math.min(view.width(), MAX_W));
    if (m === "summary") paintSummary();
    else paintDependence();
    paints += 1;
    view.data("paints", paints);
    paintOverlay();
    view.settled();
  }

  function paintSummary(): void {
    const P = summary;
    const n = P ? P.labels.length : Math.min(view.get("feature_names")?.length ?? 1, view.get("max_display") ?? 10);
    const labels = P ? P.labels : [];
    const ySpec: AxisSpec = labels.length ? { kind: "labels", labels } : { kind: "index", n: Math.max(1, n) };
    const bottom = 4 + 11 + 6 + 11 + 6;
    height = Math.max(1, n) * ROW_H + 10 + bottom;
    const ctx = setupCanvas(canvas, width, height, view.theme);
    if (!ctx) return;
    const [lo, hi] = P ? paddedRange(P.x.data, 0) : [-1, 1];
    const xSpec: AxisSpec = { kind: "linear", lo, hi };
    const box = chartBox(width, height, ySpec, view.theme.fontFamily, { x: true, y: false });
    drawChartAxes(ctx, box, xSpec, ySpec, view.theme, view.get("x_label") ?? "attribution", "");
    const cell = box.height / Math.max(1, n);
    geom = {
      box,
      x: (v) => box.left + ((v - lo) / (hi - lo)) * box.width,
      y: (v) => box.top + (v + 0.5) * cell,
    };
    // zero line
    ctx.strokeStyle = view.theme.font2;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(Math.round(geom.x(0)) + 0.5, box.top);
    ctx.lineTo(Math.round(geom.x(0)) + 0.5, box.top + box.height);
    ctx.stroke();
    if (!P) {
      grid = null;
      return;
    }
    paintDots(ctx, P.x.data as Float32Array, P.y.data as Float32Array, P.c.data as Float32Array, P.row.data as Int32Array, GREY);
    setHidden(legend, !view.get("has_values"));
    setHidden(colorbar.el, true);
    paintLegend();
    caption.textContent =
      "Each dot is one row: its position is the feature's attribution in that row, its colour the row's value of the " +
      "feature. Point at a dot to see its row, click to select it, drag to select many; click a feature's name for its dependence plot.";
  }

  function paintDependence(): void {
    const D = dependence;
    height = DEP_H;
    const ctx = setupCanvas(canvas, width, height, view.theme);
    if (!ctx) return;
    const [xlo, xhi] = D ? paddedRange(D.x.data) : [0, 1];
    const [ylo, yhi] = D ? paddedRange(D.y.data, 0) : [-1, 1];
    const xSpec: AxisSpec = { kind: "linear", lo: xlo, hi: xhi };
    const ySpec: AxisSpec = { kind: "linear", lo: ylo, hi: yhi, reverse: true };
    const box = chartBox(width, height, ySpec, view.theme.fontFamily);
    drawChartAxes(ctx, box, xSpec, ySpec, view.theme, D?.x_label ?? "feature value", D?.y_label ?? "attribution");
    geom = {
      box,
      x: (v) => box.left + ((v - xlo) / (xhi - xlo)) * box.width,
      y: (v) => box.top + (1 - (v - ylo) / (yhi - ylo)) * box.height,
    };
    ctx.strokeStyle = view.theme.font2;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(box.left, Math.round(geom.y(0)) + 0.5);
    ctx.lineTo(box.left + box.width, Math.round(geom.y(0)) + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
    if (!D) {
      grid = null;
      return;
    }
    const single = D.color_feature < 0;
    paintDots(ctx, D.x.data as Float32Array, D.y.data as Float32Array, D.c.data as Float32Array, D.row.data as Int32Array,
      single ? view.theme.brand : GREY);
    setHidden(legend, true);
    setHidden(colorbar.el, single);
    if (!single) colorbar.update(lut(), D.color_limits, Math.min(260, width - 20), `${D.color_label} (colour)`);
    let missing = 0;
    for (let i = 0; i < D.x.data.length; i++) if (!Number.isFinite(D.x.data[i])) missing++;
    const names = view.get("feature_names") ?? [];
    caption.textContent =
      `Each dot is one row: ${names[D.feature] ?? "the feature"}'s value and its attribution in that row. ` +
      (single ? "" : `Coloured by ${D.color_label}${view.get("color_feature") === null ? ", the feature that interacts most strongly with it" : ""}: ` +
        "a vertical spread of colours at one x means the effect depends on that feature. ") +
      (missing ? `${missing} rows without a value are not drawn.` : "");
  }

  function paintDots(ctx: CanvasRenderingContext2D, xs: Float32Array, ys: Float32Array, cs: Float32Array, rows: Int32Array, fallback: string): void {
    const g = geom!;
    const L = lut();
    const n = xs.length;
    const px = new Float32Array(n);
    const py = new Float32Array(n);
    ctx.save();
    ctx.beginPath();
    ctx.rect(g.box.left, g.box.top, g.box.width, g.box.height);
    ctx.clip();
    let drawn = 0;
    // batch by colour: one path per LUT entry keeps tens of thousands of dots to a few hundred fills
    const batches = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      px[i] = g.x(xs[i]);
      py[i] = g.y(ys[i]);
      if (!Number.isFinite(px[i]) || !Number.isFinite(py[i])) continue;
      const key = colourOf(cs[i], L, fallback);
      const list = batches.get(key);
      if (list) list.push(i);
      else batches.set(key, [i]);
      drawn++;
    }
    for (const [colour, list] of batches) {
      ctx.fillStyle = colour;
      ctx.beginPath();
      for (const i of list) {
        ctx.moveTo(px[i] + DOT, py[i]);
        ctx.arc(px[i], py[i], DOT, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    ctx.restore();
    grid = new PointGrid(8, px, py);
    shownRows = rows;
    view.data("points", drawn);
  }

  function paintLegend(): void {
    const ctx = legendStrip.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(256, 1);
    const L = lut();
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = lutAt(L, i / 255);
      img.data.set([r, g, b, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
  }

  /** Rings around the hovered row's dots and the selected rows' dots (on the overlay canvas). */
  function paintOverlay(): void {
    const ctx = setupCanvas(overlay, width, height, { ...view.theme, layout0: "rgba(0,0,0,0)" });
    if (!ctx) return;
    ctx.clearRect(0, 0, width, height);
    if (!grid || !shownRows) return;
    const sel = new Set(view.get("selection") ?? []);
    const ring = (i: number, colour: string, w: number, r: number) => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = w;
      ctx.beginPath();
      ctx.arc(grid!.px[i], grid!.py[i], r, 0, 2 * Math.PI);
      ctx.stroke();
    };
    for (let i = 0; i < shownRows.length; i++) {
      if (sel.has(shownRows[i])) ring(i, view.theme.font0, 1.5, DOT + 1.5);
    }
    if (hoverRow >= 0) for (let i = 0; i < shownRows.length; i++) if (shownRows[i] === hoverRow) ring(i, view.theme.brand, 2, DOT + 2.5);
  }
  const scheduleOverlay = view.frame(paintOverlay);

  // ---- pointer ---------------------------------------------------------------------------------------
  let drag: { x0: number; y0: number; x1: number; y1: number; shift: boolean } | null = null;
  const local = (ev: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top] as const;
  };

  function hover(ev: PointerEvent): void {
    if (!grid || !shownRows || !geom) return;
    const [x, y] = local(ev);
    const i = grid.nearest(x, y, HIT);
    if (i < 0) {
      if (hoverRow !== -1) {
        hoverRow = -1;
        view.data("hoverRow", "");
        scheduleOverlay();
      }
      tip.hide();
      return;
    }
    const row = shownRows[i];
    const lines: TipLine[] = [{ value: `row ${row}`, strong: true, cls: "fx-tt-row" }, ...pointLines(i)];
    const rr = root.getBoundingClientRect();
    tip.show(lines);
    tip.place(ev.clientX - rr.left, ev.clientY - rr.top);
    if (row !== hoverRow) {
      hoverRow = row;
      view.data("hoverRow", row);
      scheduleOverlay();
      void view.request<RowDetail>("row", { row }, { channel: "hover" }).then((r) => {
        if (!r || hoverRow !== row || !tip.visible) return;
        tip.show([{ value: `row ${row}`, strong: true, cls: "fx-tt-row" }, ...pointLines(i), ...rowLines(r.result)]);
        tip.place(ev.clientX - rr.left, ev.clientY - rr.top);
      });
    }
  }

  function pointLines(i: number): TipLine[] {
    if (mode() === "summary" && summary) {
      const slot = Math.round(summary.y.data[i]);
      return [{ label: summary.labels[slot] ?? "", value: summary.x.data[i], cls: "fx-tt-point" }];
    }
    if (dependence) {
      const names = view.get("feature_names") ?? [];
      return [
        { label: `${names[dependence.feature] ?? ""} value`, value: dependence.x.data[i], cls: "fx-tt-point" },
        { label: "its attribution", value: dependence.y.data[i] },
      ];
    }
    return [];
  }

  function rowLines(d: RowDetail): TipLine[] {
    const lines: TipLine[] = [];
    if (d.output !== null) lines.push({ label: "model output f(x)", value: d.output, cls: "fx-tt-output" });
    if (d.base_value !== null) lines.push({ label: "base value E[f]", value: d.base_value, cls: "fx-tt-base" });
    lines.push({ label: "sum of attributions", value: d.total, muted: true });
    for (const f of d.features) {
      const v = f.value === null ? "no value" : fmt(f.value);
      lines.push({ label: `${f.name} = ${v}`, value: `${f.attribution >= 0 ? "+" : "−"}${fmt(Math.abs(f.attribution))}`, cls: "fx-tt-feature" });
    }
    if (d.n_features > d.features.length) lines.push({ value: `… ${d.n_features - d.features.length} more features`, muted: true });
    return lines;
  }

  view.dom<PointerEvent>(canvas, "pointerdown", (ev) => {
    if (ev.button !== 0) return;
    const [x, y] = local(ev);
    drag = { x0: x, y0: y, x1: x, y1: y, shift: ev.shiftKey };
    canvas.setPointerCapture?.(ev.pointerId);
  });
  view.dom<PointerEvent>(canvas, "pointermove", (ev) => {
    if (drag) {
      const [x, y] = local(ev);
      drag.x1 = x;
      drag.y1 = y;
      if (Math.abs(drag.x1 - drag.x0) + Math.abs(drag.y1 - drag.y0) >= 4) {
        setHidden(brush, false);
        Object.assign(brush.style, {
          left: `${Math.min(drag.x0, x)}px`, top: `${Math.min(drag.y0, y)}px`,
          width: `${Math.abs(x - drag.x0)}px`, height: `${Math.abs(y - drag.y0)}px`,
        });
        tip.hide();
        return;
      }
    }
    hover(ev);
  });
  view.dom<PointerEvent>(canvas, "pointerup", (ev) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    setHidden(brush, true);
    const moved = Math.abs(d.x1 - d.x0) + Math.abs(d.y1 - d.y0) >= 4;
    if (!moved && geom && d.x0 < geom.box.left && mode() === "summary" && summary) {
      // a click on a feature's name: its dependence plot
      const slot = Math.floor(((d.y0 - geom.box.top) / geom.box.height) * summary.labels.length);
      const f = summary.features[slot];
      if (f !== undefined && f >= 0) {
        view.model.set("feature", f);
        view.model.set("mode", "dependence");
        view.model.save_changes();
      }
      return;
    }
    if (!grid || !shownRows) return;
    let hits: number[];
    if (moved) hits = grid.inside(d.x0, d.y0, d.x1, d.y1).map((i) => shownRows![i]);
    else {
      const i = grid.nearest(d.x0, d.y0, HIT);
      hits = i >= 0 ? [shownRows[i]] : [];
    }
    const next = hits.length || d.shift ? nextSelection(view.get("selection") ?? [], hits, d.shift, moved) : [];
    view.set("selection", next);
    syncSelection();
    ev.preventDefault();
  });
  view.dom(canvas, "pointerleave", () => {
    tip.hide();
    if (hoverRow !== -1) {
      hoverRow = -1;
      view.data("hoverRow", "");
      scheduleOverlay();
    }
  });

  function syncSelection(): void {
    const sel = view.get("selection") ?? [];
    view.data("selection", sel.join(","));
    scheduleOverlay();
  }

  // ---- controls ----------------------------------------------------------------------------------------
  function syncControls(): void {
    const names = view.get("feature_names") ?? [];
    const order = view.get("order") ?? names.map((_, i) => i);
    setOptions(depFeature, order.map((i) => [String(i), names[i]] as const)); // names are data: text
    depFeature.value = String(view.get("feature") ?? order[0] ?? 0);
    const autoText = dependence && view.get("color_feature") === null && dependence.color_feature >= 0
      ? `auto: ${names[dependence.color_feature]}` : "auto: strongest interaction";
    setOptions(depColor, [["auto", autoText], ["-1", "none (one colour)"], ...order.map((i) => [String(i), names[i]] as const)]);
    const cf = view.get("color_feature");
    depColor.value = cf === null || cf === undefined ? "auto" : String(cf);
    note.textContent = view.get("note") ?? "";
    setHidden(note, !view.get("note"));
  }
  view.dom(modeSummary, "click", () => view.set("mode", "summary"));
  view.dom(modeDep, "click", () => view.set("mode", "dependence"));
  view.dom(depFeature, "change", () => view.set("feature", Number(depFeature.value)));
  view.dom(depColor, "change", () => view.set("color_feature", depColor.value === "auto" ? null : Number(depColor.value)));

  // ---- data from the kernel ------------------------------------------------------------------------------
  function askSummary(): void {
    void view.request<SummaryPoints>("points", {}, { channel: "points" }).then((r) => {
      if (!r) return;
      summary = r.result;
      view.live();
      draw();
    });
  }
  function askDependence(): void {
    if (mode() !== "dependence") return;
    // the plot is named in the request, so a saved page answers each feature's plot from its own table
    const cf = view.get("color_feature");
    const args = { feature: view.get("feature") ?? 0, color_feature: cf === undefined ? null : cf };
    void view.request<DependencePoints>("dependence", args, { channel: "dependence" }).then((r) => {
      if (!r) return;
      dependence = r.result;
      view.live();
      syncControls();
      draw();
    });
  }

  view.on("mode", () => {
    hoverRow = -1;
    if (mode() === "dependence") askDependence();
    draw();
  });
  view.on(["feature", "color_feature"], syncControls, askDependence);
  view.on(["feature_names", "order", "note"], syncControls);
  view.on(["max_display", "importance"], askSummary);
  view.on("selection", syncSelection);
  view.on(["x_label", "has_values"], () => draw());
  view.onTheme(() => draw());
  view.onResize(() => draw());

  syncControls();
  syncSelection();
  askSummary();
  askDependence();
}

export default defineView<Traits>({ name: "fx-summary", css: CSS }, setup);
