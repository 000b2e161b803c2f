import { describe, expect, it } from "vitest";
import { formatScore, kFromClick, kFromDrag } from "../feature_ranking";

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
  it("formats scores compactly", () => {
    expect(formatScore(0.123456)).toBe("0.123");
    expect(formatScore(123456)).toBe("1.23e+5");
    expect(formatScore(Number.NaN)).toBe("NaN");
  });
});
