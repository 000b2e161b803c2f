// AttributionView (docs/protocol.md, "AttributionView").
//
// One panel per method. `panel` messages carry a panel's values for the shown input (float32: H x W for
// images, T for text tokens, F for tabular features); a `background` message carries the input image
// (uint8 H x W x 3). Sign mode, colour map, opacity and outlier clipping are applied here, without a round
// trip; the target selector writes the `target` trait and the kernel recomputes every panel.

import type { RenderProps } from "@anywidget/types";
import { type NdArray } from "./lib/codec";
import { getColormap, isDiverging, type Lut } from "./lib/colormaps";
import { formatValue } from "./lib/grid";
import { createRpc, onMessage, reportRpcFailure } from "./lib/rpc";
import { BASE_CSS, createJobUi, h, setHidden, styleElement } from "./lib/ui";
import { finalizer } from "./lib/lifecycle";

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
  [key: string]: unknown;
}

export const SIGNS = ["all", "positive", "negative", "absolute_value"] as const;
const CMAPS = ["RdBu_r", "coolwarm", "viridis", "magma", "gray"];
const SIDE = 224; // CSS px of an image panel

const CSS = `${BASE_CSS}
.fx-attr { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; gap: 6px; }
.fx-attr .fx-header { font-weight: 600; font-size: var(--jp-ui-font-size2, 15px); }
.fx-attr .fx-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; }
.fx-attr .fx-toolbar label { display: inline-flex; align-items: center; gap: 4px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-attr .fx-panels { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.fx-attr .fx-panel { display: flex; flex-direction: column; gap: 4px; max-width: 100%; }
.fx-attr .fx-panel-title { font-weight: 600; }
.fx-attr .fx-readout { font-size: var(--jp-ui-font-size0, 11px); color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); min-height: 1.2em; }
.fx-attr canvas.fx-attr-image { width: ${SIDE}px; height: ${SIDE}px; image-rendering: pixelated; border: 1px solid var(--jp-border-color2, #e0e0e0); }
.fx-attr canvas.fx-spark { width: 120px; height: 24px; }
.fx-attr .fx-tokens { max-width: 640px; line-height: 1.9; }
.fx-attr .fx-token { padding: 1px 2px; margin: 0 1px; border-radius: 3px; white-space: pre; }
.fx-attr .fx-waterfall { display: grid; grid-template-columns: max-content 320px max-content; gap: 2px 8px; align-items: center; }
.fx-attr .fx-wf-track { position: relative; height: 14px; }
.fx-attr .fx-wf-bar { position: absolute; top: 1px; height: 12px; }
.fx-attr .fx-wf-pos { background: #d6604d; }
.fx-attr .fx-wf-neg { background: #4393c3; }
.fx-attr .fx-wf-line { position: absolute; top: 0; bottom: 0; width: 1px; background: var(--jp-ui-font-color2, #888); }
.fx-attr .fx-wf-name, .fx-attr .fx-wf-val { font-size: var(--jp-ui-font-size1, 13px); white-space: nowrap; }
.fx-attr .fx-wf-total { font-weight: 600; }
`;

/** The value drawn for `v` in a sign mode (Captum's convention): the part of the attribution that is shown. */
export function signed(v: number, sign: string): number {
  switch (sign) {
    case "positive":
      return v > 0 ? v : 0;
    case "negative":
      return v < 0 ? -v : 0;
    case "absolute_value":
      return Math.abs(v);
    default:
      return v;
  }
}

/** The `q`-th percentile (0..100) of |values| after the sign mode: the scale that clips outliers. */
export function clipScale(values: ArrayLike<number>, sign: string, q: number): number {
  const a: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const s = Math.abs(signed(values[i], sign));
    if (Number.isFinite(s) && s > 0) a.push(s);
  }
  if (a.length === 0) return 0;
  a.sort((x, y) => x - y);
  const pos = (Math.max(0, Math.min(100, q)) / 100) * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(a.length - 1, lo + 1);
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

/** Colour position in [0, 1] and overlay strength in [0, 1] for value `v`. */
export function colourOf(v: number, sign: string, scale: number, diverging: boolean): [number, number] {
  if (!(scale > 0) || !Number.isFinite(v)) return [0.5, 0];
  const s = signed(v, sign);
  let t = s / scale;
  if (t > 1) t = 1;
  if (t < -1) t = -1;
  const strength = Math.abs(t);
  if (sign === "all") return [diverging ? (t + 1) / 2 : strength, strength];
  if (!diverging) return [strength, strength];
  return sign === "negative" ? [0.5 - strength / 2, strength] : [0.5 + strength / 2, strength];
}

/** Blend the overlay of `values` (H x W) onto `bg` (H x W x 3 or null) into RGBA `out`. */
export function paintOverlay(
  values: Float32Array,
  bg: Uint8Array | null,
  lut: Lut,
  diverging: boolean,
  sign: string,
  opacity: number,
  clip: number,
  out: Uint8ClampedArray,
): number {
  const scale = clipScale(values, sign, clip);
  let checksum = 0;
  for (let i = 0; i < values.length; i++) {
    const [pos, strength] = colourOf(values[i], sign, scale, diverging);
    const k = 3 * Math.min(255, Math.max(0, Math.floor(pos * 256)));
    const a = opacity * strength;
    const o = 4 * i;
    for (let c = 0; c < 3; c++) {
      const base = bg ? bg[3 * i + c] : 255;
      out[o + c] = Math.round(base * (1 - a) + lut[k + c] * a);
      checksum += out[o + c];
    }
    out[o + 3] = 255;
  }
  return checksum;
}

type Props = Pick<RenderProps<AttributionTraits>, "model" | "el"> & { signal?: AbortSignal };

interface PanelDom {
  root: HTMLElement;
  title: HTMLElement;
  readout: HTMLElement;
  spark: HTMLCanvasElement;
  body: HTMLElement;
  canvas: HTMLCanvasElement | null;
}

function render({ model, el, signal }: Props): () => void {
  const rpc = createRpc(model);
  const disposers: Array<() => void> = [];
  let disposed = false;
  const get = <K extends keyof AttributionTraits>(k: K): AttributionTraits[K] => model.get(k);
  const listen = (event: string, cb: () => void) => {
    model.on(event, cb);
    disposers.push(() => model.off(event, cb));
  };

  // ---- DOM -------------------------------------------------------------------------------------------
  const root = h("div", { class: "fx-root fx-attr" });
  root.dataset.status = "";
  root.dataset.received = "0";
  root.dataset.paints = "0";
  const header = h("div", { class: "fx-header" });
  const signSelect = h("select", { class: "fx-sign", attrs: { "aria-label": "sign mode" } });
  for (const s of SIGNS) signSelect.appendChild(h("option", { text: s, attrs: { value: s } }));
  const cmapSelect = h("select", { class: "fx-cmap", attrs: { "aria-label": "colormap" } });
  for (const c of CMAPS) cmapSelect.appendChild(h("option", { text: c, attrs: { value: c } }));
  const opacityInput = h("input", {
    class: "fx-opacity",
    attrs: { type: "range", min: "0", max: "1", step: "0.05", "aria-label": "opacity" },
  });
  const clipInput = h("input", {
    class: "fx-clip",
    attrs: { type: "number", min: "50", max: "100", step: "0.5", "aria-label": "clip percentile" },
  });
  const targetSelect = h("select", { class: "fx-target", attrs: { "aria-label": "target" } });
  const signLabel = h("label", { children: [document.createTextNode("sign"), signSelect] });
  const opacityLabel = h("label", { children: [document.createTextNode("opacity"), opacityInput] });
  const clipLabel = h("label", { children: [document.createTextNode("clip %"), clipInput] });
  const targetLabel = h("label", { children: [document.createTextNode("target"), targetSelect] });
  const cmapLabel = h("label", { children: [document.createTextNode("cmap"), cmapSelect] });
  const toolbar = h("div", {
    class: "fx-toolbar",
    children: [targetLabel, signLabel, cmapLabel, opacityLabel, clipLabel],
  });
  const panelsBox = h("div", { class: "fx-panels" });
  const job = createJobUi(() => {
    job.cancel.disabled = true;
    rpc.request("cancel").catch((err) => warn("cancel", err));
  });
  disposers.push(() => job.destroy());
  root.append(styleElement(CSS), header, toolbar, panelsBox, job.row, job.errorBox);
  el.appendChild(root);
  disposers.push(() => root.remove());

  // ---- state -----------------------------------------------------------------------------------------
  let values: Array<Float32Array | null> = [];
  let background: Uint8Array | null = null;
  let doms: PanelDom[] = [];
  let received = 0;
  let paints = 0;
  let frame = 0;

  const buildPanels = () => {
    panelsBox.replaceChildren();
    const titles = get("titles") ?? [];
    values = titles.map((_, i) => values[i] ?? null);
    doms = titles.map((t, i) => {
      const title = h("div", { class: "fx-panel-title", text: t });
      const readout = h("div", { class: "fx-readout" });
      const spark = h("canvas", { class: "fx-spark", attrs: { width: "120", height: "24", "aria-hidden": "true" } });
      const body = h("div", { class: "fx-panel-body" });
      let canvas: HTMLCanvasElement | null = null;
      if (get("kind") === "image") {
        canvas = h("canvas", { class: "fx-attr-image", attrs: { role: "img", "aria-label": `${t} attribution` } });
        body.appendChild(canvas);
      }
      const panel = h("div", { class: "fx-panel", children: [title, readout, spark, body] });
      panel.dataset.index = String(i);
      panelsBox.appendChild(panel);
      return { root: panel, title, readout, spark, body, canvas };
    });
  };

  const scheduleDraw = () => {
    if (frame || disposed) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw();
    });
  };
  disposers.push(() => {
    if (frame) cancelAnimationFrame(frame);
  });

  const draw = () => {
    const kind = get("kind");
    const cmap = get("cmap") ?? "RdBu_r";
    const lut = getColormap(cmap);
    const div = isDiverging(cmap);
    const sign = kind === "image" ? get("sign") ?? "all" : "all";
    doms.forEach((d, i) => {
      const v = values[i];
      d.root.dataset.hasValues = v ? "1" : "0";
      if (!v) return;
      if (kind === "image") drawImage(d, v, lut, div, sign);
      else if (kind === "text") drawText(d, v, lut, div);
      else drawWaterfall(d, v, i);
    });
    paints += 1;
    root.dataset.paints = String(paints);
    root.dataset.sign = sign;
  };

  const drawImage = (d: PanelDom, v: Float32Array, lut: Lut, div: boolean, sign: string) => {
    const shape = get("shape") ?? [];
    const H = shape[0] ?? 1;
    const W = shape[1] ?? v.length;
    const canvas = d.canvas!;
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
      const s = SIDE / Math.max(W, H);
      canvas.style.width = `${Math.round(W * s)}px`;
      canvas.style.height = `${Math.round(H * s)}px`;
    }
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(W, H);
    const bg = background && background.length === 3 * W * H ? background : null;
    const checksum = paintOverlay(v, bg, lut, div, sign, Number(get("opacity") ?? 0.7), Number(get("clip") ?? 99), img.data);
    ctx.putImageData(img, 0, 0);
    canvas.dataset.checksum = String(checksum);
  };

  const drawText = (d: PanelDom, v: Float32Array, lut: Lut, div: boolean) => {
    const tokens = get("tokens") ?? [];
    const scale = clipScale(v, "all", Number(get("clip") ?? 99));
    const box = h("div", { class: "fx-tokens" });
    for (let i = 0; i < v.length; i++) {
      const [pos, strength] = colourOf(v[i], "all", scale, div);
      const k = 3 * Math.min(255, Math.max(0, Math.floor(pos * 256)));
      const span = h("span", { class: "fx-token" });
      span.textContent = i < tokens.length ? tokens[i] : `#${i}`; // tokens are data: text, never HTML
      const a = Number(get("opacity") ?? 0.7) * strength;
      span.style.backgroundColor = `rgba(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]}, ${a.toFixed(3)})`;
      span.title = formatValue(v[i]);
      span.dataset.value = String(v[i]);
      box.appendChild(span);
    }
    d.body.replaceChildren(box);
  };

  const drawWaterfall = (d: PanelDom, v: Float32Array, i: number) => {
    const names = get("feature_names") ?? [];
    const info = (get("panels") ?? [])[i] ?? ({} as PanelInfo);
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
    const row = (name: string, track: HTMLElement, value: string, total = false) => {
      const n = h("div", { class: `fx-wf-name${total ? " fx-wf-total" : ""}` });
      n.textContent = name; // feature names are data: text, never HTML
      const val = h("div", { class: `fx-wf-val${total ? " fx-wf-total" : ""}`, text: value });
      grid.append(n, track, val);
    };
    const lineTrack = (at: number) => {
      const t = h("div", { class: "fx-wf-track" });
      const line = h("div", { class: "fx-wf-line" });
      line.style.left = x(at);
      t.appendChild(line);
      return t;
    };
    row("base value E[f]", lineTrack(base), formatValue(base), true);
    for (const s of steps) {
      const t = h("div", { class: "fx-wf-track" });
      const bar = h("div", { class: `fx-wf-bar ${v[s.j] >= 0 ? "fx-wf-pos" : "fx-wf-neg"}` });
      bar.style.left = x(Math.min(s.start, s.end));
      bar.style.width = `${(Math.abs(s.end - s.start) / span) * 100}%`;
      bar.dataset.feature = String(s.j);
      t.appendChild(bar);
      const sign = v[s.j] >= 0 ? "+" : "−";
      row(s.j < names.length ? names[s.j] : `feature ${s.j}`, t, `${sign}${formatValue(Math.abs(v[s.j]))}`);
    }
    row("model output f(x)", lineTrack(output), formatValue(output), true);
    d.body.replaceChildren(grid);
  };

  const drawReadouts = () => {
    const infos = get("panels") ?? [];
    doms.forEach((d, i) => {
      const info = infos[i];
      if (!info) return;
      const parts: string[] = [];
      if (info.status === "running") parts.push(`${Math.round((info.progress ?? 0) * 100)}%`);
      if (info.done !== undefined) parts.push(`${info.done} ${info.done_label ?? ""}`.trim());
      if (info.stderr !== undefined) parts.push(`mean s.e. ${formatValue(info.stderr)}`);
      if (info.gap !== undefined) parts.push(`gap ${formatValue(info.gap)}`);
      if (info.output !== undefined) parts.push(`f(x) ${formatValue(info.output)}`);
      d.readout.textContent = parts.join(" · ");
      d.root.dataset.status = info.status ?? "";
      d.root.dataset.stderr = info.stderr !== undefined ? String(info.stderr) : "";
      const hist = info.stderr_history ?? [];
      setHidden(d.spark, hist.length < 2);
      if (hist.length >= 2) drawSpark(d.spark, hist);
    });
  };

  const drawSpark = (c: HTMLCanvasElement, hist: number[]) => {
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
  };

  // ---- controls --------------------------------------------------------------------------------------
  const syncControls = () => {
    const kind = get("kind");
    signSelect.value = get("sign") ?? "all";
    cmapSelect.value = get("cmap") ?? "RdBu_r";
    opacityInput.value = String(get("opacity") ?? 0.7);
    clipInput.value = String(get("clip") ?? 99);
    setHidden(signLabel, kind !== "image");
    setHidden(clipLabel, kind === "tabular");
    setHidden(opacityLabel, kind === "tabular");
    setHidden(cmapLabel, kind === "tabular");
    const names = get("target_names") ?? [];
    if (targetSelect.options.length !== names.length) {
      targetSelect.replaceChildren(...names.map((n, i) => {
        const o = h("option", { attrs: { value: String(i) } });
        o.textContent = n; // class names are data
        return o;
      }));
    }
    const t = get("target");
    if (t !== null && t !== undefined) targetSelect.value = String(t);
    targetSelect.disabled = !get("can_recompute");
    setHidden(targetLabel, names.length === 0);
    root.dataset.target = t === null || t === undefined ? "" : String(t);
  };
  const on = <K extends keyof HTMLElementEventMap>(t: HTMLElement, type: K, cb: () => void) => {
    t.addEventListener(type, cb);
    disposers.push(() => t.removeEventListener(type, cb));
  };
  on(signSelect, "change", () => {
    model.set("sign", signSelect.value);
    model.save_changes();
  });
  on(cmapSelect, "change", () => {
    model.set("cmap", cmapSelect.value);
    model.save_changes();
  });
  on(opacityInput, "input", () => {
    model.set("opacity", Number(opacityInput.value));
    model.save_changes();
  });
  on(clipInput, "change", () => {
    const q = Number(clipInput.value);
    if (Number.isFinite(q) && q >= 50 && q <= 100) {
      model.set("clip", q);
      model.save_changes();
    }
  });
  on(targetSelect, "change", () => {
    model.set("target", Number(targetSelect.value));
    model.save_changes();
  });

  const syncJob = () => {
    const status = get("status") ?? "";
    root.dataset.status = status;
    job.update({ status, progress: Number(get("progress") ?? 0), error: get("error") ?? "" });
  };
  const syncHeader = () => {
    header.textContent = get("title") ?? "";
    setHidden(header, !get("title"));
  };

  for (const k of ["sign", "cmap", "opacity", "clip"]) {
    listen(`change:${k}`, () => {
      syncControls();
      scheduleDraw();
    });
  }
  listen("change:target", syncControls);
  listen("change:target_names", syncControls);
  listen("change:can_recompute", syncControls);
  listen("change:titles", () => {
    buildPanels();
    scheduleDraw();
  });
  listen("change:panels", () => {
    drawReadouts();
    if (get("kind") === "tabular") scheduleDraw();
  });
  listen("change:shape", scheduleDraw);
  listen("change:status", syncJob);
  listen("change:progress", syncJob);
  listen("change:error", syncJob);
  listen("change:title", syncHeader);

  // ---- data from the kernel ----------------------------------------------------------------------------
  disposers.push(
    onMessage<{ type: "panel"; index: number; generation: number; values: NdArray }>(model, "panel", (msg) => {
      if (msg.generation < (get("generation") ?? 0)) return; // from a job the target selector replaced
      if (msg.index < 0 || msg.index >= doms.length) return;
      values[msg.index] = msg.values.data as Float32Array;
      received += 1;
      root.dataset.received = String(received);
      root.dataset.generation = String(msg.generation);
      scheduleDraw();
    }),
  );
  disposers.push(
    onMessage<{ type: "background"; image: NdArray }>(model, "background", (msg) => {
      background = msg.image.data as Uint8Array;
      scheduleDraw();
    }),
  );

  buildPanels();
  syncControls();
  syncJob();
  syncHeader();
  drawReadouts();
  rpc.request("snapshot").catch((err) => warn("snapshot", err));

  function warn(method: string, err: unknown): void {
    if (!disposed) reportRpcFailure(method, err);
  }

  disposers.unshift(() => rpc.dispose()); // last: pending requests are rejected after the listeners are gone
  return finalizer(disposers, signal, () => {
    disposed = true;
  });
}

export default { render };
