import { describe, expect, it } from "vitest";
import { kFromClick, kFromDrag, scoreAt } from "../feature_ranking";

describe("FeatureRanking gestures", () => {
  it("a click keeps the clicked bar and everything above it", () => {
    expect(kFromClick(0, 18, 10)).toBe(1);
    expect(kFromClick(17.9, 18, 10)).toBe(1);
    expect(kFromClick(18, 18, 10)).toBe(2);
    expect(kFromClick(5000, 18, 10)).toBe(10);
  });
  it("a drag puts the cut-off at the nearest gap between bars, never below 1", () => {
    expect(kFromDrag(0, 18, 10)).toBe(1);
    expect(kFromDrag(3 * 18 + 8, 18, 10)).toBe(3);
    expect(kFromDrag(3 * 18 + 10, 18, 10)).toBe(4);
    expect(kFromDrag(-50, 18, 10)).toBe(1);
    expect(kFromDrag(1e6, 18, 10)).toBe(10);
  });
});

describe("scoreAt", () => {
  it("reads the curve at the last evaluated k at or before k", () => {
    const ks = [1, 2, 4, 8];
    const s = [0.5, 0.6, 0.8, 0.9];
    expect(scoreAt(ks, s, 1)).toBe(0.5);
    expect(scoreAt(ks, s, 3)).toBe(0.6);
    expect(scoreAt(ks, s, 100)).toBe(0.9);
    expect(scoreAt(ks, s, 0)).toBeNull();
    expect(scoreAt([], [], 5)).toBeNull();
  });
});
