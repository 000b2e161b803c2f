// PixelAffinity view: images side by side; hovering (or clicking) a location overlays its affinity map on every
// image. On the "browser" path the unit-norm features arrive once and each hover is a row of dot products here;
// on the "kernel" path each hover asks the kernel for the row (latest wins). Mutual-NN matches between
// consecutive images are drawn as lines; label / propagated / noisy-label maps can replace the affinity overlay.

import type { RenderProps } from "@anywidget/types";
import { type NdArray } from "./lib/codec";
import { createRpc, reportRpcFailure } from "./lib/rpc";
import { getColormap, type Lut } from "./lib/colormaps";
import { formatValue } from "./lib/grid";
import { readTheme, watchTheme, type Theme } from "./lib/theme";
import { BASE_CSS, h, setHidden, styleElement } from "./lib/ui";
import { finalizer } from "./lib/lifecycle";

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

const HEIGHT = 200; // CSS px per image
// Categorical colours for label maps (Tableau 10).
const PALETTE: Array<[number, number, number]> = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

const CSS = `${BASE_CSS}
.fx-pixaff { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-pixaff .fx-header { font-weight: 600; font-size: var(--jp-ui-font-size2, 15px); margin: 2px 0 4px; }
.fx-pixaff .fx-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; margin-bottom: 6px; }
.fx-pixaff .fx-toolbar label { display: inline-flex; align-items: center; gap: 4px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-pixaff .fx-row { position: relative; display: flex; gap: 16px; align-items: flex-start; overflow-x: auto; max-width: 100%; padding-bottom: 2px; }
.fx-pixaff .fx-cell { display: flex; flex-direction: column; gap: 2px; }
.fx-pixaff .fx-stack { position: relative; line-height: 0; }
.fx-pixaff canvas.fx-pix-image { display: block; cursor: crosshair; image-rendering: auto; }
.fx-pixaff canvas.fx-pix-overlay { position: absolute; left: 0; top: 0; pointer-events: none; image-rendering: pixelated; }
.fx-pixaff canvas.fx-pix-lines { position: absolute; left: 0; top: 0; pointer-events: none; }
.fx-pixaff .fx-row.fx-text { flex-direction: column; gap: 22px; }
.fx-pixaff .fx-sentence { display: flex; flex-wrap: wrap; gap: 3px; line-height: 1.6; max-width: 720px; }
.fx-pixaff .fx-token { padding: 0 3px; border-radius: 2px; cursor: crosshair; border: 1px solid transparent;
  color: var(--jp-ui-font-color0, #000); font-family: var(--jp-code-font-family, monospace); }
.fx-pixaff .fx-token.fx-shown { border-color: #00b8d4; }
.fx-pixaff .fx-caption { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); line-height: 1.3; overflow-wrap: anywhere; }
.fx-pixaff .fx-info { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); margin-top: 4px; line-height: 1.4; max-width: 720px;
  font-variant-numeric: tabular-nums; }
`;

type Props = Pick<RenderProps<Traits>, "model" | "el"> & { signal?: AbortSignal };

function render({ model, el, signal }: Props): () => void {
  const rpc = createRpc(model, { timeoutMs: 60000 });
  const disposers: Array<() => void> = [];
  let disposed = false;
  const get = <K extends keyof Traits>(k: K): Traits[K] => model.get(k);
  const listen = (event: string, cb: () => void) => {
    model.on(event, cb);
    disposers.push(() => model.off(event, cb));
  };
  const dom = <K extends keyof HTMLElementEventMap>(t: HTMLElement, type: K, cb: (ev: HTMLElementEventMap[K]) => void) => {
    t.addEventListener(type, cb as EventListener);
    disposers.push(() => t.removeEventListener(type, cb as EventListener));
  };

  const root = h("div", { class: "fx-root fx-pixaff" });
  root.dataset.ready = "false";
  root.dataset.hover = "";
  root.dataset.path = String(get("path"));
  root.dataset.rows = "0";
  const title = h("div", { class: "fx-header" });
  const tempInput = h("input", { class: "fx-temperature", attrs: { type: "range", min: "-2.5", max: "0.5", step: "0.05", "aria-label": "temperature (log10)" } });
  const tempText = h("span", { class: "fx-temperature-text" });
  const thrInput = h("input", { class: "fx-threshold", attrs: { type: "range", min: "-1", max: "1", step: "0.01", "aria-label": "threshold" } });
  const thrText = h("span", { class: "fx-threshold-text" });
  const modeSelect = h("select", { class: "fx-mode", attrs: { "aria-label": "overlay" } });
  const matchBox = h("input", { class: "fx-matches", attrs: { type: "checkbox", "aria-label": "mutual-NN lines" } });
  const toolbar = h("div", {
    class: "fx-toolbar",
    children: [
      h("label", { children: [document.createTextNode("overlay"), modeSelect] }),
      h("label", { children: [document.createTextNode("temperature"), tempInput, tempText] }),
      h("label", { children: [document.createTextNode("threshold"), thrInput, thrText] }),
      h("label", { children: [matchBox, document.createTextNode("mutual-NN lines")] }),
    ],
  });
  const row = h("div", { class: "fx-row" });
  const lines = h("canvas", { class: "fx-pix-lines", attrs: { "aria-hidden": "true" } });
  const info = h("div", { class: "fx-info" });
  const readout = h("div", { class: "fx-info fx-readout" });
  root.append(styleElement(CSS), title, toolbar, row, readout, info);
  el.appendChild(root);
  disposers.push(() => root.remove());
  let theme: Theme = readTheme(root);
  disposers.push(watchTheme(root, (t) => { theme = t; drawLines(); }));

  const B = () => Number(get("n_images")) || 0;
  const gh = () => (get("grid") ?? [1, 1])[0];
  const gw = () => (get("grid") ?? [1, 1])[1];
  const dpr = () => (typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1);

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
  const textMode = () => Array.isArray(get("tokens")) && get("tokens").length > 0;

  function buildText(): void {
    row.classList.add("fx-text");
    const caps = get("captions") ?? [];
    const toks = get("tokens");
    for (let b = 0; b < toks.length; b++) {
      const spans: HTMLElement[] = [];
      const sentence = h("div", { class: "fx-sentence" });
      toks[b].forEach((t, j) => {
        // data-derived text: textContent only
        const sp = h("span", { class: "fx-token", text: t, attrs: { "data-index": String(b), "data-t": String(j) } });
        if (t === "") setHidden(sp, true);
        dom(sp, "pointermove", () => show(b, 0, j));
        dom(sp, "click", () => {
          model.set("location", [b, 0, j]);
          model.save_changes();
          show(b, 0, j);
        });
        sentence.appendChild(sp);
        spans.push(sp);
      });
      tokenSpans.push(spans);
      row.appendChild(h("div", { class: "fx-cell", children: [sentence, h("div", { class: "fx-caption", text: caps[b] ?? `sentence ${b}` })] }));
    }
    row.appendChild(lines);
    requestAnimationFrame(() => { drawLines(); drawOverlays(); });
  }

  function build(): void {
    row.replaceChildren();
    images.length = 0;
    overlays.length = 0;
    gridCanvas.length = 0;
    tokenSpans.length = 0;
    if (!data) return;
    if (textMode()) return buildText();
    const [, H, W] = data.images.shape;
    const cssH = HEIGHT;
    const cssW = Math.round((W / H) * HEIGHT);
    const caps = get("captions") ?? [];
    for (let b = 0; b < B(); b++) {
      const img = h("canvas", { class: "fx-pix-image", attrs: { "data-index": String(b) } });
      img.width = W;
      img.height = H;
      img.style.width = `${cssW}px`;
      img.style.height = `${cssH}px`;
      const ctx = img.getContext("2d");
      if (ctx) {
        const id = ctx.createImageData(W, H);
        id.data.set((data.images.data as Uint8Array).subarray(b * H * W * 4, (b + 1) * H * W * 4));
        ctx.putImageData(id, 0, 0);
      }
      const ov = h("canvas", { class: "fx-pix-overlay" });
      ov.width = Math.round(cssW * dpr());
      ov.height = Math.round(cssH * dpr());
      ov.style.width = `${cssW}px`;
      ov.style.height = `${cssH}px`;
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
    requestAnimationFrame(() => { drawLines(); drawOverlays(); });
  }

  const locAt = (img: HTMLCanvasElement, ev: MouseEvent): [number, number] | null => {
    const r = img.getBoundingClientRect();
    const x = (ev.clientX - r.left) / r.width;
    const y = (ev.clientY - r.top) / r.height;
    if (!(x >= 0 && x < 1 && y >= 0 && y < 1)) return null;
    return [Math.floor(y * gh()), Math.floor(x * gw())];
  };

  function bindImage(img: HTMLCanvasElement, b: number): void {
    dom(img, "pointermove", (ev) => {
      const l = locAt(img, ev);
      if (l) show(b, l[0], l[1]);
    });
    dom(img, "pointerleave", () => {
      const pin = get("location");
      if (Array.isArray(pin) && pin.length === 3) show(pin[0], pin[1], pin[2]);
    });
    dom(img, "click", (ev) => {
      const l = locAt(img, ev);
      if (!l) return;
      model.set("location", [b, l[0], l[1]]);
      model.save_changes();
      show(b, l[0], l[1]);
    });
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
      rpc
        .request<{ values: NdArray }>("row", { b, i, j }, { channel: "hover" })
        .then(({ result }) => {
          if (disposed || !shown || shown.join(",") !== k) return;
          current = result.values.data as Float32Array;
          done(k);
        })
        .catch((err) => warn("row", err));
    }
  }
  function done(k: string): void {
    rowsComputed += 1;
    root.dataset.rows = String(rowsComputed);
    drawOverlays();
    root.dataset.hover = k;
  }

  // ---- overlays --------------------------------------------------------------------------------------
  const lut = (): Lut => {
    try {
      return getColormap(get("cmap"));
    } catch {
      return getColormap("magma");
    }
  };

  function drawOverlays(): void {
    if (!data) return;
    const mode = get("mode");
    const hh = gh();
    const ww = gw();
    const n = hh * ww;
    const T = Math.max(1e-6, Number(get("temperature")) || 0.1);
    const thr = Number(get("threshold"));
    const lt = lut();
    const parts: string[] = [];
    if (textMode()) {
      for (let b = 0; b < tokenSpans.length; b++) {
        let mx = -Infinity;
        let best = 0;
        for (let p = 0; p < n; p++) if (current && current[b * n + p] > mx) { mx = current[b * n + p]; best = p; }
        tokenSpans[b].forEach((sp, p) => {
          sp.classList.toggle("fx-shown", !!shown && shown[0] === b && shown[2] === p);
          if (!current || mode !== "affinity") {
            sp.style.background = "";
            sp.title = "";
            return;
          }
          const v = current[b * n + p];
          const s = v < thr ? 0 : Math.exp((v - mx) / T);
          const c = Math.max(0, Math.min(255, Math.round(s * 255)));
          sp.style.background = `rgba(${lt[3 * c]},${lt[3 * c + 1]},${lt[3 * c + 2]},${(0.15 + 0.75 * s).toFixed(3)})`;
          sp.style.color = c > 140 ? "#000" : "#fff";
          sp.title = `cosine ${formatValue(v)}`;
        });
        if (current) parts.push(`sentence ${b}: max ${formatValue(mx)} at token ${best}`);
      }
      if (shown) readout.textContent = `token ${shown[2]} of sentence ${shown[0]} · ` + parts.join(" · ");
      return;
    }
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
          // softmax weight relative to this image's best location, at temperature T
          const s = v < thr ? 0 : Math.exp((v - mx) / T);
          const c = Math.max(0, Math.min(255, Math.round(s * 255)));
          px[4 * p] = lt[3 * c];
          px[4 * p + 1] = lt[3 * c + 1];
          px[4 * p + 2] = lt[3 * c + 2];
          px[4 * p + 3] = Math.round(40 + 180 * s) * (s > 0 ? 1 : 0);
        }
        parts.push(`image ${b}: max ${formatValue(mx)} at (${Math.floor(best / ww)}, ${best % ww})`);
      } else if (mode !== "affinity") {
        const m = (data as unknown as Record<string, NdArray | undefined>)[mode];
        if (m) {
          const src = m.data as Uint8Array;
          for (let p = 0; p < n; p++) {
            const v = src[b * n + p];
            if (mode === "noisy") {
              px[4 * p] = 230;
              px[4 * p + 1] = 30;
              px[4 * p + 2] = 30;
              px[4 * p + 3] = Math.round(v * 0.85);
            } else {
              const c = PALETTE[v % PALETTE.length];
              px[4 * p] = c[0];
              px[4 * p + 1] = c[1];
              px[4 * p + 2] = c[2];
              px[4 * p + 3] = 120;
            }
          }
        }
      }
      gctx.putImageData(id, 0, 0);
      octx.setTransform(1, 0, 0, 1, 0, 0);
      octx.clearRect(0, 0, overlays[b].width, overlays[b].height);
      octx.imageSmoothingEnabled = false;
      octx.drawImage(g, 0, 0, overlays[b].width, overlays[b].height);
      if (shown && shown[0] === b) {
        const cx = ((shown[2] + 0.5) / ww) * overlays[b].width;
        const cy = ((shown[1] + 0.5) / hh) * overlays[b].height;
        const r = Math.max(3, overlays[b].width / ww / 2) ;
        octx.lineWidth = 2 * dpr();
        octx.strokeStyle = "#00e5ff";
        octx.strokeRect(cx - r, cy - r, 2 * r, 2 * r);
      }
    }
    if (shown) {
      readout.textContent = `location (image ${shown[0]}, row ${shown[1]}, col ${shown[2]}) · ` + parts.join(" · ");
    }
  }

  // ---- mutual-NN lines ---------------------------------------------------------------------------------
  function drawLines(): void {
    const ctx = lines.getContext("2d");
    if (!ctx || !data || (images.length === 0 && tokenSpans.length === 0)) return;
    const rr = row.getBoundingClientRect();
    const w = row.scrollWidth;
    const hgt = row.scrollHeight;
    lines.style.width = `${w}px`;
    lines.style.height = `${hgt}px`;
    lines.width = Math.round(w * dpr());
    lines.height = Math.round(hgt * dpr());
    ctx.setTransform(dpr(), 0, 0, dpr(), 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    if (!get("show_matches")) return;
    const m = data.matches.data as Int32Array;
    const P = data.matches.shape[0];
    const ww = gw();
    const hh = gh();
    const centre = (b: number, i: number, j: number): [number, number] => {
      if (tokenSpans.length) {
        const r = tokenSpans[b][j].getBoundingClientRect();
        return [r.left - rr.left + row.scrollLeft + r.width / 2, r.top - rr.top + r.height / 2];
      }
      const r = images[b].getBoundingClientRect();
      return [r.left - rr.left + row.scrollLeft + ((j + 0.5) / ww) * r.width, r.top - rr.top + ((i + 0.5) / hh) * r.height];
    };
    ctx.lineWidth = 1;
    for (let p = 0; p < P; p++) {
      const [b1, i1, j1, b2, i2, j2] = Array.from(m.subarray(6 * p, 6 * p + 6));
      const count = tokenSpans.length || images.length;
      if (b1 >= count || b2 >= count) continue;
      if (tokenSpans.length && (tokenSpans[b1][j1]?.hidden || tokenSpans[b2][j2]?.hidden)) continue;
      const a = centre(b1, i1, j1);
      const c = centre(b2, i2, j2);
      ctx.strokeStyle = PALETTE[p % PALETTE.length].length ? `rgba(${PALETTE[p % PALETTE.length].join(",")},0.85)` : theme.brand;
      ctx.beginPath();
      ctx.moveTo(a[0], a[1]);
      ctx.lineTo(c[0], c[1]);
      ctx.stroke();
    }
  }

  // ---- controls --------------------------------------------------------------------------------------
  const syncControls = () => {
    const T = Number(get("temperature")) || 0.1;
    tempInput.value = String(Math.log10(T));
    tempText.textContent = formatValue(T);
    const thr = Number(get("threshold"));
    thrInput.value = String(thr);
    thrText.textContent = formatValue(thr);
    matchBox.checked = !!get("show_matches");
    const modes = get("modes") ?? ["affinity"];
    if (modeSelect.options.length !== modes.length) {
      modeSelect.replaceChildren(...modes.map((m) => h("option", { text: m, attrs: { value: m } })));
    }
    modeSelect.value = get("mode");
    title.textContent = get("title") ?? "";
    setHidden(title, !get("title"));
    info.textContent = `hover path: ${get("path_reason")} · ${get("n_matches")} mutual-NN matches · overlay = exp((a − max a)/T) per image, hidden below the threshold`;
  };
  dom(tempInput, "input", () => {
    model.set("temperature", 10 ** Number(tempInput.value));
    model.save_changes();
    syncControls();
    drawOverlays();
  });
  dom(thrInput, "input", () => {
    model.set("threshold", Number(thrInput.value));
    model.save_changes();
    syncControls();
    drawOverlays();
  });
  dom(modeSelect, "change", () => {
    model.set("mode", modeSelect.value);
    model.save_changes();
    drawOverlays();
  });
  dom(matchBox, "change", () => {
    model.set("show_matches", matchBox.checked);
    model.save_changes();
    drawLines();
  });
  for (const t of ["temperature", "threshold", "mode", "cmap"]) listen(`change:${t}`, () => { syncControls(); drawOverlays(); });
  listen("change:show_matches", () => { syncControls(); drawLines(); });
  listen("change:location", () => {
    const pin = get("location");
    if (Array.isArray(pin) && pin.length === 3) show(pin[0], pin[1], pin[2]);
  });
  syncControls();

  if (typeof ResizeObserver !== "undefined") {
    const ro = new ResizeObserver(() => drawLines());
    ro.observe(row);
    disposers.push(() => ro.disconnect());
  }
  dom(row, "scroll", () => drawLines());

  rpc
    .request<InitReply>("init", {})
    .then(({ result }) => {
      if (disposed) return;
      data = result;
      if (result.features) {
        features = result.features.data as Float32Array;
        dim = result.features.shape[1];
      }
      build();
      root.dataset.ready = "true";
      const pin = get("location");
      if (Array.isArray(pin) && pin.length === 3) show(pin[0], pin[1], pin[2]);
    })
    .catch((err) => {
      warn("init", err);
      info.textContent = `could not load the images: ${(err as Error)?.message ?? String(err)}`;
    });

  function warn(method: string, err: unknown): void {
    if (!disposed) reportRpcFailure(method, err);
  }
  disposers.unshift(() => rpc.dispose()); // last: pending requests are rejected after the listeners are gone
  return finalizer(disposers, signal, () => {
    disposed = true;
  });
}

export default { render };
