import { describe, expect, it } from "vitest";
import { colorize, getColormap } from "../lib/colormaps";
import {
  MISSING,
  OFF_SCREEN,
  SIZE_BINS,
  classCounts,
  colorChannel,
  colorTable,
  finiteBounds,
  fitCamera,
  glPoints,
  hexColor,
  indicesFromBytes,
  indicesToBytes,
  linearScale,
  normalization,
  sameRows,
  scoreIndex,
  sizeBins,
  toggleClass,
  visibleRows,
} from "../lib/points";

const arr = (a: ArrayLike<number>) => Array.from(a);

describe("data -> GL coordinates", () => {
  it("'equal' uses one scale: the longer side spans [-1, 1] and shapes keep their proportions", () => {
    const n = normalization([0, 10, 0, 2], "equal");
    expect(n).toEqual({ cx: 5, cy: 1, sx: 5, sy: 5 });
    const pts = glPoints(Float32Array.from([0, 0, 10, 2]), 2, n, [0, 0], null);
    expect(pts[0].slice(0, 2)).toEqual([-1, -0.2]);
    expect(pts[1].slice(0, 2)).toEqual([1, 0.2]);
  });
  it("'auto' scales each axis to [-1, 1]; a flat axis or no data does not divide by 0", () => {
    expect(normalization([0, 10, 0, 2], "auto")).toEqual({ cx: 5, cy: 1, sx: 5, sy: 1 });
    expect(normalization([3, 3, 1, 1], "equal")).toEqual({ cx: 3, cy: 1, sx: 1, sy: 1 });
    expect(normalization(null, "equal")).toEqual({ cx: 0, cy: 0, sx: 1, sy: 1 });
  });
  it("rows without coordinates yet (NaN) go off screen; the point arrays are reused in place", () => {
    const xy = Float32Array.from([1, 2, NaN, 0, 3, Infinity]);
    const norm = { cx: 0, cy: 0, sx: 1, sy: 1 };
    const a = glPoints(xy, 3, norm, [4, 5, 6], [7, 8, 9]);
    expect(a[0]).toEqual([1, 2, 4, 7]);
    expect(a[1]).toEqual([OFF_SCREEN, OFF_SCREEN, 5, 8]);
    expect(a[2][0]).toBe(OFF_SCREEN);
    const first = a[0];
    const b = glPoints(Float32Array.from([9, 9, 1, 1, 2, 2]), 3, norm, [0, 0, 0], null, a);
    expect(b).toBe(a);
    expect(b[0]).toBe(first);
    expect(b[0]).toEqual([9, 9, 0, 0]);
  });
  it("finite bounds skip NaN rows", () => {
    expect(finiteBounds(Float32Array.from([1, 5, NaN, NaN, -2, 3]), 3)).toEqual([-2, 1, 3, 5]);
    expect(finiteBounds(Float32Array.from([NaN, NaN]), 1)).toBeNull();
  });
  it("the camera shows the data with a margin on a canvas of any aspect", () => {
    // wide data on a square canvas: the x extent decides
    expect(fitCamera([-2, 2, -0.5, 0.5], 1, 1)).toEqual({ target: [0, 0], distance: 2 });
    // the same data on a 2:1 canvas: x needs distance 1, y 0.5
    expect(fitCamera([-2, 2, -0.5, 0.5], 2, 1)).toEqual({ target: [0, 0], distance: 1 });
    const c = fitCamera([1, 3, 4, 8], 1.5);
    expect(c.target).toEqual([2, 6]);
    expect(c.distance).toBeCloseTo(2 * 1.08, 12);
  });
  it("the axis scale maps its domain onto its range and back", () => {
    const s = linearScale(-3, 5);
    expect(s.domain()).toEqual([-3, 5]);
    s.range([0, 400]);
    expect(s(1)).toBe(200);
    expect(s.invert(300)).toBe(3);
    s.domain([0, 1]);
    expect(s.copy().domain()).toEqual([0, 1]);
  });
});

describe("colours", () => {
  it("a score gets the LUT entry matplotlib's Normalize + colormap gives it (the kit's colorize)", () => {
    const lut = getColormap("magma");
    const values = [-1, 0, 0.1, 0.5, 0.999, 1, 2, NaN, Infinity, 0.3333];
    const out = new Uint8ClampedArray(4 * values.length);
    colorize(Float32Array.from(values), lut, 0, 1, out);
    const table = colorTable("score", [], lut);
    expect(table.length).toBe(257);
    values.forEach((v, i) => {
      const k = scoreIndex(v, 0, 1);
      if (!Number.isFinite(v)) {
        expect(k).toBe(256);
        expect(table[k]).toEqual(MISSING);
        return;
      }
      expect(table[k].map((c) => Math.round(c * 255))).toEqual(Array.from(out.subarray(4 * i, 4 * i + 4)));
    });
    expect(scoreIndex(5, 2, 2)).toBe(0); // vmin == vmax: entry 0, as matplotlib
    expect(scoreIndex(0, 1, 0)).toBe(255); // vmin > vmax: reversed
  });
  it("by label: the class code picks its palette colour; no label gets the extra grey entry", () => {
    const codes = Int32Array.from([0, 2, -1, 1, 7]);
    expect(arr(colorChannel("label", 5, codes, 3, null, null))).toEqual([0, 2, 3, 1, 3]);
    const table = colorTable("label", ["#ff0000", "#00ff00", "#0000ff"], null);
    expect(table).toEqual([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1], MISSING]);
    expect(arr(colorChannel("none", 3, codes, 3, null, null))).toEqual([0, 0, 0]);
    expect(colorTable("none", [], null).length).toBe(1);
    expect(arr(colorChannel("score", 3, null, 0, Float32Array.from([0, 1, NaN]), [0, 1]))).toEqual([0, 255, 256]);
  });
  it("reads #rgb and #rrggbb", () => {
    expect(hexColor("#f80")).toEqual([1, 136 / 255, 0, 1]);
    expect(hexColor("#1f77b4")).toEqual([31 / 255, 119 / 255, 180 / 255, 1]);
    expect(hexColor("red")).toBeNull();
  });
});

describe("the legend", () => {
  it("counts rows per class (rows without a class are not counted)", () => {
    expect(classCounts(Int32Array.from([0, 1, 1, -1, 2, 1]), 6, 3)).toEqual([1, 3, 1]);
    expect(classCounts(null, 4, 2)).toEqual([0, 0]);
  });
  it("a click hides a shown class and shows a hidden one", () => {
    expect(toggleClass([], 2)).toEqual([2]);
    expect(toggleClass([0, 2], 2)).toEqual([0]);
    expect(toggleClass([3, 0], 1)).toEqual([0, 1, 3]);
  });
  it("hidden classes drop their rows from the drawing; rows without a class stay", () => {
    const codes = Int32Array.from([0, 1, -1, 1, 2]);
    expect(visibleRows(codes, 5, [])).toBeNull();
    expect(arr(visibleRows(codes, 5, [1])!)).toEqual([0, 2, 4]);
    expect(arr(visibleRows(codes, 5, [0, 1, 2])!)).toEqual([2]);
    expect(visibleRows(null, 5, [1])).toBeNull();
  });
});

describe("sizes and the selection trait", () => {
  it("a larger weight never gets a smaller point; the area follows the weight", () => {
    const w = Float32Array.from([0, 1, 4, 9, 16, NaN, -1]);
    const { bins, factors } = sizeBins(w, 7);
    expect(factors.length).toBe(SIZE_BINS);
    expect(arr(bins.subarray(0, 5))).toEqual([0, 4, 8, 11, 15]); // diameter ~ sqrt(weight): 0, .25, .5, .75, 1
    expect(bins[5]).toBe(0);
    expect(bins[6]).toBe(0);
    for (let k = 1; k < SIZE_BINS; k++) expect(factors[k]).toBeGreaterThan(factors[k - 1]);
    // equal weights: every point at the base size
    const same = sizeBins(Float32Array.from([2, 2]), 2);
    expect(same.factors[same.bins[0]]).toBeCloseTo(1, 1);
  });
  it("row indices travel as int32 little-endian bytes", () => {
    const rows = Int32Array.from([0, 5, 1_000_000]);
    const buf = indicesToBytes(rows);
    expect(buf.byteLength).toBe(12);
    expect(new DataView(buf).getInt32(8, true)).toBe(1_000_000);
    expect(arr(indicesFromBytes(new DataView(buf)))).toEqual([0, 5, 1_000_000]);
    const shifted = new Uint8Array(13);
    shifted.set(new Uint8Array(buf), 1);
    expect(arr(indicesFromBytes(new DataView(shifted.buffer, 1, 12)))).toEqual([0, 5, 1_000_000]);
    expect(arr(indicesFromBytes(null))).toEqual([]);
    expect(sameRows([1, 2], Int32Array.from([1, 2]))).toBe(true);
    expect(sameRows([1, 2], [1])).toBe(false);
  });
});
