// Opt-in timing of the streaming path, read by benchmarks/bench_streaming.py.
//
// A page that defines `window.__fxStreamProfile = []` gets one entry per stage a view goes through (a tile
// applied, a frame painted), with `performance.now()` start and end times in ms. Nothing is recorded, and
// nothing is allocated, unless the page opted in: the cost when off is one global lookup per tile or frame.

export interface ProfileEntry {
  what: string;
  t0: number;
  t1: number;
  [key: string]: unknown;
}

/** The page's profile log, or null when profiling is off. */
export function streamProfile(): ProfileEntry[] | null {
  const log = (globalThis as { __fxStreamProfile?: unknown }).__fxStreamProfile;
  return Array.isArray(log) ? (log as ProfileEntry[]) : null;
}
