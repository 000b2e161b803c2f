import { describe, expect, it } from "vitest";
import { getColormap } from "../lib/colormaps";
import { clipScale, colourOf, paintOverlay, signed, underlayGrey } from "../lib/overlay";
import { emptyReason, metricShares } from "../attribution_view";

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
  it("shows the grey-scale input where nothing is shown and changes with the sign mode", () => {
    const values = Float32Array.from([1, -1, 0, 0.5]);
    const bg = Uint8Array.from([10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30]);
    const grey = underlayGrey(10, 20, 30); // 96 + 0.6 * (0.299*10 + 0.587*20 + 0.114*30) = 106.9 -> 107
    expect(grey).toBe(107);
    const lut = getColormap("RdBu_r");
    const all = new Uint8ClampedArray(16);
    const pos = new Uint8ClampedArray(16);
    const sumAll = paintOverlay(values, bg, lut, true, "all", 1, 100, all);
    const sumPos = paintOverlay(values, bg, lut, true, "positive", 1, 100, pos);
    expect(Array.from(pos.slice(4, 7))).toEqual([grey, grey, grey]); // a negative pixel in positive mode: bare input
    expect(Array.from(all.slice(8, 11))).toEqual([grey, grey, grey]); // a zero pixel: bare input
    // full strength at opacity 1: the map's colour, here the top of RdBu_r for the largest positive value
    expect(Array.from(all.slice(0, 3))).toEqual(Array.from(lut.slice(3 * 255, 3 * 256)));
    // half the scale: half-way between the grey and the map's colour at t = 0.75
    const k = 3 * Math.floor(0.75 * 256);
    for (let c = 0; c < 3; c++) expect(all[12 + c]).toBe(Math.round(grey * 0.5 + lut[k + c] * 0.5));
    expect(sumAll).not.toBe(sumPos);
    expect(all[3]).toBe(255);
  });
});

describe("emptyReason: a panel with nothing to show says why", () => {
  const done = { method: "grad_cam", title: "grad_cam", status: "done", progress: 1 };
  it("explains an all-zero Grad-CAM for the target", () => {
    const why = emptyReason(new Float32Array(16), done, "cat");
    expect(why).toMatch(/Grad-CAM is zero everywhere for target “cat”/);
  });
  it("is null when there is a value to draw, and names errors and pending work", () => {
    expect(emptyReason(Float32Array.from([0, 0, 1e-9]), done, "cat")).toBeNull();
    expect(emptyReason(Float32Array.from([NaN, 0]), { ...done, method: "saliency" }, "")).toBe("Every attribution is 0: nothing to show.");
    expect(emptyReason(null, { ...done, status: "running" }, "")).toBe("Computing…");
    expect(emptyReason(Float32Array.from([1]), { ...done, status: "error", error: "boom" }, "")).toMatch(/failed: boom/);
  });
});

describe("metrics strip", () => {
  it("bars are |value| over the largest |value| of the same metric among the panels", () => {
    const shares = metricShares([
      [{ name: "deletion", value: -2, higher_is_better: false }, { name: "complexity", value: 3, higher_is_better: false }],
      [{ name: "deletion", value: 1, higher_is_better: false }, { name: "complexity", value: null, higher_is_better: null }],
      [],
    ]);
    expect(shares[0].get("deletion")).toBe(1);
    expect(shares[1].get("deletion")).toBe(0.5);
    expect(shares[0].get("complexity")).toBe(1);
    expect(shares[1].get("complexity")).toBe(0); // no value: no bar
    expect(shares[2].size).toBe(0);
  });
});
