import { describe, expect, it } from "vitest";
import { collapseGaps, isTransparent, paintOps, paintedExtent, snapshotScale, type SnapBox } from "../lib/snapshot";

const canvasLike = { width: 10, height: 10 } as unknown as CanvasImageSource;

describe("snapshot composition", () => {
  it("paints the background first, then each box's fill, borders, image and text in document order", () => {
    const boxes: SnapBox[] = [
      { x: 0, y: 0, w: 100, h: 20, background: "rgba(0, 0, 0, 0)", text: [{ text: "title", x: 2, y: 2, w: 30, h: 16 }], font: "13px sans", color: "#111" },
      { x: 10, y: 30, w: 52, h: 52, background: "rgb(255, 255, 255)", image: canvasLike,
        borders: [1, 1, 1, 1].map((w) => ({ width: w, color: "rgb(224, 224, 224)" })) },
    ];
    const ops = paintOps(boxes, 120, 100, "#fff");
    expect(ops.map((o) => o.op)).toEqual(["fill", "text", "fill", "fill", "fill", "fill", "fill", "image"]);
    expect(ops[0]).toEqual({ op: "fill", x: 0, y: 0, w: 120, h: 100, color: "#fff" });
    // the image covers the content box: inside the 1 px borders
    expect(ops[7]).toMatchObject({ op: "image", x: 11, y: 31, w: 50, h: 50 });
    expect(ops[1]).toMatchObject({ op: "text", text: "title", font: "13px sans", color: "#111", rotate: 0 });
  });
  it("skips transparent fills, empty text, boxes outside the picture or their scroll clip", () => {
    const boxes: SnapBox[] = [
      { x: 0, y: 0, w: 10, h: 10, background: "transparent", text: [{ text: "  ", x: 0, y: 0, w: 5, h: 5 }] },
      { x: 500, y: 0, w: 10, h: 10, background: "red" },
      { x: 0, y: 0, w: 0, h: 10, background: "red" },
      { x: 0, y: 300, w: 10, h: 10, background: "red", clip: { x: 0, y: 0, w: 100, h: 100 } },
      { x: 0, y: 50, w: 10, h: 10, background: "blue", clip: { x: 0, y: 0, w: 100, h: 100 } },
    ];
    const ops = paintOps(boxes, 200, 400, "white");
    expect(ops.map((o) => o.op)).toEqual(["fill", "clip", "fill", "unclip"]);
    expect(ops[2]).toMatchObject({ color: "blue" });
  });
  it("keeps rotated text rotated (axis titles)", () => {
    const ops = paintOps([{ x: 0, y: 0, w: 14, h: 200, rotate: -90, text: [{ text: "row", x: 0, y: 0, w: 14, h: 200 }] }], 50, 250, "#fff");
    expect(ops[1]).toMatchObject({ op: "text", rotate: -90, text: "row" });
  });
  it("transparent means alpha 0", () => {
    expect(isTransparent("rgba(0, 0, 0, 0)")).toBe(true);
    expect(isTransparent("transparent")).toBe(true);
    expect(isTransparent("rgba(0, 0, 0, 0.5)")).toBe(false);
    expect(isTransparent("rgb(0, 0, 0)")).toBe(false);
    expect(isTransparent(undefined)).toBe(true);
  });
  it("the picture's scale follows the screen but stays bounded", () => {
    expect(snapshotScale(800, 600, 2)).toBe(2);
    expect(snapshotScale(800, 600, 3)).toBe(2); // never above 2x
    expect(snapshotScale(1600, 900, 2, 2048)).toBeCloseTo(1.28, 9);
    expect(snapshotScale(100, 100, NaN)).toBe(1);
  });
});

describe("paintedExtent", () => {
  it("crops the picture to what is painted (plus a margin), never beyond the root", () => {
    const boxes: SnapBox[] = [
      { x: 0, y: 0, w: 848, h: 700, background: "rgba(0, 0, 0, 0)" }, // the root-wide container paints nothing
      { x: 30, y: 20, w: 640, h: 640, image: canvasLike },
      { x: 30, y: 670, w: 640, h: 14, text: [{ text: "column", x: 330, y: 670, w: 40, h: 14 }] },
    ];
    expect(paintedExtent(boxes, 848, 700)).toEqual({ width: 674, height: 688 });
    expect(paintedExtent(boxes, 600, 650)).toEqual({ width: 600, height: 650 });
    // what a scrolling list hides is not counted
    const clipped: SnapBox[] = [{ x: 0, y: 0, w: 100, h: 900, background: "red", clip: { x: 0, y: 0, w: 100, h: 200 } }];
    expect(paintedExtent(clipped, 500, 1000)).toEqual({ width: 104, height: 204 });
  });
});

describe("collapseGaps", () => {
  it("moves what is below a left-out row (the toolbar) up by its height, and nothing above it", () => {
    const boxes: SnapBox[] = [
      { x: 0, y: 0, w: 100, h: 20, text: [{ text: "title", x: 0, y: 2, w: 30, h: 16 }] },
      { x: 0, y: 60, w: 100, h: 100, background: "red", clip: { x: 0, y: 60, w: 100, h: 50 } },
      { x: 0, y: 200, w: 100, h: 10, background: "blue" },
    ];
    const out = collapseGaps(boxes, [[20, 60]]); // a 40 px toolbar row under the title
    expect(out[0]).toEqual(boxes[0]);
    expect(out[1].y).toBe(20);
    expect(out[1].clip?.y).toBe(20);
    expect(out[2].y).toBe(160);
    expect(collapseGaps(boxes, [[20, 60], [170, 190]])[2].y).toBe(140);
  });
});
