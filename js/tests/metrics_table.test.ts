import { describe, expect, it } from "vitest";
import { arrow, columnsPerTable, goodnessColor, jitterOf, nextSort, sortedRows } from "../metrics_table";

describe("MetricsTable sorting", () => {
  const methods = ["saliency", "integrated_gradients", "random"];
  const metrics = ["deletion", "complexity"];
  // rows x metrics, C order
  const means = Float32Array.from([-1.6, 3.2, -1.7, NaN, 0.1, 5.3]);

  it("sorts by a metric column, NaN always last, ties in the given order", () => {
    expect(sortedRows(methods, means, metrics, "deletion", true)).toEqual([1, 0, 2]);
    expect(sortedRows(methods, means, metrics, "deletion", false)).toEqual([2, 0, 1]);
    expect(sortedRows(methods, means, metrics, "complexity", true)).toEqual([0, 2, 1]);
    expect(sortedRows(methods, means, metrics, "complexity", false)).toEqual([2, 0, 1]);
    expect(sortedRows(methods, Float32Array.from([1, 0, 1, 0, 1, 0]), metrics, "deletion", true)).toEqual([0, 1, 2]);
  });
  it("keeps the given order for '' and an unknown column; sorts by title for 'method'", () => {
    expect(sortedRows(methods, means, metrics, "", true)).toEqual([0, 1, 2]);
    expect(sortedRows(methods, means, metrics, "nope", true)).toEqual([0, 1, 2]);
    expect(sortedRows(methods, means, metrics, "method", true)).toEqual([1, 2, 0]); // Integrated…, Random, Saliency
    expect(sortedRows(methods, means, metrics, "method", false)).toEqual([0, 2, 1]);
  });
  it("a new column sorts best first by its direction; the same column again reverses", () => {
    expect(nextSort("", true, "deletion", false)).toEqual(["deletion", true]); // lower is better: ascending
    expect(nextSort("", true, "insertion", true)).toEqual(["insertion", false]); // higher is better: descending
    expect(nextSort("", true, "raw", null)).toEqual(["raw", false]); // no direction: largest first
    expect(nextSort("deletion", true, "deletion", false)).toEqual(["deletion", false]);
    expect(nextSort("deletion", true, "method", false)).toEqual(["method", true]);
  });
});

describe("MetricsTable cells", () => {
  it("colours run from red (worst) through yellow to green (best); no value is uncoloured", () => {
    expect(goodnessColor(0)).toBe("rgba(244, 109, 67, 0.45)");
    expect(goodnessColor(0.5)).toBe("rgba(254, 224, 139, 0.45)");
    expect(goodnessColor(1)).toBe("rgba(102, 189, 99, 0.45)");
    expect(goodnessColor(NaN)).toBe("transparent");
    expect(goodnessColor(2)).toBe(goodnessColor(1));
  });
  it("direction arrows", () => {
    expect([arrow(true), arrow(false), arrow(null)]).toEqual(["↑", "↓", ""]);
  });
  it("columns are split into tables that fit the width, at least one column each", () => {
    expect(columnsPerTable(400, 150, 88)).toBe(2);
    expect(columnsPerTable(900, 150, 88)).toBe(8);
    expect(columnsPerTable(120, 150, 88)).toBe(1);
  });
  it("the detail's dots have a fixed spread in [0, 1)", () => {
    const js = Array.from({ length: 200 }, (_, i) => jitterOf(i));
    expect(js.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(jitterOf(17)).toBe(jitterOf(17));
    expect(new Set(js.map((v) => Math.floor(v * 10))).size).toBe(10); // spread over the whole band
  });
});
