import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { debounceMs, settle, type Cancellable } from "../src/debounce";

class Token implements Cancellable {
  isCancellationRequested = false;
  private listeners: (() => void)[] = [];
  onCancellationRequested(listener: () => void) {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  }
  cancel(): void {
    this.isCancellationRequested = true;
    for (const listener of this.listeners) listener();
  }
}

describe("settle", () => {
  it("runs out when nothing replaces the request", async () => {
    assert.equal(await settle(5, new Token()), true);
    assert.equal(await settle(0, new Token()), true);
  });

  it("ends at once, false, when the request is replaced during the wait", async () => {
    const token = new Token();
    const waiting = settle(60_000, token);
    token.cancel();
    assert.equal(await waiting, false);
  });

  it("never waits for a request already cancelled", async () => {
    const token = new Token();
    token.cancel();
    assert.equal(await settle(60_000, token), false);
  });
});

describe("debounceMs", () => {
  it("takes a positive number, else no wait", () => {
    assert.deepEqual([debounceMs(250), debounceMs(0), debounceMs("250"), debounceMs(undefined), debounceMs(-1)], [250, 0, 0, 0, 0]);
  });
});
