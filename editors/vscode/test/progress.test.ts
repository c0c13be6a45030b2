import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { workEvent } from "../src/progress";

describe("workEvent", () => {
  it("keeps the tokens of cancellable work only", () => {
    assert.deepEqual(workEvent("a", { kind: "begin", title: "Code Llama: Explain this code", cancellable: true }), { type: "workBegan", token: "a" });
    assert.equal(workEvent("load", { kind: "begin", title: "Code Llama: loading model", cancellable: false }), undefined);
    assert.equal(workEvent("load", { kind: "begin", title: "Code Llama: loading model" }), undefined);
    assert.equal(workEvent("a", { kind: "report", message: "Loading layer 1/2", percentage: 50 }), undefined);
    assert.deepEqual(workEvent(7, { kind: "end", message: "failed" }), { type: "workEnded", token: 7 });
  });
});
