// Request/response over the widget's custom messages (docs/protocol.md, "Messages").
//
// View -> kernel: {type: "request", id, method, args, channel}. Kernel -> view: {type: "response", id, ok, ...}.
// One request per channel is alive at a time (latest wins); every request has a timeout.

import { pack, unpack, type BufferLike } from "./codec";

/** The part of anywidget's model this module uses. */
export interface MessageModel {
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
  on(eventName: "msg:custom", callback: (msg: any, buffers: DataView[]) => void): void;
  off(eventName?: string | null, callback?: ((...args: any[]) => void) | null): void;
}

/** The kernel answered `ok: false`; `message` is the kernel's error text. */
export class RpcError extends Error {
  readonly method: string;
  constructor(method: string, message: string) {
    super(message);
    this.name = "RpcError";
    this.method = method;
  }
}

/** No answer came within the request's timeout. */
export class RpcTimeout extends Error {
  readonly method: string;
  readonly timeoutMs: number;
  constructor(method: string, timeoutMs: number) {
    super(`${method}: no answer from the kernel within ${timeoutMs} ms`);
    this.name = "RpcTimeout";
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/** A newer request on the same channel replaced this one (in the browser or in the kernel). */
export class Superseded extends Error {
  readonly method: string;
  readonly channel: string | null;
  constructor(method: string, channel: string | null) {
    super(`${method}: superseded by a newer request on channel ${JSON.stringify(channel)}`);
    this.name = "Superseded";
    this.method = method;
    this.channel = channel;
  }
}

/** The client was disposed (the view went away) before the answer came. */
export class RpcClosed extends Error {
  readonly method: string;
  constructor(method: string) {
    super(`${method}: the view was closed before the kernel answered`);
    this.name = "RpcClosed";
    this.method = method;
  }
}

export interface RpcReply<R = any> {
  /** The method's `result`, with arrays unpacked to NdArrays. */
  result: R;
  /** The raw binary buffers of the response message. */
  buffers: DataView[];
}

export interface RequestOptions {
  /** Latest wins per channel: a newer request on it rejects this one with `Superseded`. */
  channel?: string | null;
  /** Overrides the client's timeout; 0 or Infinity waits forever. */
  timeoutMs?: number;
  /** Aborting rejects the request with the signal's reason (the kernel may still run it). */
  signal?: AbortSignal;
}

export interface RpcClient {
  request<R = any>(method: string, args?: Record<string, unknown>, options?: RequestOptions): Promise<RpcReply<R>>;
  /** Number of requests still waiting for an answer. */
  readonly pending: number;
  /** Reject everything pending with `RpcClosed` and stop listening. Idempotent. */
  dispose(): void;
}

interface Pending {
  method: string;
  channel: string | null;
  resolve: (reply: RpcReply) => void;
  reject: (err: unknown) => void;
  timer: ReturnType<typeof setTimeout> | null;
  unlisten: (() => void) | null;
}

function randomPrefix(): string {
  // Unique across the views of one model (they all see every response). Not crypto.randomUUID: that needs a
  // secure context, which a notebook served over plain http is not.
  return Math.random().toString(36).slice(2, 10).padEnd(8, "0");
}

export function createRpc(model: MessageModel, { timeoutMs = 30000 }: { timeoutMs?: number } = {}): RpcClient {
  const prefix = randomPrefix();
  let counter = 0;
  let disposed = false;
  const pending = new Map<string, Pending>();
  const byChannel = new Map<string, string>(); // channel -> id of its live request

  const settle = (id: string): Pending | undefined => {
    const p = pending.get(id);
    if (p === undefined) return undefined;
    pending.delete(id);
    if (p.timer !== null) clearTimeout(p.timer);
    p.unlisten?.();
    if (p.channel !== null && byChannel.get(p.channel) === id) byChannel.delete(p.channel);
    return p;
  };

  const onCustom = (msg: unknown, buffers: DataView[] | undefined): void => {
    if (msg === null || typeof msg !== "object") return;
    const m = msg as Record<string, unknown>;
    if (m.type !== "response" || typeof m.id !== "string") return;
    const p = settle(m.id); // unknown, superseded, timed-out ids: ignored
    if (p === undefined) return;
    const bufs = buffers ?? [];
    if (m.ok === true) {
      let result: unknown;
      try {
        result = unpack(m.result, bufs);
      } catch (err) {
        p.reject(new RpcError(p.method, `bad response: ${(err as Error).message}`));
        return;
      }
      p.resolve({ result, buffers: bufs });
    } else if (m.superseded === true) {
      p.reject(new Superseded(p.method, p.channel));
    } else {
      const text = typeof m.error === "string" && m.error !== "" ? m.error : "the kernel reported an error";
      p.reject(new RpcError(p.method, text));
    }
  };
  model.on("msg:custom", onCustom);

  const request = <R = any>(
    method: string,
    args: Record<string, unknown> = {},
    options: RequestOptions = {},
  ): Promise<RpcReply<R>> => {
    const channel = options.channel ?? null;
    const limit = options.timeoutMs ?? timeoutMs;
    const { signal } = options;
    return new Promise<RpcReply<R>>((resolve, reject) => {
      if (disposed) {
        reject(new RpcClosed(method));
        return;
      }
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const id = `${prefix}-${++counter}`;
      if (channel !== null) {
        const prev = byChannel.get(channel);
        const old = prev === undefined ? undefined : settle(prev);
        old?.reject(new Superseded(old.method, channel));
        byChannel.set(channel, id);
      }
      const p: Pending = {
        method,
        channel,
        resolve: resolve as (reply: RpcReply) => void,
        reject,
        timer: null,
        unlisten: null,
      };
      pending.set(id, p);
      if (limit > 0 && Number.isFinite(limit)) {
        p.timer = setTimeout(() => settle(id)?.reject(new RpcTimeout(method, limit)), limit);
      }
      if (signal) {
        const onAbort = () => settle(id)?.reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        p.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      try {
        const packed = pack(args);
        const content = { type: "request", id, method, args: packed.content, channel };
        if (packed.buffers.length > 0) model.send(content, undefined, packed.buffers);
        else model.send(content);
      } catch (err) {
        settle(id);
        reject(err);
      }
    });
  };

  return {
    request,
    get pending() {
      return pending.size;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      model.off("msg:custom", onCustom);
      for (const id of [...pending.keys()]) {
        const p = settle(id);
        p?.reject(new RpcClosed(p.method));
      }
    },
  };
}

/**
 * Call `handler(message, buffers)` for every kernel message of the given `type` (e.g. "tile"), with arrays
 * unpacked. A message that fails to unpack is reported on the console and skipped. Returns the unsubscribe.
 */
export function onMessage<M extends { type: string } = any>(
  model: MessageModel,
  type: string,
  handler: (msg: M, buffers: DataView[]) => void,
): () => void {
  const listener = (msg: unknown, buffers: DataView[] | undefined): void => {
    if (msg === null || typeof msg !== "object" || (msg as { type?: unknown }).type !== type) return;
    const bufs = buffers ?? [];
    let unpacked: M;
    try {
      unpacked = unpack<M>(msg, bufs as BufferLike[]);
    } catch (err) {
      console.warn(`fxwidgets: dropped a ${type} message: ${(err as Error).message}`);
      return;
    }
    handler(unpacked, bufs);
  };
  model.on("msg:custom", listener);
  let active = true;
  return () => {
    if (!active) return;
    active = false;
    model.off("msg:custom", listener);
  };
}

/** A request that ended the way views expect (replaced by a newer one, or the view closed): nothing to report. */
export function isExpectedRejection(err: unknown): boolean {
  return err instanceof Superseded || err instanceof RpcClosed;
}

/** Log a failed request once, in one format, unless its failure was expected. */
export function reportRpcFailure(method: string, err: unknown): void {
  if (isExpectedRejection(err)) return;
  console.warn(`fxwidgets: ${method} failed: ${(err as Error)?.message ?? String(err)}`);
}
