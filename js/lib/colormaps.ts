// Colormaps: matplotlib's lookup tables (copied by scripts/gen_colormaps.py) and matplotlib's mapping rule.

import { COLORMAP_HEX } from "./colormap_data";

/** The colormaps the `cmap` trait accepts. Keep in step with scripts/gen_colormaps.py. */
export const COLORMAP_NAMES = ["viridis", "magma", "gray", "RdBu_r", "coolwarm"] as const;
export type ColormapName = (typeof COLORMAP_NAMES)[number];

/** Maps meant for data centred on a value (usually 0). */
const DIVERGING: ReadonlySet<string> = new Set(["RdBu_r", "coolwarm"]);

/**
 * 256 entries, RGB (768 bytes: entry i is lut[3i], lut[3i+1], lut[3i+2]) or RGBA (1024 bytes, a colour map
 * with transparency, e.g. sampled by Python from a matplotlib Colormap with alpha).
 */
export type Lut = Uint8Array;

/** Bytes per entry of a LUT: 3 (RGB) or 4 (RGBA). */
export function lutStride(lut: Lut): 3 | 4 {
  return lut.length >= 1024 ? 4 : 3;
}

export type RGBA = readonly [number, number, number, number];

const cache = new Map<string, Lut>();

export function isColormapName(name: unknown): name is ColormapName {
  return typeof name === "string" && (COLORMAP_NAMES as readonly string[]).includes(name);
}

/** The LUT of a colormap. Throws, listing the valid names, for an unknown one. */
export function getColormap(name: string): Lut {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const hex = isColormapName(name) ? COLORMAP_HEX[name] : undefined;
  if (hex === undefined) {
    throw new Error(`unknown colormap ${JSON.stringify(name)}; valid names: ${COLORMAP_NAMES.join(", ")}`);
  }
  const lut = new Uint8Array(768);
  for (let i = 0; i < 768; i++) lut[i] = parseInt(hex.substr(2 * i, 2), 16);
  cache.set(name, lut);
  return lut;
}

export function isDiverging(name: string): boolean {
  return DIVERGING.has(name);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const packed = new WeakMap<Lut, Uint32Array>();

/** The LUT as opaque RGBA words (little-endian), cached per LUT. */
function packedLut(lut: Lut): Uint32Array {
  let p = packed.get(lut);
  if (p === undefined) {
    p = new Uint32Array(256);
    const s = lutStride(lut);
    for (let i = 0; i < 256; i++) {
      const a = s === 4 ? lut[4 * i + 3] : 255;
      p[i] = (lut[s * i] | (lut[s * i + 1] << 8) | (lut[s * i + 2] << 16) | (a << 24)) >>> 0;
    }
    packed.set(lut, p);
  }
  return p;
}

/**
 * Colour `values` into `out` (RGBA, 4 bytes per value) the way matplotlib does with Normalize(vmin, vmax):
 * t = (v - vmin) / (vmax - vmin) clipped to [0, 1], entry min(255, floor(t * 256)). NaN and ±Inf get `bad`.
 * vmin == vmax maps every finite value to entry 0 (matplotlib's rule). vmin > vmax reverses the map.
 */
export function colorize(
  values: ArrayLike<number>,
  lut: Lut,
  vmin: number,
  vmax: number,
  out: Uint8ClampedArray | Uint8Array,
  bad: RGBA = [0, 0, 0, 0],
): void {
  const n = values.length;
  if (out.length < 4 * n) throw new Error(`colorize: out has ${out.length} bytes, needs ${4 * n}`);
  if (lut.length < 768) throw new Error(`colorize: lut has ${lut.length} bytes, needs 768`);
  const span = vmax - vmin;
  const flat = !(span !== 0 && Number.isFinite(span));
  if (LITTLE_ENDIAN && out.byteOffset % 4 === 0) {
    // One 32-bit store per value: RGBA packed little-endian.
    const px = new Uint32Array(out.buffer, out.byteOffset, n);
    const lut32 = packedLut(lut);
    const bad32 = ((bad[0] & 255) | ((bad[1] & 255) << 8) | ((bad[2] & 255) << 16) | ((bad[3] & 255) << 24)) >>> 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        px[i] = bad32;
        continue;
      }
      let k = flat ? 0 : Math.floor(((v - vmin) / span) * 256);
      if (k < 0) k = 0;
      else if (k > 255) k = 255;
      px[i] = lut32[k];
    }
    return;
  }
  const [br, bg, bb, ba] = bad;
  const st = lutStride(lut);
  for (let i = 0, o = 0; i < n; i++, o += 4) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[o] = br;
      out[o + 1] = bg;
      out[o + 2] = bb;
      out[o + 3] = ba;
      continue;
    }
    let k = flat ? 0 : Math.floor(((v - vmin) / span) * 256);
    if (k < 0) k = 0;
    else if (k > 255) k = 255;
    const l = st * k;
    out[o] = lut[l];
    out[o + 1] = lut[l + 1];
    out[o + 2] = lut[l + 2];
    out[o + 3] = st === 4 ? lut[l + 3] : 255;
  }
}

/** [min, max] over the finite values, or null when there is none. */
export function finiteRange(values: ArrayLike<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < lo && v > -Infinity) lo = v;
    if (v > hi && v < Infinity) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** A CSS colour for LUT entry `i`. */
export function lutColor(lut: Lut, i: number): string {
  const s = lutStride(lut);
  const k = s * Math.max(0, Math.min(255, Math.floor(i)));
  return s === 4 && lut[k + 3] !== 255
    ? `rgba(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]}, ${(lut[k + 3] / 255).toFixed(3)})`
    : `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
}

/** RGB of the LUT entry for position t in [0, 1] (matplotlib's rule: entry min(255, floor(t * 256))). */
export function lutAt(lut: Lut, t: number): [number, number, number] {
  const s = lutStride(lut);
  const k = s * Math.max(0, Math.min(255, Math.floor((Number.isFinite(t) ? t : 0) * 256)));
  return [lut[k], lut[k + 1], lut[k + 2]];
}

// ---- LUTs sent by Python -----------------------------------------------------------------------------------

/**
 * A LUT from bytes Python sent (a `bytes` trait arrives as a DataView): 256 x 3 or 256 x 4 uint8, C order.
 * Returns null (and the caller falls back to a built-in table) for anything else.
 */
export function lutFromBytes(data: unknown): Lut | null {
  let bytes: Uint8Array | null = null;
  if (data instanceof Uint8Array) bytes = data;
  else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  if (bytes === null || (bytes.length !== 768 && bytes.length !== 1024)) return null;
  return new Uint8Array(bytes); // a copy: the DataView's buffer belongs to the message
}

/**
 * The `cmap_lut` trait (optional): either `{"name": str, "lut": bytes}` — the table of colour map `name` — or
 * bare bytes, taken to be the table of whatever `cmap` is. Returns the name it belongs to (null = any) and the
 * table, or null when the trait is absent or malformed.
 */
export function parseLutTrait(value: unknown): { name: string | null; lut: Lut } | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "object" && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer)) {
    const v = value as { name?: unknown; lut?: unknown };
    const lut = lutFromBytes(v.lut);
    return lut ? { name: typeof v.name === "string" ? v.name : null, lut } : null;
  }
  const lut = lutFromBytes(value);
  return lut ? { name: null, lut } : null;
}

const warned = new Set<string>();

/**
 * The table to draw colour map `name` with: the LUT Python sent for it when there is one (any matplotlib map or
 * Colormap object), else the built-in table, else `fallback` (with one console warning per name).
 */
export function resolveLut(name: unknown, lutTrait: unknown, fallback: ColormapName = "viridis"): Lut {
  const sent = parseLutTrait(lutTrait);
  if (sent && (sent.name === null || sent.name === name)) return sent.lut;
  if (isColormapName(name)) return getColormap(name);
  const key = String(name);
  if (!warned.has(key)) {
    warned.add(key);
    console.warn(`fxwidgets: no table for colour map ${JSON.stringify(name)} (Python sends one in cmap_lut); drawing with ${fallback}`);
  }
  return getColormap(fallback);
}

/** Diverging by name (built-in) or by the name of a sent LUT (matplotlib's diverging family). */
const DIVERGING_FAMILY = /^(RdBu|RdGy|PuOr|PRGn|PiYG|BrBG|RdYlBu|RdYlGn|Spectral|coolwarm|bwr|seismic|berlin|managua|vanimo|icefire|vlag)(_r)?$/;
export function looksDiverging(name: unknown): boolean {
  return typeof name === "string" && (isDiverging(name) || DIVERGING_FAMILY.test(name));
}

// ---- colour limits ---------------------------------------------------------------------------------------

/**
 * The range the colours span, matplotlib's rules: a set vmin/vmax wins, a missing one is the data's finite
 * min/max. With a `center` (seaborn's `center=`, for diverging maps) the range is made symmetric around it:
 * [c - r, c + r] with r the larger distance from c to either limit, so c gets the map's middle colour.
 * null when neither the traits nor the data give a number.
 */
export function colorLimits(
  data: readonly [number, number] | null,
  vmin: unknown,
  vmax: unknown,
  center?: unknown,
): [number, number] | null {
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
  let lo = num(vmin) ?? data?.[0];
  let hi = num(vmax) ?? data?.[1];
  if (lo === undefined && hi === undefined) return null;
  lo = lo ?? (hi as number);
  hi = hi ?? (lo as number);
  const c = num(center);
  if (c !== undefined) {
    const r = Math.max(Math.abs(hi - c), Math.abs(c - lo));
    return r > 0 ? [c - r, c + r] : [c - 1, c + 1];
  }
  return [lo, hi];
}
