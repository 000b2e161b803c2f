// A matrix plot frame: a canvas of cells with a row axis on the left, a column axis below, an optional colour
// bar under that, and an overlay canvas (hover outline, selection, group boundaries) on top. It sizes itself from
// the width it is given, so nothing sticks out of a narrow output area. Used by AffinityHeatmap, ZoomHeatmap,
// LayerComparison (the CKA matrix and both Gram matrices) and FeatureRanking's agreement matrix.

import { createAxis, createColorBar, measureText, type Axis, type ColorBar } from "./axis";
import type { AxisLayout, AxisSpec } from "./scale";
import { backingSize, fitMatrix } from "./sizing";
import { colorize, lutAt, type Lut } from "./colormaps";
import { fmt } from "./format";
import type { Theme } from "./theme";
import { h, pixelCanvas } from "./ui";

export const MATRIX_CSS = `
.fx-matrix { display: grid; grid-template-columns: max-content max-content; justify-content: start; align-items: start;
  max-width: 100%; }
.fx-matrix > .fx-axis-left { margin-top: 1px; }
.fx-matrix > .fx-axis-bottom, .fx-matrix > .fx-colorbar-box { margin-left: 1px; }
.fx-matrix .fx-plot { position: relative; line-height: 0; }
.fx-matrix .fx-plot > canvas.fx-cells { display: block; box-sizing: content-box;
  border: 1px solid var(--jp-border-color2, #e0e0e0); touch-action: none; image-rendering: pixelated; }
.fx-matrix .fx-plot > canvas.fx-overlay { position: absolute; left: 1px; top: 1px; pointer-events: none; }
`;

export interface MatrixLayoutInput {
  /** Width the frame may use (CSS px). */
  avail: number;
  /** Cells of the grid drawn (display grid). */
  rows: number;
  cols: number;
  rowAxis: AxisSpec;
  colAxis: AxisSpec;
  rowTitle?: string;
  colTitle?: string;
  maxSide?: number;
  minSide?: number;
  /** Colour bar below the column axis (null limits: shown without ticks). */
  colorbar?: { lut: Lut; limits: readonly [number, number] | null; title: string } | null;
}

export interface MatrixLayout {
  cssW: number;
  cssH: number;
  rowLayout: AxisLayout;
  colLayout: AxisLayout;
}

export interface MatrixFrame {
  readonly el: HTMLElement;
  readonly plot: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  readonly overlay: HTMLCanvasElement;
  readonly left: Axis;
  readonly bottom: Axis;
  readonly colorbar: ColorBar;
  /** Size everything for the input; returns the canvas' CSS size and the axis layouts. */
  layout(input: MatrixLayoutInput): MatrixLayout;
  /** The colour bar alone (limits or map changed, size did not). */
  updateColorbar(cb: NonNullable<MatrixLayoutInput["colorbar"]> | null): void;
  /** Pointer position in CSS px of the canvas' content box. */
  toCss(ev: { clientX: number; clientY: number }): { x: number; y: number };
  readonly last: MatrixLayout | null;
}

const dpr = () => (typeof devicePixelRatio === "number" && devicePixelRatio > 0 ? devicePixelRatio : 1);

/** A frame around a canvas of class `canvasClass` (plus fx-cells). */
export function createMatrixFrame(canvasClass: string, fontFamily: () => string, aria = "heatmap"): MatrixFrame {
  const canvas = h("canvas", { class: `fx-cells ${canvasClass}`, attrs: { role: "img", "aria-label": aria } });
  const overlay = h("canvas", { class: "fx-overlay", attrs: { "aria-hidden": "true" } });
  const plot = h("div", { class: "fx-plot", children: [canvas, overlay] });
  const left = createAxis("left", fontFamily);
  const bottom = createAxis("bottom", fontFamily);
  const colorbar = createColorBar(fontFamily);
  const el = h("div", {
    class: "fx-matrix",
    children: [left.el, plot, h("div"), bottom.el, h("div"), colorbar.el],
  });
  let last: MatrixLayout | null = null;
  let barInput: MatrixLayoutInput["colorbar"] = null;

  const layout = (input: MatrixLayoutInput): MatrixLayout => {
    const { avail, rows, cols } = input;
    // The row axis' width depends on its labels, which depend on its length: guess, fit, then settle.
    left.update(input.rowAxis, Math.min(input.maxSide ?? 640, avail * 0.7), input.rowTitle ?? "");
    let leftW = left.thickness;
    let box = fitMatrix(rows, cols, avail - leftW - 2, input.maxSide ?? 640, input.minSide ?? 64);
    for (let i = 0; i < 2; i++) {
      left.update(input.rowAxis, box.cssH, input.rowTitle ?? "");
      if (left.thickness <= leftW) break;
      leftW = left.thickness;
      box = fitMatrix(rows, cols, avail - leftW - 2, input.maxSide ?? 640, input.minSide ?? 64);
    }
    const rowLayout = left.update(input.rowAxis, box.cssH, input.rowTitle ?? "");
    const colLayout = bottom.update(input.colAxis, box.cssW, input.colTitle ?? "");
    const ratio = dpr();
    const bw = backingSize(box.cssW, ratio);
    const bh = backingSize(box.cssH, ratio);
    for (const c of [canvas, overlay]) {
      c.style.width = `${box.cssW}px`;
      c.style.height = `${box.cssH}px`;
      if (c.width !== bw) c.width = bw;
      if (c.height !== bh) c.height = bh;
    }
    last = { cssW: box.cssW, cssH: box.cssH, rowLayout, colLayout };
    barInput = input.colorbar ?? null;
    updateColorbar(barInput);
    return last;
  };

  const updateColorbar = (cb: MatrixLayoutInput["colorbar"]) => {
    barInput = cb ?? null;
    colorbar.el.hidden = !barInput;
    colorbar.el.style.display = barInput ? "" : "none";
    if (barInput && last) colorbar.update(barInput.lut, barInput.limits, last.cssW, barInput.title);
  };

  return {
    el,
    plot,
    canvas,
    overlay,
    left,
    bottom,
    colorbar,
    layout,
    updateColorbar,
    toCss(ev) {
      const r = canvas.getBoundingClientRect();
      const bl = canvas.clientLeft || 0;
      const bt = canvas.clientTop || 0;
      const w = last?.cssW ?? r.width;
      const hh = last?.cssH ?? r.height;
      const sx = r.width > 0 ? (w + 2 * bl) / r.width : 1;
      const sy = r.height > 0 ? (hh + 2 * bt) / r.height : 1;
      return { x: (ev.clientX - r.left) * sx - bl, y: (ev.clientY - r.top) * sy - bt };
    },
    get last() {
      return last;
    },
  };
}

/** Lines between groups (class blocks) across the whole plot, in a colour that shows on any cell. */
export function drawBoundaries(
  ctx: CanvasRenderingContext2D,
  rows: readonly number[],
  cols: readonly number[],
  cssW: number,
  cssH: number,
  theme: Theme,
): void {
  if (rows.length === 0 && cols.length === 0) return;
  const r = ctx.canvas.width / Math.max(1, cssW);
  ctx.save();
  ctx.setTransform(r, 0, 0, r, 0, 0);
  const line = (color: string, width: number) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    for (const y of rows) {
      const yy = Math.round(y * r) / r;
      ctx.moveTo(0, yy);
      ctx.lineTo(cssW, yy);
    }
    for (const x of cols) {
      const xx = Math.round(x * r) / r;
      ctx.moveTo(xx, 0);
      ctx.lineTo(xx, cssH);
    }
    ctx.stroke();
  };
  line(theme.light ? "rgba(255,255,255,0.85)" : "rgba(0,0,0,0.85)", 2);
  line(theme.light ? "rgba(0,0,0,0.55)" : "rgba(255,255,255,0.6)", 1);
  ctx.restore();
}

/** Cell text with a fixed number of decimals, so that a column of cells reads alike ("1.00", "0.95"). */
export function fixed(decimals: number): (v: number) => string {
  return (v) => (Number.isFinite(v) ? v.toFixed(decimals).replace(/^-(0\.?0*)$/, "$1") : fmt(v));
}

/** Whether numbers fit in cells of cw x ch CSS px at the axes' font. */
export function cellTextFits(cw: number, ch: number, sample: string, measure: (s: string) => number): boolean {
  return ch >= 13 && cw >= measure(sample) + 4;
}

/**
 * Print each cell's value (`format`, by default fmt to 3 significant digits) centred in its cell, black or white
 * by the cell colour's luminance. Skipped (returns false) when the text does not fit the cells.
 */
export function drawCellValues(
  ctx: CanvasRenderingContext2D,
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  cssW: number,
  cssH: number,
  lut: Lut,
  limits: readonly [number, number],
  fontFamily: string,
  format: (v: number) => string = (v) => fmt(v, 3),
): boolean {
  const cw = cssW / cols;
  const ch = cssH / rows;
  let widest = "";
  for (let i = 0; i < values.length; i++) {
    const s = format(values[i]);
    if (s.length > widest.length) widest = s;
  }
  if (!cellTextFits(cw, ch, widest, (s) => measureText(s, fontFamily))) return false;
  const r = ctx.canvas.width / Math.max(1, cssW);
  ctx.save();
  ctx.setTransform(r, 0, 0, r, 0, 0);
  ctx.font = `11px ${fontFamily}`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const span = limits[1] - limits[0];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = values[i * cols + j];
      if (!Number.isFinite(v)) continue;
      const t = span !== 0 ? (v - limits[0]) / span : 0;
      const [cr, cg, cb] = lutAt(lut, Math.max(0, Math.min(1, t)));
      ctx.fillStyle = 0.2126 * cr + 0.7152 * cg + 0.0722 * cb > 140 ? "#000" : "#fff";
      ctx.fillText(format(v), (j + 0.5) * cw, (i + 0.5) * ch);
    }
  }
  ctx.restore();
  return true;
}

/** A canvas of one pixel per cell of a rows x cols matrix: `paint` colours a matrix into it, drawImage scales it. */
export interface CellCanvas {
  readonly canvas: HTMLCanvasElement;
  /** Colour `values` (rows x cols, row-major) with `lut` over [lo, hi]; non-finite cells stay transparent. */
  paint(values: ArrayLike<number>, lut: Lut, lo: number, hi: number): void;
}

/** A CellCanvas for rows x cols cells (both > 0), or null without a 2-D context. */
export function createCellCanvas(rows: number, cols: number): CellCanvas | null {
  const px = pixelCanvas(cols, rows);
  if (!px) return null;
  const { canvas, ctx, image } = px;
  return {
    canvas,
    paint(values, lut, lo, hi) {
      colorize(values, lut, lo, hi, image.data);
      ctx.putImageData(image, 0, 0);
    },
  };
}

/**
 * Colour a whole rows x cols matrix into the frame's canvas (small matrices: every redraw recolours all cells).
 * Non-finite cells get the theme's background.
 */
export function paintMatrix(
  frame: MatrixFrame,
  values: ArrayLike<number>,
  rows: number,
  cols: number,
  lut: Lut,
  limits: readonly [number, number],
  background: string,
): void {
  const ctx = frame.canvas.getContext("2d");
  if (!ctx || rows <= 0 || cols <= 0) return;
  const cells = createCellCanvas(rows, cols);
  if (!cells) return;
  cells.paint(values, lut, limits[0], limits[1]);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, frame.canvas.width, frame.canvas.height);
  const shrinking = frame.canvas.width < cols || frame.canvas.height < rows;
  ctx.imageSmoothingEnabled = shrinking;
  ctx.drawImage(cells.canvas, 0, 0, frame.canvas.width, frame.canvas.height);
}

/** The cell under a pointer event, or null outside the frame's canvas. */
export function cellUnder(frame: MatrixFrame, ev: { clientX: number; clientY: number }, rows: number, cols: number): { i: number; j: number } | null {
  if (!frame.last) return null;
  const p = frame.toCss(ev);
  const i = Math.floor((p.y / frame.last.cssH) * rows);
  const j = Math.floor((p.x / frame.last.cssW) * cols);
  return i >= 0 && j >= 0 && i < rows && j < cols ? { i, j } : null;
}

/** Outline cell (i, j) of a rows x cols frame on its overlay (a dark and a light line: visible on any colour). */
export function outlineCell(frame: MatrixFrame, i: number, j: number, rows: number, cols: number, brand: string): void {
  const ov = frame.overlay;
  const ctx = ov.getContext("2d");
  if (!ctx) return;
  const sx = ov.width / cols;
  const sy = ov.height / rows;
  const r = ov.width / Math.max(1, frame.last?.cssW ?? ov.width);
  ctx.lineWidth = 3 * r;
  ctx.strokeStyle = "rgba(255,255,255,0.9)";
  ctx.strokeRect(j * sx + 1.5 * r, i * sy + 1.5 * r, sx - 3 * r, sy - 3 * r);
  ctx.lineWidth = 1.5 * r;
  ctx.strokeStyle = brand;
  ctx.strokeRect(j * sx + 1.5 * r, i * sy + 1.5 * r, sx - 3 * r, sy - 3 * r);
}
