/**
 * The wait before a ghost-text request (`codellama.inline.debounceMs`): a request that VS Code
 * replaces during the wait (it cancels the older one's token) is never sent to the server.
 */

/** What `settle` needs of a cancellation token (vscode.CancellationToken has it). */
export interface Cancellable {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

/** Waits `ms`, ending early when `token` is cancelled: true when the wait ran out, false when cancelled. */
export function settle(ms: number, token: Cancellable): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      listener.dispose();
      resolve(true);
    }, ms);
    const listener = token.onCancellationRequested(() => {
      clearTimeout(timer);
      listener.dispose();
      resolve(false);
    });
  });
}

/** The `inline.debounceMs` setting as read (undefined, or the wrong type: no wait). */
export function debounceMs(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}
