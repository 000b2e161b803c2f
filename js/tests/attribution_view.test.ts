import { describe, expect, it } from "vitest";
import { getColormap } from "../lib/colormaps";
import { clipScale, colourOf, paintOverlay, signed } from "../attribution_view";

describe("sign modes (Captum's convention)", () => {
  it("keeps the part of the attribution each mode shows", () => {
    expect([signed(2, "all"), signed(-2, "all")]).toEqual([2, -2]);
    expect([signed(2, "positive"), signed(-2, "positive")]).toEqual([2, 0]);
    expect([signed(2, "negative"), signed(-2, "negative")]).toEqual([0, 2]);
    expect([signed(2, "absolute_value"), signed(-3, "absolute_value")]).toEqual([2, 3]);
  });
});

describe("clipScale", () => {
  const v = Float32Array.from([-4, -1, 0, 1, 2, 3, 100]);
  it("is the q-th percentile of the shown magnitudes (outliers clipped)", () => {
    expect(clipScale(v, "all", 100)).toBe(100);
    expect(clipScale(v, "positive", 100)).toBe(100);
    expect(clipScale(v, "negative", 100)).toBe(4);
    // |v| > 0 sorted: 1 1 2 3 4 100; the 50th percentile sits between 2 and 3
    expect(clipScale(v, "absolute_value", 50)).toBeCloseTo(2.5);
  });
  it("is 0 when nothing is shown", () => {
    expect(clipScale(Float32Array.from([-1, -2]), "positive", 99)).toBe(0);
  });
});

describe("colourOf", () => {
  it("centres a diverging map on 0 for 'all' and saturates beyond the scale", () => {
    expect(colourOf(0, "all", 2, true)).toEqual([0.5, 0]);
    expect(colourOf(2, "all", 2, true)).toEqual([1, 1]);
    expect(colourOf(-10, "all", 2, true)).toEqual([0, 1]);
    expect(colourOf(-1, "negative", 2, true)).toEqual([0.25, 0.5]);
    expect(colourOf(1, "positive", 2, false)).toEqual([0.5, 0.5]);
  });
});

describe("paintOverlay", () => {
  it("leaves the background where nothing is shown and changes with the sign mode", () => {
    const values = Float32Array.from([1, -1, 0, 0.5]);
    const bg = Uint8Array.from([10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30]);
    const lut = getColormap("RdBu_r");
    const all = new Uint8ClampedArray(16);
    const pos = new Uint8ClampedArray(16);
    const sumAll = paintOverlay(values, bg, lut, true, "all", 1, 100, all);
    const sumPos = paintOverlay(values, bg, lut, true, "positive", 1, 100, pos);
    expect(Array.from(pos.slice(4, 7))).toEqual([10, 20, 30]); // a negative pixel in positive mode: bare input
    expect(Array.from(all.slice(8, 11))).toEqual([10, 20, 30]); // a zero pixel: bare input
    expect(Array.from(all.slice(4, 7))).not.toEqual([10, 20, 30]);
    expect(sumAll).not.toBe(sumPos);
    expect(all[3]).toBe(255);
  });
});
