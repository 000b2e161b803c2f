// Signed maps over an image, the way Captum's visualisation draws attributions: a sign mode picks the part of
// the values shown, a percentile of |value| sets full colour (outliers saturate instead of washing the map out),
// and the map is blended over a grey-scale copy of the image with an opacity that grows with |value| — small
// values leave the image visible. Pure functions (tested in node).

import { lutAt, type Lut } from "./colormaps";

/** The value drawn for `v` in a sign mode (Captum's convention): the part of the attribution that is shown. */
export function signed(v: number, sign: string): number {
  switch (sign) {
    case "positive":
      return v > 0 ? v : 0;
    case "negative":
      return v < 0 ? -v : 0;
    case "absolute_value":
      return Math.abs(v);
    default:
      return v;
  }
}

/** The `q`-th percentile (0..100) of |values| after the sign mode: the scale that clips outliers. */
export function clipScale(values: ArrayLike<number>, sign: string, q: number): number {
  const a: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const s = Math.abs(signed(values[i], sign));
    if (Number.isFinite(s) && s > 0) a.push(s);
  }
  if (a.length === 0) return 0;
  a.sort((x, y) => x - y);
  const pos = (Math.max(0, Math.min(100, q)) / 100) * (a.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(a.length - 1, lo + 1);
  return a[lo] + (a[hi] - a[lo]) * (pos - lo);
}

/** Colour position in [0, 1] and overlay strength in [0, 1] for value `v`. */
export function colourOf(v: number, sign: string, scale: number, diverging: boolean): [number, number] {
  if (!(scale > 0) || !Number.isFinite(v)) return [0.5, 0];
  const s = signed(v, sign);
  let t = s / scale;
  if (t > 1) t = 1;
  if (t < -1) t = -1;
  const strength = Math.abs(t);
  if (sign === "all") return [diverging ? (t + 1) / 2 : strength, strength];
  if (!diverging) return [strength, strength];
  return sign === "negative" ? [0.5 - strength / 2, strength] : [0.5 + strength / 2, strength];
}

/** The grey level the input is shown at under a map: its luminance, lightened so that colours stay readable. */
export function underlayGrey(r: number, g: number, b: number): number {
  return Math.round(96 + 0.6 * (0.299 * r + 0.587 * g + 0.114 * b));
}

/**
 * Blend the map of `values` (H x W) over the grey-scale input `bg` (H x W x 3, or null: white) into RGBA `out`,
 * with opacity `opacity * strength` so that small values leave the input visible. Returns a checksum.
 */
export function paintOverlay(
  values: Float32Array,
  bg: Uint8Array | null,
  lut: Lut,
  diverging: boolean,
  sign: string,
  opacity: number,
  clip: number,
  out: Uint8ClampedArray,
): number {
  const scale = clipScale(values, sign, clip);
  let checksum = 0;
  for (let i = 0; i < values.length; i++) {
    const [pos, strength] = colourOf(values[i], sign, scale, diverging);
    const colour = lutAt(lut, pos);
    const a = opacity * strength;
    const grey = bg ? underlayGrey(bg[3 * i], bg[3 * i + 1], bg[3 * i + 2]) : 255;
    const o = 4 * i;
    for (let c = 0; c < 3; c++) {
      out[o + c] = Math.round(grey * (1 - a) + colour[c] * a);
      checksum += out[o + c];
    }
    out[o + 3] = 255;
  }
  return checksum;
}
