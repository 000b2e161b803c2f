// A row of small maps (e.g. a sanity check's map after each randomised layer): where each tile goes, with its
// label under it, wrapping onto further lines when the width runs out. Pure layout, so it is tested without a DOM.

export interface MapTiles {
  tileW: number; // CSS px of one map
  tileH: number;
  perLine: number; // maps per line
  height: number; // CSS px of the whole block, labels included
  tiles: Array<{ x: number; y: number }>; // top-left corner of each map
}

export interface MapTileOptions {
  maxSide?: number; // the longer side of a 2-D map, at most
  minH?: number; // a 1-D map (one row) is drawn this tall
  gap?: number;
  labelH?: number;
}

/**
 * Tiles for `n` maps of `rows` x `cols` cells in `width` CSS px: the aspect ratio kept (a 1-D map, rows = 1, is a
 * strip `minH` tall), no tile wider than the width, as many per line as fit, each followed by `labelH` for its label.
 */
export function mapTiles(n: number, rows: number, cols: number, width: number, opts: MapTileOptions = {}): MapTiles {
  const { maxSide = 96, minH = 14, gap = 8, labelH = 14 } = opts;
  const w0 = Math.max(1, width);
  if (n <= 0 || rows <= 0 || cols <= 0) return { tileW: 0, tileH: 0, perLine: 0, height: 0, tiles: [] };
  let tileW: number;
  let tileH: number;
  if (rows === 1) {
    tileW = Math.min(w0, Math.max(maxSide, Math.min(2 * maxSide, 4 * cols)));
    tileH = minH;
  } else {
    const s = maxSide / Math.max(rows, cols);
    tileW = cols * s;
    tileH = rows * s;
  }
  if (tileW > w0) {
    tileH *= w0 / tileW;
    tileW = w0;
  }
  tileW = Math.max(1, Math.floor(tileW));
  tileH = Math.max(1, Math.floor(tileH));
  const perLine = Math.max(1, Math.min(n, Math.floor((w0 + gap) / (tileW + gap))));
  const lineH = tileH + labelH;
  const tiles = [];
  for (let i = 0; i < n; i++) tiles.push({ x: (i % perLine) * (tileW + gap), y: Math.floor(i / perLine) * (lineH + gap) });
  const lines = Math.ceil(n / perLine);
  return { tileW, tileH, perLine, height: lines * lineH + (lines - 1) * gap, tiles };
}

/** The largest |value| among the finite values of one map (a diverging map's symmetric range), 0 when none. */
export function absMax(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (Number.isFinite(a) && a > m) m = a;
  }
  return m;
}
