import { describe, expect, it } from "vitest";
import { Blobs, NEEDS_KERNEL, answerRequest, canonical, createModel, decodeState, type SavedView } from "../lib/standalone_host";

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);
const i32 = (values: number[]) => new Uint8Array(new Int32Array(values).buffer);

function saved(over: Partial<SavedView> = {}): SavedView {
  return { bundle: "x", name: "X", state: { status: "done" }, answers: {}, cells: null, reactions: {}, omitted: [], ...over };
}

describe("canonical", () => {
  it("sorts keys and writes no spaces, as Python's json.dumps(sort_keys=True, separators=(',', ':'))", () => {
    expect(canonical({ row: 1, col: 2, sort_by: "label" })).toBe('{"col":2,"row":1,"sort_by":"label"}');
    expect(canonical({})).toBe("{}");
    expect(canonical("fisher")).toBe('"fisher"');
    expect(canonical([3, { b: null, a: "é" }])).toBe('[3,{"a":"é","b":null}]');
  });
});

describe("state and answers", () => {
  const blobs = new Blobs([b64(f32([1, 2, NaN, 4])), b64(i32([1, 0])), b64(new Uint8Array([7, 8]))]);

  it("turns saved blobs into DataViews, as a bytes trait arrives in a live view", () => {
    const s = decodeState({ cka: { $blob: 2 }, nested: [{ lut: { $blob: 2 } }], n: 3 }, blobs) as any;
    expect(s.cka).toBeInstanceOf(DataView);
    expect(s.cka.getUint8(1)).toBe(8);
    expect(s.nested[0].lut.byteLength).toBe(2);
    expect(s.n).toBe(3);
  });

  it("answers a saved request with its messages first, by the canonical key of its args", () => {
    const view = saved({
      answers: { tile: { [canonical({ level: 1, ti: 0, tj: 0 })]: { result: { content: { ok: 1 }, buffers: [2] }, messages: [{ content: { type: "tile" }, buffers: [0] }] } } },
    });
    const a = answerRequest(view, blobs, { id: "r1", method: "tile", args: { tj: 0, ti: 0, level: 1 } }, {});
    expect(a.missing).toBeNull();
    expect(a.messages).toHaveLength(1);
    expect(a.messages[0].buffers[0].byteLength).toBe(16);
    expect(a.response.content).toEqual({ type: "response", id: "r1", ok: true, result: { ok: 1 } });
    expect(a.response.buffers).toHaveLength(1);
  });

  it("answers cell requests from the shipped matrix, with indices and labels through the order", () => {
    const view = saved({ cells: { matrix: 0, shape: [2, 2], order: 1, labels: ["a", "b"] } });
    const a = answerRequest(view, blobs, { id: 1, method: "cell", args: { row: 0, col: 1 } }, {});
    expect((a.response.content as any).result).toEqual({ row: 0, col: 1, value: 2, i: 1, j: 0, row_label: "b", col_label: "a" });
    const nan = answerRequest(view, blobs, { id: 2, method: "cell", args: { row: 1, col: 0 } }, {});
    expect((nan.response.content as any).result).toMatchObject({ value: null, nonfinite: "nan" });
  });

  it("says that anything else needs the kernel", () => {
    const a = answerRequest(saved(), blobs, { id: 9, method: "row", args: { b: 0, i: 1, j: 2 } }, {});
    expect(a.missing).toBe("row");
    expect((a.response.content as any).ok).toBe(false);
    expect((a.response.content as any).error).toContain(NEEDS_KERNEL);
    const c = answerRequest(saved(), blobs, { id: 10, method: "cancel", args: {} }, { status: "done" });
    expect((c.response.content as any).result).toEqual({ status: "done" });
  });
});

describe("the model stand-in", () => {
  it("applies a saved reaction when the view saves a trait change, and reports a value it has none for", async () => {
    const blobs = new Blobs([]);
    const view = saved({
      state: { row: 0, generation: 0 },
      reactions: { row: { "1": { traits: { content: { generation: 5 }, buffers: [] }, messages: [{ content: { type: "panel" }, buffers: [] }] } } },
    });
    const missing: string[] = [];
    const model = createModel(view, blobs, (w) => missing.push(w));
    const got: unknown[] = [];
    model.on("msg:custom", (m: unknown) => got.push(m));
    model.on("change:generation", () => got.push("generation"));
    model.set("row", 1);
    model.save_changes();
    await new Promise((r) => setTimeout(r, 5));
    expect(model.get("generation")).toBe(5);
    expect(got).toEqual(["generation", { type: "panel" }]);
    model.set("row", 2);
    model.save_changes();
    expect(missing).toEqual(["row = 2"]);
  });
});
