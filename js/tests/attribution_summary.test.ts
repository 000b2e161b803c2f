import { describe, expect, it } from "vitest";
import { PointGrid, nextSelection, paddedRange } from "../attribution_summary";

describe("AttributionSummary hit tests", () => {
  const px = Float32Array.from([10, 12, 50, 200, NaN]);
  const py = Float32Array.from([10, 11, 50, 20, 5]);
  const grid = new PointGrid(8, px, py);

  it("finds the nearest dot within the radius, across grid cells", () => {
    expect(grid.nearest(12, 12, 7)).toBe(1); // 1 px from (12, 11), 2.8 px from (10, 10)
    expect(grid.nearest(10, 10, 7)).toBe(0);
    expect(grid.nearest(47, 49, 7)).toBe(2); // the dot is in the next grid cell
    expect(grid.nearest(100, 100, 7)).toBe(-1);
    expect(grid.nearest(200, 27, 7)).toBe(3); // exactly at the radius
    expect(grid.nearest(200, 28, 7)).toBe(-1);
  });
  it("lists the dots inside a rectangle, whatever corner the drag started from", () => {
    expect(grid.inside(0, 0, 60, 60).sort()).toEqual([0, 1, 2]);
    expect(grid.inside(60, 60, 0, 0).sort()).toEqual([0, 1, 2]);
    expect(grid.inside(11, 0, 13, 30)).toEqual([1]);
    expect(grid.inside(300, 300, 400, 400)).toEqual([]);
  });
});

describe("AttributionSummary selection and axes", () => {
  it("a click replaces the selection, shift-click toggles a row, shift-drag adds", () => {
    expect(nextSelection([1, 2], [7], false, false)).toEqual([7]);
    expect(nextSelection([1, 2], [2], true, false)).toEqual([1]);
    expect(nextSelection([1, 2], [5], true, false)).toEqual([1, 2, 5]);
    expect(nextSelection([1, 2], [2, 9, 9], true, true)).toEqual([1, 2, 9]);
    expect(nextSelection([1, 2], [9, 3], false, true)).toEqual([3, 9]);
  });
  it("axis ranges pad the finite values by 5 % and include zero when asked", () => {
    expect(paddedRange(Float32Array.from([0, 10, NaN]))).toEqual([-0.5, 10.5]);
    const [lo, hi] = paddedRange(Float32Array.from([2, 4]), 0);
    expect(lo).toBeCloseTo(-0.2, 6);
    expect(hi).toBeCloseTo(4.2, 6);
    expect(paddedRange(Float32Array.from([3, 3]))).toEqual([2, 4]);
    expect(paddedRange(Float32Array.from([NaN]))).toEqual([0, 1]);
  });
});
