// ZoomHeatmap view: an N x N affinity matrix that exists only as tiles, fetched per zoom level by RPC.
//
// Level L draws cells of 2^L x 2^L matrix entries; the view picks the level whose cells are about one device
// pixel, asks the kernel for the tiles (tile_size x tile_size cells) that cover the visible window, caches them
// (LRU) and, while a tile is on its way, shows the coarser tiles it already has. Wheel / buttons zoom, drag pans,
// shift-drag (or "select" mode) selects a block, which goes back to Python as `selection`.

import type { RenderProps } from "@anywidget/types";
import { type NdArray } from "./lib/codec";
import { createRpc, reportRpcFailure } from "./lib/rpc";
import { COLORMAP_NAMES, colorize, getColormap, isDiverging, type Lut } from "./lib/colormaps";
import { formatValue, rangeText } from "./lib/grid";
import { readTheme, watchTheme, type Theme } from "./lib/theme";
import { BASE_CSS, h, setHidden, styleElement } from "./lib/ui";
import { finalizer } from "./lib/lifecycle";

interface Traits {
  n: number;
  tile_size: number;
  levels: number;
  metric: string;
  estimate: string;
  order: string;
  boundaries: number[];
  cmap: string;
  vmin: number | null;
  vmax: number | null;
  title: string;
  viewport: number[];
  selection: { r0?: number; r1?: number; c0?: number; c1?: number };
  status: string;
  [key: string]: unknown;
}

interface TileReply {
  level: number;
  ti: number;
  tj: number;
  block: number;
  values: NdArray;
  exact: boolean;
  se?: number;
}

interface CachedTile {
  level: number;
  ti: number;
  tj: number;
  rows: number;
  cols: number;
  values: Float32Array;
  canvas: HTMLCanvasElement;
  paintedKey: string;
}

const MAX_CACHE = 400; // tiles (256 KiB each at 256 x 256): ~100 MiB at most in the page
const SIDE = 512; // CSS px
const MIN_SPAN = 8; // rows shown at the deepest zoom

const CSS = `${BASE_CSS}
.fx-zoom { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-zoom .fx-header { font-weight: 600; font-size: var(--jp-ui-font-size2, 15px); margin: 2px 0 4px; }
.fx-zoom .fx-toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 10px; margin-bottom: 6px; }
.fx-zoom .fx-toolbar label { display: inline-flex; align-items: center; gap: 4px; color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); }
.fx-zoom .fx-plot { position: relative; line-height: 0; }
.fx-zoom canvas.fx-zoom-canvas { display: block; border: 1px solid var(--jp-border-color2, #e0e0e0); cursor: grab;
  touch-action: none; box-sizing: content-box; }
.fx-zoom canvas.fx-zoom-canvas.fx-selecting { cursor: crosshair; }
.fx-zoom .fx-tooltip { position: absolute; z-index: 10; pointer-events: none; line-height: 1.35; max-width: 380px;
  padding: 4px 8px; background: var(--jp-layout-color0, #fff); color: var(--jp-ui-font-color0, #000);
  border: 1px solid var(--jp-border-color1, #bdbdbd); border-radius: 3px; box-shadow: 0 1px 4px rgba(0,0,0,.25);
  white-space: pre-wrap; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
.fx-zoom .fx-info { color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); margin-top: 4px; line-height: 1.4;
  font-variant-numeric: tabular-nums; max-width: 640px; }
.fx-zoom .fx-colorbar { display: block; height: 10px; width: ${SIDE}px; border: 1px solid var(--jp-border-color2, #e0e0e0); margin-top: 6px; }
.fx-zoom .fx-ticks { display: flex; justify-content: space-between; width: ${SIDE + 2}px; line-height: 1.4;
  color: var(--jp-ui-font-color2, rgba(0,0,0,.54)); font-variant-numeric: tabular-nums; }
`;

type Props = Pick<RenderProps<Traits>, "model" | "el"> & { signal?: AbortSignal };

function render({ model, el, signal }: Props): () => void {
  const rpc = createRpc(model);
  const disposers: Array<() => void> = [];
  let disposed = false;
  const get = <K extends keyof Traits>(k: K): Traits[K] => model.get(k);
  const listen = (event: string, cb: () => void) => {
    model.on(event, cb);
    disposers.push(() => model.off(event, cb));
  };
  const dom = <K extends keyof HTMLElementEventMap>(t: HTMLElement, type: K, cb: (ev: HTMLElementEventMap[K]) => void, opts?: AddEventListenerOptions) => {
    t.addEventListener(type, cb as EventListener, opts);
    disposers.push(() => t.removeEventListener(type, cb as EventListener, opts));
  };

  // ---- DOM -------------------------------------------------------------------------------------------
  const root = h("div", { class: "fx-root fx-zoom" });
  for (const [k, v] of Object.entries({ level: "", requested: "0", answered: "0", painted: "0", draws: "0", status: "" }))
    root.dataset[k] = v;
  const title = h("div", { class: "fx-header" });
  const cmapSelect = h("select", { class: "fx-cmap", attrs: { "aria-label": "colormap" } });
  for (const name of COLORMAP_NAMES) cmapSelect.appendChild(h("option", { text: name, attrs: { value: name } }));
  const zoomIn = h("button", { class: "fx-zoom-in", text: "+", attrs: { type: "button", title: "zoom in" } });
  const zoomOut = h("button", { class: "fx-zoom-out", text: "−", attrs: { type: "button", title: "zoom out" } });
  const reset = h("button", { class: "fx-reset", text: "reset", attrs: { type: "button", title: "show the whole matrix" } });
  const mode = h("select", { class: "fx-mode", attrs: { "aria-label": "drag mode" } });
  mode.append(h("option", { text: "drag pans", attrs: { value: "pan" } }), h("option", { text: "drag selects", attrs: { value: "select" } }));
  const toolbar = h("div", {
    class: "fx-toolbar",
    children: [zoomIn, zoomOut, reset, mode, h("label", { children: [document.createTextNode("cmap"), cmapSelect] })],
  });
  const canvas = h("canvas", { class: "fx-zoom-canvas", attrs: { role: "img", "aria-label": "zoomable heatmap" } });
  const tooltip = h("div", { class: "fx-tooltip" });
  setHidden(tooltip, true);
  const plot = h("div", { class: "fx-plot", children: [canvas, tooltip] });
  const colorbar = h("canvas", { class: "fx-colorbar", attrs: { width: "256", height: "1", "aria-hidden": "true" } });
  const tickMin = h("span");
  const tickMid = h("span");
  const tickMax = h("span");
  const ticks = h("div", { class: "fx-ticks", children: [tickMin, tickMid, tickMax] });
  const info = h("div", { class: "fx-info" });
  root.append(styleElement(CSS), title, toolbar, plot, colorbar, ticks, info);
  el.appendChild(root);
  disposers.push(() => root.remove());
  let theme: Theme = readTheme(root);
  disposers.push(watchTheme(root, (t) => { theme = t; scheduleDraw(); }));

  // ---- view state ------------------------------------------------------------------------------------
  const n = () => Math.max(1, Number(get("n")) || 1);
  const T = () => Math.max(1, Number(get("tile_size")) || 256);
  const maxLevel = () => Math.max(0, (Number(get("levels")) || 1) - 1);
  // Visible window: rows [y0, y0 + span), cols [x0, x0 + span) in ordered matrix coordinates.
  let y0 = 0;
  let x0 = 0;
  let span = n();
  const vp = get("viewport");
  if (Array.isArray(vp) && vp.length === 3 && vp[2] > 0) [y0, x0, span] = vp;
  const dpr = () => (typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1);
  const clampView = () => {
    const N = n();
    span = Math.max(Math.min(MIN_SPAN, N), Math.min(N, span));
    y0 = Math.max(0, Math.min(N - span, y0));
    x0 = Math.max(0, Math.min(N - span, x0));
  };
  clampView();
  canvas.style.width = `${SIDE}px`;
  canvas.style.height = `${SIDE}px`;
  canvas.width = Math.round(SIDE * dpr());
  canvas.height = Math.round(SIDE * dpr());

  /** The level whose cells cover about one device pixel (never coarser than that). */
  const levelFor = (): number => {
    const rowsPerPx = span / canvas.width;
    const L = rowsPerPx <= 1 ? 0 : Math.floor(Math.log2(rowsPerPx));
    return Math.max(0, Math.min(maxLevel(), L));
  };

  // ---- tiles -----------------------------------------------------------------------------------------
  const cache = new Map<string, CachedTile>();
  const inflight = new Set<string>();
  let requested = 0;
  let answered = 0;
  let autoRange: [number, number] | null = null;
  const key = (L: number, ti: number, tj: number) => `${L}/${ti}/${tj}`;

  const fetchTile = (L: number, ti: number, tj: number) => {
    const k = key(L, ti, tj);
    if (cache.has(k) || inflight.has(k)) return;
    inflight.add(k);
    requested += 1;
    root.dataset.requested = String(requested);
    rpc
      .request<TileReply>("tile", { level: L, ti, tj })
      .then(({ result }) => {
        if (disposed) return;
        const v = result.values;
        const [rows, cols] = v.shape;
        const data = v.data as Float32Array;
        const c = document.createElement("canvas");
        c.width = Math.max(1, cols);
        c.height = Math.max(1, rows);
        cache.set(k, { level: L, ti, tj, rows, cols, values: data, canvas: c, paintedKey: "" });
        if (L === maxLevel() || autoRange === null) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let i = 0; i < data.length; i++) {
            const x = data[i];
            if (x < lo) lo = x;
            if (x > hi) hi = x;
          }
          if (lo <= hi) autoRange = autoRange ? [Math.min(lo, autoRange[0]), Math.max(hi, autoRange[1])] : [lo, hi];
        }
        while (cache.size > MAX_CACHE) {
          const oldest = cache.keys().next().value as string;
          if (oldest.startsWith(`${maxLevel()}/`)) { // keep the overview: move it to the back
            const t = cache.get(oldest)!;
            cache.delete(oldest);
            cache.set(oldest, t);
            if (cache.size <= MAX_CACHE + 4) break;
          } else cache.delete(oldest);
        }
        answered += 1;
        root.dataset.answered = String(answered);
        if (result.exact === false && typeof result.se === "number") lastSe = result.se;
        scheduleDraw();
      })
      .catch((err) => warn("tile", err))
      .finally(() => inflight.delete(k));
  };

  // ---- colours ---------------------------------------------------------------------------------------
  const lut = (): Lut => {
    try {
      return getColormap(get("cmap"));
    } catch {
      return getColormap("viridis");
    }
  };
  const limits = (): [number, number] => {
    const a = get("vmin");
    const b = get("vmax");
    const lo = typeof a === "number" && Number.isFinite(a) ? a : (autoRange?.[0] ?? 0);
    const hi = typeof b === "number" && Number.isFinite(b) ? b : (autoRange?.[1] ?? 1);
    return [lo, hi];
  };
  const paintTile = (t: CachedTile, lk: string, L: Lut, lim: [number, number]) => {
    if (t.paintedKey === lk) return;
    const ctx = t.canvas.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(t.canvas.width, t.canvas.height);
    colorize(t.values, L, lim[0], lim[1], img.data);
    ctx.putImageData(img, 0, 0);
    t.paintedKey = lk;
  };

  // ---- drawing ---------------------------------------------------------------------------------------
  let drawId: number | null = null;
  let draws = 0;
  let lastSe: number | null = null;
  const raf = (cb: () => void) => (typeof requestAnimationFrame === "function" ? requestAnimationFrame(cb) : (setTimeout(cb, 16) as unknown as number));
  function scheduleDraw(): void {
    if (drawId === null && !disposed) drawId = raf(draw);
  }
  disposers.push(() => { if (drawId !== null && typeof cancelAnimationFrame === "function") cancelAnimationFrame(drawId); });

  function draw(): void {
    drawId = null;
    if (disposed) return;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const W = canvas.width;
    const N = n();
    const L = levelFor();
    const tsize = T();
    const scale = W / span; // device px per matrix row
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = theme.layout0;
    ctx.fillRect(0, 0, W, canvas.height);
    ctx.imageSmoothingEnabled = false;
    const lk = `${get("cmap")}|${limits().join("|")}`;
    const lt = lut();
    const lim = limits();
    // every tile of the needed level that intersects the window
    const rowsPerTile = tsize * 2 ** L;
    const t0 = Math.floor(y0 / rowsPerTile);
    const t1 = Math.min(Math.ceil(N / rowsPerTile) - 1, Math.floor((y0 + span - 1e-9) / rowsPerTile));
    const u0 = Math.floor(x0 / rowsPerTile);
    const u1 = Math.min(Math.ceil(N / rowsPerTile) - 1, Math.floor((x0 + span - 1e-9) / rowsPerTile));
    // coarser tiles first (placeholders), then the current level on top
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, Math.min(W, (N - x0) * scale), Math.min(canvas.height, (N - y0) * scale));
    ctx.clip();
    let painted = 0;
    const drawCached = (t: CachedTile) => {
      const b = 2 ** t.level;
      const ry = t.ti * tsize * b;
      const rx = t.tj * tsize * b;
      const hgt = t.rows * b;
      const wid = t.cols * b;
      if (ry >= y0 + span || ry + hgt <= y0 || rx >= x0 + span || rx + wid <= x0) return false;
      paintTile(t, lk, lt, lim);
      ctx.drawImage(t.canvas, (rx - x0) * scale, (ry - y0) * scale, wid * scale, hgt * scale);
      return true;
    };
    for (let lev = maxLevel(); lev > L; lev--) {
      for (const t of cache.values()) if (t.level === lev) drawCached(t);
    }
    for (let ti = t0; ti <= t1; ti++) {
      for (let tj = u0; tj <= u1; tj++) {
        const t = cache.get(key(L, ti, tj));
        if (t) {
          if (drawCached(t)) painted += 1;
        } else fetchTile(L, ti, tj);
      }
    }
    drawBoundaries(ctx, scale);
    drawSelection(ctx, scale);
    ctx.restore();
    root.dataset.level = String(L);
    root.dataset.painted = String(painted);
    root.dataset.needed = String((t1 - t0 + 1) * (u1 - u0 + 1));
    draws += 1;
    root.dataset.draws = String(draws);
    drawColorbar(lt, lim);
    const b = 2 ** L;
    info.textContent =
      `${get("metric")} · ${N.toLocaleString()} rows (order: ${get("order")}) · showing rows ${Math.floor(y0)}–${Math.ceil(y0 + span) - 1}, ` +
      `cols ${Math.floor(x0)}–${Math.ceil(x0 + span) - 1} · level ${L}: cell = ${b}×${b} block mean · ${get("estimate")}` +
      (lastSe !== null && L > 0 && get("metric") === "rbf" ? ` (last tile s.e. ${formatValue(lastSe)})` : "");
  }

  function drawBoundaries(ctx: CanvasRenderingContext2D, scale: number): void {
    const bs = get("boundaries");
    if (!Array.isArray(bs) || bs.length === 0) return;
    ctx.lineWidth = Math.max(1, dpr());
    ctx.strokeStyle = theme.light ? "rgba(255,255,255,0.8)" : "rgba(0,0,0,0.8)";
    ctx.beginPath();
    for (const b of bs) {
      if (b > x0 && b < x0 + span) {
        const x = (b - x0) * scale;
        ctx.moveTo(x, 0);
        ctx.lineTo(x, canvas.height);
      }
      if (b > y0 && b < y0 + span) {
        const y = (b - y0) * scale;
        ctx.moveTo(0, y);
        ctx.lineTo(canvas.width, y);
      }
    }
    ctx.stroke();
  }

  let dragSel: { r0: number; r1: number; c0: number; c1: number } | null = null;
  function drawSelection(ctx: CanvasRenderingContext2D, scale: number): void {
    const s = dragSel ?? get("selection");
    if (!s || typeof s.r0 !== "number" || typeof s.r1 !== "number" || typeof s.c0 !== "number" || typeof s.c1 !== "number") return;
    const x = (s.c0 - x0) * scale;
    const y = (s.r0 - y0) * scale;
    const w = (s.c1 - s.c0) * scale;
    const hh = (s.r1 - s.r0) * scale;
    const r = dpr();
    ctx.lineWidth = 3 * r;
    ctx.strokeStyle = theme.light ? "rgba(255,255,255,0.9)" : "rgba(0,0,0,0.9)";
    ctx.strokeRect(x, y, w, hh);
    ctx.lineWidth = 1.5 * r;
    ctx.strokeStyle = theme.brand;
    ctx.strokeRect(x, y, w, hh);
  }

  function drawColorbar(lt: Lut, lim: [number, number]): void {
    const ctx = colorbar.getContext("2d");
    if (ctx) {
      const img = ctx.createImageData(256, 1);
      for (let i = 0; i < 256; i++) {
        img.data[4 * i] = lt[3 * i];
        img.data[4 * i + 1] = lt[3 * i + 1];
        img.data[4 * i + 2] = lt[3 * i + 2];
        img.data[4 * i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    }
    tickMin.textContent = formatValue(lim[0]);
    tickMax.textContent = formatValue(lim[1]);
    tickMid.textContent = isDiverging(get("cmap")) ? formatValue((lim[0] + lim[1]) / 2) : "";
  }

  // ---- gestures --------------------------------------------------------------------------------------
  const toCss = (ev: { clientX: number; clientY: number }) => {
    const r = canvas.getBoundingClientRect();
    const bl = canvas.clientLeft || 0;
    const bt = canvas.clientTop || 0;
    return { x: ev.clientX - r.left - bl, y: ev.clientY - r.top - bt };
  };
  const toMatrix = (p: { x: number; y: number }) => ({ row: y0 + (p.y / SIDE) * span, col: x0 + (p.x / SIDE) * span });

  let saveTimer: ReturnType<typeof setTimeout> | null = null;
  const saveViewport = () => {
    if (saveTimer !== null) clearTimeout(saveTimer);
    saveTimer = setTimeout(() => {
      saveTimer = null;
      if (disposed) return;
      model.set("viewport", [y0, x0, span]);
      model.save_changes();
    }, 150);
  };
  disposers.push(() => { if (saveTimer !== null) clearTimeout(saveTimer); });

  const zoomAt = (factor: number, p: { x: number; y: number }) => {
    const m = toMatrix(p);
    const old = span;
    span = span * factor;
    clampView();
    const f = span / old;
    y0 = m.row - (m.row - y0) * f;
    x0 = m.col - (m.col - x0) * f;
    clampView();
    hideTooltip();
    scheduleDraw();
    saveViewport();
  };
  dom(canvas, "wheel", (ev: WheelEvent) => {
    ev.preventDefault();
    const dy = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    zoomAt(Math.exp(Math.max(-2, Math.min(2, dy * 0.002))), toCss(ev));
  }, { passive: false });
  dom(zoomIn, "click", () => zoomAt(0.5, { x: SIDE / 2, y: SIDE / 2 }));
  dom(zoomOut, "click", () => zoomAt(2, { x: SIDE / 2, y: SIDE / 2 }));
  dom(reset, "click", () => {
    y0 = 0;
    x0 = 0;
    span = n();
    clampView();
    scheduleDraw();
    saveViewport();
  });

  let drag: { kind: "pan" | "select"; start: { x: number; y: number }; y0: number; x0: number } | null = null;
  const selecting = (ev: PointerEvent) => ev.shiftKey || mode.value === "select";
  dom(canvas, "pointerdown", (ev: PointerEvent) => {
    if (ev.button !== 0 || !ev.isPrimary) return;
    ev.preventDefault();
    drag = { kind: selecting(ev) ? "select" : "pan", start: toCss(ev), y0, x0 };
    try {
      canvas.setPointerCapture(ev.pointerId);
    } catch {
      // synthetic pointers cannot be captured
    }
  });
  const selRect = (a: { x: number; y: number }, b: { x: number; y: number }) => {
    const N = n();
    const ma = toMatrix(a);
    const mb = toMatrix(b);
    const cl = (v: number) => Math.max(0, Math.min(N, v));
    const r0 = cl(Math.floor(Math.min(ma.row, mb.row)));
    const c0 = cl(Math.floor(Math.min(ma.col, mb.col)));
    const r1 = Math.max(r0 + 1, cl(Math.ceil(Math.max(ma.row, mb.row))));
    const c1 = Math.max(c0 + 1, cl(Math.ceil(Math.max(ma.col, mb.col))));
    return { r0: Math.min(r0, N - 1), r1: Math.min(r1, N), c0: Math.min(c0, N - 1), c1: Math.min(c1, N) };
  };
  dom(canvas, "pointermove", (ev: PointerEvent) => {
    const p = toCss(ev);
    if (drag?.kind === "pan") {
      const k = span / SIDE;
      y0 = drag.y0 - (p.y - drag.start.y) * k;
      x0 = drag.x0 - (p.x - drag.start.x) * k;
      clampView();
      scheduleDraw();
      return;
    }
    if (drag?.kind === "select") {
      dragSel = selRect(drag.start, p);
      scheduleDraw();
      return;
    }
    hover(p);
  });
  const endDrag = (ev: PointerEvent, commit: boolean) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    try {
      if (canvas.hasPointerCapture?.(ev.pointerId)) canvas.releasePointerCapture(ev.pointerId);
    } catch {
      // ignore
    }
    if (d.kind === "select" && commit) {
      const s = selRect(d.start, toCss(ev));
      dragSel = null;
      model.set("selection", s);
      model.save_changes();
      root.dataset.selected = `${s.r0}:${s.r1},${s.c0}:${s.c1}`;
    } else if (d.kind === "pan") saveViewport();
    dragSel = null;
    scheduleDraw();
  };
  dom(canvas, "pointerup", (ev) => endDrag(ev, true));
  dom(canvas, "pointercancel", (ev) => endDrag(ev, false));
  dom(canvas, "pointerleave", () => { if (!drag) hideTooltip(); });
  const syncMode = () => canvas.classList.toggle("fx-selecting", mode.value === "select");
  dom(mode, "change", syncMode);

  // ---- hover readout ---------------------------------------------------------------------------------
  let hoverKey = "";
  function hideTooltip(): void {
    hoverKey = "";
    setHidden(tooltip, true);
  }
  function hover(p: { x: number; y: number }): void {
    if (p.x < 0 || p.y < 0 || p.x >= SIDE || p.y >= SIDE) return hideTooltip();
    const m = toMatrix(p);
    const N = n();
    const row = Math.min(N - 1, Math.floor(m.row));
    const col = Math.min(N - 1, Math.floor(m.col));
    const L = levelFor();
    const b = 2 ** L;
    const ci = Math.floor(row / b);
    const cj = Math.floor(col / b);
    const tsize = T();
    const t = cache.get(key(L, Math.floor(ci / tsize), Math.floor(cj / tsize)));
    const v = t ? t.values[(ci % tsize) * t.cols + (cj % tsize)] : NaN;
    const r0 = ci * b;
    const c0 = cj * b;
    const lines = [
      rangeText("row", r0, Math.min(N, r0 + b) - 1),
      rangeText("col", c0, Math.min(N, c0 + b) - 1),
      `${get("metric")}${b > 1 ? " (block mean)" : ""}: ${Number.isNaN(v) ? "loading…" : formatValue(v)}`,
    ];
    tooltip.textContent = lines.join("\n");
    setHidden(tooltip, false);
    tooltip.style.left = `${Math.round(Math.min(p.x + 14, SIDE - 160))}px`;
    tooltip.style.top = `${Math.round(Math.min(p.y + 14, SIDE - 60))}px`;
    const k = `${row},${col}`;
    if (k === hoverKey) return;
    hoverKey = k;
    rpc
      .request<{ i: number; j: number; value: number; row_label?: string; col_label?: string }>("cell", { row, col }, { channel: "hover" })
      .then(({ result }) => {
        if (disposed || hoverKey !== k) return;
        const rl = result.row_label !== undefined ? ` (${result.row_label})` : "";
        const cl = result.col_label !== undefined ? ` (${result.col_label})` : "";
        tooltip.textContent = `${lines.join("\n")}\nX[${result.i}]${rl} · X[${result.j}]${cl}: ${formatValue(result.value)}`;
      })
      .catch((err) => warn("cell", err));
  }

  // ---- traits ----------------------------------------------------------------------------------------
  const syncTitle = () => {
    title.textContent = get("title") ?? "";
    setHidden(title, !get("title"));
  };
  syncTitle();
  cmapSelect.value = get("cmap");
  root.dataset.status = String(get("status") ?? "");
  dom(cmapSelect, "change", () => {
    model.set("cmap", cmapSelect.value);
    model.save_changes();
    scheduleDraw();
  });
  listen("change:cmap", () => { cmapSelect.value = get("cmap"); scheduleDraw(); });
  listen("change:vmin", scheduleDraw);
  listen("change:vmax", scheduleDraw);
  listen("change:title", syncTitle);
  listen("change:boundaries", scheduleDraw);
  listen("change:selection", scheduleDraw);
  listen("change:viewport", () => {
    const v = get("viewport");
    if (!Array.isArray(v) || v.length !== 3) return;
    if (Math.abs(v[0] - y0) + Math.abs(v[1] - x0) + Math.abs(v[2] - span) < 1e-6) return;
    [y0, x0, span] = v;
    clampView();
    scheduleDraw();
  });
  scheduleDraw();

  function warn(method: string, err: unknown): void {
    if (!disposed) reportRpcFailure(method, err);
  }
  disposers.unshift(() => rpc.dispose()); // last: pending requests are rejected after the listeners are gone
  return finalizer(disposers, signal, () => {
    disposed = true;
  });
}

export default { render };
