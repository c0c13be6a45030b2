/** The extension's commands: Ask, Explain, Restart server, Show log, Select model branch. */
import * as vscode from "vscode";
import { ExecuteCommandRequest, type LanguageClient } from "vscode-languageclient/node";
import { actionArgument, cleanInstruction, explanationMarkdown, explanationText } from "./actionArgument";
import { COMMANDS } from "./commandIds";
import { branchItems, settingTarget, type SettingTarget } from "./branches";
import type { ExplanationView } from "./explanationView";
import { SECTION, type Supervisor } from "./supervisor";


export interface CommandDeps {
  supervisor: Supervisor;
  log: vscode.LogOutputChannel;
  explanations: ExplanationView;
}

const TARGETS: Record<SettingTarget, vscode.ConfigurationTarget> = {
  workspaceFolder: vscode.ConfigurationTarget.WorkspaceFolder,
  workspace: vscode.ConfigurationTarget.Workspace,
  global: vscode.ConfigurationTarget.Global,
};

/** RequestCancelled: the user cancelled (the status bar or the progress notification). */
const REQUEST_CANCELLED = -32800;
/** ContentModified and RequestFailed: the server has already shown its message. */
const SHOWN_BY_SERVER = new Set([-32801, -32803]);

function runningClient(deps: CommandDeps): LanguageClient | undefined {
  const client = deps.supervisor.client;
  if (client === undefined) {
    void vscode.window.showWarningMessage("Code Llama: the language server is not running.", "Show log").then((choice) => {
      if (choice === "Show log") deps.log.show();
    });
  }
  return client;
}

async function runServerCommand(deps: CommandDeps, name: "codellama.ask" | "codellama.explain", instruction?: string): Promise<{ result: unknown; editor: vscode.TextEditor } | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage("Code Llama: open a file and select some code first.");
    return undefined;
  }
  const client = runningClient(deps);
  if (client === undefined) return undefined;
  const converter = client.code2ProtocolConverter;
  const argument = actionArgument(converter.asUri(editor.document.uri), converter.asRange(editor.selection), instruction);
  try {
    return { result: await client.sendRequest(ExecuteCommandRequest.type, { command: name, arguments: [argument] }), editor };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    if (code === REQUEST_CANCELLED) {
      deps.log.info(`${name} cancelled`);
      return undefined;
    }
    deps.log.error(`${name} failed: ${message}`);
    if (typeof code !== "number" || !SHOWN_BY_SERVER.has(code)) void vscode.window.showErrorMessage(`Code Llama: ${message}`);
    return undefined;
  }
}

async function ask(deps: CommandDeps): Promise<void> {
  const typed = await vscode.window.showInputBox({
    title: "Code Llama: Ask",
    prompt: "How should the selected code (or the function around the cursor) change?",
    placeHolder: "e.g. use pathlib instead of os.path",
    ignoreFocusOut: true,
  });
  const instruction = cleanInstruction(typed);
  if (instruction !== undefined) await runServerCommand(deps, "codellama.ask", instruction);
}

async function explain(deps: CommandDeps): Promise<void> {
  const answer = await runServerCommand(deps, "codellama.explain");
  if (answer === undefined) return;
  const text = explanationText(answer.result);
  if (text === undefined) {
    void vscode.window.showErrorMessage("Code Llama: the server's explanation had no text.");
    return;
  }
  const { document, selection } = answer.editor;
  const name = document.uri.path.split("/").pop() ?? document.fileName;
  const range = { start: selection.start, end: selection.end };
  await deps.explanations.show(document.uri, explanationMarkdown(name, range, text));
}

async function selectBranch(): Promise<void> {
  const configuration = vscode.workspace.getConfiguration(SECTION);
  const picked = await vscode.window.showQuickPick(branchItems(configuration.get<string | null>("revision")), {
    title: "Code Llama: model branch",
    placeHolder: "The GPTQ branch of the model to load (reloads the model)",
  });
  if (picked === undefined) return;
  const target = TARGETS[settingTarget(configuration.inspect("revision"))];
  await configuration.update("revision", picked.branch, target);
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.ask, () => ask(deps)),
    vscode.commands.registerCommand(COMMANDS.explain, () => explain(deps)),
    vscode.commands.registerCommand(COMMANDS.restart, () => deps.supervisor.restart()),
    vscode.commands.registerCommand(COMMANDS.showLog, () => {
      deps.log.show();
    }),
    vscode.commands.registerCommand(COMMANDS.selectBranch, selectBranch),
  ];
}
