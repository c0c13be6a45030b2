import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commandFromSetting, describeCommand, resolveServerCommand } from "../src/serverCommand";

describe("resolveServerCommand", () => {
  it("prefers the setting: an array is the program and its arguments", () => {
    assert.deepEqual(resolveServerCommand(["/opt/venv/bin/python", "-m", "codellama_lsp.server", "--log-level", "DEBUG"], ["/usr/bin/python3"]), {
      command: "/opt/venv/bin/python",
      args: ["-m", "codellama_lsp.server", "--log-level", "DEBUG"],
      source: "setting",
    });
  });

  it("takes a string setting as the program alone, spaces included", () => {
    assert.deepEqual(resolveServerCommand("/home/me/my tools/codellama-lsp", undefined), {
      command: "/home/me/my tools/codellama-lsp",
      args: [],
      source: "setting",
    });
  });

  it("falls back to the selected Python interpreter with -m codellama_lsp.server", () => {
    assert.deepEqual(resolveServerCommand([], ["/home/me/.venv/bin/python"]), {
      command: "/home/me/.venv/bin/python",
      args: ["-m", "codellama_lsp.server"],
      source: "python",
    });
  });

  it("keeps the interpreter's own arguments (e.g. conda run) before the module", () => {
    assert.deepEqual(resolveServerCommand(undefined, ["conda", "run", "-n", "llm", "python"]), {
      command: "conda",
      args: ["run", "-n", "llm", "python", "-m", "codellama_lsp.server"],
      source: "python",
    });
  });

  it("falls back to codellama-lsp on PATH without a setting or an interpreter", () => {
    const expected = { command: "codellama-lsp", args: [], source: "path" };
    assert.deepEqual(resolveServerCommand([], undefined), expected);
    assert.deepEqual(resolveServerCommand("", []), expected);
    assert.deepEqual(resolveServerCommand(null, [""]), expected);
  });
});

describe("commandFromSetting", () => {
  it("is undefined for empty or malformed values", () => {
    for (const value of [undefined, null, "", "   ", [], [""], ["  ", "-m"], [1, 2], 42, { command: "x" }]) {
      assert.equal(commandFromSetting(value), undefined, JSON.stringify(value));
    }
  });

  it("trims the program but not the arguments", () => {
    assert.deepEqual(commandFromSetting([" python ", " -m"]), ["python", " -m"]);
  });
});

describe("describeCommand", () => {
  it("quotes what a shell would need quoted and names the source", () => {
    const line = describeCommand({ command: "/my tools/python", args: ["-m", "codellama_lsp.server"], source: "setting" });
    assert.equal(line, "'/my tools/python' -m codellama_lsp.server (from setting)");
  });
});
