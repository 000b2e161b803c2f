// Pictures that stay. After each settled redraw a view is composed into ONE PNG — its canvases, and the text,
// fills and borders of its axes, labels and colour bars, painted onto a canvas in the page — and sent to Python
// as a custom message {type: "snapshot", width, height, scale} with the PNG as its one binary buffer. Python keeps
// it in the `picture` trait (saved with the widget state) and in the display's image/png. A view rendered
// without live data (a notebook reopened with saved widget state, no kernel) shows that picture instead of an
// empty canvas until live data arrives.
//
// Both halves are optional on the Python side: nothing is sent unless the model has a `picture` trait.
//
// The composition is split so that its logic runs in node: `collectBoxes` reads the DOM (browser only), the
// pure `paintOps` turns boxes into drawing operations, `drawOps` replays them on a 2-D context.

import type { View } from "./view";
import { h } from "./ui";

/** What `collectBoxes` reads of one element (CSS px relative to the view's root). */
export interface SnapBox {
  x: number;
  y: number;
  w: number;
  h: number;
  /** Computed background colour ("rgba(0, 0, 0, 0)" when none). */
  background?: string;
  /** Border widths and colours, top/right/bottom/left (solid borders only). */
  borders?: Array<{ width: number; color: string }>;
  /** A canvas or image to copy, drawn over the content box. */
  image?: CanvasImageSource;
  /** Text lines of the element's own text, each with its box (already wrapped by the browser). */
  text?: Array<{ text: string; x: number; y: number; w: number; h: number }>;
  font?: string;
  color?: string;
  /** Text written vertically (axis titles, rotated tick labels): degrees, -90 = reading upwards. */
  rotate?: number;
  /** Clip rectangle of a scrolling ancestor (relative to the root), when there is one. */
  clip?: { x: number; y: number; w: number; h: number };
}

export type PaintOp =
  | { op: "fill"; x: number; y: number; w: number; h: number; color: string }
  | { op: "image"; x: number; y: number; w: number; h: number; source: CanvasImageSource }
  | { op: "text"; x: number; y: number; text: string; font: string; color: string; rotate: number; w: number; h: number }
  | { op: "clip"; x: number; y: number; w: number; h: number }
  | { op: "unclip" };

/** Fully transparent CSS colours draw nothing. */
export function isTransparent(color: string | undefined): boolean {
  if (!color) return true;
  const c = color.replace(/\s+/g, "").toLowerCase();
  if (c === "transparent" || c === "none") return true;
  const m = /^rgba\(([^,]+),([^,]+),([^,]+),([^)]+)\)$/.exec(c);
  return m !== null && Number(m[4]) === 0;
}

/**
 * Drawing operations for boxes in document (= painting) order, inside a `width` x `height` picture: the
 * background first, then per box its fill, borders, image and text. Boxes entirely outside the picture or
 * their clip are dropped; boxes under a clip are drawn with that clip.
 */
export function paintOps(boxes: readonly SnapBox[], width: number, height: number, background: string): PaintOp[] {
  const ops: PaintOp[] = [{ op: "fill", x: 0, y: 0, w: width, h: height, color: background }];
  const inside = (b: { x: number; y: number; w: number; h: number }, c: { x: number; y: number; w: number; h: number }) =>
    b.x < c.x + c.w && b.x + b.w > c.x && b.y < c.y + c.h && b.y + b.h > c.y;
  const page = { x: 0, y: 0, w: width, h: height };
  for (const b of boxes) {
    if (!(b.w > 0 && b.h > 0) || !inside(b, page) || (b.clip && !inside(b, b.clip))) continue;
    const body: PaintOp[] = [];
    if (!isTransparent(b.background)) body.push({ op: "fill", x: b.x, y: b.y, w: b.w, h: b.h, color: b.background! });
    const [t, r, bo, l] = b.borders ?? [];
    if (t && t.width > 0 && !isTransparent(t.color)) body.push({ op: "fill", x: b.x, y: b.y, w: b.w, h: t.width, color: t.color });
    if (bo && bo.width > 0 && !isTransparent(bo.color))
      body.push({ op: "fill", x: b.x, y: b.y + b.h - bo.width, w: b.w, h: bo.width, color: bo.color });
    if (l && l.width > 0 && !isTransparent(l.color)) body.push({ op: "fill", x: b.x, y: b.y, w: l.width, h: b.h, color: l.color });
    if (r && r.width > 0 && !isTransparent(r.color))
      body.push({ op: "fill", x: b.x + b.w - r.width, y: b.y, w: r.width, h: b.h, color: r.color });
    if (b.image) {
      const bl = l?.width ?? 0;
      const bt = t?.width ?? 0;
      const bw = bl + (r?.width ?? 0);
      const bh = bt + (bo?.width ?? 0);
      body.push({ op: "image", x: b.x + bl, y: b.y + bt, w: b.w - bw, h: b.h - bh, source: b.image });
    }
    for (const line of b.text ?? []) {
      if (line.text.trim() === "") continue;
      body.push({
        op: "text",
        x: line.x,
        y: line.y,
        w: line.w,
        h: line.h,
        text: line.text,
        font: b.font ?? "12px sans-serif",
        color: b.color ?? "#000",
        rotate: b.rotate ?? 0,
      });
    }
    if (body.length === 0) continue;
    if (b.clip) ops.push({ op: "clip", ...b.clip }, ...body, { op: "unclip" });
    else ops.push(...body);
  }
  return ops;
}

/**
 * The scale (device pixels per CSS px) of the picture: the screen's ratio, lowered so that neither side
 * exceeds `maxSide` pixels.
 */
export function snapshotScale(width: number, height: number, dpr: number, maxSide = 2048): number {
  const r = Number.isFinite(dpr) && dpr > 0 ? Math.min(dpr, 2) : 1;
  const side = Math.max(width, height, 1);
  return Math.max(0.1, Math.min(r, maxSide / side));
}

/** Replay `ops` on a context whose transform maps CSS px to the picture's pixels. */
export function drawOps(ctx: CanvasRenderingContext2D, ops: readonly PaintOp[]): void {
  for (const o of ops) {
    switch (o.op) {
      case "fill":
        ctx.fillStyle = o.color;
        ctx.fillRect(o.x, o.y, o.w, o.h);
        break;
      case "image":
        try {
          ctx.imageSmoothingEnabled = false;
          ctx.drawImage(o.source, o.x, o.y, o.w, o.h);
        } catch {
          // an image not loaded yet: skipped
        }
        break;
      case "text":
        ctx.save();
        ctx.font = o.font;
        ctx.fillStyle = o.color;
        ctx.textBaseline = "middle";
        if (o.rotate) {
          ctx.translate(o.x + o.w / 2, o.y + o.h / 2);
          ctx.rotate((o.rotate * Math.PI) / 180);
          ctx.textAlign = "center";
          ctx.fillText(o.text, 0, 0);
        } else {
          ctx.textAlign = "left";
          ctx.fillText(o.text, o.x, o.y + o.h / 2);
        }
        ctx.restore();
        break;
      case "clip":
        ctx.save();
        ctx.beginPath();
        ctx.rect(o.x, o.y, o.w, o.h);
        ctx.clip();
        break;
      case "unclip":
        ctx.restore();
        break;
    }
  }
}

// ---- reading the DOM (browser) ------------------------------------------------------------------------------

/** Elements never in the picture: controls, tooltips, the job row, the saved picture itself. */
const SKIP = ".fx-toolbar, .fx-job, .fx-tooltip, .fx-saved-picture, .fx-saved-note, .fx-no-snapshot, style, script, button, select, input, option";

/** The text lines of `el`'s own text nodes, one per line box the browser laid out. */
function textLines(el: Element, origin: DOMRect): SnapBox["text"] {
  const out: NonNullable<SnapBox["text"]> = [];
  for (const node of Array.from(el.childNodes)) {
    if (node.nodeType !== 3) continue;
    const text = node.textContent ?? "";
    if (text.trim() === "") continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter((r) => r.width > 0 && r.height > 0);
    if (rects.length <= 1) {
      const r = rects[0] ?? range.getBoundingClientRect();
      out.push({ text: text.replace(/\s+/g, " ").trim(), x: r.left - origin.left, y: r.top - origin.top, w: r.width, h: r.height });
      continue;
    }
    // Wrapped text: find each line's characters by the line box each character falls in.
    const lines = rects.map((r) => ({ r, chars: "" }));
    for (let i = 0; i < text.length; i++) {
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const cr = range.getBoundingClientRect();
      const mid = cr.top + cr.height / 2;
      const line = lines.find((l) => mid >= l.r.top && mid <= l.r.bottom) ?? lines[lines.length - 1];
      line.chars += text[i];
    }
    for (const l of lines) {
      const t = l.chars.replace(/\s+/g, " ").trim();
      if (t) out.push({ text: t, x: l.r.left - origin.left, y: l.r.top - origin.top, w: l.r.width, h: l.r.height });
    }
  }
  return out;
}

function clipOf(el: Element, root: Element, origin: DOMRect): SnapBox["clip"] {
  for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
    const cs = getComputedStyle(p);
    if (cs.overflowX !== "visible" || cs.overflowY !== "visible") {
      const r = p.getBoundingClientRect();
      return { x: r.left - origin.left, y: r.top - origin.top, w: r.width, h: r.height };
    }
  }
  return undefined;
}

/** Every painted element under `root`, in document order, as SnapBoxes relative to root. */
export function collectBoxes(root: HTMLElement): SnapBox[] {
  const origin = root.getBoundingClientRect();
  const boxes: SnapBox[] = [];
  const walk = (el: Element) => {
    if (el.matches(SKIP)) return;
    const cs = getComputedStyle(el);
    if (cs.display === "none" || cs.visibility === "hidden" || Number(cs.opacity) === 0) return;
    const r = el.getBoundingClientRect();
    const side = (s: "Top" | "Right" | "Bottom" | "Left") => ({
      width: cs.getPropertyValue(`border-${s.toLowerCase()}-style`) === "none" ? 0 : parseFloat(cs.getPropertyValue(`border-${s.toLowerCase()}-width`)) || 0,
      color: cs.getPropertyValue(`border-${s.toLowerCase()}-color`),
    });
    const box: SnapBox = {
      x: r.left - origin.left,
      y: r.top - origin.top,
      w: r.width,
      h: r.height,
      background: cs.backgroundColor,
      borders: [side("Top"), side("Right"), side("Bottom"), side("Left")],
      font: `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`,
      color: cs.color,
      clip: clipOf(el, root, origin),
    };
    if (cs.overflowX !== "visible" || cs.overflowY !== "visible") {
      // its own text may run past it (an ellipsis): clip to its box as well
      const own = { x: box.x, y: box.y, w: box.w, h: box.h };
      const c = box.clip;
      box.clip = c
        ? { x: Math.max(c.x, own.x), y: Math.max(c.y, own.y), w: Math.max(0, Math.min(c.x + c.w, own.x + own.w) - Math.max(c.x, own.x)), h: Math.max(0, Math.min(c.y + c.h, own.y + own.h) - Math.max(c.y, own.y)) }
        : own;
    }
    const rot = (el as HTMLElement).dataset?.rotate;
    if (rot) box.rotate = Number(rot) || 0;
    if (el instanceof HTMLCanvasElement) {
      if (el.width > 0 && el.height > 0) box.image = el;
    } else if (el instanceof HTMLImageElement) {
      if (el.complete && el.naturalWidth > 0) box.image = el;
    } else if (box.rotate) {
      // Rotated text: one line, centred in the element's box.
      const t = (el.textContent ?? "").trim();
      if (t) box.text = [{ text: t, x: box.x, y: box.y, w: box.w, h: box.h }];
    } else {
      box.text = textLines(el, origin);
    }
    boxes.push(box);
    if (!(el instanceof HTMLCanvasElement) && !box.rotate) for (const c of Array.from(el.children)) walk(c);
  };
  for (const c of Array.from(root.children)) walk(c);
  return boxes;
}

/**
 * Close the gaps that the rows left out of the picture (toolbar, job row) leave behind: every box below a gap
 * moves up by its height. `gaps` are [top, bottom] ranges (CSS px from the root's top).
 */
export function collapseGaps(boxes: readonly SnapBox[], gaps: ReadonlyArray<readonly [number, number]>): SnapBox[] {
  if (gaps.length === 0) return boxes.slice();
  const shift = (y: number) => {
    let d = 0;
    for (const [top, bottom] of gaps) if (bottom <= y + 0.5) d += bottom - top;
    return d;
  };
  return boxes.map((b) => {
    const d = shift(b.y);
    if (d === 0) return b;
    return {
      ...b,
      y: b.y - d,
      text: b.text?.map((t) => ({ ...t, y: t.y - d })),
      clip: b.clip ? { ...b.clip, y: b.clip.y - shift(b.clip.y) } : undefined,
    };
  });
}

/**
 * The size of the picture: what the boxes paint (text, fills, images, borders), not the empty rest of the root
 * (a view is as wide as its output area; its drawing often is not), with a small margin, within the root.
 */
export function paintedExtent(boxes: readonly SnapBox[], rootW: number, rootH: number, margin = 4): { width: number; height: number } {
  let right = 0;
  let bottom = 0;
  for (const b of boxes) {
    const paints =
      !!b.image || (b.text?.some((t) => t.text.trim() !== "") ?? false) || !isTransparent(b.background) ||
      (b.borders?.some((x) => x.width > 0 && !isTransparent(x.color)) ?? false);
    if (!paints || !(b.w > 0 && b.h > 0)) continue;
    const visible = b.clip ? { r: Math.min(b.x + b.w, b.clip.x + b.clip.w), d: Math.min(b.y + b.h, b.clip.y + b.clip.h) } : { r: b.x + b.w, d: b.y + b.h };
    right = Math.max(right, visible.r);
    bottom = Math.max(bottom, visible.d);
    for (const t of b.text ?? []) {
      right = Math.max(right, t.x + t.w);
      bottom = Math.max(bottom, t.y + t.h);
    }
  }
  return { width: Math.min(rootW, Math.ceil(right + margin)), height: Math.min(rootH, Math.ceil(bottom + margin)) };
}

/** The margin and gap after a row (its room in a flex column), so that closing the row closes all of it. */
function gapBelow(el: Element): number {
  const next = el.nextElementSibling;
  if (!next) return 0;
  const a = el.getBoundingClientRect();
  const b = next.getBoundingClientRect();
  return Math.max(0, b.top - a.bottom);
}

/** The view's current state as one canvas (CSS size width x height at `scale`), or null if not laid out. */
export function composeView(root: HTMLElement, background: string, maxSide = 2048): HTMLCanvasElement | null {
  const r = root.getBoundingClientRect();
  if (!(r.width > 0 && r.height > 0)) return null;
  // Rows of the root that are not in the picture (controls, job row): their room is taken out.
  const gaps: Array<[number, number]> = [];
  for (const c of Array.from(root.children)) {
    if (!c.matches(".fx-toolbar, .fx-job")) continue;
    const cr = c.getBoundingClientRect();
    if (cr.height > 0) gaps.push([cr.top - r.top, cr.bottom - r.top + gapBelow(c)]);
  }
  const boxes = collapseGaps(collectBoxes(root), gaps);
  const { width, height } = paintedExtent(boxes, Math.ceil(r.width), Math.ceil(r.height));
  if (!(width > 0 && height > 0)) return null;
  const scale = snapshotScale(width, height, typeof devicePixelRatio === "number" ? devicePixelRatio : 1, maxSide);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const ctx = canvas.getContext("2d");
  if (!ctx) return null;
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  drawOps(ctx, paintOps(boxes, width, height, background));
  canvas.dataset.cssWidth = String(width);
  canvas.dataset.cssHeight = String(height);
  canvas.dataset.scale = String(scale);
  return canvas;
}

function pngBytes(canvas: HTMLCanvasElement): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    canvas.toBlob((blob) => {
      if (!blob) return resolve(null);
      blob.arrayBuffer().then((b) => resolve(new Uint8Array(b)), () => resolve(null));
    }, "image/png");
  });
}

// ---- the view's snapshotter -------------------------------------------------------------------------------

/** Largest PNG sent (bytes): pictures above it are taken again at a lower scale. Well under one 8 MiB message. */
export const MAX_PNG_BYTES = 2 * 2 ** 20;
/** Quiet time after the last redraw before a picture is taken (ms). */
export const SETTLE_MS = 800;

export interface Snapshotter {
  /** Show the saved picture if there is one and no live data yet (called once the view is set up). */
  start(): void;
  /** A redraw happened: take and send a picture once redraws stop for SETTLE_MS. */
  schedule(): void;
  /** Live data arrived: drop the saved picture. */
  hideSaved(): void;
  /** The current picture as PNG bytes with its CSS size (also what is sent). */
  take(): Promise<{ png: Uint8Array; width: number; height: number; scale: number } | null>;
  /** Pictures sent so far. */
  readonly sent: number;
}

type PictureTrait = { png?: unknown; width?: unknown; height?: unknown } | null | undefined;

function bytesOf(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  return null;
}

export function createSnapshotter(view: View<Record<string, any>>): Snapshotter {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let sent = 0;
  let busy = false;
  let again = false;
  let isLive = false;
  let saved: { img: HTMLImageElement; note: HTMLElement; url: string } | null = null;
  const enabled = () => view.has("picture");

  const take: Snapshotter["take"] = async () => {
    let maxSide = 2048;
    for (let attempt = 0; attempt < 3; attempt++) {
      const canvas = composeView(view.root, view.theme.layout0, maxSide);
      if (!canvas) return null;
      const png = await pngBytes(canvas);
      if (!png) return null;
      if (png.length <= MAX_PNG_BYTES) {
        return {
          png,
          width: Number(canvas.dataset.cssWidth),
          height: Number(canvas.dataset.cssHeight),
          scale: Number(canvas.dataset.scale),
        };
      }
      maxSide = Math.floor(Math.max(canvas.width, canvas.height) / 2);
    }
    return null;
  };

  const send = async () => {
    timer = null;
    if (view.disposed || !enabled() || saved) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const pic = await take();
      if (pic && !view.disposed) {
        const buf = pic.png.buffer.slice(pic.png.byteOffset, pic.png.byteOffset + pic.png.byteLength) as ArrayBuffer;
        view.model.send({ type: "snapshot", width: pic.width, height: pic.height, scale: pic.scale }, undefined, [buf]);
        sent += 1;
        view.data("snapshots", sent);
      }
    } catch (err) {
      console.warn("fxwidgets: could not take the view's picture", err);
    } finally {
      busy = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };

  const schedule = () => {
    if (view.disposed || !enabled()) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => void send(), SETTLE_MS);
  };
  view.add(() => {
    if (timer !== null) clearTimeout(timer);
  });

  const hideSaved = () => {
    isLive = true;
    if (!saved) return;
    URL.revokeObjectURL(saved.url);
    saved.img.remove();
    saved.note.remove();
    saved = null;
    view.root.classList.remove("fx-showing-saved");
    view.data("saved", "false");
  };
  view.add(hideSaved);

  const start = () => {
    if (isLive || !enabled()) return;
    const pic = view.get("picture") as PictureTrait;
    const png = bytesOf(pic?.png);
    if (!png || png.length === 0) return;
    const copy = new Uint8Array(png); // the trait's DataView may share a larger buffer
    const url = URL.createObjectURL(new Blob([copy], { type: "image/png" }));
    const img = h("img", { class: "fx-saved-picture", attrs: { alt: "the view as last drawn" } });
    const w = Number(pic?.width);
    if (w > 0) img.style.width = `${w}px`;
    img.src = url;
    const note = h("div", {
      class: "fx-saved-note",
      text: "A picture of this view as it was last drawn. Run the cell again to interact with it.",
    });
    // Live data usually replaces the picture within milliseconds; only say why it is a picture if none comes.
    note.hidden = true;
    view.later(3000, () => {
      note.hidden = false;
    });
    view.root.append(note, img);
    view.root.classList.add("fx-showing-saved");
    view.data("saved", "true");
    saved = { img, note, url };
  };

  return {
    start,
    schedule,
    hideSaved,
    take,
    get sent() {
      return sent;
    },
  };
}
