import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POLICY, NO_CRASHES, onCrash, type CrashHistory, type RestartDecision } from "../src/backoff";

function crashRepeatedly(times: number, uptimeMs: number): RestartDecision[] {
  const decisions: RestartDecision[] = [];
  let history: CrashHistory = NO_CRASHES;
  for (let i = 0; i < times; i++) {
    const decision = onCrash(history, uptimeMs);
    decisions.push(decision);
    history = decision.history;
  }
  return decisions;
}

describe("onCrash", () => {
  it("doubles the delay on each quick crash, announces only the first, then gives up", () => {
    const decisions = crashRepeatedly(6, 1000);
    assert.deepEqual(
      decisions.map((d) => (d.kind === "restart" ? [d.delayMs, d.announce] : "giveUp")),
      [[500, true], [1000, false], [2000, false], [4000, false], [8000, false], "giveUp"],
    );
  });

  it("caps the delay", () => {
    const decision = onCrash({ consecutive: 3, total: 3 }, 0, { ...DEFAULT_POLICY, maxDelayMs: 2500 });
    assert.deepEqual(decision, { kind: "restart", delayMs: 2500, history: { consecutive: 4, total: 4 }, announce: false });
  });

  it("counts a crash after a healthy run as the first in a row, but does not announce it again", () => {
    const decision = onCrash({ consecutive: 4, total: 4 }, DEFAULT_POLICY.healthyAfterMs);
    assert.deepEqual(decision, { kind: "restart", delayMs: 500, history: { consecutive: 1, total: 5 }, announce: false });
  });

  it("never gives up on a server that keeps running long enough between crashes", () => {
    const decisions = crashRepeatedly(20, DEFAULT_POLICY.healthyAfterMs + 1);
    assert.ok(decisions.every((d) => d.kind === "restart" && d.delayMs === DEFAULT_POLICY.initialDelayMs));
  });
});
