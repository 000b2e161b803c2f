// MetricsTable (contract: fxwidgets/widgets/metrics_table.py, module docstring).
//
// A method x metric table: each cell the mean ± standard error, the spread of the per-sample values drawn under
// it (box from the 25th to the 75th percentile, whiskers to the extremes, the values as dots), coloured from the
// worst (red) to the best (green) method of its column by the metric's direction, the best marked ★. A click on a
// column header sorts the rows by it (best first; again to reverse); a click on a cell writes `selected` and draws
// its detail below: the deletion / insertion curve, the similarity per randomised layer, or the per-sample values.
// The randomisation checks' detail also shows the first sample's map before and after each randomisation.
// The columns are split into several tables stacked when they do not fit the width, so nothing is clipped.
// All numbers come from the kernel; the view only lays them out.

import type { NdArray } from "./lib/codec";
import { chartBox, drawChartAxes, setupCanvas, type PlotBox } from "./lib/chart";
import { measureText } from "./lib/axis";
import { getColormap } from "./lib/colormaps";
import { createCellCanvas } from "./lib/matrix";
import { absMax, mapTiles } from "./lib/map_row";
import { fmt, methodTitle } from "./lib/format";
import type { AxisSpec } from "./lib/scale";
import type { Theme } from "./lib/theme";
import { createTooltip, type TipLine } from "./lib/tooltip";
import { h, setHidden } from "./lib/ui";
import { defineView, type View } from "./lib/view";

interface Traits {
  methods: string[];
  metric_names: string[];
  higher_is_better: Array<boolean | null>;
  curve_metrics: string[];
  n_samples: number;
  sort_by: string;
  sort_ascending: boolean;
  selected: { method: string; metric: string } | null;
  title: string;
  progress: number;
  status: string;
  error: string;
  [key: string]: unknown;
}

export interface Table {
  methods: string[];
  means: NdArray;
  stderrs: NdArray;
  n_valid: NdArray;
  goodness: NdArray;
  best: NdArray;
  quantiles: NdArray;
  samples: NdArray;
  progress: number;
}

export interface Detail {
  method: string;
  metric: string;
  kind: "curve" | "layers" | "values";
  higher_is_better: boolean | null;
  mean: number;
  stderr: number;
  n_valid: number;
  params: Record<string, unknown>;
  values: NdArray;
  sample_index: NdArray;
  x?: NdArray;
  labels?: string[] | null;
  axis?: string;
  y_label?: string;
  curve_mean?: NdArray;
  curve_stderr?: NdArray;
  curves?: NdArray;
  others?: Array<{ method: string; curve_mean: NdArray }>;
  maps?: NdArray; // randomisation checks: (steps + 1, H, W) or (steps + 1, d), the original map first
  map_labels?: string[];
  map_row?: number;
}

const CELL_W = 112; // CSS px of a metric column at full size
const CELL_MIN = 88;
const NAME_MAX = 150;
const NAME_MIN = 72;
const STRIP_H = 16;
const DETAIL_H = 240;
const DETAIL_MAX_W = 640;

const CSS = `
.fx-metrics { display: flex; flex-direction: column; align-items: stretch; padding: 4px 0; gap: 6px; }
.fx-metrics .fx-caption { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); overflow-wrap: anywhere; line-height: 1.35; }
.fx-metrics .fx-mtables { display: flex; flex-direction: column; gap: 8px; max-width: 100%; }
.fx-metrics table.fx-mtable { border-collapse: separate; border-spacing: 2px; table-layout: fixed; }
.fx-metrics th, .fx-metrics td { padding: 0; font-weight: normal; }
.fx-metrics th.fx-mhead, .fx-metrics th.fx-mcorner { vertical-align: bottom; }
.fx-metrics th button { width: 100%; border: none; background: none; padding: 2px 3px; cursor: pointer; line-height: 1.25;
  font-weight: 600; font-size: 12px; overflow-wrap: break-word; text-align: center; white-space: normal; }
.fx-metrics th.fx-mcorner button { text-align: left; }
.fx-metrics th button:hover { background: var(--jp-layout-color2, #eee); }
.fx-metrics th.fx-mname { text-align: left; padding: 0 4px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fx-metrics td.fx-mcell { position: relative; cursor: pointer; padding: 3px 4px 2px; border-radius: 3px; text-align: center;
  border: 1px solid transparent; }
.fx-metrics td.fx-mcell:hover { border-color: var(--jp-border-color1, #bdbdbd); }
.fx-metrics td.fx-mcell.fx-selected { border-color: var(--jp-brand-color1, #1976d2); box-shadow: inset 0 0 0 1px var(--jp-brand-color1, #1976d2); }
.fx-metrics .fx-mval { font-variant-numeric: tabular-nums; line-height: 1.3; overflow-wrap: anywhere; }
.fx-metrics .fx-mse { display: inline-block; white-space: nowrap; color: var(--jp-ui-font-color2, rgba(0,0,0,.54));
  font-size: var(--jp-ui-font-size0, 11px); }
.fx-metrics .fx-best .fx-mval { font-weight: 700; }
.fx-metrics canvas.fx-strip { display: block; margin: 2px auto 0; }
.fx-metrics .fx-detail-box { display: flex; flex-direction: column; gap: 3px; max-width: 100%; }
.fx-metrics .fx-detail-title { font-weight: 600; overflow-wrap: anywhere; }
.fx-metrics canvas.fx-detail { display: block; }
.fx-metrics canvas.fx-detail-maps { display: block; }
`;

/** Arrow telling which way a metric is better. */
export function arrow(hib: boolean | null | undefined): string {
  return hib === true ? "↑" : hib === false ? "↓" : "";
}

/**
 * The rows in the order shown: sorted by metric column `sortBy` (ascending or not), NaN always last, ties in
 * the given order; by method title for "method"; as given for "".
 */
export function sortedRows(
  methods: readonly string[],
  means: ArrayLike<number>,
  metrics: readonly string[],
  sortBy: string,
  ascending: boolean,
): number[] {
  const idx = methods.map((_, i) => i);
  if (sortBy === "method") {
    idx.sort((a, b) => methodTitle(methods[a]).localeCompare(methodTitle(methods[b])) * (ascending ? 1 : -1) || a - b);
    return idx;
  }
  const j = metrics.indexOf(sortBy);
  if (j < 0) return idx;
  const K = metrics.length;
  const v = (i: number) => means[i * K + j];
  idx.sort((a, b) => {
    const va = v(a);
    const vb = v(b);
    const fa = Number.isFinite(va);
    const fb = Number.isFinite(vb);
    if (!fa || !fb) return fa === fb ? a - b : fa ? -1 : 1;
    return (ascending ? va - vb : vb - va) || a - b;
  });
  return idx;
}

/** What a click on a column header does to the sort: a new column sorts best first; the same one reverses. */
export function nextSort(current: string, ascending: boolean, clicked: string, hib: boolean | null | undefined): [string, boolean] {
  if (current === clicked) return [clicked, !ascending];
  if (clicked === "method") return [clicked, true];
  return [clicked, hib === false]; // lower is better: ascending puts the best first; no direction: largest first
}

/** Background of a cell whose goodness is g in [0, 1] (0 worst, 1 best of its column; NaN: uncoloured). */
export function goodnessColor(g: number, light = true): string {
  if (!Number.isFinite(g)) return "transparent";
  const t = Math.max(0, Math.min(1, g));
  // red (worst) -> yellow -> green (best), the ends of matplotlib's RdYlGn at its light end
  const stops: Array<[number, number, number]> = [[244, 109, 67], [254, 224, 139], [102, 189, 99]];
  const s = t < 0.5 ? 0 : 1;
  const u = t < 0.5 ? t / 0.5 : (t - 0.5) / 0.5;
  const c = stops[s].map((a, k) => Math.round(a + (stops[s + 1][k] - a) * u));
  return `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${light ? 0.45 : 0.35})`;
}

/** How many metric columns of `cellW` fit beside a method column of `nameW` in `avail` px (at least 1). */
export function columnsPerTable(avail: number, nameW: number, cellW: number): number {
  return Math.max(1, Math.floor((avail - nameW - 8) / (cellW + 2)));
}

function setup(view: View<Traits>): void {
  const { root } = view;
  view.data({ status: "", tables: 0, rows: "", sort: view.get("sort_by") ?? "", selected: "", detail: "", maps: 0 });

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const caption = h("div", { class: "fx-caption fx-legend-text" });
  const tablesBox = h("div", { class: "fx-mtables" });
  const detailTitle = h("div", { class: "fx-detail-title" });
  const detailCanvas = h("canvas", { class: "fx-detail", attrs: { role: "img", "aria-label": "detail of the selected cell" } });
  const detailCaption = h("div", { class: "fx-caption fx-detail-caption" });
  const mapsCanvas = h("canvas", { class: "fx-detail-maps", attrs: { role: "img", "aria-label": "the sample's maps as the model is randomised" } });
  const mapsCaption = h("div", { class: "fx-caption fx-maps-caption" });
  const detailBox = h("div", { class: "fx-detail-box", children: [detailTitle, detailCanvas, detailCaption, mapsCanvas, mapsCaption] });
  setHidden(detailBox, true);
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(title, caption, tablesBox, detailBox, job.row, job.errorBox);

  // ---- state -----------------------------------------------------------------------------------------
  let table: Table | null = null;
  let detail: Detail | null = null;
  let detailGeom: { box: PlotBox; xOf: (v: number) => number; yOf: (v: number) => number } | null = null;
  let tables = 0;
  let avail = view.width();

  const metrics = () => view.get("metric_names") ?? [];
  const hibOf = (j: number) => (view.get("higher_is_better") ?? [])[j];

  function syncCaption(): void {
    const n = view.get("n_samples");
    caption.textContent =
      `Mean ± standard error over ${n} sample${n === 1 ? "" : "s"}; under each, the spread of the per-sample values ` +
      "(box: middle half, whiskers: extremes). ↑ higher is better, ↓ lower is better; each column is coloured from " +
      "its worst (red) to its best (green) method, ★ marks the best. Click a column header to sort, a cell for its detail.";
  }

  // ---- the table -------------------------------------------------------------------------------------
  function render(): void {
    const ms = metrics();
    const K = ms.length;
    const rows = table?.methods ?? view.get("methods") ?? [];
    const means = table?.means.data ?? new Float32Array(rows.length * K).fill(NaN);
    const order = sortedRows(rows, means, ms, view.get("sort_by") ?? "", !!view.get("sort_ascending"));
    const sortBy = view.get("sort_by") ?? "";
    const sel = view.get("selected");
    // widths: the method column holds the longest title (up to NAME_MAX), the metric columns share the rest
    const fam = view.theme.fontFamily;
    let nameW = Math.min(NAME_MAX, Math.max(NAME_MIN, ...rows.map((m) => measureText(methodTitle(m), fam, 13) + 12)));
    nameW = Math.min(nameW, Math.max(NAME_MIN, avail - CELL_MIN - 8));
    const perTable = Math.min(K || 1, columnsPerTable(avail, nameW, CELL_MIN));
    const cellW = Math.max(CELL_MIN, Math.min(CELL_W, Math.floor((avail - nameW - 8) / perTable) - 2));
    // column ranges of the strips: one scale per column, so that the cells of a column compare
    const ranges = ms.map((_, j) => columnRange(j, rows.length, K));
    const nodes: HTMLElement[] = [];
    for (let j0 = 0; j0 < Math.max(K, 1); j0 += perTable) {
      const cols = Array.from({ length: Math.min(perTable, K - j0) }, (_, k) => j0 + k);
      const t = h("table", { class: "fx-mtable" });
      t.style.width = `${nameW + cols.length * (cellW + 2) + 4}px`;
      const colgroup = h("colgroup", { children: [h("col", { attrs: { style: `width: ${nameW}px` } }), ...cols.map(() => h("col", { attrs: { style: `width: ${cellW}px` } }))] });
      const headRow = h("tr");
      const corner = h("th", { class: "fx-mcorner" });
      const cornerBtn = h("button", { text: `method${sortBy === "method" ? (view.get("sort_ascending") ? " ▲" : " ▼") : ""}`, attrs: { type: "button", title: "sort by method name" } });
      cornerBtn.dataset.metric = "method";
      corner.appendChild(cornerBtn);
      headRow.appendChild(corner);
      for (const j of cols) {
        const th = h("th", { class: "fx-mhead", attrs: { "data-metric": ms[j], scope: "col" } });
        const dir = arrow(hibOf(j));
        const mark = sortBy === ms[j] ? (view.get("sort_ascending") ? " ▲" : " ▼") : "";
        const btn = h("button", { text: `${ms[j].replace(/_/g, " ")} ${dir}${mark}`.trim(), attrs: { type: "button" } });
        btn.title = `${ms[j]}: ${hibOf(j) === true ? "higher is better" : hibOf(j) === false ? "lower is better" : "no direction"}; click to sort`;
        btn.dataset.metric = ms[j];
        th.appendChild(btn);
        headRow.appendChild(th);
      }
      const body = h("tbody");
      for (const i of order) {
        const tr = h("tr", { attrs: { "data-method": rows[i] } });
        const name = h("th", { class: "fx-mname", text: methodTitle(rows[i]), attrs: { scope: "row" } }); // data: text
        name.title = `${methodTitle(rows[i])} (method id: ${rows[i]})`;
        tr.appendChild(name);
        for (const j of cols) tr.appendChild(cell(i, j, K, cellW, ranges[j], sel));
        body.appendChild(tr);
      }
      t.append(colgroup, h("thead", { children: [headRow] }), body);
      nodes.push(t);
      if (K === 0) break;
    }
    tablesBox.replaceChildren(...nodes);
    view.data("rows", order.map((i) => rows[i]).join("|"));
    view.data("sort", `${sortBy}${sortBy ? (view.get("sort_ascending") ? " ascending" : " descending") : ""}`);
    view.data("selected", sel ? `${sel.method}|${sel.metric}` : "");
    view.settled();
  }

  function columnRange(j: number, M: number, K: number): [number, number] | null {
    if (!table) return null;
    let lo = Infinity;
    let hi = -Infinity;
    const q = table.quantiles.data;
    for (let i = 0; i < M; i++) {
      const a = q[(i * K + j) * 5];
      const b = q[(i * K + j) * 5 + 4];
      if (Number.isFinite(a)) lo = Math.min(lo, a);
      if (Number.isFinite(b)) hi = Math.max(hi, b);
    }
    if (!(hi >= lo)) return null;
    if (hi === lo) return [lo - 1, hi + 1];
    const pad = (hi - lo) * 0.04;
    return [lo - pad, hi + pad];
  }

  function cell(i: number, j: number, K: number, w: number, range: [number, number] | null, sel: Traits["selected"]): HTMLElement {
    const rows = table?.methods ?? view.get("methods") ?? [];
    const ms = metrics();
    const td = h("td", { class: "fx-mcell", attrs: { "data-method": rows[i], "data-metric": ms[j] } });
    const k = i * K + j;
    const mean = table ? table.means.data[k] : NaN;
    const se = table ? table.stderrs.data[k] : NaN;
    const best = table ? table.best.data[j] === i : false;
    td.style.background = table ? goodnessColor(table.goodness.data[k], view.theme.light) : "transparent";
    td.classList.toggle("fx-best", best);
    td.classList.toggle("fx-selected", !!sel && sel.method === rows[i] && sel.metric === ms[j]);
    const val = h("div", { class: "fx-mval" });
    if (Number.isFinite(mean)) {
      if (best) val.append(h("span", { class: "fx-star", text: "★ ", attrs: { title: "best in this column" } }));
      val.append(document.createTextNode(`${fmt(mean, 3)} `));
      if (Number.isFinite(se)) val.append(h("span", { class: "fx-mse", text: `± ${fmt(se, 2)}` }));
    } else {
      val.textContent = "—";
    }
    td.dataset.mean = String(mean);
    const n = table ? table.n_valid.data[k] : 0;
    td.title = Number.isFinite(mean)
      ? `${methodTitle(rows[i])}, ${ms[j]}: ${fmt(mean)} ± ${fmt(se)} (s.e.) over ${n} samples${best ? "; best in this column" : ""}`
      : `${methodTitle(rows[i])}, ${ms[j]}: no value${table && table.progress < 1 ? " yet" : " (this method cannot run this metric)"}`;
    const strip = h("canvas", { class: "fx-strip", attrs: { "aria-hidden": "true" } });
    td.append(val, strip);
    drawStrip(strip, w - 8, i, j, K, range);
    return td;
  }

  function drawStrip(c: HTMLCanvasElement, w: number, i: number, j: number, K: number, range: [number, number] | null): void {
    const ctx = setupCanvas(c, Math.max(20, w), STRIP_H, { ...view.theme, layout0: "rgba(0,0,0,0)" } as Theme);
    if (!ctx || !table || !range) return;
    ctx.clearRect(0, 0, w, STRIP_H);
    const k = i * K + j;
    const q = Array.from(table.quantiles.data.subarray(5 * k, 5 * k + 5));
    if (!q.every(Number.isFinite)) return;
    const x = (v: number) => 2 + ((v - range[0]) / (range[1] - range[0])) * (w - 4);
    const mid = STRIP_H / 2;
    const ink = view.theme.font1;
    ctx.strokeStyle = ink;
    ctx.lineWidth = 1;
    ctx.beginPath(); // whiskers
    ctx.moveTo(x(q[0]), mid + 0.5);
    ctx.lineTo(x(q[4]), mid + 0.5);
    ctx.stroke();
    ctx.fillStyle = view.theme.layout0;
    ctx.fillRect(x(q[1]), mid - 4, Math.max(1, x(q[3]) - x(q[1])), 8);
    ctx.strokeRect(x(q[1]) + 0.5, mid - 3.5, Math.max(1, x(q[3]) - x(q[1])), 7);
    ctx.beginPath(); // median
    ctx.moveTo(x(q[2]) + 0.5, mid - 4);
    ctx.lineTo(x(q[2]) + 0.5, mid + 4);
    ctx.lineWidth = 2;
    ctx.stroke();
    const S = table.samples.shape[2] ?? 0;
    const s = table.samples.data;
    ctx.fillStyle = view.theme.brand;
    ctx.globalAlpha = 0.45;
    for (let t = 0; t < S; t++) {
      const v = s[k * S + t];
      if (!Number.isFinite(v)) continue;
      const jitter = ((t * 7919) % 11) - 5; // fixed, so a redraw never moves a dot
      ctx.fillRect(x(v) - 1, mid + jitter * 0.7 - 1, 2, 2);
    }
    ctx.globalAlpha = 1;
  }

  // ---- the detail --------------------------------------------------------------------------------------
  let detailAsked = "";
  function askDetail(): void {
    const sel = view.get("selected");
    if (!sel) {
      detail = null;
      setHidden(detailBox, true);
      view.data("detail", "");
      view.data("maps", 0);
      return;
    }
    const key = `${sel.method}|${sel.metric}`;
    detailAsked = key;
    void view.request<Detail>("detail", sel, { channel: "detail" }).then((r) => {
      if (!r || detailAsked !== key) return;
      detail = r.result;
      drawDetail();
      view.data("detail", key);
    });
  }
  // while the job streams, the selected cell's detail is fetched again at most twice a second
  let refetch: (() => void) | null = null;
  function detailLater(): void {
    if (refetch || !view.get("selected")) return;
    refetch = view.later(500, () => {
      refetch = null;
      askDetail();
    });
  }

  function drawDetail(): void {
    if (!detail) return;
    setHidden(detailBox, false);
    const d = detail;
    const w = Math.min(avail, DETAIL_MAX_W);
    const dir = d.higher_is_better === true ? "higher is better" : d.higher_is_better === false ? "lower is better" : "no direction";
    detailTitle.textContent = `${methodTitle(d.method)} — ${d.metric.replace(/_/g, " ")}: ${fmt(d.mean)} ± ${fmt(d.stderr)} (s.e., ${d.n_valid} samples; ${dir})`;
    const ctx = setupCanvas(detailCanvas, w, DETAIL_H, view.theme);
    if (!ctx) return;
    if (d.kind === "values") drawValues(ctx, w, d);
    else drawCurves(ctx, w, d);
    drawMaps(w, d);
    const shown = Object.entries(d.params ?? {})
      .filter(([, v]) => v !== null && typeof v !== "object")
      .map(([k, v]) => `${k}=${typeof v === "number" ? fmt(v) : String(v)}`);
    detailCaption.textContent =
      (d.kind === "curve"
        ? `The model's output as the ${d.metric === "deletion" ? "most-attributed features are removed" : "most-attributed features are inserted"} first: ` +
          `the mean over samples (thick) with ± 1 s.e., some samples (thin), the other methods' means (grey). The metric is the area under the curve.`
        : d.kind === "layers"
          ? "Sanity check: the similarity of the map to the maps of the model with its layers re-initialised one by one. " +
            "A map that stays similar does not depend on what the model learned (lower is better)."
          : "Each dot is one sample's value; the line is the mean, the band ± 1 s.e.") + (shown.length ? ` Parameters: ${shown.join(", ")}.` : "");
    view.settled();
  }

  // The kept sample's maps, each in a diverging map with its own symmetric range (a randomised map can be orders of
  // magnitude smaller than the original: a shared range would paint it blank), labelled under it.
  function drawMaps(w: number, d: Detail): void {
    const m = d.maps;
    const S = m && m.shape.length >= 2 ? m.shape[0] : 0;
    setHidden(mapsCanvas, S === 0);
    setHidden(mapsCaption, S === 0);
    view.data("maps", S);
    if (!m || S === 0) return;
    const rows = m.shape.length >= 3 ? m.shape[1] : 1;
    const cols = m.shape.length >= 3 ? m.shape[2] : m.shape[1];
    const n = rows * cols;
    const labelH = 14;
    const t = mapTiles(S, rows, cols, w, { labelH });
    const ctx = setupCanvas(mapsCanvas, w, t.height, view.theme);
    if (!ctx) return;
    const lut = getColormap("RdBu_r");
    const cells = createCellCanvas(rows, cols);
    if (!cells) return;
    ctx.font = `11px ${view.theme.fontFamily}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let s = 0; s < S; s++) {
      const v = (m.data as Float32Array).subarray(s * n, (s + 1) * n);
      const r = absMax(v);
      cells.paint(v, lut, -r, r);
      const { x, y } = t.tiles[s];
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(cells.canvas, x, y, t.tileW, t.tileH);
      ctx.strokeStyle = view.theme.font2;
      ctx.lineWidth = 1;
      ctx.strokeRect(x + 0.5, y + 0.5, t.tileW - 1, t.tileH - 1);
      let label = d.map_labels?.[s] ?? String(s);
      while (label.length > 1 && measureText(label, view.theme.fontFamily, 11) > t.tileW + 6) label = label.slice(0, -2) + "…";
      ctx.fillStyle = view.theme.font1;
      ctx.fillText(label, x + t.tileW / 2, y + t.tileH + 2);
    }
    mapsCaption.textContent =
      `Sample ${d.map_row ?? 0}'s map, then its map ${d.kind === "layers" ? "after each layer is re-initialised" : "for another class"} ` +
      "(blue negative, red positive; each map in its own symmetric range). Maps that keep their structure fail the check.";
  }

  function drawCurves(ctx: CanvasRenderingContext2D, w: number, d: Detail): void {
    const xs = d.x!.data;
    const P = xs.length;
    const layers = d.kind === "layers";
    const mean = d.curve_mean!.data;
    const se = d.curve_stderr!.data;
    const curves = d.curves!;
    let lo = Infinity;
    let hi = -Infinity;
    const take = (v: number) => {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    };
    for (let p = 0; p < P; p++) {
      take(mean[p] - (Number.isFinite(se[p]) ? se[p] : 0));
      take(mean[p] + (Number.isFinite(se[p]) ? se[p] : 0));
    }
    curves.data.forEach(take);
    for (const o of d.others ?? []) o.curve_mean.data.forEach(take);
    if (!(hi >= lo)) [lo, hi] = [0, 1];
    if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
    const ySpec: AxisSpec = { kind: "linear", lo, hi, reverse: true };
    const labels = d.labels ?? null;
    const xSpec: AxisSpec = layers && labels && labels.length === P
      ? { kind: "labels", labels }
      : { kind: "linear", lo: xs[0], hi: xs[P - 1] > xs[0] ? xs[P - 1] : xs[0] + 1 };
    const box = chartBox(w, DETAIL_H, ySpec, view.theme.fontFamily);
    drawChartAxes(ctx, box, xSpec, ySpec, view.theme, d.axis ?? "", d.y_label ?? "");
    const xOf = layers && labels && labels.length === P
      ? (p: number) => box.left + ((p + 0.5) / P) * box.width
      : (v: number) => box.left + ((v - xs[0]) / ((xs[P - 1] - xs[0]) || 1)) * box.width;
    const xAt = (p: number) => (layers && labels && labels.length === P ? xOf(p) : xOf(xs[p]));
    const yOf = (v: number) => box.top + (1 - (v - lo) / (hi - lo)) * box.height;
    detailGeom = { box, xOf: xAt, yOf };
    const line = (ys: ArrayLike<number>, off = 0) => {
      ctx.beginPath();
      let started = false;
      for (let p = 0; p < P; p++) {
        const v = ys[off + p];
        if (!Number.isFinite(v)) {
          started = false;
          continue;
        }
        if (!started) ctx.moveTo(xAt(p), yOf(v));
        else ctx.lineTo(xAt(p), yOf(v));
        started = true;
      }
      ctx.stroke();
    };
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    // other methods' means, grey
    ctx.strokeStyle = view.theme.font2;
    ctx.globalAlpha = 0.55;
    ctx.lineWidth = 1.2;
    ctx.setLineDash([4, 3]);
    for (const o of d.others ?? []) line(o.curve_mean.data);
    ctx.setLineDash([]);
    // samples, thin
    ctx.strokeStyle = view.theme.brand;
    ctx.globalAlpha = 0.14;
    ctx.lineWidth = 1;
    const S = curves.shape[0] ?? 0;
    for (let s = 0; s < S; s++) line(curves.data, s * P);
    // band and mean
    ctx.globalAlpha = 0.22;
    ctx.fillStyle = view.theme.brand;
    ctx.beginPath();
    for (let p = 0; p < P; p++) ctx.lineTo(xAt(p), yOf(mean[p] + (Number.isFinite(se[p]) ? se[p] : 0)));
    for (let p = P - 1; p >= 0; p--) ctx.lineTo(xAt(p), yOf(mean[p] - (Number.isFinite(se[p]) ? se[p] : 0)));
    ctx.closePath();
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineWidth = 2.2;
    line(mean);
    if (layers) {
      ctx.fillStyle = view.theme.brand;
      for (let p = 0; p < P; p++) if (Number.isFinite(mean[p])) ctx.fillRect(xAt(p) - 2.5, yOf(mean[p]) - 2.5, 5, 5);
    }
    ctx.restore();
    detailCanvas.dataset.points = String(P);
  }

  function drawValues(ctx: CanvasRenderingContext2D, w: number, d: Detail): void {
    const v = d.values.data;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < v.length; i++) {
      if (Number.isFinite(v[i])) {
        lo = Math.min(lo, v[i]);
        hi = Math.max(hi, v[i]);
      }
    }
    if (!(hi >= lo)) [lo, hi] = [0, 1];
    if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
    const pad = (hi - lo) * 0.04;
    lo -= pad;
    hi += pad;
    const ySpec: AxisSpec = { kind: "linear", lo: 0, hi: 1, reverse: true };
    const box = chartBox(w, DETAIL_H, ySpec, view.theme.fontFamily, { x: true, y: false });
    // no y axis: the vertical position only spreads the dots
    const xSpec: AxisSpec = { kind: "linear", lo, hi };
    drawChartAxes(ctx, { ...box, left: 12, width: w - 24 }, xSpec, { kind: "linear", lo: NaN, hi: NaN }, view.theme,
      `${d.metric.replace(/_/g, " ")} per sample`, "");
    const plot = { ...box, left: 12, width: w - 24 };
    const xOf = (x: number) => plot.left + ((x - lo) / (hi - lo)) * plot.width;
    const yOf = (t: number) => plot.top + (0.1 + 0.8 * t) * plot.height;
    detailGeom = { box: plot, xOf, yOf };
    ctx.fillStyle = view.theme.brand;
    ctx.globalAlpha = 0.18;
    if (Number.isFinite(d.stderr)) ctx.fillRect(xOf(d.mean - d.stderr), plot.top, Math.max(1, xOf(d.mean + d.stderr) - xOf(d.mean - d.stderr)), plot.height);
    ctx.globalAlpha = 0.7;
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) continue;
      ctx.beginPath();
      ctx.arc(xOf(v[i]), yOf(jitterOf(i)), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    if (Number.isFinite(d.mean)) {
      ctx.strokeStyle = view.theme.font0;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(xOf(d.mean), plot.top);
      ctx.lineTo(xOf(d.mean), plot.top + plot.height);
      ctx.stroke();
    }
    detailCanvas.dataset.points = String(v.length);
  }

  // ---- pointer -----------------------------------------------------------------------------------------
  view.dom<MouseEvent>(tablesBox, "click", (ev) => {
    const target = ev.target as Element | null;
    const btn = target?.closest?.("th button") as HTMLElement | null;
    if (btn) {
      const m = btn.dataset.metric ?? "";
      const j = metrics().indexOf(m);
      const [by, asc] = nextSort(view.get("sort_by") ?? "", !!view.get("sort_ascending"), m, j >= 0 ? hibOf(j) : null);
      view.model.set("sort_by", by);
      view.model.set("sort_ascending", asc);
      view.model.save_changes();
      render();
      return;
    }
    const td = target?.closest?.("td.fx-mcell") as HTMLElement | null;
    if (td && td.dataset.method !== undefined && td.dataset.metric !== undefined) {
      view.set("selected", { method: td.dataset.method, metric: td.dataset.metric });
      render();
      askDetail();
    }
  });

  view.dom<PointerEvent>(detailCanvas, "pointermove", (ev) => {
    if (!detail || !detailGeom) return;
    const r = detailCanvas.getBoundingClientRect();
    const px = ev.clientX - r.left;
    const py = ev.clientY - r.top;
    const lines = detailTip(detail, px, py);
    if (!lines) return tip.hide();
    const rr = root.getBoundingClientRect();
    tip.show(lines);
    tip.place(ev.clientX - rr.left, ev.clientY - rr.top);
  });
  view.dom(detailCanvas, "pointerleave", () => tip.hide());

  function detailTip(d: Detail, px: number, py: number): TipLine[] | null {
    const g = detailGeom!;
    if (d.kind === "values") {
      let best = -1;
      let dist = 64;
      const v = d.values.data;
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i])) continue;
        const dd = (g.xOf(v[i]) - px) ** 2 + (g.yOf(jitterOf(i)) - py) ** 2;
        if (dd < dist) {
          dist = dd;
          best = i;
        }
      }
      if (best < 0) return null;
      return [
        { value: `sample ${d.sample_index.data[best]}`, strong: true },
        { label: d.metric, value: v[best] },
      ];
    }
    const P = d.x!.data.length;
    let p = 0;
    for (let k = 1; k < P; k++) if (Math.abs(g.xOf(k) - px) < Math.abs(g.xOf(p) - px)) p = k;
    if (px < g.box.left - 4 || px > g.box.left + g.box.width + 4) return null;
    const where = d.kind === "layers" ? `after randomising: ${d.labels?.[p] ?? p}` : `${d.axis ?? "x"}: ${fmt(d.x!.data[p], 3)}`;
    const lines: TipLine[] = [
      { value: where, strong: true },
      { label: methodTitle(d.method), value: `${fmt(d.curve_mean!.data[p])} ± ${fmt(d.curve_stderr!.data[p], 2)}` },
    ];
    for (const o of d.others ?? []) lines.push({ label: methodTitle(o.method), value: o.curve_mean.data[p], muted: true });
    return lines;
  }

  // ---- traits and messages ----------------------------------------------------------------------------
  view.on(["sort_by", "sort_ascending", "methods", "metric_names", "higher_is_better"], () => render());
  view.on("selected", render, askDetail);
  view.on("n_samples", syncCaption);
  view.onMessage<Table & { type: "table" }>("table", (msg) => {
    table = msg;
    tables += 1;
    view.data("tables", tables);
    view.live();
    render();
    detailLater();
  });
  view.onTheme(() => {
    render();
    drawDetail();
  });
  view.onResize((w) => {
    avail = w;
    render();
    drawDetail();
  });

  syncCaption();
  render();
  void view.request<Table>("table").then((r) => {
    if (!r) return;
    if (!table || r.result.progress >= table.progress) table = r.result;
    tables += 1;
    view.data("tables", tables);
    view.live();
    render();
    askDetail();
  });
}

/** A fixed vertical spread in [0, 1] for dot i of the detail's value strip (a redraw never moves a dot). */
export function jitterOf(i: number): number {
  const x = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
  return x - Math.floor(x);
}

export default defineView<Traits>({ name: "fx-metrics", css: CSS }, setup);
