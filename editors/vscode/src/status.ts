/**
 * The status bar's state: the server process's life (from the supervisor) and the server's own
 * status notification; a pure reducer and a view (the VS Code binding is statusBar.ts).
 *
 * `$/progress` drives only VS Code's progress bars; the tokens of cancellable work are kept here
 * because a click on "generating" cancels through them.
 */

/** The server's status notification (server/status.py). */
export const STATUS_NOTIFICATION = "codellama/didChangeStatus";

/** The server's states, as `state` names them. */
export type ServerState = "idle" | "loading" | "ready" | "error";

/** The notification's params. */
export interface ServerStatus {
  state: ServerState;
  model: string;
  revision: string;
  /** Where the model runs, once ready. */
  device: string | null;
  /** The load step while loading, the reason on error. */
  message: string;
  /** The load's progress, while loading. */
  percentage: number | null;
  /** Code actions being generated. */
  busy: number;
  /** The `engine` setting: `IN_PROCESS`, `SHARED`, or the URL of the server that answers. */
  placement: string;
}

/** The placements that are not a URL. */
export const IN_PROCESS = "in-process";
export const SHARED = "shared";

export type ProgressToken = number | string;

export type StatusEvent =
  | { type: "starting" }
  | { type: "running" }
  | { type: "stopped" }
  | { type: "crashed"; message: string }
  | { type: "status"; status: ServerStatus }
  | { type: "workBegan"; token: ProgressToken }
  | { type: "workEnded"; token: ProgressToken };

export interface StatusState {
  server: "starting" | "running" | "stopped" | "crashed";
  /** Why the server process stopped, when it crashed or could not start. */
  crash: string | undefined;
  /** The server's last status notification, since this process started. */
  status: ServerStatus | undefined;
  /** Progress tokens of the cancellable work running now. */
  cancellable: ReadonlySet<ProgressToken>;
}

const NOTHING: ReadonlySet<ProgressToken> = new Set();

export const INITIAL_STATE: StatusState = { server: "stopped", crash: undefined, status: undefined, cancellable: NOTHING };

export type StatusKind = "stopped" | "starting" | "loading" | "ready" | "generating" | "error";

export interface StatusView {
  kind: StatusKind;
  text: string;
  tooltip: string;
  /** What a click does. */
  click: "cancel" | "showLog";
}

const STARTING: StatusView = { kind: "starting", text: "$(sync~spin) Code Llama: starting", tooltip: "Starting the language server", click: "showLog" };

function modelName(status: ServerStatus): string {
  return `${status.model} (${status.revision})`;
}

/** Where the model is served, for tooltips: on the device when given, and the engine unless in-process. */
function where(status: ServerStatus, device: string | null): string {
  const on = device === null ? "" : ` on ${device}`;
  if (status.placement === IN_PROCESS) return on;
  if (status.placement === SHARED) return on === "" ? " in the shared engine" : `${on} (shared engine)`;
  return ` at ${status.placement}`;
}

function generating(status: ServerStatus, cancellable: number): StatusView {
  const count = status.busy > 1 ? ` (${status.busy})` : "";
  const click = cancellable > 0 ? "cancel" : "showLog";
  const tooltip = `Generating ${status.busy === 1 ? "an answer" : `${status.busy} answers`}. Click to ${click === "cancel" ? "cancel" : "show the log"}.`;
  return { kind: "generating", text: `$(loading~spin) Code Llama: generating${count}`, tooltip, click };
}

/** The view of each server state: changing `ServerState` without this table fails to compile. */
const VIEWS: Record<ServerState, (status: ServerStatus, cancellable: number) => StatusView> = {
  idle: () => STARTING,
  loading: (status) => {
    const percent = status.percentage === null ? "" : ` ${Math.round(status.percentage)}%`;
    const step = status.message === "" ? "" : `: ${status.message}`;
    return { kind: "loading", text: `$(sync~spin) Code Llama: loading${percent}`, tooltip: `Loading ${modelName(status)}${where(status, null)}${step}`, click: "showLog" };
  },
  ready: (status, cancellable) => {
    if (status.busy > 0) return generating(status, cancellable);
    return { kind: "ready", text: "$(check) Code Llama", tooltip: `${modelName(status)} is ready${where(status, status.device)}. Click to show the log.`, click: "showLog" };
  },
  error: (status) => {
    const reason = status.message === "" ? "" : `: ${status.message}`;
    return { kind: "error", text: "$(error) Code Llama", tooltip: `${modelName(status)} could not be loaded${where(status, null)}${reason}. Click to show the log.`, click: "showLog" };
  },
};

function isServerState(value: unknown): value is ServerState {
  return typeof value === "string" && Object.hasOwn(VIEWS, value);
}

/** The notification's params, or undefined when they are not a status this client knows. */
export function parseStatus(params: unknown): ServerStatus | undefined {
  if (typeof params !== "object" || params === null) return undefined;
  const p = params as Record<string, unknown>;
  if (!isServerState(p.state)) return undefined;
  const text = (value: unknown): string => (typeof value === "string" ? value : "");
  const count = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
  return {
    state: p.state,
    model: text(p.model),
    revision: text(p.revision),
    device: typeof p.device === "string" ? p.device : null,
    message: text(p.message),
    percentage: count(p.percentage),
    busy: Math.max(0, count(p.busy) ?? 0),
    placement: text(p.placement) || IN_PROCESS,
  };
}

function withToken(state: StatusState, token: ProgressToken, present: boolean): StatusState {
  if (state.cancellable.has(token) === present) return state;
  const cancellable = new Set(state.cancellable);
  if (present) cancellable.add(token);
  else cancellable.delete(token);
  return { ...state, cancellable };
}

export function reduce(state: StatusState, event: StatusEvent): StatusState {
  switch (event.type) {
    case "starting":
      return { server: "starting", crash: undefined, status: undefined, cancellable: NOTHING };
    case "running":
      return { ...state, server: "running" };
    case "stopped":
      return { ...state, server: "stopped", status: undefined, cancellable: NOTHING };
    case "crashed":
      return { server: "crashed", crash: event.message, status: undefined, cancellable: NOTHING };
    case "status":
      return { ...state, status: event.status };
    case "workBegan":
      return withToken(state, event.token, true);
    case "workEnded":
      return withToken(state, event.token, false);
  }
}

/** Tokens of the answers being generated: what a click on "generating" cancels. */
export function generatingTokens(state: StatusState): ProgressToken[] {
  return [...state.cancellable];
}

export function view(state: StatusState): StatusView {
  if (state.server === "crashed") {
    return { kind: "error", text: "$(error) Code Llama", tooltip: `${state.crash ?? "The server stopped"}. Click to show the log.`, click: "showLog" };
  }
  if (state.server === "stopped") {
    return { kind: "stopped", text: "$(circle-slash) Code Llama", tooltip: "The server is not running. Click to show the log.", click: "showLog" };
  }
  if (state.status === undefined) return STARTING;
  return VIEWS[state.status.state](state.status, state.cancellable.size);
}
