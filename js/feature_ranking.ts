// FeatureRanking view (contract: fxwidgets/widgets/ranking.py, module docstring).
//
// Bars sorted by the current method's score, names as text; a cut-off line under the k-th bar that can be
// dragged, or a click on a bar, sets `k` (Python then sets `selected`). A canvas plots the held-out probe
// score against k as it streams in (`curve` messages), with the stability of the top-k sets; another shows
// the rank agreement between methods. All numbers come from the kernel: the view only draws.

import type { RenderProps } from "@anywidget/types";
import { type NdArray } from "./lib/codec";
import { createRpc, onMessage, reportRpcFailure } from "./lib/rpc";
import { readTheme, watchTheme, type Theme } from "./lib/theme";
import { BASE_CSS, createJobUi, h, styleElement } from "./lib/ui";
import { finalizer } from "./lib/lifecycle";

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
const CURVE_W = 360;
const CURVE_H = 220;

const CSS = `${BASE_CSS}
.fx-ranking { display: flex; flex-direction: column; padding: 4px 0; }
.fx-ranking .fx-header { font-weight: 600; font-size: var(--jp-ui-font-size2, 15px); margin: 2px 0 4px; }
.fx-ranking .fx-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin-bottom: 6px; }
.fx-ranking .fx-toolbar label { display: inline-flex; align-items: center; gap: 4px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-ranking .fx-kinfo { font-variant-numeric: tabular-nums; }
.fx-ranking .fx-panels { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.fx-ranking .fx-bars { position: relative; width: 340px; max-height: 440px; overflow-y: auto; overflow-x: hidden;
  border: 1px solid var(--jp-border-color2, #e0e0e0); cursor: ns-resize; touch-action: none; user-select: none; }
.fx-ranking .fx-row { position: relative; display: flex; align-items: center; height: ${ROW}px; gap: 6px; padding: 0 4px; }
.fx-ranking .fx-name { flex: 0 0 110px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; text-align: right;
  color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-ranking .fx-row.fx-kept .fx-name { color: var(--jp-ui-font-color1, rgba(0,0,0,.87)); }
.fx-ranking .fx-track { position: relative; flex: 1 1 auto; height: 12px; }
.fx-ranking .fx-bar { position: absolute; left: 0; top: 1px; height: 10px; background: var(--jp-border-color1, #bdbdbd); }
.fx-ranking .fx-row.fx-kept .fx-bar { background: var(--jp-brand-color1, #1976d2); }
.fx-ranking .fx-band { position: absolute; top: 5px; height: 2px; background: var(--jp-ui-font-color2, rgba(0,0,0,.54)); opacity: .7; }
.fx-ranking .fx-cutoff { position: absolute; left: 0; right: 0; height: 0; border-top: 2px dashed var(--jp-error-color1, #d32f2f);
  pointer-events: none; }
.fx-ranking .fx-cutoff-label { position: absolute; right: 4px; top: -16px; font-size: 11px; color: var(--jp-error-color1, #d32f2f);
  background: var(--jp-layout-color0, #fff); padding: 0 2px; }
.fx-ranking .fx-more { padding: 2px 6px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-ranking canvas { display: block; border: 1px solid var(--jp-border-color2, #e0e0e0); }
.fx-ranking .fx-caption { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); margin: 4px 0 2px; font-variant-numeric: tabular-nums; }
`;

type Props = Pick<RenderProps<Traits>, "model" | "el"> & { signal?: AbortSignal };

export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toPrecision(3);
}

/** k for a pointer at `y` px from the top of the list: a drag puts the cut-off at the nearest gap. */
export function kFromDrag(y: number, rowHeight: number, n: number): number {
  return Math.max(1, Math.min(n, Math.round(y / rowHeight)));
}

/** k for a click at `y`: the clicked bar becomes the last one kept. */
export function kFromClick(y: number, rowHeight: number, n: number): number {
  return Math.max(1, Math.min(n, Math.floor(y / rowHeight) + 1));
}

function render({ model, el, signal }: Props): () => void {
  const rpc = createRpc(model);
  const disposers: Array<() => void> = [];
  let disposed = false;
  const get = <K extends keyof Traits>(k: K): Traits[K] => model.get(k);
  const listen = (event: string, cb: () => void) => {
    model.on(event, cb);
    disposers.push(() => model.off(event, cb));
  };

  // ---- DOM -------------------------------------------------------------------------------------------
  const root = h("div", { class: "fx-root fx-ranking" });
  root.dataset.status = "";
  root.dataset.k = String(get("k"));
  root.dataset.method = get("method");
  root.dataset.curvePoints = "0";
  root.dataset.bars = "0";
  root.dataset.draws = "0";
  const title = h("div", { class: "fx-header" });
  const methodSelect = h("select", { class: "fx-method", attrs: { "aria-label": "method" } });
  const kInfo = h("span", { class: "fx-kinfo" });
  const toolbar = h("div", {
    class: "fx-toolbar",
    children: [h("label", { text: "method", children: [methodSelect] }), kInfo],
  });
  const bars = h("div", { class: "fx-bars", attrs: { role: "listbox", "aria-label": "features by score" } });
  const cutoff = h("div", { class: "fx-cutoff" });
  const cutoffLabel = h("span", { class: "fx-cutoff-label" });
  cutoff.appendChild(cutoffLabel);
  const curveCanvas = h("canvas", { class: "fx-curve" });
  const curveCaption = h("div", { class: "fx-caption fx-acc" });
  const agreeCanvas = h("canvas", { class: "fx-agree" });
  const agreeCaption = h("div", { class: "fx-caption", text: "rank agreement between methods (Spearman)" });
  const right = h("div", { children: [curveCanvas, curveCaption, agreeCanvas, agreeCaption] });
  const panels = h("div", { class: "fx-panels", children: [bars, right] });
  const job = createJobUi(() => {
    job.cancel.disabled = true;
    rpc.request("cancel").catch(warnUnlessExpected);
  });
  disposers.push(() => job.destroy());
  root.append(styleElement(CSS), title, toolbar, panels, job.row, job.errorBox);
  el.appendChild(root);
  disposers.push(() => root.remove());

  let theme: Theme = readTheme(root);
  disposers.push(
    watchTheme(root, (t) => {
      theme = t;
      drawCurve();
      drawAgreement();
    }),
  );

  // ---- state -----------------------------------------------------------------------------------------
  let ranking: Ranking | null = null;
  const curves = new Map<string, Curve>();
  let agreement: State["agreement"] | null = null;
  let previewK: number | null = null;
  let draws = 0;

  function shownCount(): number {
    const n = ranking ? ranking.order.data.length : 0;
    return Math.min(n, Math.max(1, get("max_bars")));
  }

  function renderBars(): void {
    bars.replaceChildren();
    if (!ranking) return;
    const names = get("names");
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
      const name = h("span", { class: "fx-name", text: names[f] ?? `x${f}` });
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
      row.title = `${names[f] ?? `x${f}`}: ${formatScore(s)} (rank ${i + 1})`;
      row.append(name, track);
      bars.appendChild(row);
    }
    const n = ranking.order.data.length;
    if (shown < n) bars.appendChild(h("div", { class: "fx-more", text: `… ${n - shown} more (set k from Python)` }));
    bars.appendChild(cutoff);
    root.dataset.bars = String(shown);
    markKept();
  }

  function markKept(): void {
    const k = previewK ?? get("k");
    const rows = bars.querySelectorAll<HTMLElement>(".fx-row");
    rows.forEach((row, i) => row.classList.toggle("fx-kept", i < k));
    cutoff.style.top = `${Math.min(k, shownCount()) * ROW}px`;
    cutoffLabel.textContent = `k = ${k}`;
    const n = get("n_features");
    kInfo.textContent = `keep ${k} of ${n}`;
    drawCurve();
  }

  function scoreAt(curve: Curve | undefined, k: number): number | null {
    if (!curve) return null;
    const ks = curve.k.data;
    let best = -1;
    for (let i = 0; i < ks.length; i++) if (ks[i] <= k) best = i;
    return best >= 0 ? curve.score.data[best] : null;
  }

  function setupCanvas(c: HTMLCanvasElement, w: number, hgt: number): CanvasRenderingContext2D | null {
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr);
    if (c.height !== Math.round(hgt * dpr)) c.height = Math.round(hgt * dpr);
    c.style.width = `${w}px`;
    c.style.height = `${hgt}px`;
    const ctx = c.getContext("2d");
    if (!ctx) return null;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = theme.layout0;
    ctx.fillRect(0, 0, w, hgt);
    ctx.font = `11px ${theme.fontFamily}`;
    return ctx;
  }

  function drawCurve(): void {
    const ctx = setupCanvas(curveCanvas, CURVE_W, CURVE_H);
    if (!ctx) return;
    const n = Math.max(1, get("n_features"));
    const L = 40, R = 10, T = 10, B = 28;
    const W = CURVE_W - L - R, H = CURVE_H - T - B;
    const logx = n > 50;
    const xOf = (k: number) => L + (logx ? (Math.log(k) / Math.log(n)) * W : n > 1 ? ((k - 1) / (n - 1)) * W : W / 2);
    const yOf = (v: number) => T + (1 - Math.max(0, Math.min(1, v))) * H;
    ctx.strokeStyle = theme.border2;
    ctx.strokeRect(L, T, W, H);
    ctx.fillStyle = theme.font2;
    ctx.textAlign = "right";
    for (const v of [0, 0.5, 1]) ctx.fillText(v.toFixed(1), L - 4, yOf(v) + 4);
    ctx.textAlign = "center";
    ctx.fillText(`k (features kept${logx ? ", log scale" : ""})`, L + W / 2, CURVE_H - 6);
    const method = get("method");
    // stability: mean Jaccard of bootstrap top-k sets, dashed
    if (ranking && ranking.stab_k && ranking.stab_jaccard && ranking.method === method) {
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = theme.font2;
      ctx.beginPath();
      const ks = ranking.stab_k.data, js = ranking.stab_jaccard.data;
      for (let i = 0; i < ks.length; i++) {
        const x = xOf(ks[i]), y = yOf(js[i]);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      ctx.setLineDash([]);
    }
    const curve = curves.get(method);
    if (curve && curve.k.data.length) {
      ctx.strokeStyle = theme.brand;
      ctx.fillStyle = theme.brand;
      ctx.lineWidth = 2;
      ctx.beginPath();
      const ks = curve.k.data, vs = curve.score.data;
      for (let i = 0; i < ks.length; i++) {
        const x = xOf(ks[i]), y = yOf(vs[i]);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      for (let i = 0; i < ks.length; i++) ctx.fillRect(xOf(ks[i]) - 2, yOf(vs[i]) - 2, 4, 4);
      ctx.lineWidth = 1;
    }
    const k = previewK ?? get("k");
    ctx.strokeStyle = theme.error;
    ctx.beginPath();
    ctx.moveTo(xOf(k), T);
    ctx.lineTo(xOf(k), T + H);
    ctx.stroke();
    const acc = scoreAt(curve, k);
    const label = get("curve_label");
    const stab = ranking?.stab_k ? " · dashed: stability (Jaccard of bootstrap top-k)" : "";
    curveCaption.textContent =
      acc === null ? `${label}: computing…${stab}` : `${label} at k=${k}: ${acc.toFixed(3)}${curve?.done ? "" : " (streaming)"}${stab}`;
    draws += 1;
    root.dataset.draws = String(draws);
  }

  function drawAgreement(): void {
    if (!agreement) return;
    const m = agreement.methods.length;
    const cell = 44, L = 110, T = 14;
    const w = L + m * cell + 4, hgt = T + m * cell + 4;
    const ctx = setupCanvas(agreeCanvas, w, hgt);
    if (!ctx) return;
    const M = agreement.matrix.data;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        const v = M[i * m + j];
        const a = Math.max(0, Math.min(1, (v + 1) / 2));
        ctx.fillStyle = `rgba(25, 118, 210, ${0.1 + 0.8 * a})`;
        ctx.fillRect(L + j * cell, T + i * cell, cell - 2, cell - 2);
        ctx.fillStyle = a > 0.6 ? "#fff" : theme.font1;
        ctx.textAlign = "center";
        ctx.fillText(v.toFixed(2), L + j * cell + cell / 2 - 1, T + i * cell + cell / 2 + 3);
      }
      ctx.fillStyle = theme.font1;
      ctx.textAlign = "right";
      ctx.fillText(agreement.methods[i], L - 6, T + i * cell + cell / 2 + 3); // canvas text, never HTML
    }
  }

  function fillMethods(): void {
    methodSelect.replaceChildren(...get("methods").map((m) => h("option", { text: m, attrs: { value: m } })));
    methodSelect.value = get("method");
  }

  // ---- kernel -> view -----------------------------------------------------------------------------------
  function applyRanking(r: Ranking): void {
    ranking = r;
    if (r.method === get("method")) renderBars();
  }
  function applyCurve(c: Curve): void {
    curves.set(c.method, c);
    if (c.method === get("method")) {
      root.dataset.curvePoints = String(c.k.data.length);
      root.dataset.curveDone = c.done ? "true" : "false";
      drawCurve();
    }
  }
  disposers.push(onMessage<Ranking & { type: "ranking" }>(model, "ranking", applyRanking));
  disposers.push(onMessage<Curve & { type: "curve" }>(model, "curve", applyCurve));

  rpc
    .request<State>("state", {}, { channel: "state" })
    .then(({ result }) => {
      if (disposed) return;
      agreement = result.agreement;
      applyRanking(result.ranking);
      if (result.curve) applyCurve(result.curve);
      drawAgreement();
      root.dataset.ready = "true";
    })
    .catch(warnUnlessExpected);

  // ---- gestures -----------------------------------------------------------------------------------------
  let drag: { id: number; y0: number; moved: boolean } | null = null;
  const yIn = (ev: PointerEvent) => ev.clientY - bars.getBoundingClientRect().top + bars.scrollTop;
  const onDown = (ev: PointerEvent) => {
    if (ev.button !== 0 || !ranking) return;
    ev.preventDefault();
    drag = { id: ev.pointerId, y0: yIn(ev), moved: false };
    try {
      bars.setPointerCapture(ev.pointerId);
    } catch {
      /* synthetic events have no capture */
    }
  };
  const onMove = (ev: PointerEvent) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const y = yIn(ev);
    if (Math.abs(y - drag.y0) > 3) drag.moved = true;
    if (drag.moved) {
      previewK = kFromDrag(y, ROW, shownCount());
      markKept();
    }
  };
  const onUp = (ev: PointerEvent) => {
    if (!drag || ev.pointerId !== drag.id) return;
    const y = yIn(ev);
    const k = drag.moved ? kFromDrag(y, ROW, shownCount()) : kFromClick(y, ROW, shownCount());
    drag = null;
    previewK = null;
    model.set("k", k);
    model.save_changes();
    root.dataset.k = String(k);
    markKept();
  };
  const onCancel = () => {
    drag = null;
    previewK = null;
    markKept();
  };
  bars.addEventListener("pointerdown", onDown);
  bars.addEventListener("pointermove", onMove);
  bars.addEventListener("pointerup", onUp);
  bars.addEventListener("pointercancel", onCancel);
  disposers.push(() => {
    bars.removeEventListener("pointerdown", onDown);
    bars.removeEventListener("pointermove", onMove);
    bars.removeEventListener("pointerup", onUp);
    bars.removeEventListener("pointercancel", onCancel);
  });
  const onSelect = () => {
    model.set("method", methodSelect.value);
    model.save_changes();
  };
  methodSelect.addEventListener("change", onSelect);
  disposers.push(() => methodSelect.removeEventListener("change", onSelect));

  // ---- traits ---------------------------------------------------------------------------------------------
  const syncJob = () => {
    const status = get("status");
    job.update({ status, progress: get("progress"), error: get("error") });
    root.dataset.status = status;
  };
  listen("change:status", syncJob);
  listen("change:progress", syncJob);
  listen("change:error", syncJob);
  listen("change:k", () => {
    root.dataset.k = String(get("k"));
    markKept();
  });
  listen("change:selected", () => {
    root.dataset.selected = String(get("selected").length);
  });
  listen("change:method", () => {
    root.dataset.method = get("method");
    methodSelect.value = get("method");
    const c = curves.get(get("method"));
    root.dataset.curvePoints = String(c ? c.k.data.length : 0);
    if (ranking && ranking.method === get("method")) renderBars();
    drawCurve();
  });
  listen("change:title", () => {
    title.textContent = get("title");
    title.hidden = !get("title");
  });
  listen("change:names", renderBars);
  title.textContent = get("title");
  title.hidden = !get("title");
  fillMethods();
  syncJob();
  drawCurve();

  function warnUnlessExpected(err: unknown): void {
    if (!disposed) reportRpcFailure("state", err);
  }

  disposers.unshift(() => rpc.dispose()); // last: pending requests are rejected after the listeners are gone
  return finalizer(disposers, signal, () => {
    disposed = true;
  });
}

export default { render };
