import { describe, expect, it } from "vitest";
import { backingSize, fitMatrix, flowItems, sideBySide } from "../lib/sizing";

describe("fitMatrix", () => {
  it("never exceeds the width it is given (nothing clipped in a narrow column)", () => {
    for (const avail of [120, 300, 400, 517, 900, 1400]) {
      for (const [r, c] of [[5, 5], [60, 60], [3, 40], [1797, 1797], [64, 4096]]) {
        const b = fitMatrix(r, c, avail);
        expect(b.cssW).toBeLessThanOrEqual(Math.max(avail, 24));
        expect(b.cssH).toBeLessThanOrEqual(640);
      }
    }
  });
  it("keeps square cells when it can and caps the side", () => {
    expect(fitMatrix(100, 100, 1000)).toEqual({ cssW: 640, cssH: 640 });
    expect(fitMatrix(100, 100, 333)).toEqual({ cssW: 333, cssH: 333 });
    expect(fitMatrix(3, 5, 2000)).toEqual({ cssW: 640, cssH: 384 });
    expect(fitMatrix(64, 4096, 1000)).toEqual({ cssW: 640, cssH: 64 }); // a strip keeps a readable height
  });
});

describe("flowItems", () => {
  it("one row at natural size when it fits", () => {
    expect(flowItems(3, 250, 200, 900)).toEqual({ columns: 3, width: 250, height: 200 });
  });
  it("one row scaled down when the scale stays readable", () => {
    const f = flowItems(3, 250, 200, 700, 12);
    expect(f.columns).toBe(3);
    expect(3 * f.width + 2 * 12).toBeLessThanOrEqual(700);
    expect(f.width / 250).toBeCloseTo(f.height / 200, 1);
  });
  it("wraps into rows when one row would be too small, never wider than the room", () => {
    for (const avail of [300, 400, 520]) {
      const f = flowItems(4, 250, 200, avail, 12);
      expect(f.columns * f.width + (f.columns - 1) * 12).toBeLessThanOrEqual(avail);
      expect(f.columns).toBeLessThan(4);
      expect(f.width / 250).toBeGreaterThanOrEqual(0.6);
    }
    // 400 px: two per row at 78 % beat one per row at full size (the input beside its map)
    expect(flowItems(4, 250, 200, 400, 12)).toEqual({ columns: 2, width: 194, height: 155 });
    expect(flowItems(2, 500, 400, 300).width).toBe(300); // even one is too wide: scaled to the room
  });
});

describe("sideBySide", () => {
  it("puts two panels side by side when both fit, else stacks them", () => {
    expect(sideBySide(900, 340, 360)).toEqual({ side: true, leftWidth: 340, rightWidth: 544 });
    expect(sideBySide(600, 340, 360)).toEqual({ side: false, leftWidth: 600, rightWidth: 600 });
  });
  it("backing store: CSS px times the device ratio, capped", () => {
    expect(backingSize(300, 2)).toBe(600);
    expect(backingSize(300, 0)).toBe(300);
    expect(backingSize(5000, 2, 4096)).toBe(4096);
  });
});
