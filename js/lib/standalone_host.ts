// The host of a standalone page (fxwidgets/widgets/_standalone.py writes the page; this file is bundled on its own,
// as an IIFE, into fxwidgets/static/standalone_host.js and inlined). It renders each saved view with a stand-in for
// the anywidget model — get / set / on / off / save_changes / send / widget_manager over the saved trait values —
// and answers the view's requests from the tables Python computed when the page was saved. Nothing is fetched:
// the view modules are built from inlined text (blob URLs), and a request without a saved answer is answered with
// an error saying it needs the kernel, which the page also says under the view.

export interface Packed {
  content: unknown;
  buffers: number[];
}
export interface Entry {
  result: Packed;
  messages: Packed[];
}
export interface Reaction {
  traits: Packed;
  messages: Packed[];
}
export interface Cells {
  matrix: number;
  shape: [number, number];
  order?: number;
  labels?: string[];
}
export interface SavedView {
  bundle: string;
  name: string;
  state: Record<string, unknown>;
  answers: Record<string, Record<string, Entry>>;
  cells: Cells | null;
  reactions: Record<string, Record<string, Reaction>>;
  omitted: string[];
}
export interface Payload {
  version: number;
  title: string;
  blobs: string[];
  bundles: Record<string, string>;
  views: SavedView[];
}

/** The canonical JSON of a value (keys sorted, no spaces): the key Python stored answers under. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** base64 -> bytes (atob is in every browser and in node >= 16). */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The page's binary data, decoded on first use. */
export class Blobs {
  private cache = new Map<number, Uint8Array>();
  constructor(private readonly items: readonly string[]) {}
  bytes(i: number): Uint8Array {
    let b = this.cache.get(i);
    if (b === undefined) {
      const text = this.items[i];
      if (typeof text !== "string") throw new Error(`the page has no blob ${i}`);
      b = fromBase64(text);
      this.cache.set(i, b);
    }
    return b;
  }
  view(i: number): DataView {
    const b = this.bytes(i);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
}

/** Saved trait values with every {"$blob": i} turned into a DataView (what a bytes trait is in a live view). */
export function decodeState(value: unknown, blobs: Blobs): unknown {
  if (Array.isArray(value)) return value.map((v) => decodeState(v, blobs));
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.$blob === "number" && Object.keys(o).length === 1) return blobs.view(o.$blob);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = decodeState(v, blobs);
    return out;
  }
  return value;
}

export interface Message {
  content: unknown;
  buffers: DataView[];
}

function unpackMessage(p: Packed, blobs: Blobs): Message {
  return { content: p.content, buffers: p.buffers.map((i) => blobs.view(i)) };
}

export const NEEDS_KERNEL = "needs the kernel: this page was saved without it";

/**
 * The answer to one request message of the view: the messages to send before it, then the response. Pure, so
 * that the tests run it in node.
 */
export function answerRequest(
  saved: SavedView,
  blobs: Blobs,
  request: { id: unknown; method: unknown; args?: unknown },
  state: Record<string, unknown>,
): { messages: Message[]; response: Message; missing: string | null } {
  const method = String(request.method);
  const args = (request.args ?? {}) as Record<string, unknown>;
  const ok = (result: unknown, buffers: DataView[] = []) => ({ content: { type: "response", id: request.id, ok: true, result }, buffers });
  if (method === "cancel") return { messages: [], response: ok({ status: state.status ?? "done" }), missing: null };
  const entry = saved.answers[method]?.[canonical(args)];
  if (entry) {
    const r = unpackMessage(entry.result, blobs);
    return { messages: entry.messages.map((m) => unpackMessage(m, blobs)), response: ok(r.content, r.buffers), missing: null };
  }
  if (method === "cell" && saved.cells) {
    const c = saved.cells;
    const row = Number(args.row);
    const col = Number(args.col);
    const [n, m] = c.shape;
    if (Number.isInteger(row) && Number.isInteger(col) && row >= 0 && col >= 0 && row < n && col < m) {
      const v = blobs.view(c.matrix).getFloat32(4 * (row * m + col), true);
      const result: Record<string, unknown> = { row, col, value: Number.isFinite(v) ? v : null };
      if (!Number.isFinite(v)) result.nonfinite = String(v).toLowerCase();
      if (c.order !== undefined) {
        const order = blobs.view(c.order);
        const i = order.getInt32(4 * row, true);
        const j = order.getInt32(4 * col, true);
        Object.assign(result, { i, j });
        if (c.labels) Object.assign(result, { row_label: c.labels[i], col_label: c.labels[j] });
      }
      return { messages: [], response: ok(result), missing: null };
    }
  }
  const what = `${method} ${canonical(args)}`;
  return {
    messages: [],
    response: { content: { type: "response", id: request.id, ok: false, error: `${NEEDS_KERNEL} (${what})` }, buffers: [] },
    missing: method,
  };
}

type Listener = (...args: unknown[]) => void;

/** The stand-in for anywidget's model: the saved traits, change events, and requests answered from the tables. */
export function createModel(saved: SavedView, blobs: Blobs, onMissing: (what: string) => void) {
  const state = decodeState(saved.state, blobs) as Record<string, unknown>;
  const listeners = new Map<string, Listener[]>();
  const dirty = new Set<string>();
  const emit = (event: string, ...args: unknown[]) => {
    for (const cb of (listeners.get(event) ?? []).slice()) cb(...args);
  };
  const later = (cb: () => void) => setTimeout(cb, 0);
  const deliver = (messages: Message[]) => {
    for (const m of messages) emit("msg:custom", m.content, m.buffers);
  };
  const setLocal = (key: string, value: unknown) => {
    state[key] = value;
    emit(`change:${key}`, value);
    emit("change");
  };
  const model = {
    get: (key: string) => state[key],
    set(key: string, value: unknown) {
      state[key] = value;
      dirty.add(key);
      emit(`change:${key}`, value);
      emit("change");
    },
    save_changes() {
      // What the kernel does when the view changes a trait: the saved reactions.
      const keys = [...dirty];
      dirty.clear();
      for (const key of keys) {
        const table = saved.reactions[key];
        if (!table) continue;
        const r = table[canonical(state[key])];
        if (!r) {
          onMissing(`${key} = ${canonical(state[key])}`);
          continue;
        }
        later(() => {
          const traits = unpackMessage(r.traits, blobs).content as Record<string, unknown>;
          for (const [k, v] of Object.entries(traits ?? {})) setLocal(k, v);
          deliver(r.messages.map((m) => unpackMessage(m, blobs)));
        });
      }
    },
    on(event: string, cb: Listener) {
      const l = listeners.get(event) ?? [];
      l.push(cb);
      listeners.set(event, l);
    },
    off(event?: string, cb?: Listener) {
      if (event === undefined) return listeners.clear();
      if (cb === undefined) return void listeners.delete(event);
      const l = listeners.get(event);
      if (!l) return;
      const i = l.indexOf(cb);
      if (i >= 0) l.splice(i, 1);
    },
    send(content: unknown, _callbacks?: unknown, _buffers?: unknown) {
      const c = content as { type?: unknown; id?: unknown; method?: unknown; args?: unknown };
      if (!c || c.type !== "request") return; // pictures and anything else: nobody to tell
      const a = answerRequest(saved, blobs, { id: c.id, method: c.method, args: c.args }, state);
      if (a.missing) onMissing(a.missing);
      later(() => {
        deliver(a.messages);
        deliver([a.response]);
      });
    },
    widget_manager: {
      async get_model(): Promise<never> {
        throw new Error("a standalone page has no other widgets");
      },
    },
  };
  return model;
}

function noteText(omitted: readonly string[], missing: readonly string[]): string {
  const parts: string[] = [];
  if (omitted.length) parts.push(`Saved without the kernel; not in this page: ${omitted.join("; ")}.`);
  if (missing.length) parts.push(`Asked for and not saved (needs the kernel): ${missing.join("; ")}.`);
  return parts.join(" ");
}

async function renderView(saved: SavedView, payload: Payload, blobs: Blobs, host: HTMLElement): Promise<void> {
  const section = document.createElement("section");
  section.className = "fx-standalone-view";
  section.dataset.view = saved.name;
  const el = document.createElement("div");
  el.className = "fx-standalone-host";
  const note = document.createElement("p");
  note.className = "fx-offline-note";
  section.append(el, note);
  host.appendChild(section);
  const missing: string[] = [];
  const updateNote = () => {
    note.textContent = noteText(saved.omitted, missing);
    section.dataset.missing = String(missing.length);
  };
  updateNote();
  const model = createModel(saved, blobs, (what) => {
    if (!missing.includes(what)) missing.push(what);
    updateNote();
  });
  const code = payload.bundles[saved.bundle];
  if (typeof code !== "string") throw new Error(`the page has no bundle ${saved.bundle}`);
  const url = URL.createObjectURL(new Blob([fromBase64(code) as Uint8Array<ArrayBuffer>], { type: "text/javascript" }));
  try {
    const mod = await import(/* @vite-ignore */ url);
    const def = mod.default;
    const widget = typeof def === "function" ? await def() : def;
    if (widget?.initialize) await widget.initialize({ model, experimental: {} });
    widget.render({ model, el, experimental: {} });
    section.dataset.rendered = "true";
  } finally {
    URL.revokeObjectURL(url);
  }
}

export async function boot(doc: Document = document): Promise<void> {
  const script = doc.getElementById("fx-standalone-data");
  const host = doc.getElementById("fx-standalone-views");
  if (!script || !host) return;
  const payload = JSON.parse(script.textContent ?? "{}") as Payload;
  const blobs = new Blobs(payload.blobs ?? []);
  for (const saved of payload.views ?? []) {
    try {
      await renderView(saved, payload, blobs, host);
    } catch (err) {
      const box = doc.createElement("pre");
      box.className = "fx-error";
      box.textContent = `fxwidgets: could not show the saved ${saved.name}: ${(err as Error)?.message ?? err}`;
      host.appendChild(box);
      console.error(err);
    }
  }
  doc.body.dataset.fxReady = "true";
}

if (typeof document !== "undefined" && document.getElementById("fx-standalone-data")) void boot();
