import { describe, expect, it, vi } from "vitest";
import { finalizer } from "../lib/lifecycle";

describe("finalizer", () => {
  it("runs every step once, last added first, even when one throws", () => {
    const order: string[] = [];
    const onDisposed = vi.fn();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const cleanup = finalizer(
      [() => order.push("a"), () => { throw new Error("boom"); }, () => order.push("c")],
      undefined,
      onDisposed,
    );
    cleanup();
    cleanup();
    expect(order).toEqual(["c", "a"]);
    expect(onDisposed).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });

  it("runs on abort, and at once for an already aborted signal", () => {
    const ctrl = new AbortController();
    const step = vi.fn();
    finalizer([step], ctrl.signal, () => {});
    expect(step).not.toHaveBeenCalled();
    ctrl.abort();
    expect(step).toHaveBeenCalledTimes(1);
    const late = vi.fn();
    finalizer([late], ctrl.signal, () => {});
    expect(late).toHaveBeenCalledTimes(1);
  });
});
