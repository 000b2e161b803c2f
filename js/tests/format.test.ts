import { describe, expect, it } from "vitest";
import { fmt, formatTicks, methodTitle, niceStep, niceTicks, percent, shorten, stepDecimals } from "../lib/format";

describe("fmt: the one formatter of values", () => {
  it("gives 4 significant digits without trailing zeros", () => {
    expect(fmt(0.561)).toBe("0.561");
    expect(fmt(0.70391)).toBe("0.7039");
    expect(fmt(0.123456)).toBe("0.1235");
    expect(fmt(-2.5)).toBe("-2.5");
    expect(fmt(12345.678)).toBe("12350"); // plain below 1e6
    expect(fmt(1)).toBe("1");
    expect(fmt(0)).toBe("0");
  });
  it("switches to exponent notation outside [1e-4, 1e6)", () => {
    expect(fmt(1234567)).toBe("1.235e+6");
    expect(fmt(0.00001234)).toBe("1.234e-5");
    expect(fmt(-5e-9)).toBe("-5e-9");
    // 999999.5 rounds up to 1e6 at 4 digits: written as an exponent, not as "1000000"
    expect(fmt(999999.5)).toBe("1e+6");
  });
  it("names the non-finite values and honours fewer digits", () => {
    expect([fmt(NaN), fmt(Infinity), fmt(-Infinity), fmt(null), fmt(undefined)]).toEqual(["NaN", "inf", "-inf", "NaN", "NaN"]);
    expect(fmt(0.93421, 3)).toBe("0.934");
    expect(fmt(2 / 3, 2)).toBe("0.67");
  });
  it("percent rounds and clamps", () => {
    expect([percent(0.423), percent(7), percent(NaN), percent(-1)]).toEqual(["42%", "100%", "0%", "0%"]);
  });
});

describe("nice ticks", () => {
  it("steps are 1, 2 or 5 times a power of ten", () => {
    expect(niceStep(0, 1, 5)).toBe(0.2);
    expect(niceStep(0, 100, 5)).toBe(20);
    expect(niceStep(0, 7, 5)).toBe(1);
    expect(niceStep(0.8, 1, 4)).toBeCloseTo(0.05, 12);
    expect(niceStep(0, 0, 5)).toBe(0);
  });
  it("ticks lie inside the range, evenly spaced, with no float noise", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3.7, 3.7, 5)).toEqual([-2, 0, 2]);
    expect(niceTicks(-3.7, 3.7, 7)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    expect(niceTicks(0.81, 0.99, 4)).toEqual([0.85, 0.9, 0.95]);
    expect(niceTicks(0.1, 0.7, 6)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]); // not 0.30000000000000004
    expect(niceTicks(5, 5)).toEqual([5]);
    expect(niceTicks(1, 0, 2)).toEqual([0, 0.5, 1]); // either order
    expect(niceTicks(NaN, 1)).toEqual([]);
    for (const [lo, hi] of [[0.0013, 0.0071], [-1234, 98765], [3, 3.0004]]) {
      const t = niceTicks(lo, hi, 5);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t[0]).toBeGreaterThanOrEqual(lo);
      expect(t[t.length - 1]).toBeLessThanOrEqual(hi);
      const step = t[1] - t[0];
      for (let i = 2; i < t.length; i++) expect(t[i] - t[i - 1]).toBeCloseTo(step, 9);
    }
  });
  it("labels of one axis share their decimals", () => {
    expect(formatTicks([0.8, 0.85, 0.9, 0.95, 1])).toEqual(["0.80", "0.85", "0.90", "0.95", "1.00"]);
    expect(formatTicks([0, 0.5, 1])).toEqual(["0.0", "0.5", "1.0"]);
    expect(formatTicks([0, 20, 40])).toEqual(["0", "20", "40"]);
    expect(formatTicks([-0.2, 0, 0.2])).toEqual(["-0.2", "0.0", "0.2"]); // never "-0.0"
    expect(formatTicks([2e6, 4e6, 6e6])).toEqual(["2e+6", "4e+6", "6e+6"]);
    expect(formatTicks([1e-5, 2e-5, 3e-5])).toEqual(["1e-5", "2e-5", "3e-5"]);
    expect(formatTicks([0.5])).toEqual(["0.5"]);
    expect(formatTicks([])).toEqual([]);
  });
  it("stepDecimals writes multiples of the step exactly", () => {
    expect([stepDecimals(1), stepDecimals(0.05), stepDecimals(20), stepDecimals(0.25), stepDecimals(0.002)]).toEqual([0, 2, 0, 2, 3]);
  });
});

describe("text helpers", () => {
  it("shorten keeps short labels and cuts long ones with an ellipsis", () => {
    expect(shorten("cat", 5)).toBe("cat");
    expect(shorten("features.denseblock4", 10)).toBe("features.…");
    expect(shorten("features.denseblock4", 10)).toHaveLength(10);
  });
  it("method ids become titles a person reads", () => {
    expect(methodTitle("integrated_gradients")).toBe("Integrated Gradients");
    expect(methodTitle("grad_cam")).toBe("Grad-CAM");
    expect(methodTitle("occlusion (2)")).toBe("Occlusion (2)");
    expect(methodTitle("my_new_method")).toBe("My new method");
    expect(methodTitle("concept 3")).toBe("concept 3");
  });
});
