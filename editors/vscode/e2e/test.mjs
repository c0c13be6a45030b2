// Drives code-server (VS Code in a browser) with Playwright and Debian's chromium:
// opens a Python file, waits for the model, sees the known-answer ghost text, accepts its
// first word with Ctrl+Right (the rest stays shown) and the rest with Tab, runs the Refactor
// code action and checks the edit on disk.
// Env: E2E_URL (workbench URL with ?folder=), E2E_FILE (the Python file), E2E_OUT (screenshots),
// UPDATE_SCREENSHOTS=1 (also copy the ghost-text screenshot to editors/vscode/screenshot.png).
import { createRequire } from "node:module";
import { readFileSync, mkdtempSync, rmSync, copyFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join, basename } from "node:path";

// playwright-core lives in the installer's folder (E2E_NODE_MODULES), not beside this file.
const { chromium } = createRequire(join(process.env.E2E_NODE_MODULES ?? ".", "noop.js"))("playwright-core");
const url = process.env.E2E_URL;
const file = process.env.E2E_FILE;
const out = process.env.E2E_OUT ?? tmpdir();
const ANSWER = "return a + b";
const t0 = Date.now();
const log = (msg) => console.log(`[test ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const readDisk = () => readFileSync(file, "utf8");

async function waitFor(what, fn, timeoutMs, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const profile = mkdtempSync(join(tmpdir(), "codellama-e2e-chromium-"));
// A fresh --user-data-dir: Playwright takes it as the persistent context's folder.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
  viewport: { width: 1000, height: 440 },  // small, so the screenshots show the code and the status bar
  timeout: 60_000,
});
const page = browser.pages()[0] ?? (await browser.newPage());
page.setDefaultTimeout(30_000);
let failed = false;
try {
  log(`opening ${url}`);
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60_000 });
  await page.locator(".monaco-workbench .part.statusbar").waitFor({ timeout: 90_000 });
  log("workbench is up");

  // Open the file with Quick Open.
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 400 } }).catch(() => {});
  const quickOpen = page.locator(".quick-input-widget input");
  await waitFor("quick open", async () => {
    await page.keyboard.press("Control+P");
    return quickOpen.isVisible({ timeout: 2000 }).catch(() => false);
  }, 30_000, 1000);
  await quickOpen.fill(basename(file));
  await page.locator(".quick-input-list .monaco-list-row").first().waitFor();
  await page.keyboard.press("Enter");
  const editor = page.locator(".editor-instance .monaco-editor").first();
  await editor.locator(".view-line", { hasText: "def add" }).waitFor();
  log("file is open");

  // The extension's status bar item: wait for ready ($(check)), fail on error.
  const item = page.locator(".statusbar-item", { hasText: "Code Llama" });
  await waitFor("the model to be ready", async () => {
    if (await item.locator(".codicon-error, .codicon-circle-slash").count()) {
      throw new Error(`the extension reports an error: ${await item.first().getAttribute("aria-label")}`);
    }
    return (await item.locator(".codicon-check").count()) > 0;
  }, 180_000, 500);
  log("status bar: model ready");

  // Cursor to the end of `def add(a, b):`, Enter: the new indented line asks for ghost text.
  await editor.locator(".view-line", { hasText: "def add" }).click();
  await page.keyboard.press("Control+Home");
  await page.keyboard.press("End");
  await page.keyboard.press("Enter");
  const ghost = editor.locator(".ghost-text-decoration, .ghost-text");
  const ghostText = async () => ((await ghost.allTextContents()).join("")).replace(/\u00a0/g, " ");
  let seen = "";
  try {
    seen = await waitFor("ghost text", async () => { const t = await ghostText(); return t.includes(ANSWER) ? t : ""; }, 60_000);
  } catch (e) {
    // Typing triggers it; ask explicitly once more in case the first request raced the load.
    log(`no ghost text yet (${await ghostText()}); triggering explicitly`);
    await page.keyboard.press("Alt+Backslash");
    seen = await waitFor("ghost text", async () => { const t = await ghostText(); return t.includes(ANSWER) ? t : ""; }, 60_000);
  }
  log(`ghost text shown: ${JSON.stringify(seen)}`);
  await page.screenshot({ path: join(out, "ghost-text.png") });
  if (process.env.UPDATE_SCREENSHOTS === "1") {
    const committed = fileURLToPath(new URL("../screenshot.png", import.meta.url));
    copyFileSync(join(out, "ghost-text.png"), committed);
    log(`wrote ${committed}`);
  }

  // Ctrl+Right is VS Code's acceptNextWord: it inserts "return" and the rest stays shown.
  await page.keyboard.press("Control+ArrowRight");
  const rest = await waitFor("the rest of the ghost text", async () => {
    const t = await ghostText();
    return t.trim() === "a + b" ? t : "";
  }, 10_000);
  log(`after Ctrl+Right, ghost text: ${JSON.stringify(rest)}`);

  await page.keyboard.press("Tab");
  await page.waitForTimeout(300);
  await page.keyboard.press("Control+S");
  const accepted = await waitFor("the saved file", async () => { const t = readDisk(); return t.includes(ANSWER) ? t : ""; }, 10_000);
  log(`after Tab, on disk: ${JSON.stringify(accepted)}`);
  const AFTER_TAB = `def add(a, b):\n    ${ANSWER}\n\n\ndef total(a, b):\n    result = a + b\n    return result\n`;
  if (accepted !== AFTER_TAB) throw new Error(`unexpected file after Tab: ${JSON.stringify(accepted)}`);

  // Code action on the second function: cursor in its body, Ctrl+. and pick Refactor / simplify.
  await editor.locator(".view-line", { hasText: "result = a + b" }).click();
  await page.keyboard.press("End");
  const rows = page.locator(".action-widget .monaco-list-row");
  await waitFor("the code action menu", async () => {
    if (await rows.count()) return true;
    await page.keyboard.press("Control+.");
    return rows.first().waitFor({ timeout: 5000 }).then(() => true, () => false);
  }, 30_000, 0);
  const refactor = rows.filter({ hasText: "Refactor" }).first();
  await refactor.waitFor();
  log(`code actions offered: ${JSON.stringify((await rows.allTextContents()).filter(Boolean))}`);
  await page.screenshot({ path: join(out, "code-actions.png") });
  await refactor.click();
  await waitFor("the refactor edit", async () => (await editor.locator(".view-line", { hasText: "def total" }).count()) === 0, 120_000, 500);
  await page.keyboard.press("Control+S");
  const refactored = await waitFor("the saved refactor", async () => { const t = readDisk(); return t.includes("def total") ? "" : t; }, 10_000);
  log(`after Refactor, on disk: ${JSON.stringify(refactored)}`);
  const AFTER_REFACTOR = `def add(a, b):\n    ${ANSWER}\n\n\n${ANSWER}\n`;
  if (refactored !== AFTER_REFACTOR) throw new Error(`unexpected file after Refactor: ${JSON.stringify(refactored)}`);
  await page.screenshot({ path: join(out, "refactored.png") });
  log("PASS");
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.stack ?? e}`);
  await page.screenshot({ path: join(out, "failure.png") }).catch(() => {});
  const status = await page.locator(".part.statusbar").innerText().catch(() => "");
  console.error(`status bar: ${JSON.stringify(status)}`);
} finally {
  await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
