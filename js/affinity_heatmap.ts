// AffinityHeatmap view (docs/protocol.md, "AffinityHeatmap").
//
// Tiles of the display grid stream in as `tile` messages into a Float32Array (NaN = not computed yet); one
// redraw per animation frame colours the rows that changed (all of them when the colour map or limits change).
// Axes label rows and columns (sorted class labels become blocks with boundaries), the colour bar has ticks,
// hover shows the cell (and asks the kernel for the exact value when the grid is downsampled); click or drag
// sets `selection`. Linked to other views (`link_id`), it passes the dragged rows to them in the page and draws
// rows they select (a selection with rows and no columns) as bands across the matrix.

import type { NdArray } from "./lib/codec";
import { colorLimits, colorize, resolveLut, type Lut } from "./lib/colormaps";
import { labelText, makeGrid, cellAt, cellAtClamped, cellSpan, rowRuns, selectionCells, selectionFromDrag, type Cell, type Grid } from "./lib/grid";
import { joinLink } from "./lib/link";
import { fmt, rangeText } from "./lib/format";
import { createMatrixFrame, drawBoundaries } from "./lib/matrix";
import type { AxisSpec } from "./lib/scale";
import { createPaintPacer } from "./lib/pace";
import { streamProfile } from "./lib/profile";
import { createTooltip, type TipLine } from "./lib/tooltip";
import { colorControls, toolbar } from "./lib/toolbar";
import { defineView, type View } from "./lib/view";

export interface HeatmapTraits {
  shape: [number, number];
  display_shape: [number, number];
  block: [number, number];
  row_labels: string[];
  col_labels: string[];
  cmap: string;
  vmin: number | null;
  vmax: number | null;
  title: string;
  value_label: string;
  progress: number;
  status: string;
  error: string;
  selection: { rows?: number[]; cols?: number[] };
  // optional (a newer Python side): axis titles, a sampled colour map, the centre of a diverging map
  row_title?: string;
  col_title?: string;
  link_id?: string;
  link_map?: unknown;
  [key: string]: unknown;
}

interface TileMessage {
  type: "tile";
  r0: number;
  c0: number;
  data: NdArray;
}

const CSS = `
.fx-heatmap { display: flex; flex-direction: column; align-items: flex-start; padding: 4px 0; }
.fx-heatmap canvas.fx-heatmap-canvas { cursor: crosshair; }
`;

/** The axis of `n` matrix rows shown as `cells` display cells of `block` rows each, labelled when labels fit. */
export function matrixAxis(labels: readonly string[] | undefined, n: number, cells: number, block: number): AxisSpec {
  const covered = cells * block; // the last display cell may hold fewer than `block` rows
  if (Array.isArray(labels) && labels.length === n && n > 0) {
    const padded = covered > n ? [...labels, ...Array(covered - n).fill(labels[n - 1])] : labels;
    return { kind: "labels", labels: padded };
  }
  return { kind: "index", n, lo: 0, hi: covered };
}

function setup(view: View<HeatmapTraits>): void {
  const { root } = view;
  view.data({ status: "", tiles: 0, draws: 0 });

  // ---- DOM -------------------------------------------------------------------------------------------
  const title = view.titleElement();
  const controls = colorControls(view, () => draw.repaint());
  const frame = createMatrixFrame("fx-heatmap-canvas", () => view.theme.fontFamily);
  const tip = createTooltip(root);
  const job = view.jobUi();
  root.append(title, toolbar(...controls.items), frame.el, job.row, job.errorBox);

  // ---- data ------------------------------------------------------------------------------------------
  let grid: Grid = makeGrid(view.get("display_shape"), view.get("shape"), view.get("block"));
  let values = new Float32Array(0);
  let autoRange: [number, number] | null = null;
  // Rows changed since the last draw: while the colours stay the same only those rows are coloured again (a
  // 4096 x 4096 grid streaming in would otherwise be recoloured whole on every frame).
  let dirtyLo = Infinity;
  let dirtyHi = -1;
  let paintedKey = "";
  let paintedColors = ""; // the colour map the image was coloured with, and the limits
  let paintedLimits: [number, number] = [0, 0];
  // Rows that received values since allocate(): a full recolour leaves the others alone (they are NaN, and the
  // image starts out in the NaN colour, transparent).
  let filledLo = Infinity;
  let filledHi = -1;
  let tilesApplied = 0;
  let draws = 0;
  const offscreen = document.createElement("canvas");
  const octx = offscreen.getContext("2d");
  let image: ImageData | null = null;

  function allocate(): void {
    grid = makeGrid(view.get("display_shape"), view.get("shape"), view.get("block"));
    values = new Float32Array(grid.h * grid.w).fill(NaN);
    autoRange = null;
    paintedKey = "";
    filledLo = Infinity;
    filledHi = -1;
    offscreen.width = Math.max(1, grid.w);
    offscreen.height = Math.max(1, grid.h);
    image = octx && grid.h > 0 && grid.w > 0 ? octx.createImageData(grid.w, grid.h) : null;
    relayout();
  }

  function applyTile(msg: TileMessage): void {
    const prof = streamProfile();
    const t0 = prof ? performance.now() : 0;
    const { r0, c0, data } = msg;
    if (!Number.isInteger(r0) || !Number.isInteger(c0) || r0 < 0 || c0 < 0 || !data || data.shape?.length !== 2) {
      console.warn("fxwidgets: ignored a malformed tile message", { r0, c0, shape: data?.shape });
      return;
    }
    const [th, tw] = data.shape;
    const src = data.data;
    const { h: gh, w: gw } = grid;
    const n = Math.min(tw, gw - c0);
    let lo = autoRange ? autoRange[0] : Infinity;
    let hi = autoRange ? autoRange[1] : -Infinity;
    for (let k = 0; k < th && r0 + k < gh && n > 0; k++) {
      const s = k * tw;
      const d = (r0 + k) * gw + c0;
      for (let t = 0; t < n; t++) {
        const v = src[s + t];
        if (v !== v) continue; // NaN = not computed: never overwrite a value with it
        values[d + t] = v;
        if (v < lo && v > -Infinity) lo = v;
        if (v > hi && v < Infinity) hi = v;
      }
    }
    const rangeChanged = lo <= hi && (!autoRange || autoRange[0] !== lo || autoRange[1] !== hi);
    if (lo <= hi) autoRange = [lo, hi];
    dirtyLo = Math.min(dirtyLo, r0);
    dirtyHi = Math.max(dirtyHi, Math.min(gh, r0 + th));
    filledLo = Math.min(filledLo, dirtyLo);
    filledHi = Math.max(filledHi, dirtyHi);
    tilesApplied += 1;
    view.data("tiles", tilesApplied);
    view.live();
    if (rangeChanged) updateColorbar();
    pacer.data();
    prof?.push({ what: "tile", t0, t1: performance.now(), bytes: src.byteLength, rows: th });
  }

  const requestSnapshot = () => {
    void view.request("snapshot", {}, { channel: "snapshot" }).then((r) => {
      if (r) view.live();
    });
  };

  view.onMessage<TileMessage>("tile", applyTile);
  view.onMessage<{ type: "error"; error?: unknown }>("error", (msg) =>
    console.warn(`fxwidgets: the kernel reported: ${String(msg.error)}`),
  );

  // ---- colours ---------------------------------------------------------------------------------------
  const lut = (): Lut => resolveLut(view.get("cmap"), view.get("cmap_lut"));
  /** The colour limits in use: the traits, or the finite range of the data received so far. */
  const limits = () => colorLimits(autoRange, view.get("vmin"), view.get("vmax"), controls.centerValue());
  const colorbarInput = () => ({ lut: lut(), limits: limits(), title: view.get("value_label") || "value" });
  const updateColorbar = () => frame.updateColorbar(colorbarInput());

  // ---- layout ----------------------------------------------------------------------------------------
  let boundaries: { rows: number[]; cols: number[] } = { rows: [], cols: [] };
  function relayout(): void {
    const L = frame.layout({
      avail: view.width(),
      rows: grid.h,
      cols: grid.w,
      rowAxis: matrixAxis(view.get("row_labels"), grid.nRows, grid.h, grid.fr),
      colAxis: matrixAxis(view.get("col_labels"), grid.nCols, grid.w, grid.fc),
      rowTitle: view.get("row_title") ?? "row",
      colTitle: view.get("col_title") ?? "column",
      colorbar: colorbarInput(),
    });
    boundaries = { rows: L.rowLayout.boundaries, cols: L.colLayout.boundaries };
    draw.repaint();
    drawOverlay();
  }

  // ---- drawing ---------------------------------------------------------------------------------------
  // While a job streams tiles in, paints are spaced out (js/lib/pace.ts) and rough: a cheap rescale, and limits
  // that moved by less than a colour step do not recolour the whole grid; the exact paint follows the stream.
  const pacer = createPaintPacer({ schedule: () => draw.schedule(), live: () => view.get("status") === "running" });
  view.add(() => pacer.dispose());
  const draw = {
    schedule: view.frame(paint),
    /** Recolour everything on the next frame (colour map, limits or size changed). */
    repaint() {
      paintedKey = "";
      updateColorbar();
      draw.schedule();
    },
  };

  function paint(): void {
    const prof = streamProfile();
    const pass = pacer.begin();
    const { rough, t0 } = pass;
    let t1 = t0;
    let t2 = t0;
    const ctx = frame.canvas.getContext("2d");
    const lim = limits();
    const L = lut();
    let colored = 0;
    let full = false;
    if (image && octx && ctx) {
      const [vmin, vmax] = lim ?? [0, 0];
      const colors = `${view.get("cmap")}|${L.length}`;
      const key = `${colors}|${vmin}|${vmax}`;
      // While tiles stream in, automatic limits that moved by less than one colour step (1/256 of the span) at
      // either end do not recolour the rows already drawn: they and the new rows are coloured with the limits
      // in use, each cell at most one step of the map off, until the paint after the stream recolours all
      // exactly. A stream whose limits creep by a hair on every tile would otherwise recolour the whole grid on
      // every paint.
      const step = Math.abs(paintedLimits[1] - paintedLimits[0]) / 256;
      const nearly = rough && paintedKey !== "" && colors === paintedColors &&
        Math.abs(vmin - paintedLimits[0]) <= step && Math.abs(vmax - paintedLimits[1]) <= step;
      let lo = dirtyLo;
      let hi = dirtyHi;
      if (key !== paintedKey && !nearly) {
        lo = Math.min(filledLo, dirtyLo);
        hi = Math.max(filledHi, dirtyHi);
        paintedKey = key;
        paintedColors = colors;
        paintedLimits = [vmin, vmax];
        full = true;
      }
      if (hi > lo) {
        const w = grid.w;
        const [cmin, cmax] = paintedLimits;
        colorize(values.subarray(lo * w, hi * w), L, cmin, cmax, image.data.subarray(lo * w * 4, hi * w * 4));
        octx.putImageData(image, 0, 0, 0, lo, w, hi - lo);
        colored = hi - lo;
      }
      dirtyLo = Infinity;
      dirtyHi = -1;
      if (prof) t1 = performance.now();
      const { width, height } = frame.canvas;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = view.theme.layout0;
      ctx.fillRect(0, 0, width, height);
      // Enlarging: crisp cells. Shrinking (more cells than device pixels): average, so that no cell is
      // silently dropped by nearest-neighbour sampling. A rough paint rescales cheaply (bilinear: 2-3 ms instead of
      // 11-67 ms for 4096 x 4096 on a software canvas, bench_streaming); the exact paint follows the stream.
      const shrinking = width < grid.w || height < grid.h;
      ctx.imageSmoothingEnabled = shrinking;
      if (shrinking) ctx.imageSmoothingQuality = rough ? "low" : "high";
      ctx.drawImage(offscreen, 0, 0, grid.w, grid.h, 0, 0, width, height);
      if (prof) t2 = performance.now();
    } else if (ctx) {
      ctx.fillStyle = view.theme.layout0;
      ctx.fillRect(0, 0, frame.canvas.width, frame.canvas.height);
    }
    if (hover) showValue();
    draws += 1;
    view.data("draws", draws);
    view.settled();
    pacer.end(pass);
    const t3 = performance.now();
    // colour: colorize + putImageData; scale: drawImage of the grid onto the visible canvas (both are recorded
    // here and rasterised by the canvas when the frame is produced)
    if (prof) prof.push({ what: "paint", t0, t1: t3, color_ms: t1 - t0, scale_ms: t2 - t1, rough, full, rows: colored });
  }

  let dragStart: Cell | null = null;
  let dragEnd: Cell | null = null;
  /** Rows another view of the link selected just now, shown until Python's `selection` arrives. */
  let linkedRows: ArrayLike<number> | null = null;
  const membership = joinLink(
    { get: (k) => view.get(k), has: (k) => view.has(k), on: (k, cb) => view.on(k as never, cb), add: (d) => view.add(d) },
    () => grid.nRows,
    (rows) => {
      linkedRows = rows;
      drawOverlay();
    },
  );

  /** Rows selected without columns (a linked selection): drawn as bands. */
  function bandRows(): ArrayLike<number> | null {
    if (linkedRows) return linkedRows;
    const sel = view.get("selection");
    const rows = Array.isArray(sel?.rows) ? sel.rows : [];
    const cols = Array.isArray(sel?.cols) ? sel.cols : [];
    return rows.length > 0 && cols.length === 0 ? rows : null;
  }

  function drawBands(ctx: CanvasRenderingContext2D, rows: ArrayLike<number>, width: number, sy: number, ratio: number): void {
    const runs = rowRuns(rows, grid.fr, grid.h);
    // Veil the other rows (so the selected ones stand out on any colour map), then mark the selected ones.
    ctx.fillStyle = view.theme.light ? "rgba(255,255,255,0.6)" : "rgba(0,0,0,0.6)";
    let top = 0;
    for (const [i0, i1] of runs) {
      if (i0 > top) ctx.fillRect(0, top * sy, width, (i0 - top) * sy);
      top = i1 + 1;
    }
    if (top < grid.h) ctx.fillRect(0, top * sy, width, (grid.h - top) * sy);
    ctx.fillStyle = view.theme.brand;
    for (const [i0, i1] of runs) ctx.fillRect(0, i0 * sy, 4 * ratio, Math.max(ratio, (i1 - i0 + 1) * sy));
    view.data("bands", runs.length);
  }

  function drawOverlay(): void {
    const ov = frame.overlay;
    const ctx = ov.getContext("2d");
    const L = frame.last;
    if (!ctx || !L) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, ov.width, ov.height);
    if (grid.h === 0 || grid.w === 0) return;
    drawBoundaries(ctx, boundaries.rows, boundaries.cols, L.cssW, L.cssH, view.theme);
    const sx = ov.width / grid.w;
    const sy = ov.height / grid.h;
    const ratio = ov.width / Math.max(1, L.cssW);
    const bands = dragStart ? null : bandRows();
    if (bands) drawBands(ctx, bands, ov.width, sy, ratio);
    else view.data("bands", 0);
    const rect =
      dragStart && dragEnd
        ? { i0: Math.min(dragStart.i, dragEnd.i), i1: Math.max(dragStart.i, dragEnd.i), j0: Math.min(dragStart.j, dragEnd.j), j1: Math.max(dragStart.j, dragEnd.j) }
        : linkedRows
          ? null
          : selectionCells(grid, view.get("selection"));
    if (hover && !dragStart && sx >= 4 * ratio && sy >= 4 * ratio) {
      ctx.lineWidth = ratio;
      ctx.strokeStyle = view.theme.light ? "rgba(0,0,0,0.45)" : "rgba(255,255,255,0.6)";
      ctx.strokeRect(hover.j * sx + ratio / 2, hover.i * sy + ratio / 2, sx - ratio, sy - ratio);
    }
    if (rect) {
      const x = rect.j0 * sx;
      const y = rect.i0 * sy;
      const w = (rect.j1 - rect.j0 + 1) * sx;
      const hh = (rect.i1 - rect.i0 + 1) * sy;
      const inset = 1.5 * ratio;
      // a dark and a light line, so the outline shows on any colour
      ctx.lineWidth = 3 * ratio;
      ctx.strokeStyle = view.theme.light ? "rgba(255,255,255,0.9)" : "rgba(0,0,0,0.9)";
      ctx.strokeRect(x + inset, y + inset, Math.max(0, w - 2 * inset), Math.max(0, hh - 2 * inset));
      ctx.lineWidth = 1.5 * ratio;
      ctx.strokeStyle = view.theme.brand;
      ctx.strokeRect(x + inset, y + inset, Math.max(0, w - 2 * inset), Math.max(0, hh - 2 * inset));
    }
  }

  // ---- hover -----------------------------------------------------------------------------------------
  let pointer: { x: number; y: number; cx: number; cy: number } | null = null;
  let hover: Cell | null = null;
  let hoverKey = "";
  const valueLabel = () => view.get("value_label") || "value";
  const blocked = () => grid.fr !== 1 || grid.fc !== 1;

  function valueLine(): TipLine {
    const v = hover ? values[hover.i * grid.w + hover.j] : NaN;
    return {
      cls: "fx-tt-value",
      label: blocked() ? `${valueLabel()} (block mean)` : valueLabel(),
      value: Number.isNaN(v) ? "not computed yet" : fmt(v),
      strong: true,
    };
  }
  function showValue(): void {
    if (hover) tip.line("fx-tt-value", valueLine());
  }

  function showTooltip(cell: Cell): void {
    hover = cell;
    const s = cellSpan(grid, cell);
    const rl = labelText(view.get("row_labels"), s.r0, s.r1);
    const cl = labelText(view.get("col_labels"), s.c0, s.c1);
    const where = `${valueLabel()} at (${s.r0}, ${s.c0})`;
    const lines: TipLine[] = [
      { cls: "fx-tt-row", value: rangeText("row", s.r0, s.r1) + (rl ? `: ${rl}` : "") },
      { cls: "fx-tt-col", value: rangeText("col", s.c0, s.c1) + (cl ? `: ${cl}` : "") },
      valueLine(),
    ];
    if (blocked()) lines.push({ cls: "fx-tt-exact", label: where, value: "…", muted: true });
    tip.show(lines);
    if (!blocked()) return;
    // A display cell is a block mean: ask the kernel for the exact value of its top-left entry (latest wins).
    const key = `${s.r0},${s.c0}`;
    void view
      .request<{ value: number | null; nonfinite?: string }>("cell", { row: s.r0, col: s.c0 }, {
        channel: "hover",
        onError: () => {
          if (hoverKey === key) tip.line("fx-tt-exact", { label: where, value: "unavailable", muted: true });
        },
      })
      .then((r) => {
        if (!r || hoverKey !== key) return;
        const v = r.result?.value;
        tip.line("fx-tt-exact", { label: where, value: typeof v === "number" ? fmt(v) : r.result?.nonfinite ?? "not computed yet", muted: true });
      });
  }

  function hideTooltip(): void {
    hover = null;
    hoverKey = "";
    tip.hide();
  }

  function onPointerFrame(): void {
    if (dragStart && pointer) {
      const c = cellAtClamped(grid, pointer.x, pointer.y, frame.last?.cssW ?? 0, frame.last?.cssH ?? 0);
      if (c && (!dragEnd || c.i !== dragEnd.i || c.j !== dragEnd.j)) {
        dragEnd = c;
        drawOverlay();
      }
    }
    const cell = pointer ? cellAt(grid, pointer.x, pointer.y, frame.last?.cssW ?? 0, frame.last?.cssH ?? 0) : null;
    if (!cell) {
      if (hover) {
        hideTooltip();
        drawOverlay();
      }
      return;
    }
    const s = cellSpan(grid, cell);
    const key = `${s.r0},${s.c0}`;
    if (key !== hoverKey) {
      hover = cell;
      hoverKey = key;
      showTooltip(cell);
      drawOverlay();
    }
    if (pointer) tip.place(pointer.cx, pointer.cy);
  }
  const schedulePointer = view.frame(onPointerFrame);

  const rootPoint = (ev: PointerEvent) => {
    const r = root.getBoundingClientRect();
    return { cx: ev.clientX - r.left, cy: ev.clientY - r.top };
  };
  view.dom<PointerEvent>(frame.canvas, "pointermove", (ev) => {
    pointer = { ...frame.toCss(ev), ...rootPoint(ev) };
    schedulePointer();
  });
  view.dom(frame.canvas, "pointerleave", () => {
    pointer = null;
    schedulePointer();
  });

  // ---- selection -------------------------------------------------------------------------------------
  view.dom<PointerEvent>(frame.canvas, "pointerdown", (ev) => {
    if (ev.button !== 0 || !ev.isPrimary || !frame.last) return;
    const p = frame.toCss(ev);
    const c = cellAt(grid, p.x, p.y, frame.last.cssW, frame.last.cssH);
    if (!c) return;
    ev.preventDefault();
    dragStart = c;
    dragEnd = c;
    try {
      frame.canvas.setPointerCapture(ev.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    drawOverlay();
  });
  const finishDrag = (ev: PointerEvent, commit: boolean) => {
    if (!dragStart || !frame.last) return;
    const p = frame.toCss(ev);
    const end = cellAtClamped(grid, p.x, p.y, frame.last.cssW, frame.last.cssH) ?? dragEnd ?? dragStart;
    const start = dragStart;
    dragStart = null;
    dragEnd = null;
    try {
      if (frame.canvas.hasPointerCapture?.(ev.pointerId)) frame.canvas.releasePointerCapture(ev.pointerId);
    } catch {
      // ignore
    }
    if (commit) {
      const sel = selectionFromDrag(grid, start, end);
      linkedRows = null;
      view.set("selection", sel);
      membership.publish(sel.rows);
    }
    drawOverlay();
  };
  view.dom<PointerEvent>(frame.canvas, "pointerup", (ev) => finishDrag(ev, true));
  view.dom<PointerEvent>(frame.canvas, "pointercancel", (ev) => finishDrag(ev, false));

  // ---- traits ----------------------------------------------------------------------------------------
  let lastStatus = view.get("status");
  view.on("display_shape", allocate, requestSnapshot);
  const regrid = () => {
    const g = makeGrid(view.get("display_shape"), view.get("shape"), view.get("block"));
    if (g.h !== grid.h || g.w !== grid.w) {
      allocate();
      requestSnapshot();
    } else {
      grid = g;
      relayout();
    }
    if (hover) hideTooltip();
  };
  view.on(["shape", "block"], regrid);
  view.on(["row_labels", "col_labels", "row_title", "col_title"], () => {
    relayout();
    if (hover) showTooltip(hover);
  });
  view.on("value_label", () => {
    updateColorbar();
    if (hover) showTooltip(hover);
  });
  view.on("selection", () => {
    linkedRows = null; // Python's word replaces what the page showed in the meantime
    drawOverlay();
  });
  view.on("status", () => {
    const status = view.get("status");
    if (status === "running" && lastStatus !== "running") {
      // A new job: drop the old values and fetch whatever the new one has computed so far.
      values.fill(NaN);
      autoRange = null;
      draw.repaint();
      requestSnapshot();
    } else if (lastStatus === "running" && status !== "running") {
      draw.schedule(); // the stream ended: the final picture, full quality, on the next frame
    }
    lastStatus = status;
  });
  view.onTheme(() => {
    draw.repaint();
    drawOverlay();
  });

  allocate();
  view.onResize(() => relayout());
  requestSnapshot();
}

export default defineView<HeatmapTraits>({ name: "fx-heatmap", css: CSS }, setup);
