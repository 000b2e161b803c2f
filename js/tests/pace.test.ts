import { describe, expect, it } from "vitest";
import { createPaintPacer } from "../lib/pace";

/** A fake clock with timers, and a view whose scheduled paint runs `cost` ms on the next frame (16 ms later). */
function harness(opts: { live: boolean; cost: number }) {
  let t = 0;
  let timers: { at: number; cb: () => void; id: number }[] = [];
  let nextId = 1;
  let frame: number | null = null;
  const paints: { at: number; rough: boolean }[] = [];
  let live = opts.live;
  const pacer = createPaintPacer({
    schedule: () => {
      if (frame === null) frame = t + 16;
    },
    live: () => live,
    now: () => t,
    setTimer: (cb, ms) => {
      const id = nextId++;
      timers.push({ at: t + ms, cb, id });
      return id;
    },
    clearTimer: (id) => {
      timers = timers.filter((x) => x.id !== id);
    },
  });
  /** Advance the clock to `until`, running due timers and frames in time order. */
  const run = (until: number) => {
    for (;;) {
      const due = timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at)[0];
      const next = Math.min(due ? due.at : Infinity, frame !== null && frame <= until ? frame : Infinity);
      if (next === Infinity) break;
      t = Math.max(t, next);
      if (due && due.at === next) {
        timers = timers.filter((x) => x !== due);
        due.cb();
      } else {
        frame = null;
        const pass = pacer.begin();
        t += opts.cost;
        pacer.end(pass);
        paints.push({ at: pass.t0, rough: pass.rough });
      }
    }
    t = Math.max(t, until);
  };
  return { pacer, run, paints, setLive: (v: boolean) => (live = v), now: () => t };
}

describe("paint pacer", () => {
  it("a live stream of a tile every 10 ms for 1 s paints at most every 200 ms, then once exactly", () => {
    const h = harness({ live: true, cost: 5 });
    for (let k = 0; k < 100; k++) {
      h.run(k * 10);
      h.pacer.data();
    }
    h.run(2000);
    const rough = h.paints.filter((p) => p.rough);
    expect(h.paints.length).toBeLessThanOrEqual(1000 / 200 + 2);
    expect(rough.length).toBeGreaterThanOrEqual(4); // still live while it streams
    for (let i = 1; i < h.paints.length; i++) expect(h.paints[i].at - h.paints[i - 1].at).toBeGreaterThanOrEqual(200);
    const last = h.paints[h.paints.length - 1];
    expect(last.rough).toBe(false); // the exact paint after the stream
    expect(last.at).toBeLessThan(990 + 2 * 200 + 16 + 1);
  });

  it("a paint that costs more than the interval spaces the next ones by 4x its cost", () => {
    const h = harness({ live: true, cost: 100 });
    for (let k = 0; k < 200; k++) {
      h.run(k * 10);
      h.pacer.data();
    }
    h.run(5000);
    for (let i = 1; i < h.paints.length; i++) expect(h.paints[i].at - h.paints[i - 1].at).toBeGreaterThanOrEqual(400);
    expect(h.paints[h.paints.length - 1].rough).toBe(false);
  });

  it("data that is not from a live job (a snapshot of a finished matrix) paints on the next frame, exactly", () => {
    const h = harness({ live: false, cost: 5 });
    for (let k = 0; k < 10; k++) {
      h.run(k * 30);
      h.pacer.data();
    }
    h.run(1000);
    expect(h.paints.length).toBe(10);
    expect(h.paints.every((p) => !p.rough)).toBe(true);
  });

  it("when the job ends the next paint is exact and no timer paints again", () => {
    const h = harness({ live: true, cost: 5 });
    h.pacer.data();
    h.run(20); // first paint, rough
    h.pacer.data();
    h.setLive(false);
    h.pacer.data(); // not live: the next frame
    h.run(1000);
    expect(h.paints.map((p) => p.rough)).toEqual([true, false]);
  });

  it("nothing is painted after dispose", () => {
    const h = harness({ live: true, cost: 5 });
    h.pacer.data();
    h.run(20);
    h.pacer.data(); // waits for a timer
    h.pacer.dispose();
    h.run(1000);
    expect(h.paints.length).toBe(1);
  });
});
