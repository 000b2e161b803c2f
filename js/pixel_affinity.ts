// PixelAffinity view: images side by side (wrapping, scaled to the output's width); hovering (or clicking) a
// location overlays its affinity map on every image. On the "browser" path the unit-norm features arrive once
// and each hover is a row of dot products here; on the "kernel" path each hover asks the kernel for the row
// (latest wins). Mutual-NN matches between consecutive images are thin lines in one quiet colour (toggleable);
// label / propagated / noisy-label maps can replace the affinity overlay.

import type { NdArray } from "./lib/codec";
import { createColorBar } from "./lib/axis";
import { lutAt, resolveLut, type Lut } from "./lib/colormaps";
import { fmt } from "./lib/format";
import { flowItems, backingSize } from "./lib/sizing";
import { createTooltip } from "./lib/tooltip";
import { colorControls, labelled, selectOf, setOptions, toolbar } from "./lib/toolbar";
import { h, setHidden } from "./lib/ui";
import { defineView, type View } from "./lib/view";

interface Traits {
  n_images: number;
  grid: [number, number];
  image_shape: [number, number];
  path: string;
  path_reason: string;
  temperature: number;
  threshold: number;
  mode: string;
  modes: string[];
  show_matches: boolean;
  n_matches: number;
  cmap: string;
  title: string;
  captions: string[];
  tokens: string[][];
  location: number[];
  [key: string]: unknown;
}

interface InitReply {
  images: NdArray; // (B, H, W, 4) uint8
  matches: NdArray; // (P, 6) int32
  scores: NdArray; // (P,) float32
  features?: NdArray; // (B*h*w, D) float32, unit rows
  labels?: NdArray; // (B, h, w) uint8
  propagated?: NdArray;
  noisy?: NdArray;
}

const HEIGHT = 200; // CSS px per image at full size
const GAP = 16;
// Categorical colours for label maps (Tableau 10).
const PALETTE: Array<[number, number, number]> = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];
const MODE_NAMES: Readonly<Record<string, string>> = {
  affinity: "similarity to the pointer",
  labels: "labels",
  propagated: "labels carried from the previous frame",
  noisy: "likely label noise",
};

const CSS = `
.fx-pixaff { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-pixaff .fx-row { position: relative; display: flex; flex-wrap: wrap; gap: ${GAP}px; align-items: flex-start; max-width: 100%; }
.fx-pixaff .fx-cell { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.fx-pixaff .fx-stack { position: relative; line-height: 0; }
.fx-pixaff canvas.fx-pix-image { display: block; cursor: crosshair; image-rendering: auto; }
.fx-pixaff canvas.fx-pix-overlay { position: absolute; left: 0; top: 0; pointer-events: none; image-rendering: pixelated; }
.fx-pixaff canvas.fx-pix-lines { position: absolute; left: 0; top: 0; pointer-events: none; }
.fx-pixaff .fx-row.fx-text { flex-direction: column; flex-wrap: nowrap; gap: 22px; }
.fx-pixaff .fx-sentence { display: flex; flex-wrap: wrap; gap: 3px; line-height: 1.6; max-width: 720px; }
.fx-pixaff .fx-token { padding: 0 3px; border-radius: 2px; cursor: crosshair; border: 1px solid transparent;
  color: var(--jp-ui-font-color0, #000); font-family: var(--jp-code-font-family, monospace); }
.fx-pixaff .fx-token.fx-shown { border-color: var(--jp-brand-color1, #1976d2); }
.fx-pixaff .fx-caption { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); line-height: 1.3; overflow-wrap: anywhere; }
.fx-pixaff .fx-info { max-width: 720px; }
.fx-pixaff input[type="range"] { width: 90px; }
`;

/** Weight of affinity `v` in the overlay: exp((v - max) / T) relative to the image's best location, 0 below the threshold. */
export function overlayWeight(v: number, max: number, temperature: number, threshold: number): number {
  if (!(v >= threshold)) return 0;
  return Math.exp((v - max) / Math.max(1e-6, temperature));
}

/** The plain-language line under the view. */
export function statusText(path: string, nMatches: number, showMatches: boolean, text: boolean): string {
  const what = text ? "word" : "location";
  const where =
    path === "kernel"
      ? `Each ${what} you point at is sent to the kernel, which answers with its similarities (the features are too large to send to the page).`
      : `Similarities are computed here in the page as you move the pointer.`;
  const lines = nMatches > 0
    ? ` ${nMatches} pairs of ${what}s that are each other's best match in the neighbouring ${text ? "sentence" : "image"} are joined by lines${showMatches ? "" : " (hidden)"}.`
    : "";
  return `Point at a ${what} to see how similar every other ${what} is (brighter = more similar); click to pin it.${lines} ${where}`;
}

function setup(view: View<Traits>): void {
  const { root } = view;
  view.data({ ready: "false", hover: "", path: String(view.get("path")), rows: 0 });

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const tempInput = h("input", { class: "fx-temperature", attrs: { type: "range", min: "-2.5", max: "0.5", step: "0.05", "aria-label": "temperature (log10)" } });
  const tempText = h("span", { class: "fx-temperature-text" });
  const thrInput = h("input", { class: "fx-threshold", attrs: { type: "range", min: "-1", max: "1", step: "0.01", "aria-label": "threshold" } });
  const thrText = h("span", { class: "fx-threshold-text" });
  const modeSelect = selectOf("fx-mode", "overlay", []);
  const matchBox = h("input", { class: "fx-matches", attrs: { type: "checkbox", "aria-label": "match lines" } });
  const controls = colorControls(view, () => drawOverlays(), { limits: false, center: false });
  const tempLabel = labelled("sharpness", tempInput);
  tempLabel.append(tempText);
  tempLabel.title = "temperature T of exp((a − max a) / T): smaller = only the closest matches light up";
  const thrLabel = labelled("hide below", thrInput);
  thrLabel.append(thrText);
  thrLabel.title = "locations whose cosine similarity is below this are not coloured";
  const bar = toolbar(labelled("show", modeSelect), tempLabel, thrLabel, labelled("match lines", matchBox, true), ...controls.items);
  const row = h("div", { class: "fx-row" });
  const lines = h("canvas", { class: "fx-pix-lines", attrs: { "aria-hidden": "true" } });
  const colorbar = createColorBar(() => view.theme.fontFamily);
  const readout = h("div", { class: "fx-info fx-readout" });
  const info = h("div", { class: "fx-info" });
  const tip = createTooltip(root);
  root.append(title, bar, row, colorbar.el, readout, info);

  const B = () => Number(view.get("n_images")) || 0;
  const gh = () => (view.get("grid") ?? [1, 1])[0];
  const gw = () => (view.get("grid") ?? [1, 1])[1];
  const dpr = () => (typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1);
  const lut = (): Lut => resolveLut(view.get("cmap"), view.get("cmap_lut"), "magma");
  const textMode = () => Array.isArray(view.get("tokens")) && view.get("tokens").length > 0;

  // ---- data ------------------------------------------------------------------------------------------
  let data: InitReply | null = null;
  let features: Float32Array | null = null;
  let dim = 0;
  let current: Float32Array | null = null; // (B*h*w) affinities of the shown location
  let shown: [number, number, number] | null = null;
  const images: HTMLCanvasElement[] = [];
  const overlays: HTMLCanvasElement[] = [];
  const gridCanvas: HTMLCanvasElement[] = []; // h x w offscreen per image
  const tokenSpans: HTMLElement[][] = []; // token mode: one span per token of each sentence

  const pin = (b: number, i: number, j: number) => {
    view.set("location", [b, i, j]);
    show(b, i, j);
  };

  function buildText(): void {
    row.classList.add("fx-text");
    const caps = view.get("captions") ?? [];
    const toks = view.get("tokens");
    for (let b = 0; b < toks.length; b++) {
      const spans: HTMLElement[] = [];
      const sentence = h("div", { class: "fx-sentence" });
      toks[b].forEach((t, j) => {
        // data-derived text: textContent only
        const sp = h("span", { class: "fx-token", text: t, attrs: { "data-index": String(b), "data-t": String(j) } });
        if (t === "") setHidden(sp, true);
        view.dom<PointerEvent>(sp, "pointermove", (ev) => {
          show(b, 0, j);
          tokenTip(b, j, ev);
        });
        view.dom(sp, "pointerleave", () => tip.hide());
        view.dom(sp, "click", () => pin(b, 0, j));
        sentence.appendChild(sp);
        spans.push(sp);
      });
      tokenSpans.push(spans);
      row.appendChild(h("div", { class: "fx-cell", children: [sentence, h("div", { class: "fx-caption", text: caps[b] ?? `sentence ${b}` })] }));
    }
    row.appendChild(lines);
  }

  function build(): void {
    row.replaceChildren();
    images.length = 0;
    overlays.length = 0;
    gridCanvas.length = 0;
    tokenSpans.length = 0;
    if (!data) return;
    if (textMode()) {
      buildText();
      relayout();
      return;
    }
    const [, H, W] = data.images.shape;
    const caps = view.get("captions") ?? [];
    for (let b = 0; b < B(); b++) {
      const img = h("canvas", { class: "fx-pix-image", attrs: { "data-index": String(b), role: "img", "aria-label": caps[b] ?? `image ${b}` } });
      img.width = W;
      img.height = H;
      const ctx = img.getContext("2d");
      if (ctx) {
        const id = ctx.createImageData(W, H);
        id.data.set((data.images.data as Uint8Array).subarray(b * H * W * 4, (b + 1) * H * W * 4));
        ctx.putImageData(id, 0, 0);
      }
      const ov = h("canvas", { class: "fx-pix-overlay" });
      const g = document.createElement("canvas");
      g.width = gw();
      g.height = gh();
      const cap = h("div", { class: "fx-caption", text: caps[b] ?? `image ${b}` });
      row.appendChild(h("div", { class: "fx-cell", children: [h("div", { class: "fx-stack", children: [img, ov] }), cap] }));
      images.push(img);
      overlays.push(ov);
      gridCanvas.push(g);
      bindImage(img, b);
    }
    row.appendChild(lines);
    relayout();
  }

  /** Image size from the width: all in one row when they fit (scaled down to 60 %), else wrapped. */
  function relayout(): void {
    if (data && images.length) {
      const [, H, W] = data.images.shape;
      const f = flowItems(images.length, Math.round((W / H) * HEIGHT), HEIGHT, view.width(), GAP);
      images.forEach((img, b) => {
        img.style.width = `${f.width}px`;
        img.style.height = `${f.height}px`;
        const ov = overlays[b];
        ov.style.width = `${f.width}px`;
        ov.style.height = `${f.height}px`;
        ov.width = backingSize(f.width, dpr());
        ov.height = backingSize(f.height, dpr());
        (img.parentElement!.parentElement as HTMLElement).style.width = `${f.width}px`;
      });
      colorbar.update(lut(), [0, 1], Math.min(f.width * Math.min(2, images.length), view.width()), "overlay weight (1 = the most similar location of each image)");
    } else {
      colorbar.update(lut(), [0, 1], Math.min(320, view.width()), "overlay weight (1 = the most similar word of each sentence)");
    }
    drawOverlays();
    drawLines();
  }

  const locAt = (img: HTMLCanvasElement, ev: MouseEvent): [number, number] | null => {
    const r = img.getBoundingClientRect();
    const x = (ev.clientX - r.left) / r.width;
    const y = (ev.clientY - r.top) / r.height;
    if (!(x >= 0 && x < 1 && y >= 0 && y < 1)) return null;
    return [Math.floor(y * gh()), Math.floor(x * gw())];
  };

  function bindImage(img: HTMLCanvasElement, b: number): void {
    view.dom<PointerEvent>(img, "pointermove", (ev) => {
      const l = locAt(img, ev);
      if (!l) return;
      show(b, l[0], l[1]);
      const r = root.getBoundingClientRect();
      const caps = view.get("captions") ?? [];
      tip.show([
        { value: caps[b] ?? `image ${b}`, strong: true },
        { label: "location", value: `row ${l[0]}, col ${l[1]} of the ${gh()}×${gw()} feature grid` },
      ]);
      tip.place(ev.clientX - r.left, ev.clientY - r.top);
    });
    view.dom(img, "pointerleave", () => {
      tip.hide();
      const p = view.get("location");
      if (Array.isArray(p) && p.length === 3) show(p[0], p[1], p[2]);
    });
    view.dom<MouseEvent>(img, "click", (ev) => {
      const l = locAt(img, ev);
      if (l) pin(b, l[0], l[1]);
    });
  }

  function tokenTip(b: number, j: number, ev: PointerEvent): void {
    const r = root.getBoundingClientRect();
    const toks = view.get("tokens");
    const p = view.get("location");
    const lines = [{ value: `“${toks[b]?.[j] ?? ""}” (word ${j} of sentence ${b})`, strong: true }];
    // against the pinned word, when one is pinned and the features are here
    if (features && Array.isArray(p) && p.length === 3 && !(p[0] === b && p[2] === j)) {
      const n = gh() * gw();
      const a = (p[0] * n + p[2]) * dim;
      const c = (b * n + j) * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += features[a + d] * features[c + d];
      lines.push({ value: `cosine to the pinned “${toks[p[0]]?.[p[2]] ?? ""}”: ${fmt(s)}`, strong: false });
    }
    tip.show(lines);
    tip.place(ev.clientX - r.left, ev.clientY - r.top);
  }

  // ---- one row of the affinity -----------------------------------------------------------------------
  let rowsComputed = 0;
  function show(b: number, i: number, j: number): void {
    const k = `${b},${i},${j}`;
    if (shown && shown.join(",") === k && current) return;
    shown = [b, i, j];
    if (features) {
      const L = B() * gh() * gw();
      const r = (b * gh() + i) * gw() + j;
      const out = new Float32Array(L);
      const q = features.subarray(r * dim, (r + 1) * dim);
      for (let p = 0; p < L; p++) {
        let s = 0;
        const o = p * dim;
        for (let d = 0; d < dim; d++) s += features[o + d] * q[d];
        out[p] = s;
      }
      current = out;
      done(k);
    } else {
      void view.request<{ values: NdArray }>("row", { b, i, j }, { channel: "hover" }).then((reply) => {
        if (!reply || !shown || shown.join(",") !== k) return;
        current = reply.result.values.data as Float32Array;
        done(k);
      });
    }
  }
  function done(k: string): void {
    rowsComputed += 1;
    view.data("rows", rowsComputed);
    drawOverlays();
    drawLines();
    view.data("hover", k);
    view.settled();
  }

  // ---- overlays --------------------------------------------------------------------------------------
  function drawTokens(mode: string, T: number, thr: number, lt: Lut): string[] {
    const n = gh() * gw();
    const parts: string[] = [];
    for (let b = 0; b < tokenSpans.length; b++) {
      let mx = -Infinity;
      let best = 0;
      for (let p = 0; p < n; p++) if (current && current[b * n + p] > mx) { mx = current[b * n + p]; best = p; }
      tokenSpans[b].forEach((sp, p) => {
        sp.classList.toggle("fx-shown", !!shown && shown[0] === b && shown[2] === p);
        if (!current || mode !== "affinity") {
          sp.style.background = "";
          return;
        }
        const v = current[b * n + p];
        const s = overlayWeight(v, mx, T, thr);
        const [r, g, bl] = lutAt(lt, s);
        sp.style.background = `rgba(${r},${g},${bl},${(0.15 + 0.75 * s).toFixed(3)})`;
        sp.style.color = 0.2126 * r + 0.7152 * g + 0.0722 * bl > 140 ? "#000" : "#fff";
      });
      if (current) parts.push(`sentence ${b}: max ${fmt(mx)} at token ${best}`);
    }
    return parts;
  }

  function drawOverlays(): void {
    if (!data) return;
    const mode = view.get("mode");
    const hh = gh();
    const ww = gw();
    const n = hh * ww;
    const T = Math.max(1e-6, Number(view.get("temperature")) || 0.1);
    const thr = Number(view.get("threshold"));
    const lt = lut();
    if (textMode()) {
      const parts = drawTokens(mode, T, thr, lt);
      if (shown) readout.textContent = `token ${shown[2]} of sentence ${shown[0]} · ` + parts.join(" · ");
      return;
    }
    const parts: string[] = [];
    for (let b = 0; b < overlays.length; b++) {
      const g = gridCanvas[b];
      const gctx = g.getContext("2d");
      const octx = overlays[b].getContext("2d");
      if (!gctx || !octx) continue;
      const id = gctx.createImageData(ww, hh);
      const px = id.data;
      if (mode === "affinity" && current) {
        let mx = -Infinity;
        for (let p = 0; p < n; p++) mx = Math.max(mx, current[b * n + p]);
        let best = 0;
        for (let p = 0; p < n; p++) {
          const v = current[b * n + p];
          if (v === mx) best = p;
          const s = overlayWeight(v, mx, T, thr);
          const [r, gg, bb] = lutAt(lt, s);
          px[4 * p] = r;
          px[4 * p + 1] = gg;
          px[4 * p + 2] = bb;
          px[4 * p + 3] = s > 0 ? Math.round(40 + 180 * s) : 0;
        }
        parts.push(`image ${b}: max ${fmt(mx)} at (${Math.floor(best / ww)}, ${best % ww})`);
      } else if (mode !== "affinity") {
        const m = (data as unknown as Record<string, NdArray | undefined>)[mode];
        if (m) {
          const src = m.data as Uint8Array;
          for (let p = 0; p < n; p++) {
            const v = src[b * n + p];
            if (mode === "noisy") {
              px.set([230, 30, 30, Math.round(v * 0.85)], 4 * p);
            } else {
              const c = PALETTE[v % PALETTE.length];
              px.set([c[0], c[1], c[2], 120], 4 * p);
            }
          }
        }
      }
      gctx.putImageData(id, 0, 0);
      const ov = overlays[b];
      octx.setTransform(1, 0, 0, 1, 0, 0);
      octx.clearRect(0, 0, ov.width, ov.height);
      octx.imageSmoothingEnabled = false;
      octx.drawImage(g, 0, 0, ov.width, ov.height);
      if (shown && shown[0] === b) {
        const cx = ((shown[2] + 0.5) / ww) * ov.width;
        const cy = ((shown[1] + 0.5) / hh) * ov.height;
        const r = Math.max(3 * dpr(), ov.width / ww / 2);
        octx.lineWidth = 3 * dpr();
        octx.strokeStyle = "rgba(0,0,0,0.6)";
        octx.strokeRect(cx - r, cy - r, 2 * r, 2 * r);
        octx.lineWidth = 1.5 * dpr();
        octx.strokeStyle = "#ffffff";
        octx.strokeRect(cx - r, cy - r, 2 * r, 2 * r);
      }
    }
    if (shown) readout.textContent = `location (image ${shown[0]}, row ${shown[1]}, col ${shown[2]}) · ` + parts.join(" · ");
    setHidden(colorbar.el, mode !== "affinity");
  }

  // ---- mutual-NN lines: thin, one quiet colour; the pointed location's own matches stand out -----------
  function drawLines(): void {
    const ctx = lines.getContext("2d");
    if (!ctx || !data || (images.length === 0 && tokenSpans.length === 0)) return;
    const rr = row.getBoundingClientRect();
    const w = row.clientWidth;
    const hgt = row.clientHeight;
    lines.style.width = `${w}px`;
    lines.style.height = `${hgt}px`;
    lines.width = backingSize(w, dpr());
    lines.height = backingSize(hgt, dpr());
    ctx.setTransform(lines.width / Math.max(1, w), 0, 0, lines.height / Math.max(1, hgt), 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    if (!view.get("show_matches")) return;
    const m = data.matches.data as Int32Array;
    const P = data.matches.shape[0];
    const ww = gw();
    const hh = gh();
    const centre = (b: number, i: number, j: number): [number, number] => {
      if (tokenSpans.length) {
        const r = tokenSpans[b][j].getBoundingClientRect();
        return [r.left - rr.left + r.width / 2, r.top - rr.top + r.height / 2];
      }
      const r = images[b].getBoundingClientRect();
      return [r.left - rr.left + ((j + 0.5) / ww) * r.width, r.top - rr.top + ((i + 0.5) / hh) * r.height];
    };
    const count = tokenSpans.length || images.length;
    const mine: Array<[[number, number], [number, number]]> = [];
    ctx.lineWidth = 1;
    ctx.strokeStyle = view.theme.light ? "rgba(255,255,255,0.55)" : "rgba(200,200,200,0.45)";
    ctx.beginPath();
    for (let p = 0; p < P; p++) {
      const [b1, i1, j1, b2, i2, j2] = Array.from(m.subarray(6 * p, 6 * p + 6));
      if (b1 >= count || b2 >= count) continue;
      if (tokenSpans.length && (tokenSpans[b1][j1]?.hidden || tokenSpans[b2][j2]?.hidden)) continue;
      const a = centre(b1, i1, j1);
      const c = centre(b2, i2, j2);
      const touches = shown && ((shown[0] === b1 && shown[1] === i1 && shown[2] === j1) || (shown[0] === b2 && shown[1] === i2 && shown[2] === j2));
      if (touches) mine.push([a, c]);
      ctx.moveTo(a[0], a[1]);
      ctx.lineTo(c[0], c[1]);
    }
    ctx.stroke();
    if (mine.length) {
      ctx.lineWidth = 2;
      ctx.strokeStyle = view.theme.brand;
      ctx.beginPath();
      for (const [a, c] of mine) {
        ctx.moveTo(a[0], a[1]);
        ctx.lineTo(c[0], c[1]);
      }
      ctx.stroke();
    }
  }

  // ---- controls --------------------------------------------------------------------------------------
  const syncControls = () => {
    const T = Number(view.get("temperature")) || 0.1;
    tempInput.value = String(Math.log10(T));
    tempText.textContent = fmt(T, 2);
    const thr = Number(view.get("threshold"));
    thrInput.value = String(thr);
    thrText.textContent = fmt(thr, 2);
    matchBox.checked = !!view.get("show_matches");
    const modes = view.get("modes") ?? ["affinity"];
    setOptions(modeSelect, modes.map((m) => [m, MODE_NAMES[m] ?? m] as const));
    modeSelect.value = view.get("mode");
    setHidden(modeSelect.parentElement as HTMLElement, modes.length < 2);
    info.textContent = statusText(String(view.get("path")), Number(view.get("n_matches")) || 0, !!view.get("show_matches"), textMode());
    info.title = String(view.get("path_reason") ?? ""); // the technical reason, for whoever wants it
  };
  view.dom(tempInput, "input", () => {
    view.set("temperature", 10 ** Number(tempInput.value));
    syncControls();
    drawOverlays();
  });
  view.dom(thrInput, "input", () => {
    view.set("threshold", Number(thrInput.value));
    syncControls();
    drawOverlays();
  });
  view.dom(modeSelect, "change", () => {
    view.set("mode", modeSelect.value);
    drawOverlays();
  });
  view.dom(matchBox, "change", () => {
    view.set("show_matches", matchBox.checked);
    syncControls();
    drawLines();
  });
  view.on(["temperature", "threshold", "mode", "cmap", "modes"], syncControls, drawOverlays);
  view.on("show_matches", syncControls, drawLines);
  view.on("location", () => {
    const p = view.get("location");
    if (Array.isArray(p) && p.length === 3) show(p[0], p[1], p[2]);
  });
  view.onTheme(() => drawLines());
  syncControls();
  view.onResize(() => relayout());

  void view.request<InitReply>("init", {}, { timeoutMs: 60000, onError: (err) => {
    info.textContent = `Could not load the images: ${(err as Error)?.message ?? String(err)}`;
  } }).then((reply) => {
    if (!reply) return;
    data = reply.result;
    if (data.features) {
      features = data.features.data as Float32Array;
      dim = data.features.shape[1];
    }
    build();
    view.data("ready", "true");
    view.live();
    const p = view.get("location");
    if (Array.isArray(p) && p.length === 3) show(p[0], p[1], p[2]);
    view.settled();
  });
}

export default defineView<Traits>({ name: "fx-pixaff", css: CSS, rpcTimeoutMs: 60000 }, setup);
