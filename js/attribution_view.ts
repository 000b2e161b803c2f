// AttributionView (contract: fxwidgets/widgets/attribution.py, module docstring).
//
// One panel per method, after an "input" panel showing what was explained. `panel` messages carry a panel's
// values for the shown input (float32: H x W for images, T for text tokens, F for tabular features); a
// `background` message carries the input image (uint8 H x W x 3). Sign mode, colour map, opacity and outlier
// clipping are applied here, without a round trip; the target selector writes `target` and the kernel recomputes
// every panel. Image maps are drawn over a grey-scale copy of the input with opacity growing with |value|, each
// with its own colour bar; the value under the pointer is in the tooltip; a panel with nothing to show says why.

import type { NdArray } from "./lib/codec";
import { createColorBar, type ColorBar } from "./lib/axis";
import { lutAt, looksDiverging, resolveLut, type Lut } from "./lib/colormaps";
import { clipScale, colourOf, paintOverlay } from "./lib/overlay";
import { fmt, methodTitle } from "./lib/format";
import { flowItems } from "./lib/sizing";
import { createTooltip, type TipLine } from "./lib/tooltip";
import { colorControls, labelled, readNumber, selectOf, setOptions, toolbar } from "./lib/toolbar";
import { h, setHidden } from "./lib/ui";
import { defineView, type View } from "./lib/view";

export interface PanelInfo {
  method: string;
  title: string;
  status: string;
  progress: number;
  base_value?: number;
  output?: number;
  gap?: number;
  stderr?: number;
  stderr_history?: number[];
  done?: number;
  done_label?: string;
  error?: string;
}

export interface AttributionTraits {
  kind: "image" | "text" | "tabular";
  titles: string[];
  shape: number[];
  tokens: string[];
  feature_names: string[];
  target: number | null;
  target_names: string[];
  can_recompute: boolean;
  sign: string;
  cmap: string;
  opacity: number;
  clip: number;
  panels: PanelInfo[];
  generation: number;
  title: string;
  progress: number;
  status: string;
  error: string;
  // optional (a newer Python side): browse the rows of a batch
  n_rows?: number;
  row?: number;
  row_names?: string[];
  // optional: each panel's evaluation values for the shown row (widgets/_panel_metrics.py)
  panel_metrics?: PanelMetric[][];
  [key: string]: unknown;
}

export interface PanelMetric {
  name: string;
  value: number | null;
  higher_is_better: boolean | null;
  best?: boolean;
  error?: string;
}

export const SIGNS = ["all", "positive", "negative", "absolute_value"] as const;
const SIGN_NAMES: Readonly<Record<string, string>> = {
  all: "both signs",
  positive: "positive only",
  negative: "negative only",
  absolute_value: "magnitude",
};
const SIDE = 224; // CSS px of an image panel at full size
const GAP = 12;

const CSS = `
.fx-attr { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; gap: 6px; }
.fx-attr .fx-panels { display: flex; flex-wrap: wrap; gap: ${GAP}px; align-items: flex-start; max-width: 100%; }
.fx-attr .fx-panel { display: flex; flex-direction: column; gap: 3px; max-width: 100%; min-width: 0; }
.fx-attr .fx-panel-title, .fx-attr .fx-readout { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.fx-attr .fx-panel-title { font-weight: 600; }
.fx-attr .fx-readout { font-size: var(--jp-ui-font-size0, 11px); color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); min-height: 1.3em; }
.fx-attr .fx-tabular .fx-readout { white-space: normal; }
.fx-attr .fx-panel-body { position: relative; line-height: 0; }
.fx-attr canvas.fx-attr-image, .fx-attr canvas.fx-attr-input { display: block; image-rendering: pixelated;
  border: 1px solid var(--jp-border-color2, #e0e0e0); box-sizing: content-box; }
.fx-attr canvas.fx-attr-image { cursor: crosshair; }
.fx-attr canvas.fx-spark { width: 120px; height: 24px; }
.fx-attr .fx-attr-message { position: absolute; inset: 1px; display: flex; align-items: center; justify-content: center;
  padding: 10px; text-align: center; line-height: 1.35; background: var(--jp-layout-color2, #eee);
  color: var(--jp-ui-font-color1, rgba(0,0,0,.8)); overflow-wrap: anywhere; }
.fx-attr .fx-panel-body.fx-flow .fx-attr-message { position: static; }
.fx-attr .fx-tokens { display: flex; flex-wrap: wrap; gap: 4px 2px; max-width: 640px; line-height: 1.6; }
.fx-attr .fx-token { padding: 1px 3px; border-radius: 3px; white-space: pre; cursor: default; }
.fx-attr .fx-waterfall { display: grid; grid-template-columns: minmax(0, max-content) minmax(60px, 1fr) max-content;
  gap: 2px 8px; align-items: center; width: 100%; max-width: 640px; }
.fx-attr .fx-wf-track { position: relative; height: 14px; min-width: 0; }
.fx-attr .fx-wf-bar { position: absolute; top: 1px; height: 12px; }
.fx-attr .fx-wf-pos { background: #d6604d; }
.fx-attr .fx-wf-neg { background: #4393c3; }
.fx-attr .fx-wf-line { position: absolute; top: 0; bottom: 0; width: 1px; background: var(--jp-ui-font-color2, #888); }
.fx-attr .fx-wf-name { max-width: 40vw; overflow: hidden; text-overflow: ellipsis; }
.fx-attr .fx-wf-name, .fx-attr .fx-wf-val { font-size: var(--jp-ui-font-size1, 13px); white-space: nowrap; line-height: 1.3; }
.fx-attr .fx-wf-val { font-variant-numeric: tabular-nums; text-align: right; }
.fx-attr .fx-wf-total { font-weight: 600; }
.fx-attr .fx-rows { display: inline-flex; align-items: center; gap: 4px; }
.fx-attr .fx-rows button { min-width: 1.8em; }
.fx-attr .fx-pmetrics { display: grid; grid-template-columns: minmax(0, max-content) minmax(24px, 1fr) max-content;
  gap: 1px 6px; align-items: center; width: 100%; font-size: var(--jp-ui-font-size0, 11px); line-height: 1.3;
  border-top: 1px solid var(--jp-border-color2, #e0e0e0); padding-top: 3px; margin-top: 2px; }
.fx-attr .fx-pm-name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: var(--jp-ui-font-color2, rgba(0,0,0,.6)); }
.fx-attr .fx-pm-track { position: relative; height: 8px; background: var(--jp-layout-color2, #eee); }
.fx-attr .fx-pm-bar { position: absolute; left: 0; top: 0; bottom: 0; background: var(--jp-ui-font-color3, #9e9e9e); }
.fx-attr .fx-pm-best .fx-pm-bar { background: var(--jp-brand-color1, #1976d2); }
.fx-attr .fx-pm-val { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
.fx-attr .fx-pm-best.fx-pm-val { font-weight: 700; }
`;

/** Bar lengths of a metrics strip: |value| over the largest |value| of that metric among the panels (0..1). */
export function metricShares(strips: ReadonlyArray<ReadonlyArray<PanelMetric>>): Array<Map<string, number>> {
  const top = new Map<string, number>();
  for (const s of strips) for (const m of s) if (m.value !== null && Number.isFinite(m.value)) top.set(m.name, Math.max(top.get(m.name) ?? 0, Math.abs(m.value)));
  return strips.map((s) => new Map(s.map((m) => {
    const t = top.get(m.name) ?? 0;
    return [m.name, m.value !== null && Number.isFinite(m.value) && t > 0 ? Math.abs(m.value) / t : 0] as [string, number];
  })));
}

/** Why a panel shows no map, or null when it has something to show. */
export function emptyReason(values: ArrayLike<number> | null, info: PanelInfo | undefined, target: string): string | null {
  if (info?.status === "error") return `This method failed: ${info.error || "see the error below"}`;
  if (!values) return info?.status === "running" ? "Computing…" : info?.status === "cancelled" ? "Cancelled before any result." : "No result yet.";
  let any = false;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i]) && values[i] !== 0) {
      any = true;
      break;
    }
  }
  if (any) return null;
  const who = target ? ` for target “${target}”` : "";
  if (info?.method === "grad_cam") {
    return `Grad-CAM is zero everywhere${who}: it keeps only regions whose features push this output up, and none do. ` +
      "Try another target, or a method that also shows negative evidence.";
  }
  return `Every attribution is 0${who}: nothing to show.`;
}

interface PanelDom {
  root: HTMLElement;
  title: HTMLElement;
  readout: HTMLElement;
  spark: HTMLCanvasElement;
  body: HTMLElement;
  canvas: HTMLCanvasElement | null;
  message: HTMLElement;
  colorbar: ColorBar;
  /** The scale of the last drawing: what full colour means. */
  scale: number;
  /** Tooltip lines of the element with data-tip = k (tokens, waterfall rows). */
  tips: ((k: number) => TipLine[]) | null;
}

function setup(view: View<AttributionTraits>): void {
  const { root } = view;
  view.data({ status: "", received: 0, paints: 0 });

  // ---- DOM -------------------------------------------------------------------------------------------
  const header = view.titleElement();
  const signSelect = selectOf("fx-sign", "sign mode", SIGNS.map((s) => [s, SIGN_NAMES[s]] as const));
  const controls = colorControls(view, () => scheduleDraw(), { limits: false, center: false });
  const opacityInput = h("input", { class: "fx-opacity", attrs: { type: "range", min: "0", max: "1", step: "0.05", "aria-label": "opacity" } });
  const clipInput = h("input", { class: "fx-clip", attrs: { type: "number", min: "50", max: "100", step: "0.5", "aria-label": "clip percentile" } });
  const targetSelect = selectOf("fx-target", "target", []);
  const prevRow = h("button", { class: "fx-row-prev", text: "◀", attrs: { type: "button", title: "previous input" } });
  const nextRow = h("button", { class: "fx-row-next", text: "▶", attrs: { type: "button", title: "next input" } });
  const rowText = h("span", { class: "fx-row-text" });
  const rowsNav = h("span", { class: "fx-rows", children: [prevRow, rowText, nextRow] });
  const signLabel = labelled("show", signSelect);
  const opacityLabel = labelled("opacity", opacityInput);
  const clipLabel = labelled("clip at percentile", clipInput);
  clipLabel.title = "full colour at this percentile of |attribution|: larger values saturate (outliers do not wash out the map)";
  const targetLabel = labelled("explain output", targetSelect);
  const cmapItems = controls.items;
  const bar = toolbar(rowsNav, targetLabel, signLabel, ...cmapItems, opacityLabel, clipLabel);
  const panelsBox = h("div", { class: "fx-panels" });
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(header, bar, panelsBox, job.row, job.errorBox);

  // ---- state -----------------------------------------------------------------------------------------
  let values: Array<NdArray | null> = [];
  let background: { data: Uint8Array; h: number; w: number } | null = null;
  let doms: PanelDom[] = [];
  let inputPanel: { root: HTMLElement; canvas: HTMLCanvasElement; caption: HTMLElement } | null = null;
  let received = 0;
  let paints = 0;
  let side = SIDE;
  const kind = () => view.get("kind");
  const lut = (): Lut => resolveLut(view.get("cmap") ?? "RdBu_r", view.get("cmap_lut"), "RdBu_r");
  const targetName = () => {
    const t = view.get("target");
    const names = view.get("target_names") ?? [];
    return t === null || t === undefined ? "" : names[t] ?? String(t);
  };

  function buildPanels(): void {
    panelsBox.replaceChildren();
    panelsBox.classList.toggle("fx-tabular", kind() !== "image"); // no maps to align: readouts may wrap
    const titles = view.get("titles") ?? [];
    values = titles.map((_, i) => values[i] ?? null);
    inputPanel = null;
    if (kind() === "image") {
      const canvas = h("canvas", { class: "fx-attr-input", attrs: { role: "img", "aria-label": "the input" } });
      const caption = h("div", { class: "fx-readout" });
      const panel = h("div", {
        class: "fx-panel fx-input-panel",
        children: [h("div", { class: "fx-panel-title", text: "Input" }), caption, h("div", { class: "fx-panel-body", children: [canvas] })],
      });
      panelsBox.appendChild(panel);
      inputPanel = { root: panel, canvas, caption };
    }
    doms = titles.map((t, i) => {
      const title = h("div", { class: "fx-panel-title", text: methodTitle(t) });
      title.title = `${methodTitle(t)} (method id: ${t})`;
      const readout = h("div", { class: "fx-readout" });
      const spark = h("canvas", { class: "fx-spark", attrs: { width: "120", height: "24", "aria-hidden": "true" } });
      spark.title = "standard error of the estimate as samples are added";
      const body = h("div", { class: "fx-panel-body" });
      const message = h("div", { class: "fx-attr-message", attrs: { role: "note" } });
      setHidden(message, true);
      let canvas: HTMLCanvasElement | null = null;
      if (kind() === "image") {
        canvas = h("canvas", { class: "fx-attr-image", attrs: { role: "img", "aria-label": `${methodTitle(t)} attribution` } });
        body.append(canvas, message);
        bindHover(canvas, i);
      } else {
        body.classList.add("fx-flow");
        body.append(message);
      }
      const colorbar = createColorBar(() => view.theme.fontFamily);
      const panel = h("div", { class: "fx-panel", children: [title, readout, spark, body, colorbar.el] });
      panel.dataset.index = String(i);
      panelsBox.appendChild(panel);
      return { root: panel, title, readout, spark, body, canvas, message, colorbar, scale: 0, tips: null };
    });
    relayout();
    drawPanelMetrics();
  }

  /** Under each panel, its evaluation values for the shown row: name with direction, a bar, the value (★ best). */
  function drawPanelMetrics(): void {
    const strips = view.get("panel_metrics") ?? [];
    const shares = metricShares(strips);
    doms.forEach((d, i) => {
      d.root.querySelector(".fx-pmetrics")?.remove();
      const entries = strips[i] ?? [];
      if (entries.length === 0) return;
      const box = h("div", { class: "fx-pmetrics", attrs: { role: "list", "aria-label": "evaluation of this map" } });
      for (const m of entries) {
        const dir = m.higher_is_better === true ? " ↑" : m.higher_is_better === false ? " ↓" : "";
        const best = m.best ? " fx-pm-best" : "";
        const name = h("div", { class: `fx-pm-name${best}`, text: `${m.name.replace(/_/g, " ")}${dir}` });
        const track = h("div", { class: `fx-pm-track${best}` });
        const bar = h("div", { class: "fx-pm-bar" });
        bar.style.width = `${Math.round((shares[i].get(m.name) ?? 0) * 100)}%`;
        track.appendChild(bar);
        const ok = m.value !== null && Number.isFinite(m.value);
        const val = h("div", { class: `fx-pm-val${best}`, text: ok ? `${m.best ? "★ " : ""}${fmt(m.value as number, 3)}` : "—" });
        const why = ok
          ? `${m.name}: ${fmt(m.value as number)} for this input (${m.higher_is_better === true ? "higher" : m.higher_is_better === false ? "lower" : "no direction: neither"} is better)${m.best ? "; the best of the panels" : ""}`
          : `${m.name}: not computed${m.error ? ` (${m.error})` : ""}`;
        for (const el of [name, track, val]) {
          el.title = why;
          el.dataset.name = m.name;
        }
        val.dataset.value = ok ? String(m.value) : "";
        val.setAttribute("role", "listitem");
        box.append(name, track, val);
      }
      d.root.appendChild(box);
    });
    view.data("metrics", strips.reduce((n, s) => n + s.length, 0));
  }

  /** Panel size from the width: image panels wrap, and shrink to fit a narrow column. */
  function relayout(): void {
    const n = doms.length + (inputPanel ? 1 : 0);
    const avail = view.width();
    if (kind() === "image") {
      side = flowItems(Math.max(1, n), SIDE + 2, SIDE + 2, avail, GAP, 0.7).width - 2; // + the canvas border
    } else {
      side = Math.min(avail, kind() === "text" ? 640 : 560);
    }
    for (const d of doms) d.root.style.width = `${kind() === "image" ? side + 2 : side}px`;
    if (inputPanel) inputPanel.root.style.width = `${side + 2}px`;
    drawInput();
    scheduleDraw();
  }

  const scheduleDraw = view.frame(draw);

  function draw(): void {
    const L = lut();
    const div = looksDiverging(view.get("cmap"));
    const sign = kind() === "image" ? view.get("sign") ?? "all" : "all";
    const infos = view.get("panels") ?? [];
    doms.forEach((d, i) => {
      const v = values[i];
      d.root.dataset.hasValues = v ? "1" : "0";
      const why = emptyReason(v?.data ?? null, infos[i], targetName());
      d.message.textContent = why ?? "";
      setHidden(d.message, why === null);
      if (kind() === "image" && d.canvas) setHidden(d.colorbar.el, !v || why !== null);
      if (!v) {
        if (d.canvas) sizeCanvas(d.canvas, 1, 1);
        return;
      }
      if (kind() === "image") drawImage(d, v, L, div, sign);
      else if (kind() === "text") drawText(d, v.data as Float32Array, L, div);
      else drawWaterfall(d, v.data as Float32Array, i);
    });
    paints += 1;
    view.data("paints", paints);
    view.data("sign", sign);
    view.settled();
  }

  function sizeCanvas(canvas: HTMLCanvasElement, W: number, H: number): void {
    if (canvas.width !== W) canvas.width = W;
    if (canvas.height !== H) canvas.height = H;
    const s = side / Math.max(W, H);
    canvas.style.width = `${Math.round(W * s)}px`;
    canvas.style.height = `${Math.round(H * s)}px`;
  }

  function drawInput(): void {
    if (!inputPanel) return;
    const shape = view.get("shape") ?? [];
    const H = background?.h ?? shape[0] ?? 1;
    const W = background?.w ?? shape[1] ?? 1;
    sizeCanvas(inputPanel.canvas, W, H);
    const ctx = inputPanel.canvas.getContext("2d");
    const t = targetName();
    inputPanel.caption.textContent = t ? `explained output: ${t}` : "";
    if (!ctx) return;
    if (!background) {
      ctx.fillStyle = view.theme.layout2;
      ctx.fillRect(0, 0, W, H);
      return;
    }
    const img = ctx.createImageData(W, H);
    for (let p = 0; p < W * H; p++) img.data.set([background.data[3 * p], background.data[3 * p + 1], background.data[3 * p + 2], 255], 4 * p);
    ctx.putImageData(img, 0, 0);
  }

  function drawImage(d: PanelDom, v: NdArray, L: Lut, div: boolean, sign: string): void {
    const [H, W] = v.shape.length === 2 ? v.shape : [1, v.data.length];
    const canvas = d.canvas!;
    sizeCanvas(canvas, W, H);
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(W, H);
    const bg = background && background.h === H && background.w === W ? background.data : null;
    const data = v.data as Float32Array;
    const clip = Number(view.get("clip") ?? 99);
    const checksum = paintOverlay(data, bg, L, div, sign, Number(view.get("opacity") ?? 0.7), clip, img.data);
    ctx.putImageData(img, 0, 0);
    canvas.dataset.checksum = String(checksum);
    d.scale = clipScale(data, sign, clip);
    const lim: [number, number] = sign === "all" ? [-d.scale, d.scale] : [0, d.scale];
    const title = sign === "all" ? "attribution" : sign === "absolute_value" ? "|attribution|" : `${sign} attribution`;
    d.colorbar.update(div && sign !== "all" ? halfLut(L, sign) : L, d.scale > 0 ? lim : null, Math.max(60, side), title);
  }

  function drawText(d: PanelDom, v: Float32Array, L: Lut, div: boolean): void {
    const tokens = view.get("tokens") ?? [];
    const scale = clipScale(v, "all", Number(view.get("clip") ?? 99));
    d.scale = scale;
    const box = h("div", { class: "fx-tokens" });
    const opacity = Number(view.get("opacity") ?? 0.7);
    for (let i = 0; i < v.length; i++) {
      const [pos, strength] = colourOf(v[i], "all", scale, div);
      const [r, g, b] = lutAt(L, pos);
      const span = h("span", { class: "fx-token", text: i < tokens.length ? tokens[i] : `#${i}` }); // tokens are data: text
      span.style.backgroundColor = `rgba(${r}, ${g}, ${b}, ${(opacity * strength).toFixed(3)})`;
      span.dataset.value = String(v[i]);
      span.dataset.tip = String(i);
      box.appendChild(span);
    }
    d.body.replaceChildren(box, d.message);
    const method = methodTitle((view.get("titles") ?? [])[doms.indexOf(d)] ?? "");
    d.tips = (k) => [
      { value: `“${tokens[k] ?? `#${k}`}” (token ${k})`, strong: true },
      { label: method, value: v[k] },
    ];
    d.colorbar.update(L, scale > 0 ? [-scale, scale] : null, Math.min(side, 320), "attribution");
  }

  function drawWaterfall(d: PanelDom, v: Float32Array, i: number): void {
    const names = view.get("feature_names") ?? [];
    const info = (view.get("panels") ?? [])[i] ?? ({} as PanelInfo);
    const base = Number.isFinite(info.base_value as number) ? (info.base_value as number) : 0;
    const order = Array.from(v.keys()).sort((a, b) => Math.abs(v[b]) - Math.abs(v[a]));
    let cum = base;
    const steps = order.map((j) => {
      const start = cum;
      cum += v[j];
      return { j, start, end: cum };
    });
    const output = Number.isFinite(info.output as number) ? (info.output as number) : cum;
    let lo = Math.min(base, output);
    let hi = Math.max(base, output);
    for (const s of steps) {
      lo = Math.min(lo, s.start, s.end);
      hi = Math.max(hi, s.start, s.end);
    }
    const span = hi - lo || 1;
    const x = (t: number) => `${((t - lo) / span) * 100}%`;
    const grid = h("div", { class: "fx-waterfall" });
    const rows: Array<() => TipLine[]> = [];
    const row = (name: string, track: HTMLElement, value: string, total: boolean, tipLines: () => TipLine[]) => {
      const n = h("div", { class: `fx-wf-name${total ? " fx-wf-total" : ""}`, text: name }); // feature names are data: text
      const val = h("div", { class: `fx-wf-val${total ? " fx-wf-total" : ""}`, text: value });
      for (const el of [n, track, val]) el.dataset.tip = String(rows.length);
      rows.push(() => [{ value: name, strong: true }, ...tipLines()]);
      grid.append(n, track, val);
    };
    const lineTrack = (at: number) => {
      const t = h("div", { class: "fx-wf-track" });
      const line = h("div", { class: "fx-wf-line" });
      line.style.left = x(at);
      t.appendChild(line);
      return t;
    };
    row("base value E[f]", lineTrack(base), fmt(base), true, () => [{ label: "expected output over the baseline", value: base }]);
    for (const s of steps) {
      const t = h("div", { class: "fx-wf-track" });
      const barEl = h("div", { class: `fx-wf-bar ${v[s.j] >= 0 ? "fx-wf-pos" : "fx-wf-neg"}` });
      barEl.style.left = x(Math.min(s.start, s.end));
      barEl.style.width = `${(Math.abs(s.end - s.start) / span) * 100}%`;
      barEl.dataset.feature = String(s.j);
      t.appendChild(barEl);
      const sign = v[s.j] >= 0 ? "+" : "−";
      const name = s.j < names.length ? names[s.j] : `feature ${s.j}`;
      row(name, t, `${sign}${fmt(Math.abs(v[s.j]))}`, false, () => [
        { label: "contribution", value: v[s.j] },
        { label: "running total", value: s.end },
      ]);
    }
    row("model output f(x)", lineTrack(output), fmt(output), true, () => [{ label: "output", value: output }]);
    d.tips = (k) => rows[k]?.() ?? [];
    d.body.replaceChildren(grid, d.message);
    setHidden(d.colorbar.el, true);
  }

  /** The half of a diverging map a one-signed mode uses (so the colour bar shows the colours drawn). */
  function halfLut(L: Lut, sign: string): Lut {
    const out = new Uint8Array(768);
    for (let i = 0; i < 256; i++) {
      const t = sign === "negative" ? 0.5 - i / 510 : 0.5 + i / 510;
      out.set(lutAt(L, t), 3 * i);
    }
    return out;
  }

  // ---- the value under the pointer ------------------------------------------------------------------
  // Tokens and waterfall rows: one listener for all (they are rebuilt on every redraw).
  view.dom<PointerEvent>(panelsBox, "pointermove", (ev) => {
    const el = (ev.target as Element | null)?.closest?.("[data-tip]") as HTMLElement | null;
    const panel = el?.closest(".fx-panel") as HTMLElement | null;
    const d = panel ? doms[Number(panel.dataset.index)] : undefined;
    if (!el || !d?.tips) {
      if (!(ev.target as Element)?.closest?.("canvas.fx-attr-image")) tip.hide();
      return;
    }
    const rr = root.getBoundingClientRect();
    tip.show(d.tips(Number(el.dataset.tip)));
    tip.place(ev.clientX - rr.left, ev.clientY - rr.top);
  });
  view.dom(panelsBox, "pointerleave", () => tip.hide());

  function bindHover(canvas: HTMLCanvasElement, i: number): void {
    view.dom<PointerEvent>(canvas, "pointermove", (ev) => {
      const v = values[i];
      if (!v || v.shape.length !== 2) return;
      const [H, W] = v.shape;
      const r = canvas.getBoundingClientRect();
      const x = Math.floor(((ev.clientX - r.left - canvas.clientLeft) / canvas.clientWidth) * W);
      const y = Math.floor(((ev.clientY - r.top - canvas.clientTop) / canvas.clientHeight) * H);
      if (x < 0 || y < 0 || x >= W || y >= H) return tip.hide();
      const value = (v.data as Float32Array)[y * W + x];
      const scale = doms[i]?.scale ?? 0;
      const rr = root.getBoundingClientRect();
      tip.show(
        [
          { value: methodTitle((view.get("titles") ?? [])[i] ?? ""), strong: true },
          { label: "pixel", value: `row ${y}, col ${x}` },
          { cls: "fx-tt-value", label: "attribution", value, strong: true },
          ...(scale > 0 ? [{ label: "of full colour", value: `${Math.round(Math.min(1, Math.abs(value) / scale) * 100)}%`, muted: true }] : []),
        ],
        background && background.h === H && background.w === W && inputPanel
          ? { source: inputPanel.canvas, sx: Math.max(0, x - 8), sy: Math.max(0, y - 8), sw: Math.min(16, W), sh: Math.min(16, H), size: 64 }
          : null,
      );
      tip.place(ev.clientX - rr.left, ev.clientY - rr.top);
    });
    view.dom(canvas, "pointerleave", () => tip.hide());
  }

  function drawReadouts(): void {
    const infos = view.get("panels") ?? [];
    doms.forEach((d, i) => {
      const info = infos[i];
      if (!info) return;
      const parts: string[] = [];
      if (info.status === "running") parts.push(`${Math.round((info.progress ?? 0) * 100)}%`);
      if (info.done !== undefined) parts.push(`${info.done} ${info.done_label ?? ""}`.trim());
      if (info.stderr !== undefined) parts.push(`mean s.e. ${fmt(info.stderr)}`);
      if (info.gap !== undefined) parts.push(`completeness gap ${fmt(info.gap)}`);
      if (info.output !== undefined) parts.push(`f(x) ${fmt(info.output)}`);
      d.readout.textContent = parts.join(" · ");
      d.readout.title = d.readout.textContent; // one line over the map, the whole of it on hover
      d.root.dataset.status = info.status ?? "";
      d.root.dataset.stderr = info.stderr !== undefined ? String(info.stderr) : "";
      const hist = info.stderr_history ?? [];
      setHidden(d.spark, hist.length < 2);
      if (hist.length >= 2) drawSpark(d.spark, hist);
    });
  }

  function drawSpark(c: HTMLCanvasElement, hist: number[]): void {
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.clearRect(0, 0, c.width, c.height);
    const hi = Math.max(...hist.filter(Number.isFinite), 1e-300);
    ctx.strokeStyle = "#d6604d";
    ctx.beginPath();
    hist.forEach((s, k) => {
      const px = (k / (hist.length - 1)) * (c.width - 2) + 1;
      const py = c.height - 2 - (s / hi) * (c.height - 4);
      if (k === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    });
    ctx.stroke();
  }

  // ---- controls --------------------------------------------------------------------------------------
  function syncControls(): void {
    const k = kind();
    signSelect.value = view.get("sign") ?? "all";
    opacityInput.value = String(view.get("opacity") ?? 0.7);
    clipInput.value = String(view.get("clip") ?? 99);
    setHidden(signLabel, k !== "image");
    setHidden(clipLabel, k === "tabular");
    setHidden(opacityLabel, k === "tabular");
    for (const item of cmapItems) setHidden(item, k === "tabular");
    const names = view.get("target_names") ?? [];
    setOptions(targetSelect, names.map((n, i) => [String(i), n] as const)); // class names are data: text
    const t = view.get("target");
    if (t !== null && t !== undefined) targetSelect.value = String(t);
    targetSelect.disabled = !view.get("can_recompute");
    targetSelect.title = view.get("can_recompute") ? "the kernel recomputes every panel for the chosen output" : "fixed: these attributions were computed for one target";
    setHidden(targetLabel, names.length === 0);
    view.data("target", t === null || t === undefined ? "" : t);
    const nRows = Number(view.get("n_rows") ?? 0);
    const row = Number(view.get("row") ?? 0);
    setHidden(rowsNav, !(nRows > 1));
    const rowNames = view.get("row_names") ?? [];
    rowText.textContent = `input ${row + 1} of ${nRows}${rowNames[row] ? `: ${rowNames[row]}` : ""}`;
    prevRow.disabled = row <= 0;
    nextRow.disabled = row >= nRows - 1;
  }
  view.dom(signSelect, "change", () => view.set("sign", signSelect.value));
  view.dom(opacityInput, "input", () => view.set("opacity", Number(opacityInput.value)));
  view.dom(clipInput, "change", () => {
    const q = readNumber(clipInput);
    if (q !== null && Number.isFinite(q) && q >= 50 && q <= 100) view.set("clip", q);
  });
  view.dom(targetSelect, "change", () => view.set("target", Number(targetSelect.value)));
  const stepRow = (d: number) => {
    const n = Number(view.get("n_rows") ?? 0);
    const r = Number(view.get("row") ?? 0) + d;
    if (r >= 0 && r < n) view.set("row", r);
  };
  view.dom(prevRow, "click", () => stepRow(-1));
  view.dom(nextRow, "click", () => stepRow(1));

  view.on(["sign", "cmap", "opacity", "clip"], syncControls, scheduleDraw);
  view.on(["target", "target_names", "can_recompute", "n_rows", "row", "row_names"], syncControls, drawInput);
  view.on("titles", buildPanels, scheduleDraw);
  view.on("panels", drawReadouts, scheduleDraw);
  view.on("panel_metrics", drawPanelMetrics, () => view.settled());
  view.on("shape", drawInput, scheduleDraw);
  view.on("kind", buildPanels, syncControls);

  // ---- data from the kernel --------------------------------------------------------------------------
  view.onMessage<{ type: "panel"; index: number; generation: number; values: NdArray }>("panel", (msg) => {
    if (msg.generation < (view.get("generation") ?? 0)) return; // from a job the target selector replaced
    if (msg.index < 0 || msg.index >= doms.length) return;
    values[msg.index] = msg.values;
    received += 1;
    view.data("received", received);
    view.data("generation", msg.generation);
    view.live();
    scheduleDraw();
  });
  view.onMessage<{ type: "background"; image: NdArray }>("background", (msg) => {
    const [H, W] = msg.image.shape;
    background = { data: msg.image.data as Uint8Array, h: H, w: W };
    view.live();
    drawInput();
    scheduleDraw();
  });

  buildPanels();
  syncControls();
  drawReadouts();
  view.onResize(() => relayout());
  void view.request("snapshot").then((r) => {
    if (r) view.live();
  });
}

export default defineView<AttributionTraits>({ name: "fx-attr", css: CSS }, setup);
