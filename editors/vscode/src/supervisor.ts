/**
 * Owns the language client: starts the server over stdio, sends it the settings,
 * restarts it with back-off when it crashes (saying so once), and reports its life, its status
 * notification and its cancellable `$/progress` as status events.
 */
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  WorkDoneProgressCancelNotification,
  type ConfigurationParams,
  type LanguageClientOptions,
  type ProgressToken,
} from "vscode-languageclient/node";
import { NO_CRASHES, onCrash, type CrashHistory } from "./backoff";
import { debounceMs, settle } from "./debounce";
import { workEvent } from "./progress";
import { describeCommand, type ServerCommand } from "./serverCommand";
import { serverSettings, settingsPayload, type SettingReader } from "./settings";
import { STATUS_NOTIFICATION, parseStatus, type StatusEvent } from "./status";

export const SECTION = "codellama";

const START_ADVICE: Record<ServerCommand["source"], string> = {
  setting: "Check codellama.serverCommand.",
  python: "Install the codellama-lsp package in the selected Python interpreter, or set codellama.serverCommand.",
  path: "Install the codellama-lsp package so that `codellama-lsp` is on PATH, or set codellama.serverCommand.",
};

export interface SupervisorDeps {
  log: vscode.LogOutputChannel;
  status: (event: StatusEvent) => void;
  command: () => Promise<ServerCommand>;
}

/** A client that only logs: the supervisor tells the user about start failures and crashes itself, once. */
class LoggingClient extends LanguageClient {
  override error(message: string, data?: unknown): void {
    super.error(message, data, false);
  }
}

function readSettings(): SettingReader {
  const configuration = vscode.workspace.getConfiguration(SECTION);
  return (key) => configuration.get(key);
}

export class Supervisor implements vscode.Disposable {
  private current: LanguageClient | undefined;
  private generation = 0;
  /** The generation whose server finished initializing (crashes before that are start failures). */
  private runningGeneration = -1;
  private startedAt = 0;
  private crashes: CrashHistory = NO_CRASHES;
  private pendingRestart: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly deps: SupervisorDeps) {}

  /** The running client, if any. */
  get client(): LanguageClient | undefined {
    return this.current?.isRunning() === true ? this.current : undefined;
  }

  async start(): Promise<void> {
    this.cancelPendingRestart();
    const generation = ++this.generation;
    const command = await this.deps.command();
    if (generation !== this.generation) return;
    this.deps.log.info(`Starting the server: ${describeCommand(command)}`);
    this.deps.status({ type: "starting" });
    const client = this.createClient(command, generation);
    this.current = client;
    this.startedAt = Date.now();
    try {
      await client.start();
    } catch (error) {
      if (generation !== this.generation) return;
      void this.startFailed(command, error);
      return;
    }
    if (generation !== this.generation) return;
    this.runningGeneration = generation;
    this.deps.status({ type: "running" });
  }

  /** Stops the server (if any) and starts a fresh one; crash history is forgotten. */
  async restart(): Promise<void> {
    this.crashes = NO_CRASHES;
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    this.cancelPendingRestart();
    this.generation++;
    const client = this.current;
    this.current = undefined;
    if (client !== undefined) {
      try {
        if (client.needsStop()) await client.stop(2000);
      } catch (error) {
        this.deps.log.warn(`The server did not stop cleanly: ${String(error)}`);
      }
      await client.dispose().catch(() => undefined);
    }
    this.deps.status({ type: "stopped" });
  }

  /** Tells the server the `codellama` settings changed. */
  async sendSettings(): Promise<void> {
    await this.client?.sendNotification(DidChangeConfigurationNotification.type, { settings: settingsPayload(readSettings()) });
  }

  /** Cancels the server's work behind these progress tokens (`window/workDoneProgress/cancel`). */
  cancel(tokens: ProgressToken[]): void {
    for (const token of tokens) {
      void this.client?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    }
  }

  private createClient(command: ServerCommand, generation: number): LanguageClient {
    const current = (): boolean => generation === this.generation;
    const options: LanguageClientOptions = {
      documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
      outputChannel: this.deps.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: settingsPayload(readSettings()),
      initializationFailedHandler: () => false,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
          if (current() && this.runningGeneration === generation) this.crashed(generation);
          return { action: CloseAction.DoNotRestart, handled: true, message: "The connection to the server closed." };
        },
      },
      middleware: {
        // wait codellama.inline.debounceMs after the last keystroke; VS Code cancels a request it replaces
        provideInlineCompletionItems: async (document, position, context, token, next) => {
          const invoked = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
          if (!invoked && !(await settle(debounceMs(readSettings()("inline.debounceMs")), token))) return null;
          return next(document, position, context, token);
        },
        handleWorkDoneProgress: (token, params, next) => {
          const event = workEvent(token, params);
          if (current() && event !== undefined) this.deps.status(event);
          next(token, params);
        },
        workspace: {
          // the server pulls its section; answer with the server's view of it (no client-only keys)
          configuration: async (params: ConfigurationParams, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) return answers;
            return answers.map((answer: unknown, i) => (params.items[i]?.section === SECTION ? serverSettings(readSettings()) : answer));
          },
        },
      },
    };
    // no `transport`: plain stdio (TransportKind.stdio would append a `--stdio` argument the server does not take)
    const client = new LoggingClient(SECTION, "Code Llama", { command: command.command, args: command.args }, options);
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      const status = parseStatus(params);
      if (status === undefined) this.deps.log.warn(`Ignored a status this client does not know: ${JSON.stringify(params)}`);
      else if (current()) this.deps.status({ type: "status", status });
    });
    return client;
  }

  private crashed(generation: number): void {
    if (this.pendingRestart !== undefined) return;
    const decision = onCrash(this.crashes, Date.now() - this.startedAt);
    this.crashes = decision.history;
    if (decision.kind === "giveUp") {
      this.deps.log.error(`The server crashed ${decision.history.consecutive} times in a row; not restarting it.`);
      this.deps.status({ type: "crashed", message: "The server keeps crashing" });
      void this.offerLog("Code Llama: the language server keeps crashing and was not restarted. Use “Code Llama: Restart server” once fixed.");
      return;
    }
    const seconds = (decision.delayMs / 1000).toFixed(1);
    this.deps.log.warn(`The server stopped unexpectedly; restarting in ${seconds} s (restart ${decision.history.consecutive}).`);
    this.deps.status({ type: "crashed", message: "The server stopped unexpectedly; restarting" });
    if (decision.announce) {
      void this.offerLog("Code Llama: the language server stopped unexpectedly and is being restarted.");
    }
    this.pendingRestart = setTimeout(() => {
      this.pendingRestart = undefined;
      if (generation !== this.generation) return;
      const old = this.current;
      this.current = undefined;
      void old?.dispose().catch(() => undefined);
      void this.start();
    }, decision.delayMs);
  }

  private async startFailed(command: ServerCommand, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    this.deps.log.error(`Could not start the server (${describeCommand(command)}): ${reason}`);
    this.deps.status({ type: "crashed", message: "The server could not start" });
    const choice = await vscode.window.showErrorMessage(
      `Code Llama: could not start the language server “${command.command}”: ${reason} ${START_ADVICE[command.source]}`,
      "Open settings",
      "Show log",
    );
    if (choice === "Open settings") await vscode.commands.executeCommand("workbench.action.openSettings", "codellama.serverCommand");
    if (choice === "Show log") this.deps.log.show();
  }

  private async offerLog(message: string): Promise<void> {
    if ((await vscode.window.showWarningMessage(message, "Show log")) === "Show log") this.deps.log.show();
  }

  private cancelPendingRestart(): void {
    if (this.pendingRestart !== undefined) clearTimeout(this.pendingRestart);
    this.pendingRestart = undefined;
  }

  dispose(): void {
    void this.stop();
  }
}
