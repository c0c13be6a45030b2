/** The status bar item: shows status.ts's view of the server's state; a click cancels generating or shows the log. */
import * as vscode from "vscode";
import { INITIAL_STATE, generatingTokens, reduce, view, type ProgressToken, type StatusEvent, type StatusState } from "./status";

export const STATUS_CLICK_COMMAND = "codellama.statusBarClick";

export class StatusBar implements vscode.Disposable {
  private state: StatusState = INITIAL_STATE;
  private readonly item: vscode.StatusBarItem;
  private readonly click: vscode.Disposable;

  constructor(cancel: (tokens: ProgressToken[]) => void, showLog: () => void) {
    this.item = vscode.window.createStatusBarItem("codellama.status", vscode.StatusBarAlignment.Right, 100);
    this.item.name = "Code Llama";
    this.item.command = STATUS_CLICK_COMMAND;
    this.click = vscode.commands.registerCommand(STATUS_CLICK_COMMAND, () => {
      if (view(this.state).click === "cancel") cancel(generatingTokens(this.state));
      else showLog();
    });
    this.render();
    this.item.show();
  }

  dispatch(event: StatusEvent): void {
    this.state = reduce(this.state, event);
    this.render();
  }

  private render(): void {
    const shown = view(this.state);
    this.item.text = shown.text;
    this.item.tooltip = shown.tooltip;
    this.item.backgroundColor = shown.kind === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  }

  dispose(): void {
    this.click.dispose();
    this.item.dispose();
  }
}
