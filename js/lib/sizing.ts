// Sizes that follow the output area's width. An output area gives a width and never a height, so every view
// lays itself out from one number: the width it may use. The arithmetic is pure (tested in node); the
// browser part is one ResizeObserver per view (view.ts, `onResize`).

/** CSS size of a matrix canvas. */
export interface Box {
  cssW: number;
  cssH: number;
}

/**
 * A rows x cols matrix in at most `avail` CSS px of width and `maxSide` per side: square cells when that
 * keeps both sides at least `minSide`, else the short side is stretched to `minSide`. Never wider than `avail`
 * (a view must not be clipped), except that a side is never below `floor` px.
 */
export function fitMatrix(rows: number, cols: number, avail: number, maxSide = 640, minSide = 64, floor = 24): Box {
  const width = Number.isFinite(avail) && avail > 0 ? avail : maxSide;
  const side = Math.max(floor, Math.min(maxSide, width));
  if (!(rows > 0 && cols > 0)) return { cssW: Math.floor(side), cssH: Math.floor(Math.min(side, minSide)) };
  const cell = Math.min(side / cols, side / rows);
  const lo = Math.min(side, minSide);
  return {
    cssW: Math.floor(Math.max(lo, Math.min(side, cols * cell))),
    cssH: Math.floor(Math.max(lo, Math.min(side, rows * cell))),
  };
}

/**
 * Lay `n` items of natural size `w` x `h` (e.g. frames of a video) in rows of `avail` px with `gap` between:
 * as many per row as fit at a scale of at least `minScale` (never enlarged), else one per row scaled down to
 * `avail`. Returns the columns and the drawn size.
 */
export function flowItems(
  n: number,
  w: number,
  h: number,
  avail: number,
  gap = 12,
  minScale = 0.6,
): { columns: number; width: number; height: number } {
  if (!(n > 0 && w > 0 && h > 0)) return { columns: 1, width: 0, height: 0 };
  const room = Number.isFinite(avail) && avail > 0 ? avail : w * n + gap * (n - 1);
  const scaleAt = (c: number) => Math.min(1, (room - gap * (c - 1)) / (c * w));
  let columns = 1;
  for (let c = n; c >= 1; c--) {
    if (scaleAt(c) >= minScale) {
      columns = c;
      break;
    }
  }
  const s = scaleAt(columns);
  return { columns, width: Math.max(1, Math.floor(w * s)), height: Math.max(1, Math.floor(h * s)) };
}

/**
 * Two panels side by side when both fit at their minimum widths (`left` + `gap` + `right` <= `avail`), else
 * stacked. Returns the widths each panel gets: side by side, the left one keeps `left` and the right one takes
 * the rest; stacked, both take the whole width.
 */
export function sideBySide(
  avail: number,
  left: number,
  right: number,
  gap = 16,
): { side: boolean; leftWidth: number; rightWidth: number } {
  const room = Number.isFinite(avail) && avail > 0 ? avail : left + gap + right;
  if (left + gap + right <= room) return { side: true, leftWidth: left, rightWidth: Math.floor(room - left - gap) };
  return { side: false, leftWidth: Math.floor(room), rightWidth: Math.floor(room) };
}

/** Backing-store pixels for a canvas of `css` CSS px at device-pixel ratio `dpr`, capped at `max` per side. */
export function backingSize(css: number, dpr: number, max = 4096): number {
  const r = Number.isFinite(dpr) && dpr > 0 ? dpr : 1;
  return Math.max(1, Math.min(max, Math.round(Math.max(0, css) * r)));
}

/** The width a view may use inside `el`: its content width (padding excluded); `fallback` when not laid out. */
export function contentWidth(el: Element, fallback = 640): number {
  const w = (el as HTMLElement).clientWidth;
  if (!(w > 0)) return fallback;
  let pad = 0;
  try {
    const cs = getComputedStyle(el);
    pad = (parseFloat(cs.paddingLeft) || 0) + (parseFloat(cs.paddingRight) || 0);
  } catch {
    pad = 0;
  }
  return Math.max(0, w - pad);
}
