// The arithmetic of the scatter view (js/scatter.ts), without WebGL or DOM so that it runs in node: data
// coordinates -> the GL space regl-scatterplot draws in, the camera that fits the data, colours by label or by
// score (matplotlib's rule), the legend's counts and hidden classes, point sizes from weights, and the
// `selection` trait's bytes.

import { lutStride, type Lut } from "./colormaps";

/** [xmin, xmax, ymin, ymax] of the data. */
export type Bounds = readonly [number, number, number, number];

/** gl = (value - c) / s on each axis. */
export interface Normalization {
  cx: number;
  cy: number;
  sx: number;
  sy: number;
}

/**
 * The map from data to GL coordinates. "equal": one scale on both axes (distances in an embedding keep their
 * meaning), the longer side spanning [-1, 1]. "auto": each axis on its own to [-1, 1] (two unrelated quantities).
 */
export function normalization(bounds: Bounds | null, aspect: string): Normalization {
  if (!bounds || !bounds.every(Number.isFinite)) return { cx: 0, cy: 0, sx: 1, sy: 1 };
  const [x0, x1, y0, y1] = bounds;
  const hx = (x1 - x0) / 2;
  const hy = (y1 - y0) / 2;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  if (aspect === "auto") return { cx, cy, sx: hx > 0 ? hx : 1, sy: hy > 0 ? hy : 1 };
  const s = Math.max(hx, hy);
  return { cx, cy, sx: s > 0 ? s : 1, sy: s > 0 ? s : 1 };
}

/** Where rows without coordinates yet (NaN: a streaming embedding) are put: far outside any view. */
export const OFF_SCREEN = 1e6;

/**
 * Points as regl-scatterplot takes them, [x, y, z, w] per row in GL space; `reuse` (the previous array of the
 * same length) is filled in place, so a redraw of 10^6 points allocates nothing.
 */
export function glPoints(
  xy: Float32Array,
  n: number,
  norm: Normalization,
  z: ArrayLike<number>,
  w: ArrayLike<number> | null,
  reuse: number[][] | null = null,
): number[][] {
  const pts = reuse && reuse.length === n ? reuse : new Array<number[]>(n);
  const { cx, cy, sx, sy } = norm;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    const ok = x === x && y === y && Math.abs(x) !== Infinity && Math.abs(y) !== Infinity;
    const gx = ok ? (x - cx) / sx : OFF_SCREEN;
    const gy = ok ? (y - cy) / sy : OFF_SCREEN;
    const p = pts[i];
    if (p) {
      p[0] = gx;
      p[1] = gy;
      p[2] = z[i];
      p[3] = w ? w[i] : 0;
    } else {
      pts[i] = [gx, gy, z[i], w ? w[i] : 0];
    }
  }
  return pts;
}

/** [xmin, xmax, ymin, ymax] over the finite rows, or null when there is none. */
export function finiteBounds(xy: Float32Array, n: number): Bounds | null {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    if (!(Number.isFinite(x) && Number.isFinite(y))) continue;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return x0 <= x1 ? [x0, x1, y0, y1] : null;
}

/**
 * The camera (target and distance, regl-scatterplot's: at distance d the view shows y in [ty - d, ty + d] and
 * x in [tx - d a, tx + d a] for a canvas of aspect a = width / height) that shows GL bounds with a margin.
 */
export function fitCamera(glBounds: Bounds, canvasAspect: number, margin = 1.08): { target: [number, number]; distance: number } {
  const [x0, x1, y0, y1] = glBounds;
  const a = Number.isFinite(canvasAspect) && canvasAspect > 0 ? canvasAspect : 1;
  const half = Math.max((y1 - y0) / 2, (x1 - x0) / (2 * a), 1e-6);
  return { target: [(x0 + x1) / 2, (y0 + y1) / 2], distance: half * margin };
}

// ---- colours ----------------------------------------------------------------------------------------------

/** Entry of LUT index k (matplotlib's Normalize then floor(t * 256) clipped to 255); NaN/Inf -> 256 (bad). */
export function scoreIndex(v: number, vmin: number, vmax: number): number {
  if (!Number.isFinite(v)) return 256;
  const span = vmax - vmin;
  if (!(span !== 0 && Number.isFinite(span))) return 0;
  const k = Math.floor(((v - vmin) / span) * 256);
  return k < 0 ? 0 : k > 255 ? 255 : k;
}

export type ColorMode = "label" | "score" | "none";

/**
 * The colour channel: the class code (a missing label, code -1 or past the classes, gets the extra grey entry
 * `nClasses`), the LUT entry of the score, or 0 for one colour.
 */
export function colorChannel(
  mode: ColorMode,
  n: number,
  codes: Int32Array | null,
  nClasses: number,
  scores: Float32Array | null,
  limits: readonly [number, number] | null,
  out: Float32Array = new Float32Array(n),
): Float32Array {
  if (mode === "label" && codes) {
    for (let i = 0; i < n; i++) {
      const c = codes[i];
      out[i] = c >= 0 && c < nClasses ? c : nClasses;
    }
  } else if (mode === "score" && scores && limits) {
    const [lo, hi] = limits;
    for (let i = 0; i < n; i++) out[i] = scoreIndex(scores[i], lo, hi);
  } else {
    out.fill(0, 0, n);
  }
  return out;
}

export type Rgba = [number, number, number, number];

/** "#rrggbb" (or "#rgb") as RGBA in [0, 1]; null for anything else. */
export function hexColor(hex: string, alpha = 1): Rgba | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return null;
  const h = m[1].length === 3 ? m[1].replace(/./g, (c) => c + c) : m[1];
  return [parseInt(h.slice(0, 2), 16) / 255, parseInt(h.slice(2, 4), 16) / 255, parseInt(h.slice(4, 6), 16) / 255, alpha];
}

/** The colour of rows without a label / without a score, and of one-colour plots. */
export const MISSING: Rgba = [0.6, 0.6, 0.6, 1];
export const SINGLE: Rgba = [0.12, 0.47, 0.71, 1]; // tab10's first colour

/** The colour table regl-scatterplot indexes with the colour channel (matches `colorChannel`). */
export function colorTable(mode: ColorMode, palette: readonly string[], lut: Lut | null): Rgba[] {
  if (mode === "label") return [...palette.map((p) => hexColor(p) ?? MISSING), MISSING];
  if (mode === "score" && lut) {
    const s = lutStride(lut);
    const out: Rgba[] = [];
    for (let k = 0; k < 256; k++) {
      out.push([lut[s * k] / 255, lut[s * k + 1] / 255, lut[s * k + 2] / 255, s === 4 ? lut[s * k + 3] / 255 : 1]);
    }
    out.push(MISSING);
    return out;
  }
  return [SINGLE];
}

// ---- the legend -------------------------------------------------------------------------------------------

/** Rows per class (code c at index c; rows with no class are not counted). */
export function classCounts(codes: Int32Array | null, n: number, nClasses: number): number[] {
  const counts = new Array<number>(nClasses).fill(0);
  if (!codes) return counts;
  for (let i = 0; i < n; i++) {
    const c = codes[i];
    if (c >= 0 && c < nClasses) counts[c] += 1;
  }
  return counts;
}

/** The hidden classes after a click on class `code`: shown -> hidden, hidden -> shown (sorted). */
export function toggleClass(hidden: readonly number[], code: number): number[] {
  const set = new Set(hidden);
  if (set.has(code)) set.delete(code);
  else set.add(code);
  return [...set].sort((a, b) => a - b);
}

/**
 * The rows still drawn when `hidden` classes are hidden, ascending; null when nothing is hidden (draw all).
 * Rows without a class stay visible.
 */
export function visibleRows(codes: Int32Array | null, n: number, hidden: readonly number[]): Int32Array | null {
  if (!codes || hidden.length === 0) return null;
  const off = new Set(hidden);
  const out = new Int32Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) if (!off.has(codes[i])) out[k++] = i;
  return out.slice(0, k);
}

// ---- sizes ------------------------------------------------------------------------------------------------

/** Distinct point sizes a plot uses for per-row sizes (regl-scatterplot reads sizes from a table). */
export const SIZE_BINS = 16;
const SMALLEST = 0.6;
const LARGEST = 2.4;
/** The bin whose factor is closest to 1 (the base size): rows without a usable weight. */
const BASE_BIN = Math.round(((1 - SMALLEST) / (LARGEST - SMALLEST)) * (SIZE_BINS - 1));

/**
 * Per-row sizes (weights) as bins of a size table: the point's AREA grows with the weight (diameter with its
 * square root), from 0.6x to 2.4x the base size between the smallest and largest finite weight. Non-finite or
 * negative weights get the smallest bin. Returns the bin of each row and the diameter factor of each bin.
 */
export function sizeBins(sizes: Float32Array | null, n: number): { bins: Float32Array; factors: number[] } {
  const factors = Array.from({ length: SIZE_BINS }, (_, k) => SMALLEST + ((LARGEST - SMALLEST) * k) / (SIZE_BINS - 1));
  const bins = new Float32Array(n);
  if (!sizes) {
    bins.fill(BASE_BIN);
    return { bins, factors };
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = sizes[i];
    if (Number.isFinite(v) && v >= 0) {
      const r = Math.sqrt(v);
      if (r < lo) lo = r;
      if (r > hi) hi = r;
    }
  }
  for (let i = 0; i < n; i++) {
    const v = sizes[i];
    if (!(Number.isFinite(v) && v >= 0) || !(hi > lo)) {
      bins[i] = hi > lo ? 0 : BASE_BIN;
      continue;
    }
    bins[i] = Math.round(((Math.sqrt(v) - lo) / (hi - lo)) * (SIZE_BINS - 1));
  }
  return { bins, factors };
}

// ---- the selection trait ------------------------------------------------------------------------------------

/** Row indices from the `selection` trait (int32 little-endian bytes; a DataView from the kernel). */
export function indicesFromBytes(value: unknown): Int32Array {
  let bytes: Uint8Array | null = null;
  if (value instanceof Uint8Array) bytes = value;
  else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  if (!bytes) return new Int32Array(0);
  const n = Math.floor(bytes.byteLength / 4);
  return new Int32Array(bytes.slice(0, n * 4).buffer);
}

/** Row indices as the bytes the `selection` trait carries (sorted, unique). */
export function indicesToBytes(rows: Int32Array): ArrayBuffer {
  const copy = new Int32Array(rows.length);
  copy.set(rows);
  return copy.buffer;
}

/** Whether two sorted index lists are the same. */
export function sameRows(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- axis scales ------------------------------------------------------------------------------------------

/** The part of a d3 linear scale regl-scatterplot uses: it sets `range` to the canvas and `domain` to the
 *  data range in view after every camera change (the axes read it back). */
export interface LinearScale {
  (v: number): number;
  domain(): number[];
  domain(d: readonly number[]): LinearScale;
  range(): number[];
  range(r: readonly number[]): LinearScale;
  invert(px: number): number;
  copy(): LinearScale;
}

export function linearScale(d0: number, d1: number, r0 = 0, r1 = 1): LinearScale {
  let dom = [d0, d1];
  let rng = [r0, r1];
  const scale = ((v: number) => rng[0] + ((v - dom[0]) / (dom[1] - dom[0] || 1)) * (rng[1] - rng[0])) as LinearScale;
  scale.domain = ((d?: readonly number[]) => {
    if (d === undefined) return dom.slice();
    dom = [Number(d[0]), Number(d[1])];
    return scale;
  }) as LinearScale["domain"];
  scale.range = ((r?: readonly number[]) => {
    if (r === undefined) return rng.slice();
    rng = [Number(r[0]), Number(r[1])];
    return scale;
  }) as LinearScale["range"];
  scale.invert = (px: number) => dom[0] + ((px - rng[0]) / (rng[1] - rng[0] || 1)) * (dom[1] - dom[0]);
  scale.copy = () => linearScale(dom[0], dom[1], rng[0], rng[1]);
  return scale;
}
