/** Activation: wires the supervisor, the status bar, the commands and the settings together. */
import * as vscode from "vscode";
import { registerCommands } from "./commands";
import { ExplanationView } from "./explanationView";
import { onInterpreterChange, selectedInterpreter } from "./python";
import { commandFromSetting, resolveServerCommand } from "./serverCommand";
import { needsRestart } from "./settings";
import { StatusBar } from "./statusBar";
import { SECTION, Supervisor } from "./supervisor";

let supervisor: Supervisor | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel("Code Llama", { log: true });
  const serverCommandSetting = (): unknown => vscode.workspace.getConfiguration(SECTION).get("serverCommand");
  let statusBar: StatusBar | undefined = undefined;
  const current = new Supervisor({
    log,
    status: (event) => statusBar?.dispatch(event),
    command: async () => {
      const setting = serverCommandSetting();
      const python = commandFromSetting(setting) === undefined ? await selectedInterpreter(log) : undefined;
      return resolveServerCommand(setting, python);
    },
  });
  supervisor = current;
  statusBar = new StatusBar((tokens) => { current.cancel(tokens); }, () => { log.show(); });
  const explanations = new ExplanationView();
  context.subscriptions.push(log, statusBar, explanations, ...registerCommands({ supervisor: current, log, explanations }));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(SECTION)) return;
      if (needsRestart((key) => event.affectsConfiguration(key))) void current.restart();
      else void current.sendSettings();
    }),
    await onInterpreterChange(() => {
      if (commandFromSetting(serverCommandSetting()) === undefined) void current.restart();
    }),
  );
  void current.start();
}

export async function deactivate(): Promise<void> {
  await supervisor?.stop();
  supervisor = undefined;
}
