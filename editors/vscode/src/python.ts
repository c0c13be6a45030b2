/**
 * The interpreter selected in the Python extension (ms-python.python), when that
 * extension is installed: its `environments` API, or the older `settings` API.
 */
import * as vscode from "vscode";

const PYTHON_EXTENSION = "ms-python.python";

interface EnvironmentPath {
  path: string;
}

interface PythonApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): EnvironmentPath;
    resolveEnvironment(environment: EnvironmentPath): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
  };
}

async function pythonApi(): Promise<PythonApi | undefined> {
  const extension = vscode.extensions.getExtension<PythonApi>(PYTHON_EXTENSION);
  if (extension === undefined) return undefined;
  return extension.isActive ? extension.exports : await extension.activate();
}

/** The selected interpreter's command line (usually one path), or undefined. */
export async function selectedInterpreter(log: vscode.LogOutputChannel): Promise<string[] | undefined> {
  try {
    const api = await pythonApi();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (api?.environments !== undefined) {
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(active);
      const executable = resolved?.executable.uri?.fsPath;
      if (executable !== undefined && executable !== "") return [executable];
    }
    const command = api?.settings?.getExecutionDetails(resource).execCommand;
    return command !== undefined && command.length > 0 ? command : undefined;
  } catch (error) {
    log.warn(`The Python extension did not name an interpreter: ${String(error)}`);
    return undefined;
  }
}

/** Calls `listener` when the selected interpreter changes (nothing without the Python extension). */
export async function onInterpreterChange(listener: () => void): Promise<vscode.Disposable> {
  try {
    const event = (await pythonApi())?.environments?.onDidChangeActiveEnvironmentPath;
    if (event !== undefined) return event(listener);
  } catch {
    // no Python extension API: the interpreter never changes under us
  }
  return new vscode.Disposable(() => undefined);
}
