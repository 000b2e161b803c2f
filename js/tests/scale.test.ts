import { describe, expect, it } from "vitest";
import { axisLayout, labelGroups, labelRuns, logTicks, type AxisOptions, type Tick } from "../lib/scale";
import { colorBarTicks } from "../lib/axis";
import { matrixAxis } from "../affinity_heatmap";

const measure = (s: string) => 7 * s.length; // 7 px per character
const X: AxisOptions = { measure, lineHeight: 14, orientation: "x" };
const Y: AxisOptions = { measure, lineHeight: 14, orientation: "y" };

/**
 * No two labels overlap along the axis (x: by measured width, y: by line height), with `gap` px between, where
 * they are drawn: centred on the tick, but kept inside [0, length] (axis.ts pushes the end labels inwards).
 */
function noCollisions(ticks: Tick[], size: (t: Tick) => number, gap = 0, length = Infinity): boolean {
  const at = (t: Tick) => Math.min(Math.max(t.pos, size(t) / 2), length - size(t) / 2);
  for (let i = 1; i < ticks.length; i++) {
    if (at(ticks[i]) - size(ticks[i]) / 2 < at(ticks[i - 1]) + size(ticks[i - 1]) / 2 + gap - 1e-9) return false;
  }
  return true;
}

describe("label runs and groups", () => {
  it("finds the runs of equal neighbours", () => {
    expect(labelRuns(["a", "a", "b", "a"])).toEqual([
      { label: "a", start: 0, end: 2 },
      { label: "b", start: 2, end: 3 },
      { label: "a", start: 3, end: 4 },
    ]);
  });
  it("calls sorted class labels groups, and a list of names or unsorted labels not", () => {
    const sorted = [..."aaaabbbbbcc"];
    expect(labelGroups(sorted)?.map((g) => [g.label, g.start, g.end])).toEqual([["a", 0, 4], ["b", 4, 9], ["c", 9, 11]]);
    expect(labelGroups(["x", "y", "z", "w"])).toBeNull(); // every label its own run: names, not classes
    expect(labelGroups([..."aabbaa"])).toBeNull(); // "a" in two places: not sorted by label
    expect(labelGroups(["only"])).toBeNull();
    expect(labelGroups(Array.from({ length: 200 }, (_, i) => String(Math.floor(i / 2))))).toBeNull(); // 100 groups > 64
  });
});

describe("axisLayout", () => {
  it("linear: nice ticks over the range, positions proportional, labels not colliding", () => {
    const L = axisLayout({ kind: "linear", lo: 0, hi: 1 }, 300, X);
    expect(L.ticks.map((t) => t.text)).toEqual(["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
    expect(L.ticks.map((t) => t.pos)).toEqual([0, 60, 120, 180, 240, 300]);
    // short axis: fewer ticks, still no collisions
    const S = axisLayout({ kind: "linear", lo: 0.8123, hi: 0.9987 }, 140, X);
    expect(S.ticks.length).toBeGreaterThanOrEqual(2);
    expect(noCollisions(S.ticks, (t) => measure(t.text), 6)).toBe(true);
    const rev = axisLayout({ kind: "linear", lo: 0, hi: 10, reverse: true }, 100, Y);
    expect(rev.ticks.find((t) => t.text === "0")?.pos).toBe(100); // a y axis pointing up
    expect(rev.ticks.find((t) => t.text === "10")?.pos).toBe(0);
  });
  it("index: integer ticks at cell centres, inside the visible window", () => {
    const L = axisLayout({ kind: "index", n: 10 }, 100, X);
    for (const t of L.ticks) {
      const i = Number(t.text);
      expect(Number.isInteger(i)).toBe(true);
      expect(t.pos).toBeCloseTo((i + 0.5) * 10, 9);
    }
    const W = axisLayout({ kind: "index", n: 20000, lo: 5000, hi: 5100 }, 400, X);
    expect(W.ticks.length).toBeGreaterThan(1);
    for (const t of W.ticks) {
      expect(Number(t.text)).toBeGreaterThanOrEqual(5000);
      expect(Number(t.text)).toBeLessThan(5100);
    }
    expect(noCollisions(W.ticks, (t) => measure(t.text), 6)).toBe(true);
  });
  it("grouped labels: one tick per class at the block's centre and a boundary between blocks", () => {
    const labels = [...Array(30).fill("cat"), ...Array(20).fill("dog"), ...Array(10).fill("emu")];
    const L = axisLayout({ kind: "labels", labels }, 600, Y);
    expect(L.ticks.map((t) => [t.text, t.pos])).toEqual([["cat", 150], ["dog", 400], ["emu", 550]]);
    expect(L.boundaries).toEqual([300, 500]);
    // a block too small for its label drops the label, keeps the boundary
    const tiny = axisLayout({ kind: "labels", labels: [...Array(58).fill("big"), "s", "s"] }, 120, Y);
    expect(tiny.ticks.map((t) => t.text)).toEqual(["big"]);
    expect(tiny.boundaries).toEqual([116]);
  });
  it("plain labels: every k-th, k the smallest stride without collisions; long ones shortened", () => {
    const names = Array.from({ length: 40 }, (_, i) => `feature_${i}`);
    const L = axisLayout({ kind: "labels", labels: names }, 400, Y);
    const k = Number(L.ticks[1].text.split("_")[1]) - Number(L.ticks[0].text.split("_")[1]);
    // 10 px per row, 14 px per line + 6 px gap: every 2nd would do in the middle, but the first label is pushed
    // 2 px down to stay inside the axis, so every 3rd
    expect(k).toBe(3);
    expect(noCollisions(L.ticks, () => 14, 6, 400)).toBe(true);
    const every = axisLayout({ kind: "labels", labels: ["a", "b", "c"] }, 300, X);
    expect(every.ticks.map((t) => t.text)).toEqual(["a", "b", "c"]);
    const long = axisLayout({ kind: "labels", labels: ["a".repeat(40), "b"] }, 600, X);
    expect(long.ticks[0].text).toHaveLength(24);
    expect(long.ticks[0].full).toBe("a".repeat(40));
  });
  it("x axis with long names turns labels vertical instead of dropping most of them", () => {
    const layers = ["layer1.0.conv1", "layer1.0.conv2", "layer2.0.conv1", "layer2.0.conv2", "fc"];
    const L = axisLayout({ kind: "labels", labels: layers }, 150, X); // 30 px per column, names ~100 px wide
    expect(L.rotate).toBe(true);
    expect(L.ticks).toHaveLength(5);
  });
  it("heatmap axes: labels when there is one per row (padded to the display grid), else indices", () => {
    const spec = matrixAxis(["a", "a", "b", "b", "b"], 5, 3, 2); // 5 rows in 3 display cells of 2
    expect(spec).toEqual({ kind: "labels", labels: ["a", "a", "b", "b", "b", "b"] });
    expect(matrixAxis([], 5, 3, 2)).toEqual({ kind: "index", n: 5, lo: 0, hi: 6 });
    expect(matrixAxis(["a"], 5, 5, 1)).toEqual({ kind: "index", n: 5, lo: 0, hi: 5 });
  });
});

describe("log ticks", () => {
  it("are 1, 2, 5 x 10^k inside the range", () => {
    expect(logTicks(1, 100, 10)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(logTicks(1, 1000, 4)).toEqual([1, 10, 100, 1000]);
    expect(logTicks(3, 40, 10)).toEqual([5, 10, 20]);
    expect(logTicks(0, 10)).toEqual([]);
  });
});

describe("colour bar ticks", () => {
  it("are formatted alike and never collide, at any length", () => {
    for (const len of [60, 120, 240, 640]) {
      const ticks = colorBarTicks(-3.651807, 3.651807, len, measure);
      expect(ticks.length).toBeGreaterThanOrEqual(len >= 120 ? 3 : 1);
      expect(ticks).toContain("0");
      const decimals = new Set(ticks.map((t) => (t.split(".")[1] ?? "").length));
      expect(decimals.size).toBe(1);
      const L = axisLayout({ kind: "linear", lo: -3.651807, hi: 3.651807 }, len, X);
      expect(noCollisions(L.ticks, (t) => measure(t.text), 6)).toBe(true);
    }
    expect(colorBarTicks(0.8, 1, 300, measure)).toContain("0.90");
    // the last label is pushed inside the bar: it must not run into its neighbour ("0.981.00" was seen)
    for (const len of [200, 273, 350, 433]) {
      const L = axisLayout({ kind: "linear", lo: 0.8104, hi: 1 }, len, X);
      expect(noCollisions(L.ticks, (t) => measure(t.text), 6, len)).toBe(true);
    }
  });
});

describe("groups axis (a zoomed, ordered matrix)", () => {
  it("names the visible part of each block at its centre, with boundaries inside the window", () => {
    const spec = { kind: "groups" as const, n: 300, starts: [100, 200], names: ["a", "b", "c"] };
    const whole = axisLayout(spec, 300, Y);
    expect(whole.ticks.map((t) => [t.text, t.pos])).toEqual([["a", 50], ["b", 150], ["c", 250]]);
    expect(whole.boundaries).toEqual([100, 200]);
    const zoomed = axisLayout({ ...spec, lo: 150, hi: 250 }, 200, Y); // rows 150..249 over 200 px
    expect(zoomed.ticks.map((t) => [t.text, t.pos])).toEqual([["b", 50], ["c", 150]]);
    expect(zoomed.boundaries).toEqual([100]);
  });
  it("falls back to row numbers when blocks have no names", () => {
    const L = axisLayout({ kind: "groups", n: 1000, starts: [500] }, 400, X);
    expect(L.boundaries).toEqual([200]);
    expect(L.ticks.every((t) => /^\d+$/.test(t.text))).toBe(true);
  });
});
