import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { COMMANDS } from "../src/commandIds";
import { CLIENT_ONLY_KEYS, serverSettings } from "../src/settings";
import { SERVER_DEFAULTS } from "./serverDefaults";

interface Manifest {
  contributes: { configuration: { properties: Record<string, { default: unknown; markdownDescription?: string }> }; commands: { command: string }[] };
}

const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as Manifest;
const properties = manifest.contributes.configuration.properties;
const defaults = (key: string): unknown => properties[`codellama.${key}`]?.default;

describe("package.json", () => {
  it("contributes the server's settings with the server's defaults", () => {
    assert.deepEqual(serverSettings(defaults), SERVER_DEFAULTS);
  });

  it("sends every contributed setting but the client-only ones", () => {
    const read: string[] = [];
    serverSettings((key) => {
      read.push(key);
      return defaults(key);
    });
    const contributed = Object.keys(properties).map((key) => key.replace(/^codellama\./, ""));
    assert.deepEqual(contributed.filter((key) => !read.includes(key)).sort(), [...CLIENT_ONLY_KEYS].sort());
  });

  it("describes every setting", () => {
    for (const [key, property] of Object.entries(properties)) assert.ok((property.markdownDescription ?? "").length > 20, key);
  });

  it("contributes exactly the commands the extension registers", () => {
    assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), Object.values(COMMANDS).sort());
  });
});
