import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BRANCHES, branchItems, settingTarget } from "../src/branches";

describe("branchItems", () => {
  it("lists the six branches of the model card in order", () => {
    assert.deepEqual(
      BRANCHES.map((b) => b.name),
      [
        "main",
        "gptq-4bit-128g-actorder_True",
        "gptq-4bit-32g-actorder_True",
        "gptq-3bit--1g-actorder_True",
        "gptq-3bit-128g-actorder_True",
        "gptq-3bit-32g-actorder_True",
      ],
    );
  });

  it("marks main when no revision is set", () => {
    for (const current of [null, undefined, "", " "]) {
      const picked = branchItems(current).filter((item) => item.picked);
      assert.deepEqual(picked.map((item) => [item.branch, item.label]), [["main", "$(check) main"]]);
    }
  });

  it("marks the configured branch and describes each", () => {
    const items = branchItems("gptq-3bit-128g-actorder_True");
    assert.deepEqual(items.filter((item) => item.picked).map((item) => item.branch), ["gptq-3bit-128g-actorder_True"]);
    assert.equal(items[0]?.description, "4-bit, no groups, 35.3 GB");
    assert.equal(items[4]?.description, "3-bit, group size 128, 28.0 GB");
  });

  it("marks nothing for a branch it does not know", () => {
    assert.equal(branchItems("my-branch").some((item) => item.picked), false);
  });
});

describe("settingTarget", () => {
  it("changes the setting where it is given most specifically", () => {
    assert.equal(settingTarget(undefined), "global");
    assert.equal(settingTarget({}), "global");
    assert.equal(settingTarget({ workspaceValue: "main" }), "workspace");
    assert.equal(settingTarget({ workspaceValue: "main", workspaceFolderValue: null }), "workspaceFolder");
  });
});
