import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INITIAL_STATE, generatingTokens, reduce, view, type StatusEvent, type StatusState } from "../src/status";

function run(events: StatusEvent[], from: StatusState = INITIAL_STATE): StatusState {
  return events.reduce(reduce, from);
}

// What the server sends: loading is not cancellable, with a percentage; actions are cancellable.
const LOAD_BEGIN: StatusEvent = {
  type: "progress",
  token: "codellama-load",
  value: { kind: "begin", title: "Code Llama: loading model", message: "demo (main)", percentage: 0, cancellable: false },
};
const loadReport = (percentage: number): StatusEvent => ({ type: "progress", token: "codellama-load", value: { kind: "report", message: "weights", percentage } });
const loadEnd = (message: string): StatusEvent => ({ type: "progress", token: "codellama-load", value: { kind: "end", message } });
const actionBegin = (token: string): StatusEvent => ({
  type: "progress",
  token,
  value: { kind: "begin", title: "Code Llama: Explain this code", message: "a.py", percentage: 0, cancellable: true },
});
const actionEnd = (token: string): StatusEvent => ({ type: "progress", token, value: { kind: "end" } });

const STARTED: StatusEvent[] = [{ type: "starting" }, { type: "running" }];

describe("status state machine", () => {
  it("is stopped before anything happens; a click shows the log", () => {
    assert.equal(view(INITIAL_STATE).kind, "stopped");
    assert.equal(view(INITIAL_STATE).click, "showLog");
  });

  it("says starting until the model has loaded", () => {
    assert.equal(view(run([{ type: "starting" }])).kind, "starting");
    assert.equal(view(run(STARTED)).kind, "starting");
  });

  it("shows the loading percentage from $/progress", () => {
    const loading = view(run([...STARTED, LOAD_BEGIN, loadReport(42)]));
    assert.equal(loading.kind, "loading");
    assert.equal(loading.text, "$(sync~spin) Code Llama: loading 42%");
    assert.equal(loading.tooltip, "Loading the model: weights");
    assert.match(view(run([...STARTED, LOAD_BEGIN])).text, /loading 0%$/);
  });

  it("is ready after a load that ends well", () => {
    const ready = view(run([...STARTED, LOAD_BEGIN, loadReport(100), loadEnd("demo ready on cpu")]));
    assert.equal(ready.kind, "ready");
    assert.equal(ready.click, "showLog");
  });

  it("is an error after a load that ends with 'failed'; a click shows the log", () => {
    const failed = view(run([...STARTED, LOAD_BEGIN, loadEnd("failed")]));
    assert.equal(failed.kind, "error");
    assert.equal(failed.click, "showLog");
    assert.match(failed.tooltip, /could not be loaded/);
  });

  it("clears a load error when the model reloads (settings changed) and loads", () => {
    const state = run([...STARTED, LOAD_BEGIN, loadEnd("failed"), LOAD_BEGIN]);
    assert.equal(view(state).kind, "loading");
    assert.equal(view(reduce(state, loadEnd("ok"))).kind, "ready");
  });

  it("shows generating while actions run; a click cancels every one of them", () => {
    const ready = run([...STARTED, LOAD_BEGIN, loadEnd("ok")]);
    const one = run([actionBegin("a")], ready);
    assert.deepEqual([view(one).kind, view(one).click, view(one).text], ["generating", "cancel", "$(loading~spin) Code Llama: generating"]);
    assert.match(view(one).tooltip, /Explain this code\. Click to cancel/);
    const two = reduce(one, actionBegin("b"));
    assert.equal(view(two).text, "$(loading~spin) Code Llama: generating (2)");
    assert.deepEqual(generatingTokens(two), ["a", "b"]);
    const back = run([actionEnd("a"), actionEnd("b")], two);
    assert.equal(view(back).kind, "ready");
    assert.deepEqual(generatingTokens(back), []);
  });

  it("shows loading over generating, and generating ends don't disturb the model state", () => {
    const state = run([...STARTED, LOAD_BEGIN, loadEnd("ok"), actionBegin("a"), LOAD_BEGIN]);
    assert.equal(view(state).kind, "loading");
    assert.equal(view(run([actionEnd("a"), loadEnd("ok")], state)).kind, "ready");
  });

  it("ignores reports and ends for tokens it never saw begin", () => {
    const ready = run([...STARTED, LOAD_BEGIN, loadEnd("ok")]);
    assert.equal(reduce(ready, { type: "progress", token: 7, value: { kind: "report", percentage: 3 } }), ready);
    assert.equal(reduce(ready, { type: "progress", token: 7, value: { kind: "end", message: "failed" } }), ready);
  });

  it("keeps the last percentage and message when a report omits them", () => {
    const state = run([...STARTED, LOAD_BEGIN, loadReport(30), { type: "progress", token: "codellama-load", value: { kind: "report" } }]);
    assert.equal(view(state).text, "$(sync~spin) Code Llama: loading 30%");
  });

  it("is an error after a crash, drops running work, and starts clean on restart", () => {
    const crashed = run([...STARTED, LOAD_BEGIN, loadEnd("ok"), actionBegin("a"), { type: "crashed", message: "The server stopped unexpectedly" }]);
    assert.deepEqual([view(crashed).kind, view(crashed).click], ["error", "showLog"]);
    assert.deepEqual(generatingTokens(crashed), []);
    assert.match(view(crashed).tooltip, /^The server stopped unexpectedly\. Click to show the log\.$/);
    assert.equal(view(run([{ type: "starting" }], crashed)).kind, "starting");
  });

  it("is stopped after a stop, forgetting the model", () => {
    const stopped = run([...STARTED, LOAD_BEGIN, loadEnd("ok"), { type: "stopped" }]);
    assert.equal(view(stopped).kind, "stopped");
    assert.equal(stopped.modelReady, false);
  });

  it("never mutates the state it is given", () => {
    const before = run([...STARTED, LOAD_BEGIN]);
    const tasks = [...before.tasks];
    reduce(before, loadEnd("ok"));
    reduce(before, actionBegin("x"));
    assert.deepEqual([...before.tasks], tasks);
  });
});
