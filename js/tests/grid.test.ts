import { describe, expect, it } from "vitest";
import {
  cellAt,
  cellAtClamped,
  cellSpan,
  dragSpan,
  formatValue,
  labelText,
  layout,
  makeGrid,
  range,
  rangeText,
  rowRuns,
  selectionCells,
  selectionFromDrag,
} from "../lib/grid";

describe("makeGrid", () => {
  it("reads the traits", () => {
    expect(makeGrid([4, 5], [4, 5], [1, 1])).toEqual({ h: 4, w: 5, nRows: 4, nCols: 5, fr: 1, fc: 1 });
    expect(makeGrid([13, 7], [100, 50], [8, 8])).toEqual({ h: 13, w: 7, nRows: 100, nCols: 50, fr: 8, fc: 8 });
  });
  it("survives missing or bad traits", () => {
    expect(makeGrid(undefined, undefined, undefined)).toEqual({ h: 0, w: 0, nRows: 0, nCols: 0, fr: 1, fc: 1 });
    expect(makeGrid([2, 3], null, [0, -1])).toEqual({ h: 2, w: 3, nRows: 2, nCols: 3, fr: 1, fc: 1 });
    expect(makeGrid([2, 3], [0, 0], [4, 2])).toEqual({ h: 2, w: 3, nRows: 8, nCols: 6, fr: 4, fc: 2 });
  });
});

describe("cellAt", () => {
  const g = makeGrid([4, 8], [4, 8], [1, 1]);
  it("maps CSS pixels to display cells", () => {
    expect(cellAt(g, 0, 0, 320, 160)).toEqual({ i: 0, j: 0 });
    expect(cellAt(g, 39.9, 39.9, 320, 160)).toEqual({ i: 0, j: 0 });
    expect(cellAt(g, 40, 40, 320, 160)).toEqual({ i: 1, j: 1 });
    expect(cellAt(g, 319.99, 159.99, 320, 160)).toEqual({ i: 3, j: 7 });
    expect(cellAt(g, 200, 100, 320, 160)).toEqual({ i: 2, j: 5 });
  });
  it("is null outside the canvas", () => {
    expect(cellAt(g, -1, 10, 320, 160)).toBeNull();
    expect(cellAt(g, 320, 10, 320, 160)).toBeNull();
    expect(cellAt(g, 10, 160, 320, 160)).toBeNull();
    expect(cellAt(g, NaN, 10, 320, 160)).toBeNull();
    expect(cellAt(g, 10, 10, 0, 0)).toBeNull();
    expect(cellAt(makeGrid([0, 0], [0, 0], [1, 1]), 1, 1, 10, 10)).toBeNull();
  });
  it("clamps for drags that leave the canvas", () => {
    expect(cellAtClamped(g, -50, 500, 320, 160)).toEqual({ i: 3, j: 0 });
    expect(cellAtClamped(g, 1000, -3, 320, 160)).toEqual({ i: 0, j: 7 });
  });
});

describe("full-matrix spans", () => {
  it("is the cell itself when not downsampled", () => {
    const g = makeGrid([10, 10], [10, 10], [1, 1]);
    expect(cellSpan(g, { i: 3, j: 7 })).toEqual({ r0: 3, r1: 3, c0: 7, c1: 7 });
  });
  it("covers a block, with a short last block", () => {
    const g = makeGrid([13, 7], [100, 50], [8, 8]);
    expect(cellSpan(g, { i: 5, j: 0 })).toEqual({ r0: 40, r1: 47, c0: 0, c1: 7 });
    expect(cellSpan(g, { i: 12, j: 6 })).toEqual({ r0: 96, r1: 99, c0: 48, c1: 49 });
  });
  it("covers a drag rectangle in either direction", () => {
    const g = makeGrid([13, 7], [100, 50], [8, 8]);
    const want = { r0: 8, r1: 31, c0: 16, c1: 49 };
    expect(dragSpan(g, { i: 1, j: 2 }, { i: 3, j: 6 })).toEqual(want);
    expect(dragSpan(g, { i: 3, j: 6 }, { i: 1, j: 2 })).toEqual(want);
    expect(dragSpan(g, { i: 3, j: 2 }, { i: 1, j: 6 })).toEqual(want);
  });
});

describe("selectionFromDrag", () => {
  it("a click selects one cell", () => {
    const g = makeGrid([5, 5], [5, 5], [1, 1]);
    expect(selectionFromDrag(g, { i: 2, j: 4 }, { i: 2, j: 4 })).toEqual({ rows: [2], cols: [4] });
  });
  it("a drag selects the inclusive block in increasing order", () => {
    const g = makeGrid([5, 6], [5, 6], [1, 1]);
    expect(selectionFromDrag(g, { i: 3, j: 5 }, { i: 1, j: 2 })).toEqual({ rows: [1, 2, 3], cols: [2, 3, 4, 5] });
  });
  it("a downsampled cell expands to the rows and cols it covers", () => {
    const g = makeGrid([3, 2], [10, 4], [4, 2]);
    expect(selectionFromDrag(g, { i: 1, j: 1 }, { i: 1, j: 1 })).toEqual({ rows: [4, 5, 6, 7], cols: [2, 3] });
    expect(selectionFromDrag(g, { i: 2, j: 0 }, { i: 1, j: 0 })).toEqual({ rows: [4, 5, 6, 7, 8, 9], cols: [0, 1] });
  });
  it("range is inclusive", () => {
    expect(range(3, 5)).toEqual([3, 4, 5]);
    expect(range(2, 1)).toEqual([]);
  });
});

describe("selectionCells", () => {
  const g = makeGrid([3, 2], [10, 4], [4, 2]);
  it("finds the display rectangle of a selection", () => {
    expect(selectionCells(g, { rows: [4, 5, 6, 7], cols: [2, 3] })).toEqual({ i0: 1, i1: 1, j0: 1, j1: 1 });
    expect(selectionCells(g, { rows: [9, 0], cols: [3] })).toEqual({ i0: 0, i1: 2, j0: 1, j1: 1 });
  });
  it("is null for empty or outside selections", () => {
    expect(selectionCells(g, {})).toBeNull();
    expect(selectionCells(g, null)).toBeNull();
    expect(selectionCells(g, { rows: [], cols: [1] })).toBeNull();
    expect(selectionCells(g, { rows: [100], cols: [1] })).toBeNull();
  });
  it("clips to the grid", () => {
    expect(selectionCells(g, { rows: [0, 100], cols: [0] })).toEqual({ i0: 0, i1: 2, j0: 0, j1: 0 });
  });
});

describe("layout", () => {
  it("uses square cells filling the width, up to 640 px", () => {
    expect(layout(100, 100, 1000)).toEqual({ cssW: 640, cssH: 640 });
    expect(layout(100, 100, 500)).toEqual({ cssW: 500, cssH: 500 });
    expect(layout(3, 5, 2000)).toEqual({ cssW: 640, cssH: 384 });
  });
  it("limits the height of tall matrices", () => {
    expect(layout(200, 100, 1000)).toEqual({ cssW: 320, cssH: 640 });
  });
  it("stretches the short side of very thin matrices to a minimum", () => {
    expect(layout(64, 4096, 1000)).toEqual({ cssW: 640, cssH: 64 });
    expect(layout(4096, 64, 1000)).toEqual({ cssW: 64, cssH: 640 });
  });
  it("falls back to 640 when the width is unknown", () => {
    expect(layout(10, 10, 0)).toEqual({ cssW: 640, cssH: 640 });
    expect(layout(10, 10, NaN)).toEqual({ cssW: 640, cssH: 640 });
  });
});

describe("tooltip text", () => {
  it("formats to 4 significant digits", () => {
    expect(formatValue(0.123456)).toBe("0.1235");
    expect(formatValue(-1)).toBe("-1");
    expect(formatValue(0.5)).toBe("0.5");
    expect(formatValue(123456)).toBe("123500");
    expect(formatValue(1234567)).toBe("1.235e+6");
    expect(formatValue(0.00001234)).toBe("1.234e-5");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue(null)).toBe("NaN");
    expect(formatValue(Infinity)).toBe("inf");
    expect(formatValue(-Infinity)).toBe("-inf");
  });
  it("names rows and ranges", () => {
    expect(rangeText("row", 5, 5)).toBe("row 5");
    expect(rangeText("row", 40, 47)).toBe("rows 40–47");
    expect(rangeText("col", 0, 1)).toBe("cols 0–1");
  });
  it("picks labels, kept as plain text", () => {
    const labels = ["<b>x</b>", "cat", "dog"];
    expect(labelText(labels, 0, 0)).toBe("<b>x</b>");
    expect(labelText(labels, 1, 2)).toBe("cat … dog");
    expect(labelText(labels, 2, 9)).toBe("dog");
    expect(labelText(["a", "a", "a"], 0, 2)).toBe("a"); // a block inside one class: once, not "a … a"
    expect(labelText([], 0, 0)).toBe("");
    expect(labelText(undefined, 0, 0)).toBe("");
  });
});

describe("rowRuns (rows a linked view selected, as bands)", () => {
  it("merges neighbouring display rows and maps matrix rows through the block size", () => {
    expect(rowRuns([0, 1, 2, 5, 9], 1, 10)).toEqual([[0, 2], [5, 5], [9, 9]]);
    // 3 matrix rows per display row: rows 0-2 -> 0, 7 -> 2, 8 -> 2
    expect(rowRuns([0, 2, 7, 8, 30], 3, 5)).toEqual([[0, 0], [2, 2]]);
    expect(rowRuns([], 1, 4)).toEqual([]);
  });
});
