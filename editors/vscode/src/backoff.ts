/**
 * When to restart a server that exited on its own: at once after the first crash, then
 * after doubling delays; a server that stayed up long enough counts as healthy again.
 */

export interface BackoffPolicy {
  /** Delay before the first restart, in milliseconds. */
  initialDelayMs: number;
  /** The delay never grows past this. */
  maxDelayMs: number;
  /** Consecutive crashes after which it stops restarting. */
  maxRestarts: number;
  /** A run at least this long resets the count. */
  healthyAfterMs: number;
}

export const DEFAULT_POLICY: BackoffPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  maxRestarts: 5,
  healthyAfterMs: 180_000,
};

export interface CrashHistory {
  /** Crashes since the server last ran healthily. */
  consecutive: number;
  /** Crashes in this window's lifetime (the first one is announced). */
  total: number;
}

export const NO_CRASHES: CrashHistory = { consecutive: 0, total: 0 };

export type RestartDecision =
  | { kind: "restart"; delayMs: number; history: CrashHistory; announce: boolean }
  | { kind: "giveUp"; history: CrashHistory };

/** What to do after the server exited unexpectedly, having run for `uptimeMs`. */
export function onCrash(history: CrashHistory, uptimeMs: number, policy: BackoffPolicy = DEFAULT_POLICY): RestartDecision {
  const consecutive = (uptimeMs >= policy.healthyAfterMs ? 0 : history.consecutive) + 1;
  const next: CrashHistory = { consecutive, total: history.total + 1 };
  if (consecutive > policy.maxRestarts) {
    return { kind: "giveUp", history: next };
  }
  const delayMs = Math.min(policy.initialDelayMs * 2 ** (consecutive - 1), policy.maxDelayMs);
  return { kind: "restart", delayMs, history: next, announce: next.total === 1 };
}
