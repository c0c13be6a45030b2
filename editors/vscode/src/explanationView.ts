/** Explanations as a read-only Markdown document, previewed beside the editor. */
import * as vscode from "vscode";

export const EXPLANATION_SCHEME = "codellama-explanation";

export class ExplanationView implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly texts = new Map<string, string>();
  private readonly registration: vscode.Disposable;
  readonly onDidChange = this.changed.event;

  constructor() {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(EXPLANATION_SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? "";
  }

  /** Shows `markdown` for `source` (one preview per source file, replaced by the next explanation). */
  async show(source: vscode.Uri, markdown: string): Promise<void> {
    const name = source.path.split("/").pop() ?? "code";
    const uri = vscode.Uri.from({ scheme: EXPLANATION_SCHEME, path: `/${name} explanation.md`, query: source.toString() });
    this.texts.set(uri.toString(), markdown);
    this.changed.fire(uri);
    try {
      await vscode.commands.executeCommand("markdown.showPreviewToSide", uri);
    } catch {
      // no Markdown preview (the built-in extension disabled): show the text itself
      const document = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true });
    }
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
