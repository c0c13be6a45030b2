import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { progressValue } from "../src/progress";

describe("progressValue", () => {
  it("keeps what the status needs from each kind of $/progress value", () => {
    assert.deepEqual(progressValue({ kind: "begin", title: "Code Llama: loading model", message: "demo (main)", percentage: 0, cancellable: false }), {
      kind: "begin",
      title: "Code Llama: loading model",
      message: "demo (main)",
      percentage: 0,
      cancellable: false,
    });
    assert.deepEqual(progressValue({ kind: "report", message: "Loading layer 1/2", percentage: 50 }), { kind: "report", message: "Loading layer 1/2", percentage: 50 });
    assert.deepEqual(progressValue({ kind: "end", message: "failed" }), { kind: "end", message: "failed" });
  });
});
