import { describe, expect, it, vi } from "vitest";
import { COLORMAP_HEX } from "../lib/colormap_data";
import {
  COLORMAP_NAMES,
  colorize,
  finiteRange,
  getColormap,
  isColormapName,
  isDiverging,
  colorLimits,
  looksDiverging,
  lutAt as lutRgbAt,
  lutColor,
  lutFromBytes,
  parseLutTrait,
  resolveLut,
} from "../lib/colormaps";

function rgbaAt(out: Uint8ClampedArray, k: number): number[] {
  return Array.from(out.subarray(4 * k, 4 * k + 4));
}
function lutAt(lut: Uint8Array, i: number): number[] {
  return [lut[3 * i], lut[3 * i + 1], lut[3 * i + 2], 255];
}
function run(values: number[], vmin: number, vmax: number, name = "viridis", bad?: [number, number, number, number]) {
  const out = new Uint8ClampedArray(values.length * 4);
  colorize(Float32Array.from(values), getColormap(name), vmin, vmax, out, bad);
  return out;
}

describe("getColormap", () => {
  it("has a 256-entry RGB table for every supported name", () => {
    expect([...COLORMAP_NAMES].sort()).toEqual(Object.keys(COLORMAP_HEX).sort());
    for (const name of COLORMAP_NAMES) {
      const lut = getColormap(name);
      expect(lut).toBeInstanceOf(Uint8Array);
      expect(lut.length).toBe(768);
      expect(getColormap(name)).toBe(lut); // cached
    }
  });

  it("decodes matplotlib's endpoints", () => {
    expect(lutAt(getColormap("viridis"), 0)).toEqual([68, 1, 84, 255]);
    expect(lutAt(getColormap("viridis"), 255)).toEqual([253, 231, 37, 255]);
    expect(lutAt(getColormap("gray"), 0)).toEqual([0, 0, 0, 255]);
    expect(lutAt(getColormap("gray"), 255)).toEqual([255, 255, 255, 255]);
    expect(lutAt(getColormap("gray"), 128)).toEqual([128, 128, 128, 255]);
    expect(lutColor(getColormap("viridis"), 0)).toBe("rgb(68, 1, 84)");
  });

  it("throws for an unknown name, listing the valid ones", () => {
    expect(() => getColormap("jet")).toThrow(/unknown colormap "jet".*viridis, magma, gray, RdBu_r, coolwarm/);
    expect(() => getColormap("toString")).toThrow(/unknown colormap/);
    expect(isColormapName("magma")).toBe(true);
    expect(isColormapName("Magma")).toBe(false);
  });
});

describe("isDiverging", () => {
  it("classifies the maps", () => {
    expect(isDiverging("RdBu_r")).toBe(true);
    expect(isDiverging("coolwarm")).toBe(true);
    for (const name of ["viridis", "magma", "gray", "nope"]) expect(isDiverging(name)).toBe(false);
  });
});

describe("colorize", () => {
  const lut = getColormap("viridis");

  it("maps vmin to entry 0 and vmax to entry 255", () => {
    const out = run([-2, 3], -2, 3);
    expect(rgbaAt(out, 0)).toEqual(lutAt(lut, 0));
    expect(rgbaAt(out, 1)).toEqual(lutAt(lut, 255));
  });

  it("clips values outside [vmin, vmax]", () => {
    const out = run([-100, 100, -3e38], 0, 1);
    expect(rgbaAt(out, 0)).toEqual(lutAt(lut, 0));
    expect(rgbaAt(out, 1)).toEqual(lutAt(lut, 255));
    expect(rgbaAt(out, 2)).toEqual(lutAt(lut, 0));
  });

  it("uses matplotlib's index rule: min(255, floor(t * 256))", () => {
    const values: number[] = [];
    for (let k = 0; k <= 1000; k++) values.push(k / 1000);
    const out = run(values, 0, 1, "gray");
    for (let k = 0; k <= 1000; k++) {
      const idx = Math.min(255, Math.floor(values[k] * 256));
      expect(rgbaAt(out, k)).toEqual(lutAt(getColormap("gray"), idx));
    }
    // bin edges
    const edges = run([1 / 256, 1 / 256 - 1e-6, 0.5, 255 / 256 - 1e-6], 0, 1, "gray");
    expect(rgbaAt(edges, 0)[0]).toBe(getColormap("gray")[3 * 1]);
    expect(rgbaAt(edges, 1)[0]).toBe(getColormap("gray")[0]);
    expect(rgbaAt(edges, 2)[0]).toBe(getColormap("gray")[3 * 128]);
    expect(rgbaAt(edges, 3)[0]).toBe(getColormap("gray")[3 * 254]);
  });

  it("gives NaN and ±Inf the bad colour (transparent by default)", () => {
    const out = run([NaN, Infinity, -Infinity, 0.5], 0, 1);
    for (const k of [0, 1, 2]) expect(rgbaAt(out, k)).toEqual([0, 0, 0, 0]);
    expect(rgbaAt(out, 3)[3]).toBe(255);
    const custom = run([NaN], 0, 1, "viridis", [10, 20, 30, 40]);
    expect(rgbaAt(custom, 0)).toEqual([10, 20, 30, 40]);
  });

  it("is safe when vmin == vmax (every finite value gets entry 0, as matplotlib)", () => {
    const out = run([1, 5, -5, NaN], 1, 1);
    for (const k of [0, 1, 2]) expect(rgbaAt(out, k)).toEqual(lutAt(lut, 0));
    expect(rgbaAt(out, 3)).toEqual([0, 0, 0, 0]);
    const inf = run([1], -Infinity, Infinity);
    expect(rgbaAt(inf, 0)).toEqual(lutAt(lut, 0));
  });

  it("checks the output size", () => {
    expect(() => colorize(new Float32Array(4), lut, 0, 1, new Uint8ClampedArray(15))).toThrow(/needs 16/);
  });
});

describe("finiteRange", () => {
  it("ignores NaN and ±Inf", () => {
    expect(finiteRange(Float32Array.from([NaN, 3, -Infinity, -1, Infinity, 2, NaN]))).toEqual([-1, 3]);
    expect(finiteRange([5])).toEqual([5, 5]);
  });
  it("is null when nothing is finite", () => {
    expect(finiteRange(new Float32Array(0))).toBeNull();
    expect(finiteRange(Float32Array.from([NaN, Infinity, -Infinity]))).toBeNull();
  });
});

describe("colorize paths", () => {
  it("gives the same bytes through the 32-bit and the byte-by-byte path", () => {
    const values = Float32Array.from({ length: 999 }, (_, k) => (k % 7 === 0 ? NaN : Math.sin(k) * 3));
    const lut = getColormap("coolwarm");
    const fast = new Uint8ClampedArray(values.length * 4);
    colorize(values, lut, -2, 2.5, fast, [1, 2, 3, 4]);
    const backing = new Uint8ClampedArray(values.length * 4 + 1);
    const slow = backing.subarray(1); // byteOffset 1: not 4-aligned, forces the byte path
    colorize(values, lut, -2, 2.5, slow, [1, 2, 3, 4]);
    expect(Array.from(slow)).toEqual(Array.from(fast));
    expect(rgbaAt(fast, 0)).toEqual([1, 2, 3, 4]);
  });
});

describe("LUTs sent by Python (cmap_lut)", () => {
  const plasmaLike = () => {
    const rgb = new Uint8Array(768);
    for (let i = 0; i < 256; i++) rgb.set([i, 255 - i, 128], 3 * i);
    return rgb;
  };
  it("accepts 256 x 3 and 256 x 4 bytes as a DataView and copies them", () => {
    const rgb = plasmaLike();
    const view = new DataView(rgb.buffer);
    const lut = lutFromBytes(view)!;
    expect(lut.length).toBe(768);
    rgb[0] = 99; // the message's buffer may be reused: the LUT is a copy
    expect(lut[0]).toBe(0);
    expect(lutFromBytes(new Uint8Array(1024))?.length).toBe(1024);
    expect(lutFromBytes(new Uint8Array(700))).toBeNull();
    expect(lutFromBytes("viridis")).toBeNull();
  });
  it("colours with the sent table, alpha included for RGBA tables", () => {
    const rgba = new Uint8Array(1024);
    for (let i = 0; i < 256; i++) rgba.set([i, 0, 255 - i, i], 4 * i);
    const out = new Uint8ClampedArray(8);
    colorize(Float32Array.from([0, 1]), rgba, 0, 1, out);
    expect(Array.from(out)).toEqual([0, 0, 255, 0, 255, 0, 0, 255]);
    expect(lutRgbAt(rgba, 0.5)).toEqual([128, 0, 127]);
    expect(lutColor(rgba, 10)).toBe("rgba(10, 0, 245, 0.039)");
  });
  it("resolveLut: the sent table when it belongs to the map shown, else the built-in one, else viridis", () => {
    const sent = plasmaLike();
    const trait = { name: "plasma", lut: new DataView(sent.buffer) };
    expect(Array.from(resolveLut("plasma", trait).subarray(0, 6))).toEqual([0, 255, 128, 1, 254, 128]);
    // the user switched to a built-in map: the old sent table must not be used for it
    expect(resolveLut("magma", trait)).toBe(getColormap("magma"));
    // bare bytes: the table of whatever cmap is
    expect(resolveLut("anything", new DataView(sent.buffer))[3]).toBe(1);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(resolveLut("plasma", null)).toBe(getColormap("viridis"));
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
    expect(parseLutTrait({ name: 3, lut: new Uint8Array(768) })?.name).toBeNull();
    expect(parseLutTrait(undefined)).toBeNull();
  });
  it("knows matplotlib's diverging family by name", () => {
    for (const n of ["RdBu", "RdBu_r", "PiYG", "seismic", "bwr_r", "coolwarm"]) expect(looksDiverging(n)).toBe(true);
    for (const n of ["viridis", "plasma", "RdPu", "Blues"]) expect(looksDiverging(n)).toBe(false);
  });
});

describe("colorLimits (matplotlib's vmin/vmax, seaborn's center)", () => {
  it("takes set limits, else the data's", () => {
    expect(colorLimits([0.8, 0.99], null, null)).toEqual([0.8, 0.99]);
    expect(colorLimits([0.8, 0.99], 0, null)).toEqual([0, 0.99]);
    expect(colorLimits([0.8, 0.99], null, 1)).toEqual([0.8, 1]);
    expect(colorLimits(null, null, null)).toBeNull();
    expect(colorLimits(null, 2, null)).toEqual([2, 2]);
  });
  it("a centre makes the range symmetric around it", () => {
    expect(colorLimits([-1, 3], null, null, 0)).toEqual([-3, 3]);
    expect(colorLimits([-4, 1], null, null, 0)).toEqual([-4, 4]);
    expect(colorLimits([2, 6], null, null, 5)).toEqual([2, 8]);
    expect(colorLimits([0, 0], null, null, 0)).toEqual([-1, 1]); // flat data still gets a range
    expect(colorLimits([-1, 3], null, null, null)).toEqual([-1, 3]);
  });
});
