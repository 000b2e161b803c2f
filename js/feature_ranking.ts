// FeatureRanking view (contract: fxwidgets/widgets/ranking.py, module docstring).
//
// Bars sorted by the current method's score, names as text, the score written at each bar; a cut-off line under
// the k-th bar that can be dragged, or a click on a bar, sets `k` (Python then sets `selected`). Beside the bars
// when there is room (below them when not): the held-out probe score against k as it streams in (`curve`
// messages) with k ticks and the stability of the top-k sets, and the rank agreement between methods as a
// labelled matrix. All numbers come from the kernel: the view only draws.

import type { NdArray } from "./lib/codec";
import { getColormap } from "./lib/colormaps";
import { fmt, methodTitle } from "./lib/format";
import { chartBox, drawChartAxes, setupCanvas } from "./lib/chart";
import { cellUnder, createMatrixFrame, drawCellValues, fixed, paintMatrix } from "./lib/matrix";
import type { AxisSpec } from "./lib/scale";
import { sideBySide } from "./lib/sizing";
import { createTooltip } from "./lib/tooltip";
import { labelled, selectOf, setOptions, toolbar } from "./lib/toolbar";
import { h } from "./lib/ui";
import { defineView, type View } from "./lib/view";

interface Traits {
  names: string[];
  methods: string[];
  method: string;
  k: number;
  selected: number[];
  n_features: number;
  max_bars: number;
  curve_label: string;
  title: string;
  progress: number;
  status: string;
  error: string;
  // optional (a newer Python side): the rows the rankings use (a linked selection)
  n_rows?: number;
  rows_ranked?: number;
  [key: string]: unknown;
}

interface Ranking {
  type?: "ranking";
  method: string;
  larger_is_better: boolean;
  scores: NdArray;
  order: NdArray;
  lo?: NdArray;
  hi?: NdArray;
  stab_k?: NdArray;
  stab_jaccard?: NdArray;
}

interface Curve {
  type?: "curve";
  method: string;
  done: boolean;
  k: NdArray;
  score: NdArray;
}

interface State {
  ranking: Ranking;
  curve?: Curve;
  agreement: { methods: string[]; matrix: NdArray };
}

const ROW = 18; // CSS px per bar
const VISIBLE_ROWS = 24; // the list scrolls beyond this; its height is whole rows, so no label is cut in half
const BARS_W = 360;
const RIGHT_MIN = 340;
const CURVE_H = 230;

const CSS = `
.fx-ranking { display: flex; flex-direction: column; padding: 4px 0; }
.fx-ranking .fx-kinfo { font-variant-numeric: tabular-nums; }
.fx-ranking .fx-panels { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; max-width: 100%; }
.fx-ranking .fx-right { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
.fx-ranking .fx-bars { position: relative; max-height: ${ROW * VISIBLE_ROWS + 2}px; overflow-y: auto; overflow-x: hidden;
  border: 1px solid var(--jp-border-color2, #e0e0e0); cursor: ns-resize; touch-action: none; user-select: none; }
.fx-ranking .fx-row { position: relative; display: flex; align-items: center; height: ${ROW}px; gap: 6px; padding: 0 4px; }
.fx-ranking .fx-name { flex: 0 1 auto; width: 38%; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  text-align: right; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); line-height: ${ROW}px; }
.fx-ranking .fx-row.fx-kept .fx-name { color: var(--jp-ui-font-color1, rgba(0,0,0,.87)); }
.fx-ranking .fx-track { position: relative; flex: 1 1 auto; height: 12px; min-width: 40px; }
.fx-ranking .fx-bar { position: absolute; left: 0; top: 1px; height: 10px; background: var(--jp-border-color1, #bdbdbd); }
.fx-ranking .fx-row.fx-kept .fx-bar { background: var(--jp-brand-color1, #1976d2); }
.fx-ranking .fx-band { position: absolute; top: 5px; height: 2px; background: var(--jp-ui-font-color2, rgba(0,0,0,.54)); opacity: .7; }
.fx-ranking .fx-score { flex: 0 0 auto; width: 4.2em; text-align: right; font-size: 11px; font-variant-numeric: tabular-nums;
  color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-ranking .fx-cutoff { position: absolute; left: 0; right: 0; height: 0; border-top: 2px dashed var(--jp-error-color1, #d32f2f);
  pointer-events: none; }
.fx-ranking .fx-cutoff-label { position: absolute; right: 4.6em; top: -15px; font-size: 11px; line-height: 13px;
  color: var(--jp-error-color1, #d32f2f); background: var(--jp-layout-color0, #fff); padding: 0 2px; }
.fx-ranking .fx-more { padding: 2px 6px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); line-height: ${ROW}px; }
.fx-ranking canvas.fx-curve { display: block; }
.fx-ranking .fx-caption { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); margin: 2px 0; font-variant-numeric: tabular-nums;
  overflow-wrap: anywhere; }
.fx-ranking .fx-section { font-weight: 600; margin-top: 8px; }
`;

/** k for a pointer at `y` px from the top of the list: a drag puts the cut-off at the nearest gap. */
export function kFromDrag(y: number, rowHeight: number, n: number): number {
  return Math.max(1, Math.min(n, Math.round(y / rowHeight)));
}

/** k for a click at `y`: the clicked bar becomes the last one kept. */
export function kFromClick(y: number, rowHeight: number, n: number): number {
  return Math.max(1, Math.min(n, Math.floor(y / rowHeight) + 1));
}

/** The probe score at k: the last point of the curve at or before k (the curve is evaluated at some k only). */
export function scoreAt(ks: ArrayLike<number>, scores: ArrayLike<number>, k: number): number | null {
  let best = -1;
  for (let i = 0; i < ks.length; i++) if (ks[i] <= k) best = i;
  return best >= 0 ? scores[best] : null;
}

function setup(view: View<Traits>): void {
  const { root } = view;
  view.data({ status: "", k: view.get("k"), method: view.get("method"), curvePoints: 0, bars: 0, draws: 0 });

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const methodSelect = selectOf("fx-method", "method", []);
  const kInfo = h("span", { class: "fx-kinfo" });
  const bars = h("div", { class: "fx-bars", attrs: { role: "listbox", "aria-label": "features by score" } });
  const cutoff = h("div", { class: "fx-cutoff" });
  const cutoffLabel = h("span", { class: "fx-cutoff-label" });
  cutoff.appendChild(cutoffLabel);
  const curveCanvas = h("canvas", { class: "fx-curve", attrs: { role: "img", "aria-label": "probe score against k" } });
  const curveCaption = h("div", { class: "fx-caption fx-acc" });
  const agree = createMatrixFrame("fx-agree", () => view.theme.fontFamily, "rank agreement between methods");
  const agreeTitle = h("div", { class: "fx-section", text: "Do the methods agree?" });
  const agreeCaption = h("div", { class: "fx-caption", text: "Spearman correlation between the rankings of each pair of methods (1 = same order)." });
  const right = h("div", { class: "fx-right", children: [curveCanvas, curveCaption, agreeTitle, agreeCaption, agree.el] });
  const panels = h("div", { class: "fx-panels", children: [bars, right] });
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(title, toolbar(labelled("method", methodSelect), kInfo), panels, job.row, job.errorBox);

  // ---- state -----------------------------------------------------------------------------------------
  let ranking: Ranking | null = null;
  const curves = new Map<string, Curve>();
  let agreement: State["agreement"] | null = null;
  let previewK: number | null = null;
  let draws = 0;
  let rightW = RIGHT_MIN;

  const shownCount = () => {
    const n = ranking ? ranking.order.data.length : 0;
    return Math.min(n, Math.max(1, view.get("max_bars")));
  };

  function relayout(): void {
    const avail = view.width();
    const lay = sideBySide(avail, BARS_W, RIGHT_MIN);
    bars.style.width = `${lay.leftWidth}px`;
    rightW = Math.min(lay.rightWidth, 520);
    right.style.width = `${rightW}px`;
    drawCurve();
    drawAgreement();
  }

  function renderBars(): void {
    bars.replaceChildren();
    if (!ranking) return;
    const names = view.get("names");
    const order = ranking.order.data;
    const scores = ranking.scores.data;
    const shown = shownCount();
    let top = 0;
    for (let i = 0; i < shown; i++) {
      const v = Math.abs(scores[order[i]]);
      if (Number.isFinite(v)) top = Math.max(top, v);
      if (ranking.hi && Number.isFinite(ranking.hi.data[order[i]])) top = Math.max(top, Math.abs(ranking.hi.data[order[i]]));
    }
    if (!(top > 0)) top = 1;
    for (let i = 0; i < shown; i++) {
      const f = order[i];
      const s = scores[f];
      const row = h("div", { class: "fx-row", attrs: { role: "option", "data-pos": String(i), "data-index": String(f) } });
      const name = h("span", { class: "fx-name", text: names[f] ?? `x${f}` }); // feature names are data: text
      const track = h("div", { class: "fx-track" });
      const bar = h("div", { class: "fx-bar" });
      bar.style.width = `${Number.isFinite(s) ? (100 * Math.abs(s)) / top : 0}%`;
      track.appendChild(bar);
      if (ranking.lo && ranking.hi) {
        const lo = ranking.lo.data[f];
        const hi = ranking.hi.data[f];
        if (Number.isFinite(lo) && Number.isFinite(hi)) {
          const band = h("div", { class: "fx-band" });
          band.style.left = `${(100 * Math.max(0, Math.min(lo, hi))) / top}%`;
          band.style.width = `${(100 * Math.abs(hi - lo)) / top}%`;
          track.appendChild(band);
        }
      }
      row.append(name, track, h("span", { class: "fx-score", text: fmt(s, 3) }));
      bars.appendChild(row);
    }
    const n = ranking.order.data.length;
    if (shown < n) bars.appendChild(h("div", { class: "fx-more", text: `… ${n - shown} more (set k from Python)` }));
    bars.appendChild(cutoff);
    view.data("bars", shown);
    markKept();
    view.settled();
  }

  function markKept(): void {
    const k = previewK ?? view.get("k");
    bars.querySelectorAll<HTMLElement>(".fx-row").forEach((row, i) => row.classList.toggle("fx-kept", i < k));
    cutoff.style.top = `${Math.min(k, shownCount()) * ROW}px`;
    cutoffLabel.textContent = `k = ${k}`;
    kInfo.textContent = `keep ${k} of ${view.get("n_features")} features` + rowsText();
    drawCurve();
  }

  /** ", ranked on 37 of 178 rows" when a selection (a linked lasso) restricts the rows. */
  function rowsText(): string {
    const n = Number(view.get("n_rows") ?? 0);
    const r = Number(view.get("rows_ranked") ?? n);
    return n > 0 && r > 0 && r < n ? `, ranked on ${r.toLocaleString("en-US")} of ${n.toLocaleString("en-US")} rows` : "";
  }

  // ---- the probe curve -------------------------------------------------------------------------------
  function drawCurve(): void {
    const ctx = setupCanvas(curveCanvas, rightW, CURVE_H, view.theme);
    if (!ctx) return;
    const n = Math.max(1, view.get("n_features"));
    const logx = n > 50;
    const xSpec: AxisSpec = logx ? { kind: "log", lo: 1, hi: n } : { kind: "linear", lo: 1, hi: Math.max(2, n) };
    const ySpec: AxisSpec = { kind: "linear", lo: 0, hi: 1, reverse: true };
    const label = view.get("curve_label") || "probe score";
    const box = chartBox(rightW, CURVE_H, ySpec, view.theme.fontFamily);
    drawChartAxes(ctx, box, xSpec, ySpec, view.theme, `k, features kept${logx ? " (log scale)" : ""}`, label);
    const xOf = (k: number) =>
      box.left + (logx ? (Math.log(Math.max(1, k)) / Math.log(n)) * box.width : ((k - 1) / Math.max(1, n - 1)) * box.width);
    const yOf = (v: number) => box.top + (1 - Math.max(0, Math.min(1, v))) * box.height;
    const method = view.get("method");
    const line = (ks: ArrayLike<number>, vs: ArrayLike<number>) => {
      ctx.beginPath();
      for (let i = 0; i < ks.length; i++) {
        if (i === 0) ctx.moveTo(xOf(ks[i]), yOf(vs[i]));
        else ctx.lineTo(xOf(ks[i]), yOf(vs[i]));
      }
      ctx.stroke();
    };
    // stability: mean Jaccard of bootstrap top-k sets, dashed
    const stab = ranking && ranking.stab_k && ranking.stab_jaccard && ranking.method === method;
    if (stab) {
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = view.theme.font2;
      ctx.lineWidth = 1;
      line(ranking!.stab_k!.data, ranking!.stab_jaccard!.data);
      ctx.setLineDash([]);
    }
    const curve = curves.get(method);
    if (curve && curve.k.data.length) {
      ctx.strokeStyle = view.theme.brand;
      ctx.fillStyle = view.theme.brand;
      ctx.lineWidth = 2;
      line(curve.k.data, curve.score.data);
      for (let i = 0; i < curve.k.data.length; i++) ctx.fillRect(xOf(curve.k.data[i]) - 2, yOf(curve.score.data[i]) - 2, 4, 4);
      ctx.lineWidth = 1;
    }
    const k = previewK ?? view.get("k");
    ctx.strokeStyle = view.theme.error;
    ctx.beginPath();
    ctx.moveTo(Math.round(xOf(k)) + 0.5, box.top);
    ctx.lineTo(Math.round(xOf(k)) + 0.5, box.top + box.height);
    ctx.stroke();
    const acc = curve ? scoreAt(curve.k.data, curve.score.data, k) : null;
    const stabText = stab ? " · dashed: stability (how often bootstrap top-k sets agree, Jaccard)" : "";
    curveCaption.textContent =
      acc === null ? `${label}: computing…${stabText}` : `${label} with the top ${k}: ${fmt(acc, 3)}${curve?.done ? "" : " (streaming)"}${stabText}`;
    draws += 1;
    view.data("draws", draws);
  }

  // ---- the agreement matrix --------------------------------------------------------------------------
  const AGREE_CMAP = "RdBu_r";
  function drawAgreement(): void {
    if (!agreement) return;
    const m = agreement.methods.length;
    const names = agreement.methods.map(methodTitle);
    const L = agree.layout({
      avail: rightW,
      rows: m,
      cols: m,
      rowAxis: { kind: "labels", labels: names },
      colAxis: { kind: "labels", labels: names },
      maxSide: Math.min(rightW, 64 * m + 40),
      minSide: 40,
      colorbar: { lut: getColormap(AGREE_CMAP), limits: [-1, 1], title: "Spearman correlation" },
    });
    const M = agreement.matrix.data as Float32Array;
    paintMatrix(agree, M, m, m, getColormap(AGREE_CMAP), [-1, 1], view.theme.layout0);
    const ctx = agree.canvas.getContext("2d");
    if (!ctx) return;
    drawCellValues(ctx, M, m, m, L.cssW, L.cssH, getColormap(AGREE_CMAP), [-1, 1], view.theme.fontFamily, fixed(2));
  }
  view.dom<PointerEvent>(agree.canvas, "pointermove", (ev) => {
    if (!agreement) return;
    const m = agreement.methods.length;
    const c = cellUnder(agree, ev, m, m);
    if (!c) return tip.hide();
    const { i, j } = c;
    const r = root.getBoundingClientRect();
    tip.show([
      { value: `${methodTitle(agreement.methods[i])} vs ${methodTitle(agreement.methods[j])}`, strong: true },
      { label: "Spearman correlation of the rankings", value: (agreement.matrix.data as Float32Array)[i * m + j] },
    ]);
    tip.place(ev.clientX - r.left, ev.clientY - r.top);
  });
  view.dom(agree.canvas, "pointerleave", () => tip.hide());

  function fillMethods(): void {
    setOptions(methodSelect, (view.get("methods") ?? []).map((m) => [m, methodTitle(m)] as const));
    methodSelect.value = view.get("method");
  }

  // ---- kernel -> view --------------------------------------------------------------------------------
  function applyRanking(r: Ranking): void {
    ranking = r;
    if (r.method === view.get("method")) renderBars();
  }
  function applyCurve(c: Curve): void {
    curves.set(c.method, c);
    if (c.method === view.get("method")) {
      view.data("curvePoints", c.k.data.length);
      view.data("curveDone", c.done ? "true" : "false");
      drawCurve();
      if (c.done) view.settled();
    }
  }
  view.onMessage<Ranking & { type: "ranking" }>("ranking", applyRanking);
  view.onMessage<Curve & { type: "curve" }>("curve", applyCurve);

  void view.request<State>("state", {}, { channel: "state" }).then((reply) => {
    if (!reply) return;
    agreement = reply.result.agreement;
    applyRanking(reply.result.ranking);
    if (reply.result.curve) applyCurve(reply.result.curve);
    drawAgreement();
    view.data("ready", "true");
    view.live();
    view.settled();
  });

  // ---- gestures --------------------------------------------------------------------------------------
  let drag: { id: number; y0: number; moved: boolean } | null = null;
  const yIn = (ev: PointerEvent) => ev.clientY - bars.getBoundingClientRect().top - bars.clientTop + bars.scrollTop;
  view.dom<PointerEvent>(bars, "pointerdown", (ev) => {
    if (ev.button !== 0 || !ranking) return;
    ev.preventDefault();
    drag = { id: ev.pointerId, y0: yIn(ev), moved: false };
    try {
      bars.setPointerCapture(ev.pointerId);
    } catch {
      /* synthetic events have no capture */
    }
  });
  view.dom<PointerEvent>(bars, "pointermove", (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const y = yIn(ev);
    if (Math.abs(y - drag.y0) > 3) drag.moved = true;
    if (drag.moved) {
      previewK = kFromDrag(y, ROW, shownCount());
      markKept();
    }
  });
  view.dom<PointerEvent>(bars, "pointerup", (ev) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const y = yIn(ev);
    const k = drag.moved ? kFromDrag(y, ROW, shownCount()) : kFromClick(y, ROW, shownCount());
    drag = null;
    previewK = null;
    view.set("k", k);
    view.data("k", k);
    markKept();
  });
  view.dom(bars, "pointercancel", () => {
    drag = null;
    previewK = null;
    markKept();
  });
  // Names cut by the column width: the whole name and the score in the tooltip.
  view.dom<PointerEvent>(bars, "pointermove", (ev) => {
    const row = (ev.target as Element | null)?.closest?.(".fx-row") as HTMLElement | null;
    if (!row || !ranking || drag) return tip.hide();
    const f = Number(row.dataset.index);
    const pos = Number(row.dataset.pos);
    const r = root.getBoundingClientRect();
    const lines = [
      { value: view.get("names")[f] ?? `x${f}`, strong: true },
      { label: "score", value: ranking.scores.data[f] },
      { label: "rank", value: String(pos + 1) },
    ];
    if (ranking.lo && ranking.hi) lines.push({ label: "bootstrap 10–90 %", value: `${fmt(ranking.lo.data[f])} – ${fmt(ranking.hi.data[f])}` });
    tip.show(lines);
    tip.place(ev.clientX - r.left, ev.clientY - r.top);
  });
  view.dom(bars, "pointerleave", () => tip.hide());
  view.dom(methodSelect, "change", () => view.set("method", methodSelect.value));

  // ---- traits ----------------------------------------------------------------------------------------
  view.on("k", () => {
    view.data("k", view.get("k"));
    markKept();
  });
  view.on("selected", () => view.data("selected", view.get("selected").length));
  view.on("method", () => {
    view.data("method", view.get("method"));
    methodSelect.value = view.get("method");
    const c = curves.get(view.get("method"));
    view.data("curvePoints", c ? c.k.data.length : 0);
    if (ranking && ranking.method === view.get("method")) renderBars();
    drawCurve();
  });
  view.on("methods", fillMethods);
  view.on(["rows_ranked", "n_rows"], () => {
    view.data("rowsRanked", view.get("rows_ranked") ?? "");
    markKept();
  });
  view.on("names", renderBars);
  view.onTheme(() => {
    drawCurve();
    drawAgreement();
  });
  fillMethods();
  view.onResize(() => relayout());
}

export default defineView<Traits>({ name: "fx-ranking", css: CSS }, setup);
