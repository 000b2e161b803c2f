import { describe, expect, it } from "vitest";
import {
  decodeFloat16,
  encodeFloat16,
  floatToHalf,
  halfToFloat,
  pack,
  unpack,
  type NdArray,
} from "../lib/codec";

/** Little-endian bytes of a typed array, as a DataView starting at `offset` inside a larger buffer. */
function viewAt(bytes: Uint8Array, offset: number): DataView {
  const buf = new ArrayBuffer(offset + bytes.byteLength + 3);
  new Uint8Array(buf, offset, bytes.byteLength).set(bytes);
  return new DataView(buf, offset, bytes.byteLength);
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

describe("unpack", () => {
  it("builds float32 arrays without copying", () => {
    const src = new Float32Array([1.5, -2, 3.25, 0, NaN, Infinity]);
    const view = new DataView(src.buffer);
    const out = unpack<{ a: NdArray }>({ a: { $array: 0, dtype: "float32", shape: [2, 3] } }, [view]);
    expect(out.a.dtype).toBe("float32");
    expect(out.a.shape).toEqual([2, 3]);
    expect(out.a.data).toBeInstanceOf(Float32Array);
    expect(Array.from(out.a.data)).toEqual([1.5, -2, 3.25, 0, NaN, Infinity]);
    expect(out.a.data.buffer).toBe(src.buffer);
  });

  it("accepts ArrayBuffer buffers", () => {
    const src = new Int32Array([7, -8, 2147483647, -2147483648]);
    const out = unpack<NdArray>({ $array: 0, dtype: "int32", shape: [4] }, [src.buffer]);
    expect(out.data).toBeInstanceOf(Int32Array);
    expect(Array.from(out.data)).toEqual([7, -8, 2147483647, -2147483648]);
  });

  it("handles uint8", () => {
    const src = new Uint8Array([0, 1, 254, 255]);
    const out = unpack<NdArray>({ $array: 0, dtype: "uint8", shape: [2, 2] }, [new DataView(src.buffer)]);
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(out.data)).toEqual([0, 1, 254, 255]);
  });

  it("widens float16 to Float32Array", () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]);
    const out = unpack<NdArray>({ $array: 0, dtype: "float16", shape: [4] }, [new DataView(bits.buffer)]);
    expect(out.dtype).toBe("float16");
    expect(out.data).toBeInstanceOf(Float32Array);
    expect(Array.from(out.data)).toEqual([1, -2, 65504, 2 ** -24]);
  });

  it("replaces placeholders nested in objects and lists, leaving the rest alone", () => {
    const a = new Float32Array([1, 2]);
    const b = new Uint8Array([3]);
    const c = new Int32Array([4, 5, 6]);
    const content = {
      type: "response",
      result: {
        tiles: [
          { r0: 0, c0: 0, data: { $array: 0, dtype: "float32", shape: [1, 2] } },
          [{ deep: { $array: 2, dtype: "int32", shape: [3] } }, "text", null, 3.5],
        ],
        mask: { $array: 1, dtype: "uint8", shape: [1] },
      },
    };
    const copy = JSON.parse(JSON.stringify(content));
    const out = unpack<any>(content, [new DataView(a.buffer), new DataView(b.buffer), new DataView(c.buffer)]);
    expect(content).toEqual(copy); // input untouched
    expect(out.type).toBe("response");
    expect(Array.from(out.result.tiles[0].data.data)).toEqual([1, 2]);
    expect(out.result.tiles[0].r0).toBe(0);
    expect(Array.from(out.result.tiles[1][0].deep.data)).toEqual([4, 5, 6]);
    expect(out.result.tiles[1].slice(1)).toEqual(["text", null, 3.5]);
    expect(Array.from(out.result.mask.data)).toEqual([3]);
  });

  it("copies a buffer whose byteOffset is not aligned to the element size", () => {
    const f32 = new Float32Array([1.25, -3.5, 1e-3]);
    const v1 = viewAt(bytesOf(f32), 1);
    expect(v1.byteOffset % 4).toBe(1);
    const a = unpack<NdArray>({ $array: 0, dtype: "float32", shape: [3] }, [v1]);
    expect(Array.from(a.data)).toEqual(Array.from(f32));

    const i32 = new Int32Array([-1, 123456789]);
    const b = unpack<NdArray>({ $array: 0, dtype: "int32", shape: [2] }, [viewAt(bytesOf(i32), 6)]);
    expect(Array.from(b.data)).toEqual([-1, 123456789]);

    const f16 = new Uint16Array([0x3c00, 0x3800, 0xfc00]);
    const c = unpack<NdArray>({ $array: 0, dtype: "float16", shape: [3] }, [viewAt(bytesOf(f16), 3)]);
    expect(Array.from(c.data)).toEqual([1, 0.5, -Infinity]);
  });

  it("keeps an aligned non-zero byteOffset without copying", () => {
    const f32 = new Float32Array([9, 8, 7, 6]);
    const view = new DataView(f32.buffer, 4, 8);
    const a = unpack<NdArray>({ $array: 0, dtype: "float32", shape: [2] }, [view]);
    expect(Array.from(a.data)).toEqual([8, 7]);
    expect(a.data.buffer).toBe(f32.buffer);
  });

  it("handles empty and scalar shapes", () => {
    const empty = unpack<NdArray>({ $array: 0, dtype: "float32", shape: [0, 5] }, [new ArrayBuffer(0)]);
    expect(empty.data.length).toBe(0);
    const scalar = unpack<NdArray>({ $array: 0, dtype: "int32", shape: [] }, [new Int32Array([42]).buffer]);
    expect(Array.from(scalar.data)).toEqual([42]);
  });

  describe("errors", () => {
    const buf = new DataView(new Float32Array(4).buffer);
    it("unknown dtype", () => {
      expect(() => unpack({ $array: 0, dtype: "float64", shape: [2] }, [buf])).toThrow(
        /unknown dtype "float64".*float32, float16, uint8, int32/,
      );
    });
    it("byte length that does not match the shape", () => {
      expect(() => unpack({ $array: 0, dtype: "float32", shape: [5] }, [buf])).toThrow(
        /buffer has 16 bytes.*needs 20/,
      );
      expect(() => unpack({ $array: 0, dtype: "float16", shape: [2, 2] }, [buf])).toThrow(/16 bytes.*needs 8/);
    });
    it("index with no buffer", () => {
      expect(() => unpack({ $array: 1, dtype: "float32", shape: [4] }, [buf])).toThrow(/buffer 1.*1 buffer/);
      expect(() => unpack({ $array: -1, dtype: "float32", shape: [4] }, [buf])).toThrow(/buffer -1/);
      expect(() => unpack({ $array: 0.5, dtype: "float32", shape: [4] }, [buf])).toThrow(/buffer 0.5/);
      expect(() => unpack({ $array: "0", dtype: "float32", shape: [4] }, [buf])).toThrow(/buffer "0"/);
      expect(() => unpack({ x: [{ $array: 0, dtype: "uint8", shape: [1] }] }, [])).toThrow(/0 buffers/);
    });
    it("bad shape", () => {
      expect(() => unpack({ $array: 0, dtype: "float32", shape: [-4] }, [buf])).toThrow(/shape/);
      expect(() => unpack({ $array: 0, dtype: "float32", shape: 4 }, [buf])).toThrow(/shape/);
      expect(() => unpack({ $array: 0, dtype: "float32", shape: [2.5, 2] }, [buf])).toThrow(/shape/);
    });
    it("a buffer that is not bytes", () => {
      expect(() => unpack({ $array: 0, dtype: "uint8", shape: [1] }, ["abc" as unknown as DataView])).toThrow(
        /buffer 0 is string/,
      );
    });
  });
});

describe("pack", () => {
  it("round trips every dtype through unpack", () => {
    const cases: NdArray[] = [
      { dtype: "float32", shape: [2, 3], data: new Float32Array([0, -1.5, 3.4028234663852886e38, NaN, Infinity, 1e-45]) },
      { dtype: "float16", shape: [2, 2], data: new Float32Array([1, -0.5, 65504, 2 ** -24]) },
      { dtype: "uint8", shape: [3], data: new Uint8Array([0, 128, 255]) },
      { dtype: "int32", shape: [1, 2], data: new Int32Array([-2147483648, 2147483647]) },
    ];
    for (const arr of cases) {
      const { content, buffers } = pack({ payload: [arr], n: 1 });
      expect(content).toEqual({ payload: [{ $array: 0, dtype: arr.dtype, shape: arr.shape }], n: 1 });
      expect(buffers).toHaveLength(1);
      expect(buffers[0]).toBeInstanceOf(DataView);
      const back = unpack<{ payload: NdArray[] }>(content, buffers).payload[0];
      expect(back.dtype).toBe(arr.dtype);
      expect(back.shape).toEqual(arr.shape);
      expect(Array.from(back.data)).toEqual(Array.from(arr.data));
      // And back again: the bytes are stable.
      const again = pack(back);
      expect(bytesOf(again.buffers[0])).toEqual(bytesOf(buffers[0]));
    }
  });

  it("turns bare typed arrays into 1-D placeholders, numbering buffers in order", () => {
    const { content, buffers } = pack({
      a: new Float32Array([1, 2, 3]),
      b: [new Uint8Array([4]), { c: new Int32Array([5, 6]) }],
      s: "x",
    });
    expect(content).toEqual({
      a: { $array: 0, dtype: "float32", shape: [3] },
      b: [{ $array: 1, dtype: "uint8", shape: [1] }, { c: { $array: 2, dtype: "int32", shape: [2] } }],
      s: "x",
    });
    expect(buffers.map((b) => b.byteLength)).toEqual([12, 1, 8]);
  });

  it("does not copy a typed array that is a view into a larger buffer", () => {
    const big = new Float32Array([0, 1, 2, 3, 4]);
    const sub = big.subarray(1, 3);
    const { buffers } = pack(sub);
    expect(buffers[0].buffer).toBe(big.buffer);
    expect(buffers[0].byteOffset).toBe(4);
    expect(buffers[0].byteLength).toBe(8);
  });

  it("converts the types the wire lacks, like the Python encoder", () => {
    const f64 = pack(new Float64Array([0.1, 2]));
    expect(f64.content).toEqual({ $array: 0, dtype: "float32", shape: [2] });
    expect(Array.from(new Float32Array(f64.buffers[0].buffer))).toEqual([Math.fround(0.1), 2]);
    const i16 = pack(new Int16Array([-3, 4]));
    expect(i16.content).toEqual({ $array: 0, dtype: "int32", shape: [2] });
    expect(Array.from(unpack<NdArray>(i16.content, i16.buffers).data)).toEqual([-3, 4]);
    expect(() => pack(new Uint32Array([4294967295]))).toThrow(/does not fit in int32/);
    expect(() => pack({ dtype: "int32", shape: [1], data: new Float32Array([1.5]) })).toThrow(/not an integer/);
    expect(() => pack({ dtype: "uint8", shape: [1], data: new Int32Array([300]) })).toThrow(/not a uint8/);
  });

  it("rejects what it cannot describe", () => {
    expect(() => pack({ dtype: "float64", shape: [1], data: new Float32Array(1) })).toThrow(/unknown dtype/);
    expect(() => pack({ dtype: "float32", shape: [2, 2], data: new Float32Array(3) })).toThrow(/needs 4 elements/);
    expect(() => pack({ raw: new ArrayBuffer(4) })).toThrow(/raw bytes/);
    expect(() => pack({ raw: new DataView(new ArrayBuffer(4)) })).toThrow(/raw bytes/);
  });

  it("leaves JSON untouched", () => {
    const obj = { a: 1, b: [true, null, "s"], c: { d: 2 } };
    expect(pack(obj)).toEqual({ content: obj, buffers: [] });
  });
});

describe("float16", () => {
  it("decodes known bit patterns exactly", () => {
    const cases: Array<[number, number]> = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xbc00, -1],
      [0x4000, 2],
      [0x3800, 0.5],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0xfbff, -65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) expect(halfToFloat(bits), `0x${bits.toString(16)}`).toBe(value);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    for (const nan of [0x7e00, 0x7c01, 0xfe00, 0x7fff]) expect(halfToFloat(nan)).toBeNaN();
  });

  it("encodes known values exactly, rounding to nearest even", () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65519, 0x7bff], // below the halfway point to 65536
      [65520, 0x7c00], // halfway to 65536: ties to even = overflow to inf
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: ties to even (0)
      [1.5 * 2 ** -25, 0x0001],
      [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: ties to even (2)
      [5 * 2 ** -25, 0x0002], // 2.5 steps: ties to even (2)
      [1e-10, 0x0000],
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: even is 1
      [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3c01 and 0x3c02: even is 0x3c02
      [1 + 2 ** -10, 0x3c01],
      [(1024 - 0.5) * 2 ** -24, 0x0400], // rounds up from the largest subnormal into the smallest normal
      [0.1, 0x2e66],
    ];
    for (const [value, bits] of cases) expect(floatToHalf(value), String(value)).toBe(bits);
    expect(floatToHalf(-0)).toBe(0x8000);
    const nan = floatToHalf(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });

  it("round trips every non-NaN bit pattern", () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const values = decodeFloat16(bits);
    const back = encodeFloat16(values);
    let mismatches = 0;
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (isNaN) {
        expect(Number.isNaN(values[i])).toBe(true);
        if ((back[i] & 0x7c00) !== 0x7c00 || (back[i] & 0x3ff) === 0) mismatches++;
      } else if (back[i] !== i) {
        mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it("rounds every float32 between two halves to the nearer one", () => {
    // Exhaustive over the float32 values between consecutive halves would be 2^13 each; sample a few spans.
    for (const h of [0x0001, 0x0200, 0x03ff, 0x0400, 0x3c00, 0x3c01, 0x7bfe]) {
      const lo = halfToFloat(h);
      const hi = halfToFloat(h + 1);
      const mid = (lo + hi) / 2;
      expect(floatToHalf(lo + (mid - lo) * 0.999)).toBe(h);
      expect(floatToHalf(mid + (hi - mid) * 0.001)).toBe(h + 1);
      expect(floatToHalf(mid)).toBe(h % 2 === 0 ? h : h + 1);
    }
  });
});
