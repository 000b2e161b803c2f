// ZoomHeatmap view: an N x N affinity matrix that exists only as tiles, fetched per zoom level by RPC.
//
// Level L draws cells of 2^L x 2^L matrix entries; the view picks the level whose cells are about one device
// pixel, asks the kernel for the tiles (tile_size x tile_size cells) that cover the visible window, caches them
// (LRU) and, while a tile is on its way, shows the coarser tiles it already has. Wheel / buttons zoom, drag pans,
// shift-drag (or "select" mode) selects a block, which goes back to Python as `selection`. The square follows the
// output area's width; the axes give the (ordered) rows shown and the groups of a labelled order.

import type { NdArray } from "./lib/codec";
import { colorLimits, colorize, resolveLut, type Lut } from "./lib/colormaps";
import { fmt, rangeText } from "./lib/format";
import { createMatrixFrame, drawBoundaries } from "./lib/matrix";
import type { AxisSpec } from "./lib/scale";
import { createTooltip } from "./lib/tooltip";
import { colorControls, selectOf, toolbar } from "./lib/toolbar";
import { h } from "./lib/ui";
import { defineView, type View } from "./lib/view";

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
  /** optional: one name per group of the order (len(boundaries) + 1), shown on the axes */
  group_labels?: string[];
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
const MAX_SIDE = 560; // CSS px
const MIN_SPAN = 8; // rows shown at the deepest zoom

const CSS = `
.fx-zoom { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-zoom canvas.fx-zoom-canvas { cursor: grab; }
.fx-zoom canvas.fx-zoom-canvas.fx-selecting { cursor: crosshair; }
.fx-zoom .fx-info { max-width: 640px; }
`;

function setup(view: View<Traits>): void {
  const { root } = view;
  for (const [k, v] of Object.entries({ level: "", requested: "0", answered: "0", painted: "0", draws: "0", status: "" })) view.data(k, v);
  view.data("status", view.get("status") ?? "");

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const zoomIn = h("button", { class: "fx-zoom-in", text: "+", attrs: { type: "button", title: "zoom in" } });
  const zoomOut = h("button", { class: "fx-zoom-out", text: "−", attrs: { type: "button", title: "zoom out" } });
  const reset = h("button", { class: "fx-reset", text: "reset", attrs: { type: "button", title: "show the whole matrix" } });
  const mode = selectOf("fx-mode", "drag mode", [["pan", "drag pans"], ["select", "drag selects"]]);
  const controls = colorControls(view, () => scheduleDraw());
  const frame = createMatrixFrame("fx-zoom-canvas", () => view.theme.fontFamily, "zoomable heatmap");
  const info = h("div", { class: "fx-info" });
  const tip = createTooltip(root);
  root.append(title, toolbar(zoomIn, zoomOut, reset, mode, ...controls.items), frame.el, info);

  // ---- view state ------------------------------------------------------------------------------------
  const n = () => Math.max(1, Number(view.get("n")) || 1);
  const T = () => Math.max(1, Number(view.get("tile_size")) || 256);
  const maxLevel = () => Math.max(0, (Number(view.get("levels")) || 1) - 1);
  // Visible window: rows [y0, y0 + span), cols [x0, x0 + span) in ordered matrix coordinates.
  let y0 = 0;
  let x0 = 0;
  let span = n();
  const vp = view.get("viewport");
  if (Array.isArray(vp) && vp.length === 3 && vp[2] > 0) [y0, x0, span] = vp;
  const clampView = () => {
    const N = n();
    span = Math.max(Math.min(MIN_SPAN, N), Math.min(N, span));
    y0 = Math.max(0, Math.min(N - span, y0));
    x0 = Math.max(0, Math.min(N - span, x0));
  };
  clampView();
  const side = () => frame.last?.cssW ?? MAX_SIDE;

  /** The level whose cells cover about one device pixel (never coarser than that). */
  const levelFor = (): number => {
    const rowsPerPx = span / Math.max(1, frame.canvas.width);
    const L = rowsPerPx <= 1 ? 0 : Math.floor(Math.log2(rowsPerPx));
    return Math.max(0, Math.min(maxLevel(), L));
  };

  // ---- tiles -----------------------------------------------------------------------------------------
  const cache = new Map<string, CachedTile>();
  const inflight = new Set<string>();
  let requested = 0;
  let answered = 0;
  let autoRange: [number, number] | null = null;
  let lastSe: number | null = null;
  const key = (L: number, ti: number, tj: number) => `${L}/${ti}/${tj}`;

  function keep(k: string, t: CachedTile): void {
    cache.set(k, t);
    while (cache.size > MAX_CACHE) {
      const oldest = cache.keys().next().value as string;
      if (oldest.startsWith(`${maxLevel()}/`)) {
        // keep the overview: move it to the back
        const o = cache.get(oldest)!;
        cache.delete(oldest);
        cache.set(oldest, o);
        if (cache.size <= MAX_CACHE + 4) break;
      } else cache.delete(oldest);
    }
  }

  function widenRange(data: Float32Array): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (lo <= hi) autoRange = autoRange ? [Math.min(lo, autoRange[0]), Math.max(hi, autoRange[1])] : [lo, hi];
  }

  function fetchTile(L: number, ti: number, tj: number): void {
    const k = key(L, ti, tj);
    if (cache.has(k) || inflight.has(k)) return;
    inflight.add(k);
    requested += 1;
    view.data("requested", requested);
    void view.request<TileReply>("tile", { level: L, ti, tj }).then((reply) => {
      inflight.delete(k);
      if (!reply) return;
      const { values } = reply.result;
      const [rows, cols] = values.shape;
      const data = values.data as Float32Array;
      const c = document.createElement("canvas");
      c.width = Math.max(1, cols);
      c.height = Math.max(1, rows);
      keep(k, { level: L, ti, tj, rows, cols, values: data, canvas: c, paintedKey: "" });
      if (L === maxLevel() || autoRange === null) widenRange(data);
      answered += 1;
      view.data("answered", answered);
      if (reply.result.exact === false && typeof reply.result.se === "number") lastSe = reply.result.se;
      view.live();
      scheduleDraw();
    });
  }

  // ---- colours ---------------------------------------------------------------------------------------
  const lut = (): Lut => resolveLut(view.get("cmap"), view.get("cmap_lut"));
  const limits = (): [number, number] => colorLimits(autoRange, view.get("vmin"), view.get("vmax"), controls.centerValue()) ?? [0, 1];
  const paintTile = (t: CachedTile, lk: string, L: Lut, lim: [number, number]) => {
    if (t.paintedKey === lk) return;
    const ctx = t.canvas.getContext("2d");
    if (!ctx) return;
    const img = ctx.createImageData(t.canvas.width, t.canvas.height);
    colorize(t.values, L, lim[0], lim[1], img.data);
    ctx.putImageData(img, 0, 0);
    t.paintedKey = lk;
  };

  // ---- layout: the square follows the width; the axes follow the window ------------------------------
  const axis = (lo: number): AxisSpec => {
    const starts = view.get("boundaries") ?? [];
    const names = view.get("group_labels");
    return starts.length
      ? { kind: "groups", n: n(), starts, names: Array.isArray(names) ? names : undefined, lo, hi: lo + span }
      : { kind: "index", n: n(), lo, hi: lo + span };
  };
  let lines: { rows: number[]; cols: number[] } = { rows: [], cols: [] };
  let laidOut = "";
  function relayout(force = false): void {
    const k = `${view.width()}|${y0}|${x0}|${span}`;
    if (!force && k === laidOut) return;
    laidOut = k;
    const L = frame.layout({
      avail: view.width(),
      rows: 1,
      cols: 1,
      rowAxis: axis(y0),
      colAxis: axis(x0),
      rowTitle: `row (${orderWords()})`,
      colTitle: `column (${orderWords()})`,
      maxSide: MAX_SIDE,
      minSide: 64,
      colorbar: { lut: lut(), limits: limits(), title: String(view.get("metric") ?? "value") },
    });
    lines = { rows: L.rowLayout.boundaries, cols: L.colLayout.boundaries };
  }
  const orderWords = () => {
    const o = String(view.get("order") ?? "given");
    return o === "given" ? "data order" : o === "labels" ? "sorted by label" : o === "cluster" ? "sorted by cluster" : `${o} order`;
  };

  // ---- drawing ---------------------------------------------------------------------------------------
  const scheduleDraw = view.frame(draw);
  let draws = 0;

  function draw(): void {
    relayout();
    const ctx = frame.canvas.getContext("2d");
    if (!ctx) return;
    const W = frame.canvas.width;
    const N = n();
    const L = levelFor();
    const tsize = T();
    const scale = W / span; // device px per matrix row
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = view.theme.layout0;
    ctx.fillRect(0, 0, W, frame.canvas.height);
    ctx.imageSmoothingEnabled = false;
    const lim = limits();
    const lt = lut();
    const lk = `${view.get("cmap")}|${lim.join("|")}|${lt.length}`;
    // every tile of the needed level that intersects the window
    const rowsPerTile = tsize * 2 ** L;
    const t0 = Math.floor(y0 / rowsPerTile);
    const t1 = Math.min(Math.ceil(N / rowsPerTile) - 1, Math.floor((y0 + span - 1e-9) / rowsPerTile));
    const u0 = Math.floor(x0 / rowsPerTile);
    const u1 = Math.min(Math.ceil(N / rowsPerTile) - 1, Math.floor((x0 + span - 1e-9) / rowsPerTile));
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
    // coarser tiles first (placeholders), then the current level on top
    for (let lev = maxLevel(); lev > L; lev--) for (const t of cache.values()) if (t.level === lev) drawCached(t);
    let painted = 0;
    for (let ti = t0; ti <= t1; ti++) {
      for (let tj = u0; tj <= u1; tj++) {
        const t = cache.get(key(L, ti, tj));
        if (t) {
          if (drawCached(t)) painted += 1;
        } else fetchTile(L, ti, tj);
      }
    }
    drawOverlay();
    view.data("level", L);
    view.data("painted", painted);
    view.data("needed", (t1 - t0 + 1) * (u1 - u0 + 1));
    draws += 1;
    view.data("draws", draws);
    frame.updateColorbar({ lut: lt, limits: lim, title: String(view.get("metric") ?? "value") });
    info.textContent = describe(L, N);
    if (painted === (t1 - t0 + 1) * (u1 - u0 + 1)) view.settled();
  }

  /** The status line, in words. */
  function describe(L: number, N: number): string {
    const b = 2 ** L;
    const rows = `${Math.floor(y0).toLocaleString()}–${(Math.ceil(y0 + span) - 1).toLocaleString()}`;
    const cols = `${Math.floor(x0).toLocaleString()}–${(Math.ceil(x0 + span) - 1).toLocaleString()}`;
    const whole = span >= N;
    let cell: string;
    if (b === 1) cell = "Each cell is one pair of rows.";
    else if (view.get("metric") === "rbf") {
      cell = `Each cell stands for a ${b}×${b} block, estimated from a sample of its entries` +
        (lastSe !== null ? ` (standard error about ${fmt(lastSe, 2)}).` : ".");
    } else cell = `Each cell is the exact mean of a ${b}×${b} block.`;
    const where = whole ? `all ${N.toLocaleString()} rows` : `rows ${rows} and columns ${cols} of ${N.toLocaleString()}`;
    return `${view.get("metric")} affinity, ${orderWords()}: showing ${where}. ${cell} Scroll to zoom, drag to pan, shift-drag to select.`;
  }

  let dragSel: { r0: number; r1: number; c0: number; c1: number } | null = null;
  function drawOverlay(): void {
    const ov = frame.overlay;
    const ctx = ov.getContext("2d");
    if (!ctx || !frame.last) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ov.width, ov.height);
    drawBoundaries(ctx, lines.rows, lines.cols, frame.last.cssW, frame.last.cssH, view.theme);
    const s = dragSel ?? view.get("selection");
    if (!s || typeof s.r0 !== "number" || typeof s.r1 !== "number" || typeof s.c0 !== "number" || typeof s.c1 !== "number") return;
    const scale = ov.width / span;
    const x = (s.c0 - x0) * scale;
    const y = (s.r0 - y0) * scale;
    const w = (s.c1 - s.c0) * scale;
    const hh = (s.r1 - s.r0) * scale;
    const r = ov.width / Math.max(1, frame.last.cssW);
    ctx.lineWidth = 3 * r;
    ctx.strokeStyle = view.theme.light ? "rgba(255,255,255,0.9)" : "rgba(0,0,0,0.9)";
    ctx.strokeRect(x, y, w, hh);
    ctx.lineWidth = 1.5 * r;
    ctx.strokeStyle = view.theme.brand;
    ctx.strokeRect(x, y, w, hh);
  }

  // ---- gestures --------------------------------------------------------------------------------------
  const toMatrix = (p: { x: number; y: number }) => ({ row: y0 + (p.y / side()) * span, col: x0 + (p.x / side()) * span });
  const saveViewport = (() => {
    let clear: (() => void) | null = null;
    return () => {
      clear?.();
      clear = view.later(150, () => view.set("viewport", [y0, x0, span]));
    };
  })();

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
  view.dom<WheelEvent>(frame.canvas, "wheel", (ev) => {
    ev.preventDefault();
    const dy = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
    zoomAt(Math.exp(Math.max(-2, Math.min(2, dy * 0.002))), frame.toCss(ev));
  }, { passive: false });
  view.dom(zoomIn, "click", () => zoomAt(0.5, { x: side() / 2, y: side() / 2 }));
  view.dom(zoomOut, "click", () => zoomAt(2, { x: side() / 2, y: side() / 2 }));
  view.dom(reset, "click", () => {
    y0 = 0;
    x0 = 0;
    span = n();
    clampView();
    scheduleDraw();
    saveViewport();
  });

  let drag: { kind: "pan" | "select"; start: { x: number; y: number }; y0: number; x0: number } | null = null;
  const selecting = (ev: PointerEvent) => ev.shiftKey || mode.value === "select";
  view.dom<PointerEvent>(frame.canvas, "pointerdown", (ev) => {
    if (ev.button !== 0 || !ev.isPrimary) return;
    ev.preventDefault();
    drag = { kind: selecting(ev) ? "select" : "pan", start: frame.toCss(ev), y0, x0 };
    try {
      frame.canvas.setPointerCapture(ev.pointerId);
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
  view.dom<PointerEvent>(frame.canvas, "pointermove", (ev) => {
    const p = frame.toCss(ev);
    if (drag?.kind === "pan") {
      const k = span / side();
      y0 = drag.y0 - (p.y - drag.start.y) * k;
      x0 = drag.x0 - (p.x - drag.start.x) * k;
      clampView();
      scheduleDraw();
      return;
    }
    if (drag?.kind === "select") {
      dragSel = selRect(drag.start, p);
      drawOverlay();
      return;
    }
    const r = root.getBoundingClientRect();
    hover(p, ev.clientX - r.left, ev.clientY - r.top);
  });
  const endDrag = (ev: PointerEvent, commit: boolean) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    try {
      if (frame.canvas.hasPointerCapture?.(ev.pointerId)) frame.canvas.releasePointerCapture(ev.pointerId);
    } catch {
      // ignore
    }
    if (d.kind === "select" && commit) {
      const s = selRect(d.start, frame.toCss(ev));
      view.set("selection", s);
      view.data("selected", `${s.r0}:${s.r1},${s.c0}:${s.c1}`);
    } else if (d.kind === "pan") saveViewport();
    dragSel = null;
    scheduleDraw();
  };
  view.dom<PointerEvent>(frame.canvas, "pointerup", (ev) => endDrag(ev, true));
  view.dom<PointerEvent>(frame.canvas, "pointercancel", (ev) => endDrag(ev, false));
  view.dom(frame.canvas, "pointerleave", () => {
    if (!drag) hideTooltip();
  });
  view.dom(mode, "change", () => frame.canvas.classList.toggle("fx-selecting", mode.value === "select"));

  // ---- hover readout ---------------------------------------------------------------------------------
  let hoverKey = "";
  function hideTooltip(): void {
    hoverKey = "";
    tip.hide();
  }
  function hover(p: { x: number; y: number }, cx: number, cy: number): void {
    const S = side();
    if (p.x < 0 || p.y < 0 || p.x >= S || p.y >= S) return hideTooltip();
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
    const metric = String(view.get("metric") ?? "value");
    const k = `${row},${col}`;
    if (k !== hoverKey) {
      tip.show([
        { cls: "fx-tt-row", value: rangeText("row", r0, Math.min(N, r0 + b) - 1) },
        { cls: "fx-tt-col", value: rangeText("col", c0, Math.min(N, c0 + b) - 1) },
        { cls: "fx-tt-value", label: `${metric}${b > 1 ? " (block mean)" : ""}`, value: Number.isNaN(v) ? "loading…" : fmt(v), strong: true },
      ]);
    }
    tip.place(cx, cy);
    if (k === hoverKey) return;
    hoverKey = k;
    void view
      .request<{ i: number; j: number; value: number; row_label?: string; col_label?: string }>("cell", { row, col }, { channel: "hover" })
      .then((reply) => {
        if (!reply || hoverKey !== k) return;
        const r = reply.result;
        const rl = r.row_label !== undefined ? ` (${r.row_label})` : "";
        const cl = r.col_label !== undefined ? ` (${r.col_label})` : "";
        tip.line("fx-tt-exact", { label: `X[${r.i}]${rl} · X[${r.j}]${cl}`, value: fmt(r.value) });
      });
  }

  // ---- traits ----------------------------------------------------------------------------------------
  view.on(["boundaries", "group_labels", "order", "metric"], () => {
    relayout(true);
    scheduleDraw();
  });
  view.on("selection", drawOverlay);
  view.on("status", () => view.data("status", view.get("status") ?? ""));
  view.on("viewport", () => {
    const v = view.get("viewport");
    if (!Array.isArray(v) || v.length !== 3) return;
    if (Math.abs(v[0] - y0) + Math.abs(v[1] - x0) + Math.abs(v[2] - span) < 1e-6) return;
    [y0, x0, span] = v;
    clampView();
    scheduleDraw();
  });
  view.onTheme(() => scheduleDraw());
  view.onResize(() => {
    relayout(true);
    scheduleDraw();
  });
}

export default defineView<Traits>({ name: "fx-zoom", css: CSS }, setup);
