import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { COMMANDS } from "../src/commandIds";
import { CLIENT_ONLY_KEYS, serverSettings } from "../src/settings";

interface Manifest {
  contributes: { configuration: { properties: Record<string, { default: unknown; markdownDescription?: string }> }; commands: { command: string }[] };
}

const manifest = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as Manifest;
const properties = manifest.contributes.configuration.properties;
const defaults = (key: string): unknown => properties[`codellama.${key}`]?.default;

/** The contributed defaults as the server's section: dotted keys nested, client-only keys left out
 * (tests/server/test_settings_schema.py checks them against the server's own). */
function sectionOfDefaults(): Record<string, unknown> {
  const section: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    const [key, member] = name.replace(/^codellama\./, "").split(".") as [string, string | undefined];
    if (CLIENT_ONLY_KEYS.includes(key)) continue;
    if (member === undefined) section[key] = property.default;
    else section[key] = { ...(section[key] as object | undefined), [member]: property.default };
  }
  return section;
}

describe("package.json", () => {
  it("maps the contributed defaults to the server's section, nested, without the client-only keys", () => {
    assert.deepEqual(serverSettings(defaults), sectionOfDefaults());
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
