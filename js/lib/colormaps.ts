// Colormaps: matplotlib's lookup tables (copied by scripts/gen_colormaps.py) and matplotlib's mapping rule.

import { COLORMAP_HEX } from "./colormap_data";

/** The colormaps the `cmap` trait accepts. Keep in step with scripts/gen_colormaps.py. */
export const COLORMAP_NAMES = ["viridis", "magma", "gray", "RdBu_r", "coolwarm"] as const;
export type ColormapName = (typeof COLORMAP_NAMES)[number];

/** Maps meant for data centred on a value (usually 0). */
const DIVERGING: ReadonlySet<string> = new Set(["RdBu_r", "coolwarm"]);

/** 256 RGB entries, 768 bytes: entry i is lut[3i], lut[3i+1], lut[3i+2]. */
export type Lut = Uint8Array;

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
    for (let i = 0; i < 256; i++) {
      p[i] = (lut[3 * i] | (lut[3 * i + 1] << 8) | (lut[3 * i + 2] << 16) | (255 << 24)) >>> 0;
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
    const l = 3 * k;
    out[o] = lut[l];
    out[o + 1] = lut[l + 1];
    out[o + 2] = lut[l + 2];
    out[o + 3] = 255;
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
  const k = 3 * Math.max(0, Math.min(255, Math.floor(i)));
  return `rgb(${lut[k]}, ${lut[k + 1]}, ${lut[k + 2]})`;
}
