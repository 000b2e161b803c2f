// Arrays on the wire (docs/protocol.md, "Arrays: the codec").
//
// A message's JSON content holds a placeholder {"$array": i, "dtype": ..., "shape": [...]} where an array
// was; the bytes travel as the message's i-th binary buffer (C order, little endian). `unpack` swaps the
// placeholders for NdArray objects, `pack` does the reverse.

export const DTYPES = ["float32", "float16", "uint8", "int32"] as const;
export type DType = (typeof DTYPES)[number];

/** The typed array an unpacked array's `data` is (`float16` is widened to Float32Array). */
export type NdData = Float32Array | Uint8Array | Int32Array;

/** An unpacked array. `dtype` is the dtype it had on the wire; `data` has prod(shape) elements. */
export interface NdArray<D extends NdData = NdData> {
  dtype: DType;
  shape: number[];
  data: D;
}

export interface Placeholder {
  $array: number;
  dtype: DType;
  shape: number[];
}

/** Bytes of one binary buffer as the widget runtime hands them over. */
export type BufferLike = DataView | ArrayBuffer | ArrayBufferView;

const ITEMSIZE: Record<DType, number> = { float32: 4, float16: 2, uint8: 1, int32: 4 };

export function itemsize(dtype: DType): number {
  return ITEMSIZE[dtype];
}

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && Object.prototype.hasOwnProperty.call(ITEMSIZE, x);
}

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) {
    throw new Error(`codec: ${where}: shape must be a list of non-negative integers, got ${describe(shape)}`);
  }
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isInteger(d) || d < 0) {
      throw new Error(`codec: ${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
  }
  return shape as number[];
}

export function prod(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a list";
  if (ArrayBuffer.isView(x)) return x.constructor.name;
  if (x instanceof ArrayBuffer) return "ArrayBuffer";
  if (typeof x === "object") return "an object";
  return `${typeof x} ${JSON.stringify(x)}`;
}

// ---------------------------------------------------------------------------------------------------------
// float16 <-> float32

let HALF_TABLE: Float32Array | null = null;

/** Value of the IEEE 754 binary16 number with bit pattern `h` (0..0xffff). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

function halfTable(): Float32Array {
  if (HALF_TABLE === null) {
    const t = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
    HALF_TABLE = t;
  }
  return HALF_TABLE;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** Bit pattern of `x` as IEEE 754 binary16, rounding to nearest, ties to even (as numpy's astype). */
export function floatToHalf(x: number): number {
  F32[0] = x; // first rounds to float32, as numpy does for a float32 array
  const b = U32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) {
    // inf, or NaN (keep it a NaN even when the top mantissa bits are zero)
    return man === 0 ? sign | 0x7c00 : sign | 0x7c00 | 0x200 | (man >>> 13);
  }
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign; // below half of the smallest subnormal
    const m = man | 0x800000; // restore the implicit bit
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) === 1)) h += 1;
    return sign | h; // a carry into bit 10 gives the smallest normal, correctly
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h += 1; // a carry may round up to inf, correctly
  return sign | h;
}

/** Decode binary16 bit patterns to float32 values. */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** Encode numbers as binary16 bit patterns (round to nearest, ties to even). */
export function encodeFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = floatToHalf(values[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// unpack

function bytesOf(buf: unknown, index: number): { buffer: ArrayBufferLike; byteOffset: number; byteLength: number } {
  if (buf instanceof ArrayBuffer) return { buffer: buf, byteOffset: 0, byteLength: buf.byteLength };
  if (ArrayBuffer.isView(buf)) return { buffer: buf.buffer, byteOffset: buf.byteOffset, byteLength: buf.byteLength };
  // SharedArrayBuffer, or an ArrayBuffer from another realm
  if (buf !== null && typeof buf === "object" && typeof (buf as ArrayBuffer).byteLength === "number" &&
      typeof (buf as ArrayBuffer).slice === "function") {
    const ab = buf as ArrayBuffer;
    return { buffer: ab, byteOffset: 0, byteLength: ab.byteLength };
  }
  throw new Error(`codec: buffer ${index} is ${describe(buf)}, expected a DataView or ArrayBuffer`);
}

/** Build the NdArray a placeholder describes from its buffer. Never copies unless the offset is misaligned. */
export function decodeArray(ph: Placeholder, buf: BufferLike, index = ph.$array): NdArray {
  const { dtype } = ph;
  if (!isDType(dtype)) {
    throw new Error(`codec: array ${index}: unknown dtype ${JSON.stringify(dtype)} (supported: ${DTYPES.join(", ")})`);
  }
  const shape = checkShape(ph.shape, `array ${index}`).slice();
  const n = prod(shape);
  const size = ITEMSIZE[dtype];
  let { buffer, byteOffset, byteLength } = bytesOf(buf, index);
  if (byteLength !== n * size) {
    throw new Error(
      `codec: array ${index}: buffer has ${byteLength} bytes, but shape [${shape.join(", ")}] of ${dtype} ` +
        `needs ${n * size} (${n} x ${size})`,
    );
  }
  if (byteOffset % size !== 0) {
    // Typed arrays need an aligned offset: copy the bytes into a fresh buffer.
    buffer = new Uint8Array(buffer, byteOffset, byteLength).slice().buffer;
    byteOffset = 0;
  }
  switch (dtype) {
    case "float32":
      return { dtype, shape, data: new Float32Array(buffer, byteOffset, n) };
    case "float16":
      return { dtype, shape, data: decodeFloat16(new Uint16Array(buffer, byteOffset, n)) };
    case "uint8":
      return { dtype, shape, data: new Uint8Array(buffer, byteOffset, n) };
    case "int32":
      return { dtype, shape, data: new Int32Array(buffer, byteOffset, n) };
  }
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Replace every `{"$array": i, dtype, shape}` placeholder in `content` (at any depth) by the NdArray built
 * from `buffers[i]`. Returns a new structure; `content` is not modified. Throws an Error naming the array on
 * an unknown dtype, a byte count that does not match the shape, or an index with no buffer.
 */
export function unpack<T = unknown>(content: unknown, buffers: readonly BufferLike[] = []): T {
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (isPlainObject(x)) {
      if (Object.prototype.hasOwnProperty.call(x, "$array")) {
        const i = x.$array;
        if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= buffers.length) {
          throw new Error(
            `codec: placeholder refers to buffer ${JSON.stringify(i)}, but the message has ` +
              `${buffers.length} buffer${buffers.length === 1 ? "" : "s"}`,
          );
        }
        return decodeArray(x as unknown as Placeholder, buffers[i], i);
      }
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x)) out[k] = walk(x[k]);
      return out;
    }
    return x;
  };
  return walk(content) as T;
}

// ---------------------------------------------------------------------------------------------------------
// pack

type AnyTypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array;

function isTypedArray(x: unknown): x is AnyTypedArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView) && typeof (x as { length?: unknown }).length === "number";
}

/** Is `x` an `{dtype, shape, data}` array (as `unpack` returns)? */
export function isNdArray(x: unknown): x is NdArray {
  return (
    isPlainObject(x) && Object.keys(x).length === 3 && typeof x.dtype === "string" && Array.isArray(x.shape) &&
    isTypedArray(x.data)
  );
}

function viewOf(a: ArrayBufferView): DataView {
  return new DataView(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
}

function inInt32(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < -2147483648 || v > 2147483647) {
      throw new Error(`codec: ${what} value ${v} at index ${i} does not fit in int32`);
    }
  }
}

/** Wire dtype and bytes for a typed array, converting the types the wire lacks (as the Python encoder does). */
function encodeTyped(data: AnyTypedArray, dtype: DType | null): { dtype: DType; bytes: DataView } {
  const want = dtype ?? defaultDType(data);
  switch (want) {
    case "float32":
      return { dtype: want, bytes: viewOf(data instanceof Float32Array ? data : Float32Array.from(data)) };
    case "float16":
      // Raw bit patterns pass through; any other numbers are rounded to binary16.
      return { dtype: want, bytes: viewOf(data instanceof Uint16Array ? data : encodeFloat16(data)) };
    case "uint8": {
      if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return { dtype: want, bytes: viewOf(data) };
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (!(v >= 0 && v <= 255 && Number.isInteger(v))) {
          throw new Error(`codec: value ${v} at index ${i} is not a uint8`);
        }
      }
      return { dtype: want, bytes: viewOf(Uint8Array.from(data)) };
    }
    case "int32": {
      if (data instanceof Int32Array) return { dtype: want, bytes: viewOf(data) };
      if (data instanceof Uint32Array) inInt32(data, "uint32");
      if (data instanceof Float32Array || data instanceof Float64Array) {
        for (let i = 0; i < data.length; i++) {
          if (!Number.isInteger(data[i])) throw new Error(`codec: value ${data[i]} at index ${i} is not an integer`);
        }
        inInt32(data, "float");
      }
      return { dtype: want, bytes: viewOf(Int32Array.from(data)) };
    }
  }
}

function defaultDType(data: AnyTypedArray): DType {
  if (data instanceof Float32Array || data instanceof Float64Array) return "float32";
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return "uint8";
  return "int32"; // Int8/Int16/Uint16/Int32/Uint32 (Uint32 checked to fit)
}

/**
 * Replace every typed array (1-D, shape [length]) and every NdArray `{dtype, shape, data}` in `obj` (at any
 * depth) by a placeholder; the bytes become `buffers` (DataViews, no copy where the wire type matches).
 * Float64Array goes as float32 and small integer arrays as int32, like the Python encoder.
 */
export function pack(obj: unknown): { content: unknown; buffers: DataView[] } {
  const buffers: DataView[] = [];
  const add = (data: AnyTypedArray, dtype: DType | null, shape: number[]): Placeholder => {
    const enc = encodeTyped(data, dtype);
    buffers.push(enc.bytes);
    return { $array: buffers.length - 1, dtype: enc.dtype, shape };
  };
  const walk = (x: unknown): unknown => {
    if (isTypedArray(x)) return add(x, null, [x.length]);
    if (x instanceof DataView || x instanceof ArrayBuffer) {
      throw new Error("codec: cannot pack raw bytes (DataView/ArrayBuffer); wrap them in a typed array");
    }
    if (Array.isArray(x)) return x.map(walk);
    if (isNdArray(x)) {
      if (!isDType(x.dtype)) {
        throw new Error(`codec: unknown dtype ${JSON.stringify(x.dtype)} (supported: ${DTYPES.join(", ")})`);
      }
      const shape = checkShape(x.shape, "array").slice();
      if (prod(shape) !== x.data.length) {
        throw new Error(`codec: shape [${shape.join(", ")}] needs ${prod(shape)} elements, data has ${x.data.length}`);
      }
      return add(x.data, x.dtype, shape);
    }
    if (isPlainObject(x)) {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x)) out[k] = walk(x[k]);
      return out;
    }
    return x;
  };
  const content = walk(obj);
  return { content, buffers };
}
