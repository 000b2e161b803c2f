// Linked selections in the page (docs/protocol.md, "Linked views").
//
// Python links views with `fx.link(a, b, ...)`: it gives every member the same `link_id` trait and, where a view
// numbers its rows differently from the others, an index map `link_map` (int32 bytes: view row i shows link row
// map[i]; empty = the identity). Python stays the source of truth: it receives every selection and sets the
// other views' traits. The bus below only makes the page answer at once — and without a kernel at all in a
// saved page: a view publishes the rows a person selected, in LINK rows, and the other members show them until
// their own trait arrives from Python.
//
// Every bundle is evaluated once per widget instance, so module state is not shared between views: the bus
// lives on globalThis, under a versioned key.

/** View row i shows link row map[i]; null = the identity (view row i is link row i). */
export type RowMap = Int32Array | null;

/** A link map from the `link_map` trait: int32 little-endian bytes (a DataView from the kernel); empty = null. */
export function mapFromBytes(value: unknown): RowMap {
  let bytes: Uint8Array | null = null;
  if (value instanceof Uint8Array) bytes = value;
  else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  if (bytes === null || bytes.byteLength < 4) return null;
  const n = Math.floor(bytes.byteLength / 4);
  // a copy: typed arrays need an aligned offset, and the message's buffer is not ours to keep
  return new Int32Array(bytes.slice(0, n * 4).buffer);
}

/** Rows as a sorted Int32Array without repeats; negative and non-integer entries are dropped. */
export function sortedUnique(rows: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows.length);
  let k = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (Number.isInteger(r) && r >= 0 && r <= 0x7fffffff) out[k++] = r;
  }
  const s = out.subarray(0, k).sort();
  let m = 0;
  for (let i = 0; i < s.length; i++) if (i === 0 || s[i] !== s[i - 1]) s[m++] = s[i];
  return s.slice(0, m);
}

/** The link rows that view rows `viewRows` show (sorted, unique). Rows outside the map are dropped. */
export function toLinkRows(viewRows: ArrayLike<number>, map: RowMap): Int32Array {
  if (map === null) return sortedUnique(viewRows);
  const out: number[] = [];
  for (let i = 0; i < viewRows.length; i++) {
    const r = viewRows[i];
    if (Number.isInteger(r) && r >= 0 && r < map.length) out.push(map[r]);
  }
  return sortedUnique(out);
}

/**
 * The view rows (of `nViewRows`) that show any of `linkRows`, sorted: every j with map[j] in linkRows. With
 * the identity map, the link rows below nViewRows.
 */
export function fromLinkRows(linkRows: ArrayLike<number>, map: RowMap, nViewRows: number): Int32Array {
  const n = Math.max(0, Math.floor(nViewRows));
  if (map === null) {
    const s = sortedUnique(linkRows);
    let k = 0;
    while (k < s.length && s[k] < n) k++;
    return s.slice(0, k);
  }
  let top = -1;
  for (let j = 0; j < Math.min(n, map.length); j++) if (map[j] > top) top = map[j];
  if (top < 0) return new Int32Array(0);
  const wanted = new Uint8Array(top + 1);
  for (let i = 0; i < linkRows.length; i++) {
    const r = linkRows[i];
    if (Number.isInteger(r) && r >= 0 && r <= top) wanted[r] = 1;
  }
  const out: number[] = [];
  for (let j = 0; j < Math.min(n, map.length); j++) if (map[j] >= 0 && wanted[map[j]]) out.push(j);
  return Int32Array.from(out);
}

// ---- the bus ----------------------------------------------------------------------------------------------

export interface LinkMessage {
  linkId: string;
  /** Who published (a view never hears its own messages). */
  source: string;
  /** Link rows, sorted and unique. */
  rows: Int32Array;
}

export interface Bus {
  /** Tell every other subscriber of `linkId` that `source` selected `rows` (link rows). */
  publish(linkId: string, source: string, rows: ArrayLike<number>): void;
  /** Call `cb` for messages on `linkId` from anyone but `source`. Returns the unsubscribe. */
  subscribe(linkId: string, source: string, cb: (msg: LinkMessage) => void): () => void;
  /** Subscribers of `linkId` (tests). */
  count(linkId: string): number;
}

export function createBus(): Bus {
  const subs = new Map<string, Set<{ source: string; cb: (msg: LinkMessage) => void }>>();
  return {
    publish(linkId, source, rows) {
      if (!linkId) return;
      const msg: LinkMessage = { linkId, source, rows: sortedUnique(rows) };
      for (const s of [...(subs.get(linkId) ?? [])]) {
        if (s.source === source) continue;
        try {
          s.cb(msg);
        } catch (err) {
          console.warn("fxwidgets: a linked view failed to show a selection", err);
        }
      }
    },
    subscribe(linkId, source, cb) {
      if (!linkId) return () => undefined;
      let set = subs.get(linkId);
      if (!set) subs.set(linkId, (set = new Set()));
      const entry = { source, cb };
      set.add(entry);
      return () => {
        const s = subs.get(linkId);
        if (!s) return;
        s.delete(entry);
        if (s.size === 0) subs.delete(linkId);
      };
    },
    count(linkId) {
      return subs.get(linkId)?.size ?? 0;
    },
  };
}

const BUS_KEY = "__fxwidgets_link_bus_v1";

/** The one bus of the page (shared by every view of every fxwidgets bundle). */
export function pageBus(): Bus {
  const g = globalThis as unknown as Record<string, Bus | undefined>;
  let bus = g[BUS_KEY];
  if (!bus) {
    bus = createBus();
    g[BUS_KEY] = bus;
  }
  return bus;
}

/** A unique id for a view instance (the bus's `source`). */
export function viewId(): string {
  return `v${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
}

// ---- a view's membership -----------------------------------------------------------------------------------

/** The part of a view the membership uses (so it can be tested without a DOM). */
export interface LinkHost {
  get(key: string): unknown;
  has(key: string): boolean;
  on(keys: string | string[], cb: () => void): void;
  add(d: () => void): void;
}

export interface Membership {
  /** Publish the view rows a person just selected (nothing when the view is not linked). */
  publish(viewRows: ArrayLike<number>): void;
  /** The current link id ("" when not linked). */
  readonly linkId: string;
}

/**
 * Join the link named by the view's `link_id` trait (and follow it when Python changes it). `onRows` gets the
 * rows another member selected, already translated to this view's rows (of `nRows()`).
 */
export function joinLink(host: LinkHost, nRows: () => number, onRows: (viewRows: Int32Array) => void, bus: Bus = pageBus()): Membership {
  const me = viewId();
  let linkId = "";
  let unsubscribe: () => void = () => undefined;
  const map = (): RowMap => mapFromBytes(host.has("link_map") ? host.get("link_map") : null);
  const sync = () => {
    const next = host.has("link_id") ? String(host.get("link_id") ?? "") : "";
    if (next === linkId) return;
    unsubscribe();
    linkId = next;
    unsubscribe = bus.subscribe(linkId, me, (msg) => onRows(fromLinkRows(msg.rows, map(), nRows())));
  };
  if (host.has("link_id")) host.on("link_id", sync);
  sync();
  host.add(() => unsubscribe());
  return {
    publish(viewRows) {
      if (linkId) bus.publish(linkId, me, toLinkRows(viewRows, map()));
    },
    get linkId() {
      return linkId;
    },
  };
}
