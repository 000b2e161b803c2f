import { describe, expect, it } from "vitest";
import { absMax, mapTiles } from "../lib/map_row";

describe("mapTiles", () => {
  it("keeps a square map square and wraps when the width runs out", () => {
    const t = mapTiles(5, 12, 12, 300, { maxSide: 96, gap: 8, labelH: 14 });
    expect([t.tileW, t.tileH]).toEqual([96, 96]);
    expect(t.perLine).toBe(2); // floor((300 + 8) / (96 + 8))
    expect(t.tiles.map((p) => [p.x, p.y])).toEqual([[0, 0], [104, 0], [0, 118], [104, 118], [0, 236]]);
    expect(t.height).toBe(3 * 110 + 2 * 8);
  });
});

describe("mapTiles shapes", () => {
  it("keeps the aspect ratio of a wide map and shrinks it to the width", () => {
    const t = mapTiles(2, 10, 40, 1000, { maxSide: 80 });
    expect([t.tileW, t.tileH]).toEqual([80, 20]);
    const narrow = mapTiles(2, 10, 40, 40, { maxSide: 80 });
    expect([narrow.tileW, narrow.tileH, narrow.perLine]).toEqual([40, 10, 1]);
  });
  it("draws a 1-D map as a strip minH tall, never wider than the width", () => {
    const t = mapTiles(3, 1, 9, 500, { maxSide: 96, minH: 14 });
    expect([t.tileW, t.tileH, t.perLine]).toEqual([96, 14, 3]);
    expect(mapTiles(3, 1, 1000, 150, { maxSide: 96 }).tileW).toBe(150);
  });
  it("is empty for no maps", () => {
    expect(mapTiles(0, 4, 4, 300)).toEqual({ tileW: 0, tileH: 0, perLine: 0, height: 0, tiles: [] });
  });
});

describe("absMax", () => {
  it("is the largest finite |value|", () => {
    expect(absMax([1, -3, NaN, 2, Infinity])).toBe(3);
    expect(absMax([])).toBe(0);
  });
});
