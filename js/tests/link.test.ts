import { describe, expect, it, vi } from "vitest";
import {
  createBus,
  fromLinkRows,
  joinLink,
  mapFromBytes,
  sortedUnique,
  toLinkRows,
  type LinkHost,
} from "../lib/link";

const arr = (a: ArrayLike<number>) => Array.from(a);

/** A seeded generator (tests must not depend on Math.random). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe("rows and index maps", () => {
  it("sortedUnique sorts, drops repeats, negatives and non-integers", () => {
    expect(arr(sortedUnique([5, 3, 3, -1, 2.5, 0, 5]))).toEqual([0, 3, 5]);
    expect(arr(sortedUnique([]))).toEqual([]);
  });

  it("the identity map passes rows through (and drops rows past the view's end on the way in)", () => {
    expect(arr(toLinkRows([4, 1, 1], null))).toEqual([1, 4]);
    expect(arr(fromLinkRows([9, 1, 4], null, 5))).toEqual([1, 4]);
  });

  it("a map translates view rows to link rows and back (a heatmap sorted by class)", () => {
    // view row i shows link row order[i]
    const order = Int32Array.from([3, 0, 4, 1, 2]);
    expect(arr(toLinkRows([0, 1], order))).toEqual([0, 3]);
    expect(arr(fromLinkRows([0, 3], order, 5))).toEqual([0, 1]);
    expect(arr(fromLinkRows([2, 4], order, 5))).toEqual([2, 4]);
    // rows outside the map are dropped, link rows nobody shows select nothing
    expect(arr(toLinkRows([7, -1, 2], order))).toEqual([4]);
    expect(arr(fromLinkRows([99], order, 5))).toEqual([]);
  });

  it("a map that shows one link row in several view rows selects all of them (tokens of one sentence)", () => {
    const sentenceOf = Int32Array.from([0, 0, 0, 1, 1, 2]);
    expect(arr(fromLinkRows([0, 2], sentenceOf, 6))).toEqual([0, 1, 2, 5]);
    expect(arr(toLinkRows([4], sentenceOf))).toEqual([1]);
  });

  it("round trip: the rows a view selected come back (exactly, when the map is one-to-one)", () => {
    const r = rng(7);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(r() * 40);
      const perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const map = Int32Array.from(perm.map((p) => p + 3)); // link rows offset: not an identity
      const rows = sortedUnique(Array.from({ length: Math.floor(r() * n) }, () => Math.floor(r() * n)));
      expect(arr(fromLinkRows(toLinkRows(rows, map), map, n))).toEqual(arr(rows));
      // a many-to-one map: the selection comes back as a superset
      const many = Int32Array.from(perm.map((p) => p % 3));
      const back = new Set(arr(fromLinkRows(toLinkRows(rows, many), many, n)));
      for (const x of rows) expect(back.has(x)).toBe(true);
    }
  });

  it("reads the link_map trait: int32 little-endian bytes at any offset; empty is the identity", () => {
    const bytes = new Uint8Array(3 + 12);
    new DataView(bytes.buffer).setInt32(3, 7, true);
    new DataView(bytes.buffer).setInt32(7, 0, true);
    new DataView(bytes.buffer).setInt32(11, 123456, true);
    expect(arr(mapFromBytes(new DataView(bytes.buffer, 3, 12))!)).toEqual([7, 0, 123456]);
    expect(mapFromBytes(new DataView(new ArrayBuffer(0)))).toBeNull();
    expect(mapFromBytes(null)).toBeNull();
  });
});

describe("the in-page bus", () => {
  it("delivers to the other members of the same link only, never back to the sender", () => {
    const bus = createBus();
    const a = vi.fn();
    const b = vi.fn();
    const other = vi.fn();
    bus.subscribe("L1", "a", a);
    bus.subscribe("L1", "b", b);
    bus.subscribe("L2", "c", other);
    bus.publish("L1", "a", [3, 1, 1]);
    expect(a).not.toHaveBeenCalled();
    expect(other).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledTimes(1);
    expect(arr(b.mock.calls[0][0].rows)).toEqual([1, 3]);
    expect(b.mock.calls[0][0].source).toBe("a");
  });

  it("unsubscribes, ignores the empty link id, and a failing member does not stop the others", () => {
    const bus = createBus();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const good = vi.fn();
    const off = bus.subscribe("L", "x", () => {
      throw new Error("broken view");
    });
    bus.subscribe("L", "y", good);
    bus.publish("L", "z", [1]);
    expect(good).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalled();
    off();
    expect(bus.count("L")).toBe(1);
    const none = vi.fn();
    bus.subscribe("", "q", none);
    bus.publish("", "p", [1]);
    expect(none).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});

describe("a view's membership", () => {
  function host(traits: Record<string, unknown>) {
    const listeners = new Map<string, Array<() => void>>();
    const disposers: Array<() => void> = [];
    const h: LinkHost & { set(k: string, v: unknown): void; dispose(): void } = {
      get: (k) => traits[k],
      has: (k) => k in traits,
      on: (keys, cb) => {
        for (const k of Array.isArray(keys) ? keys : [keys]) listeners.set(k, [...(listeners.get(k) ?? []), cb]);
      },
      add: (d) => disposers.push(d),
      set(k, v) {
        traits[k] = v;
        for (const cb of listeners.get(k) ?? []) cb();
      },
      dispose() {
        for (const d of disposers.splice(0)) d();
      },
    };
    return h;
  }
  const bytes = (a: number[]) => new DataView(Int32Array.from(a).buffer);

  it("publishes link rows and receives rows translated into its own numbering", () => {
    const bus = createBus();
    const scatter = host({ link_id: "L", link_map: bytes([]) });
    const heat = host({ link_id: "L", link_map: bytes([2, 0, 1]) }); // heat row i shows link row [2, 0, 1][i]
    const gotScatter = vi.fn();
    const gotHeat = vi.fn();
    const ms = joinLink(scatter, () => 3, gotScatter, bus);
    joinLink(heat, () => 3, gotHeat, bus);
    ms.publish([0, 2]);
    expect(arr(gotHeat.mock.calls[0][0])).toEqual([0, 1]);
    expect(gotScatter).not.toHaveBeenCalled();
  });

  it("follows link_id when Python changes it, and leaves the bus when the view goes", () => {
    const bus = createBus();
    const v = host({ link_id: "", link_map: bytes([]) });
    const got = vi.fn();
    const m = joinLink(v, () => 10, got, bus);
    expect(m.linkId).toBe("");
    v.set("link_id", "L9");
    expect(m.linkId).toBe("L9");
    bus.publish("L9", "someone", [4]);
    expect(arr(got.mock.calls[0][0])).toEqual([4]);
    v.dispose();
    expect(bus.count("L9")).toBe(0);
  });

  it("a view without the traits (an older Python side) is simply not linked", () => {
    const bus = createBus();
    const m = joinLink(host({}), () => 3, vi.fn(), bus);
    expect(m.linkId).toBe("");
    m.publish([1]); // nothing to publish to, and no error
  });
});
