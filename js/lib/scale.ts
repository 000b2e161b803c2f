// Where the ticks of an axis go and what they say. Pure functions, no DOM: positions are CSS pixels from the
// start of the axis (left end of a horizontal axis, top end of a vertical one), and the caller measures text.
//
// Four kinds of axis:
//   linear  — a continuous range [lo, hi] (colour bars, curves): nice ticks (1/2/5 x 10^k) with shared decimals;
//   log     — a continuous positive range on a log scale: 1, 2, 5 x 10^k;
//   index   — the rows (or columns) 0..n-1 of a matrix, each a cell: nice integer ticks at cell centres;
//   labels  — one label per cell. Sorted labels that form contiguous blocks (classes on a sorted affinity
//             matrix) become groups: one label per block at its centre and a boundary between blocks.
//             Otherwise every k-th label, k chosen so that labels do not collide.

import { formatTicks, niceTicks, shorten } from "./format";

export interface Tick {
  /** CSS px from the start of the axis. */
  pos: number;
  text: string;
  /** The full label when `text` was shortened (for a title attribute / tooltip). */
  full?: string;
}

export interface AxisLayout {
  ticks: Tick[];
  /** Positions (CSS px) of lines between groups of cells: drawn across the plot. */
  boundaries: number[];
  /** The tick labels would overlap horizontally: draw them rotated (vertical text). */
  rotate: boolean;
}

export type AxisSpec =
  | { kind: "linear"; lo: number; hi: number; reverse?: boolean }
  | { kind: "log"; lo: number; hi: number }
  | { kind: "index"; n: number; lo?: number; hi?: number }
  | { kind: "labels"; labels: readonly string[]; n?: number }
  /** Blocks of rows given by where each starts after the first (`starts`, ascending) and optional names; only
   *  the window [lo, hi) of the n rows is shown (a zoomed matrix). */
  | { kind: "groups"; n: number; starts: readonly number[]; names?: readonly string[]; lo?: number; hi?: number };

export interface AxisOptions {
  /** Text width in CSS px (canvas measureText in the browser; a constant per character in tests). */
  measure: (text: string) => number;
  /** Height of one line of tick text (CSS px). */
  lineHeight: number;
  /** "x": labels along a horizontal axis (their widths collide); "y": along a vertical one (heights collide). */
  orientation: "x" | "y";
  /** Empty space wanted between neighbouring labels (CSS px). */
  gap?: number;
  /** Longest label, in characters, before it is shortened with an ellipsis. */
  maxChars?: number;
  /** For "labels": most groups still treated as groups. */
  maxGroups?: number;
}

/** Runs of equal consecutive labels: [{label, start, end}] with `end` exclusive. */
export interface Run {
  label: string;
  start: number;
  end: number;
}

export function labelRuns(labels: readonly unknown[]): Run[] {
  const runs: Run[] = [];
  for (let i = 0; i < labels.length; i++) {
    const s = labels[i] == null ? "" : String(labels[i]);
    const last = runs[runs.length - 1];
    if (last && last.label === s) last.end = i + 1;
    else runs.push({ label: s, start: i, end: i + 1 });
  }
  return runs;
}

/**
 * The blocks of a sorted label list, or null when the labels are not grouped: each distinct label must form
 * exactly one run, there must be fewer runs than half the labels (blocks, not a list of names) and at most
 * `maxGroups` of them.
 */
export function labelGroups(labels: readonly unknown[], maxGroups = 64): Run[] | null {
  if (labels.length < 2) return null;
  const runs = labelRuns(labels);
  if (runs.length < 2 || runs.length > maxGroups || runs.length * 2 > labels.length) return null;
  const seen = new Set<string>();
  for (const r of runs) {
    if (seen.has(r.label)) return null; // a label in two places: not sorted by it
    seen.add(r.label);
  }
  return runs;
}

/**
 * Keep the ticks that fit: greedy from the first, each label at least `gap` from the previous one. A label is
 * centred on its tick but kept inside the axis (the first and last are pushed inwards, as axis.ts draws them),
 * so collisions are judged where the labels are actually drawn.
 */
function thin(ticks: Tick[], size: (t: Tick) => number, gap: number, length: number): Tick[] {
  const out: Tick[] = [];
  let lastEnd = -Infinity;
  for (const t of ticks) {
    const s = size(t);
    const centre = Math.min(Math.max(t.pos, s / 2), Math.max(s / 2, length - s / 2));
    if (centre - s / 2 >= lastEnd + gap && t.pos >= -0.5 && t.pos <= length + 0.5) {
      out.push(t);
      lastEnd = centre + s / 2;
    }
  }
  return out;
}

function label(text: string, maxChars: number): Tick {
  const short = shorten(text, maxChars);
  return short === text ? { pos: 0, text } : { pos: 0, text: short, full: text };
}

/** Ticks and boundaries of an axis `length` CSS px long. */
export function axisLayout(spec: AxisSpec, length: number, opts: AxisOptions): AxisLayout {
  const gap = opts.gap ?? 6;
  const maxChars = opts.maxChars ?? 24;
  const along = (t: Tick) => (opts.orientation === "x" ? opts.measure(t.text) : opts.lineHeight);
  const empty: AxisLayout = { ticks: [], boundaries: [], rotate: false };
  if (!(length > 0)) return empty;

  if (spec.kind === "linear" || spec.kind === "log") {
    const { lo, hi } = spec;
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return empty;
    const scale = (v: number) => {
      if (spec.kind === "log") return ((Math.log(v) - Math.log(lo)) / (Math.log(hi) - Math.log(lo) || 1)) * length;
      const t = hi === lo ? 0.5 : (v - lo) / (hi - lo);
      return (spec.reverse ? 1 - t : t) * length;
    };
    // The most ticks the length allows (at least 3 asked for), fewer until the labels fit.
    const roomy = Math.max(3, Math.floor(length / (opts.orientation === "x" ? 40 : 2.2 * opts.lineHeight)));
    for (let count = Math.min(8, roomy); count >= 1; count--) {
      const values = spec.kind === "log" ? logTicks(lo, hi, count) : niceTicks(lo, hi, count);
      const texts = formatTicks(values);
      const ticks = values.map((v, i) => ({ pos: scale(v), text: texts[i] })).sort((a, b) => a.pos - b.pos);
      if (ticks.length <= 1 || thin(ticks, along, gap, length).length === ticks.length) {
        return { ticks, boundaries: [], rotate: false };
      }
    }
    return empty;
  }

  if (spec.kind === "index") {
    const n = Math.max(0, Math.floor(spec.n));
    if (n === 0) return empty;
    // Visible window [lo, hi) of rows (a zoomed view); the whole matrix by default.
    const lo = spec.lo ?? 0;
    const hi = spec.hi ?? n;
    const span = hi - lo;
    if (!(span > 0)) return empty;
    const at = (i: number) => ((i + 0.5 - lo) / span) * length;
    const roomy = Math.max(1, Math.floor(length / (opts.orientation === "x" ? 44 : 2.2 * opts.lineHeight)));
    for (let count = Math.min(10, roomy); count >= 1; count--) {
      let values = niceTicks(Math.max(0, lo), Math.min(n - 1, hi - 0.5), count).filter(
        (v) => Number.isInteger(v) && v >= lo - 0.5 && v < hi,
      );
      if (values.length === 0) values = [Math.max(0, Math.min(n - 1, Math.floor(lo + span / 2)))];
      const ticks = values.map((v) => ({ pos: at(v), text: String(v) }));
      if (thin(ticks, along, gap, length).length === ticks.length) return { ticks, boundaries: [], rotate: false };
    }
    return empty;
  }

  if (spec.kind === "groups") {
    const n = Math.max(0, Math.floor(spec.n));
    const lo = spec.lo ?? 0;
    const hi = spec.hi ?? n;
    const span = hi - lo;
    if (n === 0 || !(span > 0)) return empty;
    const at = (row: number) => ((row - lo) / span) * length;
    const edges = [0, ...spec.starts.filter((b) => b > 0 && b < n), n];
    const boundaries = edges.slice(1, -1).filter((b) => b > lo && b < hi).map(at);
    const names = spec.names ?? [];
    const ticks: Tick[] = [];
    const sizes: number[] = [];
    for (let g = 0; g + 1 < edges.length; g++) {
      const a = Math.max(lo, edges[g]);
      const b = Math.min(hi, edges[g + 1]);
      if (!(b > a) || names[g] === undefined) continue;
      ticks.push({ ...label(String(names[g]), maxChars), pos: at((a + b) / 2) });
      sizes.push(at(b) - at(a));
    }
    // Without names, or when no visible block can hold its name: row numbers, and the boundaries.
    const kept = ticks.filter((t, i) => along(t) <= sizes[i] + gap);
    if (kept.length === 0) return { ...axisLayout({ kind: "index", n, lo, hi }, length, opts), boundaries };
    return { ticks: kept, boundaries, rotate: false };
  }

  // labels
  const labels = spec.labels;
  const n = spec.n ?? labels.length;
  if (n <= 0 || labels.length !== n) return axisLayout({ kind: "index", n }, length, opts);
  const cell = length / n;
  const groups = labelGroups(labels, opts.maxGroups ?? 64);
  if (groups) {
    const boundaries = groups.slice(1).map((g) => g.start * cell);
    const ticks = groups.map((g) => ({ ...label(g.label, maxChars), pos: ((g.start + g.end) / 2) * cell }));
    // A group label must fit inside its own block (wider labels would be read as the neighbour's).
    const fits = (t: Tick, g: Run) => along(t) <= (g.end - g.start) * cell + gap;
    const kept = ticks.filter((t, i) => fits(t, groups[i]));
    if (opts.orientation === "x" && kept.length < ticks.length) {
      // Try vertical text: then a label needs one line height of its block.
      const vertical = ticks.filter((_, i) => opts.lineHeight <= (groups[i].end - groups[i].start) * cell + gap);
      if (vertical.length > kept.length) return { ticks: vertical, boundaries, rotate: true };
    }
    return { ticks: kept, boundaries, rotate: false };
  }
  const all = labels.map((s, i) => ({ ...label(s, maxChars), pos: (i + 0.5) * cell }));
  const every = (k: number) => all.filter((_, i) => i % k === 0);
  // The smallest stride k whose labels do not collide; on an x axis, vertical text when it needs fewer skips.
  const stride = (size: (t: Tick) => number) => {
    const biggest = Math.max(...all.map(size));
    let k = Math.max(1, Math.ceil((biggest + gap) / cell));
    while (k < n && thin(every(k), size, gap, length).length < every(k).length) k++;
    return k;
  };
  const k = stride(along);
  if (opts.orientation === "x" && k > 1) {
    const kv = stride(() => opts.lineHeight);
    if (kv < k) return { ticks: every(kv), boundaries: [], rotate: true };
  }
  return { ticks: every(k), boundaries: [], rotate: false };
}

/** 1, 2, 5 x 10^k inside [lo, hi] (positive), thinned to about `count`. */
export function logTicks(lo: number, hi: number, count = 5): number[] {
  if (!(lo > 0 && hi > 0)) return [];
  if (lo > hi) [lo, hi] = [hi, lo];
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  if (out.length <= count) return out;
  const decades = out.filter((v) => /^1(0*)(\.0*)?$|^0\.0*1$/.test(String(v)));
  if (decades.length >= 2 && decades.length <= count) return decades;
  const k = Math.ceil(out.length / count);
  return out.filter((_, i) => i % k === 0);
}

/** The widest label (CSS px) of a layout: what a vertical axis (or rotated labels) needs beside the plot. */
export function widestLabel(layout: AxisLayout, measure: (s: string) => number): number {
  let w = 0;
  for (const t of layout.ticks) w = Math.max(w, measure(t.text));
  return w;
}
