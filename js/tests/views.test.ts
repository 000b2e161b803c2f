import { describe, expect, it } from "vitest";
import { cellTextFits, fixed } from "../lib/matrix";
import { floatsOf, withError } from "../layer_comparison";
import { overlayWeight, statusText } from "../pixel_affinity";

describe("matrix cell text", () => {
  it("fixed decimals read alike down a column and never print -0", () => {
    const f = fixed(2);
    expect([1, 0.95, 0.9123, -0.004].map(f)).toEqual(["1.00", "0.95", "0.91", "0.00"]);
    expect(f(NaN)).toBe("NaN");
  });
  it("values are printed only when they fit the cells", () => {
    const m = (s: string) => 6 * s.length;
    expect(cellTextFits(40, 20, "0.95", m)).toBe(true); // 24 + 4 px <= 40
    expect(cellTextFits(26, 20, "0.95", m)).toBe(false);
    expect(cellTextFits(40, 12, "0.95", m)).toBe(false); // too short for a line
  });
});

describe("LayerComparison helpers", () => {
  it("reads float32 bytes (a Bytes trait arrives as a DataView) in C order", () => {
    const a = Float32Array.from([0.5, NaN, 0.25, 1]);
    const v = floatsOf(new DataView(a.buffer), 4)!;
    expect(Array.from(v)).toEqual([0.5, NaN, 0.25, 1]);
    expect(floatsOf(new DataView(a.buffer), 5)).toBeNull(); // too few bytes for the shape
    expect(floatsOf(null, 4)).toBeNull();
  });
  it("shows the standard error when there is one", () => {
    expect(withError(0.93421, 0.0021)).toBe("0.9342 ± 0.0021 (s.e.)");
    expect(withError(0.93421, NaN)).toBe("0.9342");
    expect(withError(0.93421, undefined)).toBe("0.9342");
  });
});

describe("PixelAffinity helpers", () => {
  it("the overlay weight is 1 at the image's best match, falls with the temperature, 0 below the threshold", () => {
    expect(overlayWeight(0.9, 0.9, 0.1, -1)).toBe(1);
    expect(overlayWeight(0.8, 0.9, 0.1, -1)).toBeCloseTo(Math.exp(-1), 12);
    expect(overlayWeight(0.8, 0.9, 0.01, -1)).toBeCloseTo(Math.exp(-10), 12);
    expect(overlayWeight(0.2, 0.9, 0.1, 0.3)).toBe(0);
  });
  it("the status line is plain language, never about budgets", () => {
    const t = statusText("browser", 40, true, false);
    expect(t).toMatch(/Point at a location/);
    expect(t).toMatch(/40 pairs of locations/);
    expect(t).not.toMatch(/MiB|budget|unit-norm/);
    expect(statusText("kernel", 0, true, true)).toMatch(/Each word you point at is sent to the kernel/);
    expect(statusText("browser", 3, false, false)).toMatch(/\(hidden\)/);
  });
});
