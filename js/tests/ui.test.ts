import { describe, expect, it } from "vitest";
import { statusLine } from "../lib/ui";

describe("statusLine", () => {
  it("describes each job state", () => {
    expect(statusLine({ status: "running", progress: 0.423, error: "" })).toBe("running… 42%");
    expect(statusLine({ status: "done", progress: 1, error: "" })).toBe("done");
    expect(statusLine({ status: "cancelled", progress: 0.5, error: "" })).toBe("cancelled at 50%");
    expect(statusLine({ status: "error", progress: 0.1, error: "boom" })).toBe("error");
    expect(statusLine({ status: "idle", progress: 0, error: "" })).toBe("idle");
    expect(statusLine({ status: "running", progress: NaN, error: "" })).toBe("running… 0%");
    expect(statusLine({ status: "running", progress: 7, error: "" })).toBe("running… 100%");
  });
});
