import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { needsRestart, serverSettings, settingsPayload } from "../src/settings";

/** A reader over dotted keys, as `workspace.getConfiguration("codellama").get` reads them. */
function reader(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

describe("serverSettings", () => {
  it("wraps the section under its name for initializationOptions and didChangeConfiguration", () => {
    const payload = settingsPayload(reader({ model: "demo", revision: "gptq-3bit-32g-actorder_True" }));
    assert.deepEqual(payload, { codellama: { model: "demo", revision: "gptq-3bit-32g-actorder_True", gpuSplit: null, systemPrompt: null } });
  });

  it("treats empty and blank strings as unset rather than sending values the server refuses", () => {
    const settings = serverSettings(reader({ model: "  ", revision: "", device: "", systemPrompt: " \n" }));
    assert.deepEqual(settings, { revision: null, gpuSplit: null, systemPrompt: null });
  });

  it("trims text and language ids, dropping empty ids", () => {
    const settings = serverSettings(reader({ model: " demo ", revision: " main ", enabledLanguages: [" python", "", "rust "] }));
    assert.equal(settings.model, "demo");
    assert.equal(settings.revision, "main");
    assert.deepEqual(settings.enabledLanguages, ["python", "rust"]);
  });

  it("leaves out values of the wrong type so the server's defaults apply", () => {
    const settings = serverSettings(
      reader({ contextTokens: "4096", otherFiles: Number.NaN, enabledLanguages: ["python", 3], "inline.topP": "0.9", "actions.topK": 50 }),
    );
    assert.deepEqual(settings, { revision: null, gpuSplit: null, systemPrompt: null, actions: { topK: 50 } });
  });

  it("sends the engine settings, trimmed", () => {
    const settings = serverSettings(reader({ engine: " http://host:8000/v1 ", engineIdleMinutes: 2.5, apiKeyEnv: "VLLM_KEY" }));
    assert.deepEqual(settings, { revision: null, gpuSplit: null, systemPrompt: null, engine: "http://host:8000/v1", engineIdleMinutes: 2.5, apiKeyEnv: "VLLM_KEY" });
    assert.deepEqual(serverSettings(reader({ engine: "", engineIdleMinutes: "10", apiKeyEnv: " " })), { revision: null, gpuSplit: null, systemPrompt: null });
  });

  it("sends the device list and its split, trimmed; an empty split is null", () => {
    const settings = serverSettings(reader({ device: "cuda:0,cuda:1", gpuSplit: " 20,24 " }));
    assert.deepEqual(settings, { revision: null, gpuSplit: "20,24", systemPrompt: null, device: "cuda:0,cuda:1" });
    assert.deepEqual(serverSettings(reader({ gpuSplit: "" })), { revision: null, gpuSplit: null, systemPrompt: null });
  });

  it("sends a partial sampling group with only the keys that are set", () => {
    const settings = serverSettings(reader({ "inline.temperature": 0, "inline.maxNewTokens": 64 }));
    assert.deepEqual(settings.inline, { maxNewTokens: 64, temperature: 0 });
    assert.equal(settings.actions, undefined);
  });
});

describe("needsRestart", () => {
  it("restarts for serverCommand and only for it", () => {
    assert.equal(needsRestart((key) => key === "codellama.serverCommand"), true);
    assert.equal(needsRestart((key) => key === "codellama.model"), false);
    assert.equal(needsRestart(() => false), false);
  });
});
