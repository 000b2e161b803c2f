// When a view paints while data streams in (docs/benchmarks.md, "Streaming into a view").
//
// The page has one main thread: it takes each message off the websocket, applies it, and paints. A 64 MiB matrix
// arrives in ~10 messages within half a second; painting after every one of them (colouring the new rows, then a
// high-quality rescale of the whole grid) took that thread from the messages. The pacer paints a live stream at
// most every `minIntervalMs` and never sooner than `costFactor` times the last paint's own cost after it; such a
// paint is "rough" (the view may take cheap shortcuts), and an exact paint follows once the stream pauses. Data
// that does not come from a live stream (a finished matrix's snapshot) is painted on the next frame.

export interface PacerOptions {
  /** Ask for a paint on the next animation frame (idempotent while one is pending). */
  schedule: () => void;
  /** Is a job streaming into the view right now? */
  live: () => boolean;
  minIntervalMs?: number;
  costFactor?: number;
  now?: () => number;
  setTimer?: (cb: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
}

export interface PaintPacer {
  /** New data was applied. */
  data(): void;
  /** A paint starts: returns whether it is a rough one (data is streaming in now). */
  begin(): { rough: boolean; t0: number };
  /** The paint that `begin` started ended. */
  end(started: { rough: boolean; t0: number }): void;
  dispose(): void;
}

export function createPaintPacer(opts: PacerOptions): PaintPacer {
  const minInterval = opts.minIntervalMs ?? 200;
  const costFactor = opts.costFactor ?? 4;
  const now = opts.now ?? (() => performance.now());
  const setTimer = opts.setTimer ?? ((cb: () => void, ms: number) => setTimeout(cb, ms));
  const clearTimer = opts.clearTimer ?? ((id: unknown) => clearTimeout(id as ReturnType<typeof setTimeout>));
  let lastDataAt = -Infinity;
  let lastPaintAt = -Infinity;
  let lastPaintCost = 0;
  let timer: unknown = null;
  let disposed = false;

  const later = (ms: number) => {
    if (timer !== null || disposed) return;
    timer = setTimer(() => {
      timer = null;
      if (!disposed) opts.schedule();
    }, ms);
  };
  const cancel = () => {
    if (timer !== null) clearTimer(timer);
    timer = null;
  };

  return {
    data() {
      lastDataAt = now();
      if (!opts.live()) {
        opts.schedule();
        return;
      }
      const wait = lastPaintAt + Math.max(minInterval, costFactor * lastPaintCost) - lastDataAt;
      if (wait <= 0) opts.schedule();
      else later(wait);
    },
    begin() {
      const t0 = now();
      const rough = t0 - lastDataAt < minInterval && opts.live();
      if (!rough) cancel(); // this is the exact paint a timer may have been waiting for
      return { rough, t0 };
    },
    end({ rough, t0 }) {
      lastPaintAt = now();
      lastPaintCost = lastPaintAt - t0;
      if (rough) later(Math.max(minInterval, costFactor * lastPaintCost)); // the exact paint once the stream pauses
    },
    dispose() {
      disposed = true;
      cancel();
    },
  };
}
