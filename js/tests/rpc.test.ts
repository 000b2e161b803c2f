import { afterEach, describe, expect, it, vi } from "vitest";
import type { NdArray } from "../lib/codec";
import {
  createRpc,
  isExpectedRejection,
  onMessage,
  reportRpcFailure,
  RpcClosed,
  RpcError,
  RpcTimeout,
  Superseded,
  type MessageModel,
} from "../lib/rpc";

type Listener = (msg: any, buffers: DataView[]) => void;

/** Just enough of an anywidget model: records sends, delivers kernel messages to msg:custom listeners. */
class FakeModel implements MessageModel {
  sent: Array<{ content: any; buffers: unknown[] | undefined }> = [];
  listeners = new Set<Listener>();
  send(content: unknown, _callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void {
    this.sent.push({ content: JSON.parse(JSON.stringify(content)), buffers });
  }
  on(eventName: string, callback: Listener): void {
    if (eventName === "msg:custom") this.listeners.add(callback);
  }
  off(eventName?: string | null, callback?: ((...args: any[]) => void) | null): void {
    if (eventName === "msg:custom" && callback) this.listeners.delete(callback as Listener);
  }
  deliver(msg: unknown, buffers: DataView[] = []): void {
    for (const l of [...this.listeners]) l(msg, buffers);
  }
  last(): any {
    return this.sent[this.sent.length - 1].content;
  }
  reply(id: string, result: unknown, buffers: DataView[] = []): void {
    this.deliver({ type: "response", id, ok: true, result }, buffers);
  }
}

/** Settle state of a promise without awaiting it forever. */
async function state(p: Promise<unknown>): Promise<"pending" | "resolved" | "rejected"> {
  const marker = Symbol("pending");
  try {
    const v = await Promise.race([p, Promise.resolve().then(() => marker)]);
    return v === marker ? "pending" : "resolved";
  } catch {
    return "rejected";
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("createRpc", () => {
  it("sends a request message and resolves with the unpacked result", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const p = rpc.request("cell", { row: 3, col: 4 });
    expect(model.sent).toHaveLength(1);
    const req = model.last();
    expect(req).toEqual({ type: "request", id: req.id, method: "cell", args: { row: 3, col: 4 }, channel: null });
    expect(typeof req.id).toBe("string");
    expect(model.sent[0].buffers).toBeUndefined();

    const data = new Float32Array([0.25, 0.5]);
    const buf = new DataView(data.buffer);
    model.reply(req.id, { value: 0.25, arr: { $array: 0, dtype: "float32", shape: [2] } }, [buf]);
    const { result, buffers } = await p;
    expect(result.value).toBe(0.25);
    expect((result.arr as NdArray).shape).toEqual([2]);
    expect(Array.from((result.arr as NdArray).data)).toEqual([0.25, 0.5]);
    expect(buffers).toEqual([buf]);
    expect(rpc.pending).toBe(0);
  });

  it("defaults args to {} and packs typed arrays in args", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const a = rpc.request("snapshot").catch((e) => e);
    expect(model.last().args).toEqual({});
    const b = rpc.request("probe", { v: new Float32Array([1, 2]) }).catch((e) => e);
    expect(model.last().args).toEqual({ v: { $array: 0, dtype: "float32", shape: [2] } });
    expect(model.sent[1].buffers).toHaveLength(1);
    rpc.dispose();
    expect(await a).toBeInstanceOf(RpcClosed);
    expect(await b).toBeInstanceOf(RpcClosed);
  });

  it("matches answers to requests by id, in any order", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const a = rpc.request("a");
    const b = rpc.request("b");
    const [ida, idb] = model.sent.map((s) => s.content.id);
    expect(ida).not.toBe(idb);
    model.reply(idb, "B");
    model.reply(ida, "A");
    expect((await a).result).toBe("A");
    expect((await b).result).toBe("B");
  });

  it("uses ids that differ between clients of the same model", () => {
    const model = new FakeModel();
    const r1 = createRpc(model);
    const r2 = createRpc(model);
    r1.request("x").catch(() => {});
    r2.request("x").catch(() => {});
    expect(model.sent[0].content.id).not.toBe(model.sent[1].content.id);
    r1.dispose();
    r2.dispose();
  });

  it("latest wins on a channel: the older request rejects with Superseded and its late answer is ignored", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const first = rpc.request("cell", { row: 0, col: 0 }, { channel: "hover" });
    const id1 = model.last().id;
    expect(model.last().channel).toBe("hover");
    const second = rpc.request("cell", { row: 1, col: 1 }, { channel: "hover" });
    const id2 = model.last().id;
    await expect(first).rejects.toBeInstanceOf(Superseded);
    await expect(first).rejects.toMatchObject({ method: "cell", channel: "hover" });
    model.reply(id1, { value: 1 }); // late answer for the superseded id: ignored
    expect(await state(second)).toBe("pending");
    model.reply(id2, { value: 2 });
    expect((await second).result).toEqual({ value: 2 });
  });

  it("keeps channels independent, and requests without a channel never supersede", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const hover = rpc.request("cell", {}, { channel: "hover" });
    const snap = rpc.request("snapshot", {}, { channel: "snapshot" });
    const free1 = rpc.request("x");
    const free2 = rpc.request("x");
    for (const p of [hover, snap, free1, free2]) expect(await state(p)).toBe("pending");
    for (const s of model.sent) model.reply(s.content.id, s.content.method);
    expect((await hover).result).toBe("cell");
    expect((await snap).result).toBe("snapshot");
    expect((await free1).result).toBe("x");
    expect((await free2).result).toBe("x");
  });

  it("rejects with RpcTimeout after the timeout and ignores a late answer", async () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const rpc = createRpc(model, { timeoutMs: 1000 });
    const p = rpc.request("slow");
    const caught = p.catch((e) => e);
    vi.advanceTimersByTime(999);
    expect(await state(p)).toBe("pending");
    vi.advanceTimersByTime(1);
    const err = await caught;
    expect(err).toBeInstanceOf(RpcTimeout);
    expect(err.message).toMatch(/slow.*1000 ms/);
    expect(rpc.pending).toBe(0);
    expect(() => model.reply(model.last().id, "late")).not.toThrow();
  });

  it("uses a 30 s default timeout and a per-request override", async () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    const rpc = createRpc(model);
    const def = rpc.request("a").catch((e) => e);
    const short = rpc.request("b", {}, { timeoutMs: 10 }).catch((e) => e);
    const never = rpc.request("c", {}, { timeoutMs: Infinity });
    vi.advanceTimersByTime(10);
    expect(await short).toBeInstanceOf(RpcTimeout);
    vi.advanceTimersByTime(29_989);
    expect(await state(def)).toBe("pending");
    vi.advanceTimersByTime(1);
    expect(await def).toBeInstanceOf(RpcTimeout);
    vi.advanceTimersByTime(10 * 60_000);
    expect(await state(never)).toBe("pending");
    rpc.dispose();
    await expect(never).rejects.toBeInstanceOf(RpcClosed);
  });

  it("rejects with RpcError carrying the kernel's message on ok:false", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const p = rpc.request("cell", { row: -1 });
    model.deliver({ type: "response", id: model.last().id, ok: false, error: "row -1 is out of range [0, 10)" });
    const err = await p.catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.message).toBe("row -1 is out of range [0, 10)");
    expect(err.method).toBe("cell");
  });

  it("rejects with Superseded when the kernel answers superseded", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const p = rpc.request("cell", {}, { channel: "hover" });
    model.deliver({ type: "response", id: model.last().id, ok: false, superseded: true });
    await expect(p).rejects.toBeInstanceOf(Superseded);
  });

  it("rejects with RpcError when the result cannot be unpacked", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const p = rpc.request("x");
    model.reply(model.last().id, { $array: 3, dtype: "float32", shape: [1] });
    await expect(p).rejects.toThrow(/bad response.*buffer 3/);
  });

  it("ignores unknown ids and other message types", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const p = rpc.request("x");
    expect(() => {
      model.reply("no-such-id", 1);
      model.deliver({ type: "tile", r0: 0, c0: 0 });
      model.deliver({ type: "error", error: "bad" });
      model.deliver("not an object");
      model.deliver(null);
      model.deliver({ type: "response" });
    }).not.toThrow();
    expect(await state(p)).toBe("pending");
    model.reply(model.last().id, "ok");
    expect((await p).result).toBe("ok");
  });

  it("rejects when the signal aborts", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    const ctl = new AbortController();
    const p = rpc.request("x", {}, { signal: ctl.signal });
    ctl.abort(new Error("user left"));
    await expect(p).rejects.toThrow("user left");
    expect(rpc.pending).toBe(0);
    const pre = new AbortController();
    pre.abort(new Error("already"));
    await expect(rpc.request("y", {}, { signal: pre.signal })).rejects.toThrow("already");
  });

  it("rejects a request whose send throws", async () => {
    const model = new FakeModel();
    model.send = () => {
      throw new Error("comm closed");
    };
    const rpc = createRpc(model);
    await expect(rpc.request("x")).rejects.toThrow("comm closed");
    expect(rpc.pending).toBe(0);
  });

  it("dispose rejects everything pending, removes its listener and refuses new requests", async () => {
    const model = new FakeModel();
    const rpc = createRpc(model);
    expect(model.listeners.size).toBe(1);
    const a = rpc.request("a");
    const b = rpc.request("b", {}, { channel: "hover" });
    rpc.dispose();
    await expect(a).rejects.toBeInstanceOf(RpcClosed);
    await expect(b).rejects.toBeInstanceOf(RpcClosed);
    expect(model.listeners.size).toBe(0);
    expect(rpc.pending).toBe(0);
    await expect(rpc.request("c")).rejects.toBeInstanceOf(RpcClosed);
    expect(() => rpc.dispose()).not.toThrow();
  });

  it("exports error classes that are Errors with names", () => {
    expect(new Superseded("m", "hover")).toBeInstanceOf(Error);
    expect(new RpcTimeout("m", 5).name).toBe("RpcTimeout");
    expect(new RpcError("m", "boom").name).toBe("RpcError");
    expect(new Superseded("m", null).name).toBe("Superseded");
  });
});

describe("onMessage", () => {
  it("delivers messages of one type with arrays unpacked, until unsubscribed", () => {
    const model = new FakeModel();
    const got: any[] = [];
    const off = onMessage(model, "tile", (msg) => got.push(msg));
    const data = new Float32Array([1, 2, 3, 4]);
    model.deliver({ type: "tile", r0: 2, c0: 4, data: { $array: 0, dtype: "float32", shape: [2, 2] } }, [
      new DataView(data.buffer),
    ]);
    model.deliver({ type: "response", id: "x", ok: true, result: 1 });
    expect(got).toHaveLength(1);
    expect(got[0].r0).toBe(2);
    expect(got[0].data.shape).toEqual([2, 2]);
    expect(Array.from(got[0].data.data)).toEqual([1, 2, 3, 4]);
    off();
    off();
    model.deliver({ type: "tile", r0: 0, c0: 0, data: null });
    expect(got).toHaveLength(1);
    expect(model.listeners.size).toBe(0);
  });

  it("skips a message that fails to unpack, with a warning", () => {
    const model = new FakeModel();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const got: any[] = [];
    onMessage(model, "tile", (msg) => got.push(msg));
    model.deliver({ type: "tile", r0: 0, c0: 0, data: { $array: 0, dtype: "float32", shape: [2] } }, []);
    expect(got).toHaveLength(0);
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
  });
});

describe("reportRpcFailure", () => {
  it("stays silent for superseded or closed requests and reports anything else once", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(isExpectedRejection(new Superseded("cell", "hover"))).toBe(true);
    expect(isExpectedRejection(new RpcClosed("x"))).toBe(true);
    expect(isExpectedRejection(new Error("boom"))).toBe(false);
    reportRpcFailure("cell", new Superseded("cell", "hover"));
    reportRpcFailure("cell", new RpcClosed("x"));
    expect(warn).not.toHaveBeenCalled();
    reportRpcFailure("cell", new Error("boom"));
    expect(warn).toHaveBeenCalledWith("fxwidgets: cell failed: boom");
    warn.mockRestore();
  });
});
