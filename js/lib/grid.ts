// Index math of a (possibly downsampled) matrix view: CSS pixel -> display cell -> full-matrix rows/cols,
// drag rectangles -> selection lists, tooltip text. Pure functions, no DOM.

export interface Grid {
  /** Display grid size (`display_shape`). */
  h: number;
  w: number;
  /** Full matrix size (`shape`). */
  nRows: number;
  nCols: number;
  /** Full-matrix rows/cols per display cell (`block`). */
  fr: number;
  fc: number;
}

export interface Cell {
  i: number; // display row
  j: number; // display col
}

/** Inclusive full-matrix ranges. */
export interface Span {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

export interface Selection {
  rows: number[];
  cols: number[];
}

function posInt(x: unknown, fallback: number): number {
  return typeof x === "number" && Number.isFinite(x) && x >= 1 ? Math.floor(x) : fallback;
}

/**
 * A Grid from the widget's traits, made safe: sizes ≥ 0, block ≥ 1, and a full shape that is missing or
 * smaller than the display grid is taken as display × block.
 */
export function makeGrid(displayShape: unknown, shape: unknown, block: unknown): Grid {
  const ds = Array.isArray(displayShape) ? displayShape : [];
  const h = Math.max(0, Math.floor(Number(ds[0]) || 0));
  const w = Math.max(0, Math.floor(Number(ds[1]) || 0));
  const b = Array.isArray(block) ? block : [];
  const fr = posInt(b[0], 1);
  const fc = posInt(b[1], 1);
  const s = Array.isArray(shape) ? shape : [];
  let nRows = Math.floor(Number(s[0]) || 0);
  let nCols = Math.floor(Number(s[1]) || 0);
  if (!(nRows > (h - 1) * fr)) nRows = h * fr;
  if (!(nCols > (w - 1) * fc)) nCols = w * fc;
  return { h, w, nRows, nCols, fr, fc };
}

/** The display cell under CSS pixel (x, y) of a canvas drawn at cssW × cssH, or null outside it. */
export function cellAt(g: Grid, x: number, y: number, cssW: number, cssH: number): Cell | null {
  if (!(cssW > 0 && cssH > 0) || g.h === 0 || g.w === 0) return null;
  if (!(x >= 0 && y >= 0 && x < cssW && y < cssH)) return null;
  const i = Math.min(g.h - 1, Math.floor((y / cssH) * g.h));
  const j = Math.min(g.w - 1, Math.floor((x / cssW) * g.w));
  return { i, j };
}

/** Like cellAt, but clamps a point outside the canvas to the nearest cell (for drags that leave it). */
export function cellAtClamped(g: Grid, x: number, y: number, cssW: number, cssH: number): Cell | null {
  if (!(cssW > 0 && cssH > 0) || g.h === 0 || g.w === 0) return null;
  const cx = Math.max(0, Math.min(cssW - 1e-9, Number.isFinite(x) ? x : 0));
  const cy = Math.max(0, Math.min(cssH - 1e-9, Number.isFinite(y) ? y : 0));
  return cellAt(g, cx, cy, cssW, cssH);
}

/** Full-matrix rows and columns covered by display cell (i, j), inclusive. */
export function cellSpan(g: Grid, c: Cell): Span {
  const r0 = c.i * g.fr;
  const c0 = c.j * g.fc;
  return {
    r0,
    r1: Math.max(r0, Math.min(r0 + g.fr, g.nRows) - 1),
    c0,
    c1: Math.max(c0, Math.min(c0 + g.fc, g.nCols) - 1),
  };
}

/** Full-matrix rows/cols covered by the rectangle with corners at display cells a and b (any order). */
export function dragSpan(g: Grid, a: Cell, b: Cell): Span {
  const lo = cellSpan(g, { i: Math.min(a.i, b.i), j: Math.min(a.j, b.j) });
  const hi = cellSpan(g, { i: Math.max(a.i, b.i), j: Math.max(a.j, b.j) });
  return { r0: lo.r0, r1: hi.r1, c0: lo.c0, c1: hi.c1 };
}

export function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let k = lo; k <= hi; k++) out.push(k);
  return out;
}

/** The `selection` trait value for a click (a === b) or a drag from a to b: increasing full-matrix indices. */
export function selectionFromDrag(g: Grid, a: Cell, b: Cell): Selection {
  const s = dragSpan(g, a, b);
  return { rows: range(s.r0, s.r1), cols: range(s.c0, s.c1) };
}

/**
 * The display-cell rectangle [i0, i1] × [j0, j1] (inclusive) that shows a selection, or null when it is
 * empty or outside the grid. Uses the min and max index of each list.
 */
export function selectionCells(g: Grid, sel: unknown): { i0: number; i1: number; j0: number; j1: number } | null {
  if (sel === null || typeof sel !== "object") return null;
  const { rows, cols } = sel as { rows?: unknown; cols?: unknown };
  const bounds = (xs: unknown): [number, number] | null => {
    if (!Array.isArray(xs) || xs.length === 0) return null;
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of xs) {
      if (typeof x !== "number" || !Number.isFinite(x)) continue;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    return lo <= hi ? [lo, hi] : null;
  };
  const r = bounds(rows);
  const c = bounds(cols);
  if (r === null || c === null || g.h === 0 || g.w === 0) return null;
  const i0 = Math.floor(r[0] / g.fr);
  const i1 = Math.floor(r[1] / g.fr);
  const j0 = Math.floor(c[0] / g.fc);
  const j1 = Math.floor(c[1] / g.fc);
  if (i1 < 0 || j1 < 0 || i0 >= g.h || j0 >= g.w) return null;
  return { i0: Math.max(0, i0), i1: Math.min(g.h - 1, i1), j0: Math.max(0, j0), j1: Math.min(g.w - 1, j1) };
}

// One implementation each, in the kit: the matrix fit (sizing.ts) and the number formatting (format.ts).
export { fitMatrix as layout, type Box as Layout } from "./sizing";
export { fmt as formatValue, rangeText } from "./format";

/** The label(s) of a range: "cat", "cat … dog" (first and last), or "" when there are no labels. */
export function labelText(labels: readonly unknown[] | null | undefined, lo: number, hi: number): string {
  if (!Array.isArray(labels) || labels.length === 0) return "";
  const at = (k: number) => (k >= 0 && k < labels.length && labels[k] != null ? String(labels[k]) : "");
  const a = at(lo);
  if (lo === hi) return a;
  const b = at(hi);
  if (a === b) return a; // a block inside one class: its name once
  return a && b ? `${a} … ${b}` : a || b;
}

/**
 * The display rows (of `h`, `fr` matrix rows each) holding any of `rows`, as runs [i0, i1] (inclusive): the bands
 * a heatmap draws for rows selected in a linked view.
 */
export function rowRuns(rows: ArrayLike<number>, fr: number, h: number): Array<[number, number]> {
  const f = Math.max(1, Math.floor(fr));
  const on = new Uint8Array(Math.max(0, h));
  for (let k = 0; k < rows.length; k++) {
    const i = Math.floor(rows[k] / f);
    if (i >= 0 && i < h) on[i] = 1;
  }
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < h; i++) {
    if (!on[i]) continue;
    const last = runs[runs.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else runs.push([i, i]);
  }
  return runs;
}
