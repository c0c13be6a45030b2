import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INITIAL_STATE, IN_PROCESS, SHARED, generatingTokens, parseStatus, reduce, view, type ServerStatus, type StatusEvent, type StatusState } from "../src/status";

function run(events: StatusEvent[], from: StatusState = INITIAL_STATE): StatusState {
  return events.reduce(reduce, from);
}

// What the server sends (`codellama/didChangeStatus`), as server/status.py's ServerStatus.to_json().
const BASE: ServerStatus = { state: "idle", model: "demo", revision: "main", device: null, message: "", percentage: null, busy: 0, placement: IN_PROCESS };
const status = (changes: Partial<ServerStatus>): StatusEvent => ({ type: "status", status: { ...BASE, ...changes } });
const loading = (percentage: number, message = ""): StatusEvent => status({ state: "loading", percentage, message });
const READY = status({ state: "ready", device: "cuda:0" });
const busy = (count: number): StatusEvent => status({ state: "ready", device: "cuda:0", busy: count });

const STARTED: StatusEvent[] = [{ type: "starting" }, { type: "running" }];

describe("status from the server's notification", () => {
  it("is stopped before anything happens; a click shows the log", () => {
    assert.deepEqual([view(INITIAL_STATE).kind, view(INITIAL_STATE).click], ["stopped", "showLog"]);
  });

  it("says starting until the server sends a status, and while it is idle", () => {
    assert.equal(view(run([{ type: "starting" }])).kind, "starting");
    assert.equal(view(run(STARTED)).text, "$(sync~spin) Code Llama: starting");
    assert.equal(view(run([...STARTED, status({ state: "idle" })])).kind, "starting");
  });

  it("shows the load's percentage and step", () => {
    const shown = view(run([...STARTED, loading(0), loading(42, "Loading layer 3/80")]));
    assert.equal(shown.kind, "loading");
    assert.equal(shown.text, "$(sync~spin) Code Llama: loading 42%");
    assert.equal(shown.tooltip, "Loading demo (main): Loading layer 3/80");
    assert.equal(view(run([...STARTED, status({ state: "loading" })])).text, "$(sync~spin) Code Llama: loading");
  });

  it("is ready with the model and its device", () => {
    const ready = view(run([...STARTED, loading(100), READY]));
    assert.deepEqual([ready.kind, ready.text, ready.click], ["ready", "$(check) Code Llama", "showLog"]);
    assert.equal(ready.tooltip, "demo (main) is ready on cuda:0. Click to show the log.");
  });

  it("is an error with the server's reason when the load fails", () => {
    const failed = view(run([...STARTED, loading(10), status({ state: "error", message: "no config.json in /models/x" })]));
    assert.deepEqual([failed.kind, failed.text, failed.click], ["error", "$(error) Code Llama", "showLog"]);
    assert.equal(failed.tooltip, "demo (main) could not be loaded: no config.json in /models/x. Click to show the log.");
  });

  it("follows a reload after an error (settings changed)", () => {
    const state = run([...STARTED, status({ state: "error", message: "x" }), loading(5)]);
    assert.equal(view(state).kind, "loading");
    assert.equal(view(reduce(state, READY)).kind, "ready");
  });

  it("shows generating from busy; a click cancels the cancellable work", () => {
    const one = run([...STARTED, READY, { type: "workBegan", token: "a" }, busy(1)]);
    assert.deepEqual([view(one).kind, view(one).click, view(one).text], ["generating", "cancel", "$(loading~spin) Code Llama: generating"]);
    assert.equal(view(one).tooltip, "Generating an answer. Click to cancel.");
    const two = run([{ type: "workBegan", token: 2 }, busy(2)], one);
    assert.equal(view(two).text, "$(loading~spin) Code Llama: generating (2)");
    assert.deepEqual(generatingTokens(two), ["a", 2]);
    const back = run([{ type: "workEnded", token: "a" }, { type: "workEnded", token: 2 }, busy(0)], two);
    assert.deepEqual([view(back).kind, generatingTokens(back)], ["ready", []]);
  });

  it("takes the count from busy, not from progress tokens", () => {
    assert.equal(view(run([...STARTED, READY, { type: "workBegan", token: "a" }])).kind, "ready");
    const untracked = view(run([...STARTED, busy(3)]));
    assert.deepEqual([untracked.text, untracked.click], ["$(loading~spin) Code Llama: generating (3)", "showLog"]);
  });

  it("shows loading over generating while the model reloads", () => {
    assert.equal(view(run([...STARTED, busy(1), status({ state: "loading", percentage: 3, busy: 1 })])).kind, "loading");
  });

  it("is an error after a crash, forgets the server's status, and starts clean on restart", () => {
    const crashed = run([...STARTED, READY, { type: "workBegan", token: "a" }, busy(1), { type: "crashed", message: "The server stopped unexpectedly" }]);
    assert.deepEqual([view(crashed).kind, view(crashed).click], ["error", "showLog"]);
    assert.equal(view(crashed).tooltip, "The server stopped unexpectedly. Click to show the log.");
    assert.deepEqual(generatingTokens(crashed), []);
    assert.equal(view(run([{ type: "starting" }], crashed)).kind, "starting");
  });

  it("is stopped after a stop, forgetting the model", () => {
    const stopped = run([...STARTED, READY, { type: "stopped" }]);
    assert.equal(view(stopped).kind, "stopped");
    assert.equal(stopped.status, undefined);
  });

  it("names the engine in the tooltip unless it runs in-process", () => {
    const URL = "http://host:8000/v1";
    const cases: [Partial<ServerStatus>, string][] = [
      [{ state: "ready", device: "cuda:0", placement: SHARED }, "demo (main) is ready on cuda:0 (shared engine). Click to show the log."],
      [{ state: "ready", placement: SHARED }, "demo (main) is ready in the shared engine. Click to show the log."],
      [{ state: "ready", placement: URL }, `demo (main) is ready at ${URL}. Click to show the log.`],
      [{ state: "loading", percentage: 5, message: "Loading layer 3/80", placement: SHARED }, "Loading demo (main) in the shared engine: Loading layer 3/80"],
      [{ state: "loading", percentage: 0, placement: URL }, `Loading demo (main) at ${URL}`],
      [{ state: "error", message: "connection refused", placement: URL }, `demo (main) could not be loaded at ${URL}: connection refused. Click to show the log.`],
      [{ state: "error", message: "no GPU", placement: SHARED }, "demo (main) could not be loaded in the shared engine: no GPU. Click to show the log."],
    ];
    for (const [changes, tooltip] of cases) {
      const shown = view(run([...STARTED, status(changes)]));
      assert.equal(shown.tooltip, tooltip);
      assert.equal(shown.text, view(run([...STARTED, status({ ...changes, placement: IN_PROCESS })])).text); // the text is the same
    }
  });

  it("never mutates the state it is given", () => {
    const before = run([...STARTED, READY, { type: "workBegan", token: "x" }]);
    reduce(before, { type: "workEnded", token: "x" });
    reduce(before, { type: "workBegan", token: "y" });
    assert.deepEqual(generatingTokens(before), ["x"]);
  });
});

describe("parseStatus", () => {
  it("reads the notification's params", () => {
    const params = { state: "loading", model: "TheBloke/x", revision: "main", device: null, message: "Downloading", percentage: 7, busy: 0, placement: "http://host:8000/v1" };
    assert.deepEqual(parseStatus(params), params);
  });

  it("refuses unknown states and non-objects, and defaults missing fields", () => {
    assert.equal(parseStatus({ state: "paused", model: "m" }), undefined);
    assert.equal(parseStatus({ state: "toString" }), undefined);
    assert.equal(parseStatus(null), undefined);
    assert.equal(parseStatus("ready"), undefined);
    assert.deepEqual(parseStatus({ state: "ready" }), { ...BASE, state: "ready", model: "", revision: "" }); // placement: in-process
  });
});
