import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { actionArgument, cleanInstruction, explanationMarkdown, explanationText } from "../src/actionArgument";

const RANGE = { start: { line: 2, character: 0 }, end: { line: 5, character: 4 } };

describe("actionArgument", () => {
  it("builds the ask argument the server documents", () => {
    assert.deepEqual(actionArgument("file:///a.py", RANGE, "use pathlib"), {
      textDocument: { uri: "file:///a.py" },
      range: RANGE,
      instruction: "use pathlib",
    });
  });

  it("leaves the instruction out for explain", () => {
    assert.deepEqual(actionArgument("file:///a.py", RANGE), { textDocument: { uri: "file:///a.py" }, range: RANGE });
  });
});

describe("cleanInstruction", () => {
  it("trims, and treats a cancelled or blank input box as nothing to ask", () => {
    assert.equal(cleanInstruction("  add type hints \n"), "add type hints");
    assert.equal(cleanInstruction(""), undefined);
    assert.equal(cleanInstruction("   "), undefined);
    assert.equal(cleanInstruction(undefined), undefined);
  });
});

describe("explanations", () => {
  it("reads the text of the server's answer", () => {
    assert.equal(explanationText({ text: "It adds." }), "It adds.");
    for (const bad of [null, undefined, "text", { text: 3 }, {}]) assert.equal(explanationText(bad), undefined);
  });

  it("titles the Markdown with the file and the lines (1-based)", () => {
    assert.equal(explanationMarkdown("a.py", RANGE, "It adds.\n"), "# Explanation: `a.py`, lines 3–6\n\nIt adds.\n");
    const cursor = { start: { line: 7, character: 2 }, end: { line: 7, character: 2 } };
    assert.equal(explanationMarkdown("a.py", cursor, "x"), "# Explanation: `a.py`, the code around line 8\n\nx\n");
    const oneLine = { start: { line: 0, character: 0 }, end: { line: 0, character: 9 } };
    assert.equal(explanationMarkdown("a.py", oneLine, "x"), "# Explanation: `a.py`, line 1\n\nx\n");
  });
});
