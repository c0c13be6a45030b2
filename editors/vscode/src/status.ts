/**
 * The status bar's state, driven by the server process's life and its `$/progress`
 * (a pure reducer and a view; the VS Code binding is statusBar.ts).
 *
 * The server reports two kinds of work-done progress: loading the model (not
 * cancellable, with a percentage; it ends with the message "failed" when the load fails)
 * and generating an action's answer (cancellable).
 */

export type ProgressToken = number | string;

export type ProgressValue =
  | { kind: "begin"; title: string; message?: string; percentage?: number; cancellable?: boolean }
  | { kind: "report"; message?: string; percentage?: number }
  | { kind: "end"; message?: string };

export type StatusEvent =
  | { type: "starting" }
  | { type: "running" }
  | { type: "stopped" }
  | { type: "crashed"; message: string }
  | { type: "progress"; token: ProgressToken; value: ProgressValue };

interface Task {
  kind: "loading" | "generating";
  title: string;
  message: string | undefined;
  percentage: number | undefined;
}

export interface StatusState {
  server: "starting" | "running" | "stopped" | "crashed";
  /** Why the server or the model is unusable; cleared by a new start or a successful load. */
  error: string | undefined;
  /** The last model load ended well. */
  modelReady: boolean;
  tasks: ReadonlyMap<ProgressToken, Task>;
}

export const INITIAL_STATE: StatusState = { server: "stopped", error: undefined, modelReady: false, tasks: new Map() };

export const LOAD_FAILED_MESSAGE = "failed";

function isLoading(title: string, cancellable: boolean | undefined): boolean {
  return cancellable !== true && /load/i.test(title);
}

function withTasks(state: StatusState, change: (tasks: Map<ProgressToken, Task>) => void): Map<ProgressToken, Task> {
  const tasks = new Map(state.tasks);
  change(tasks);
  return tasks;
}

function onProgress(state: StatusState, token: ProgressToken, value: ProgressValue): StatusState {
  switch (value.kind) {
    case "begin": {
      const kind = isLoading(value.title, value.cancellable) ? "loading" : "generating";
      const task: Task = { kind, title: value.title, message: value.message, percentage: value.percentage };
      const tasks = withTasks(state, (t) => t.set(token, task));
      return kind === "loading" ? { ...state, tasks, modelReady: false, error: undefined } : { ...state, tasks };
    }
    case "report": {
      const task = state.tasks.get(token);
      if (task === undefined) return state;
      const updated: Task = { ...task, message: value.message ?? task.message, percentage: value.percentage ?? task.percentage };
      return { ...state, tasks: withTasks(state, (t) => t.set(token, updated)) };
    }
    case "end": {
      const task = state.tasks.get(token);
      if (task === undefined) return state;
      const tasks = withTasks(state, (t) => t.delete(token));
      if (task.kind !== "loading") return { ...state, tasks };
      const failed = value.message === LOAD_FAILED_MESSAGE;
      return { ...state, tasks, modelReady: !failed, error: failed ? "The model could not be loaded" : undefined };
    }
  }
}

export function reduce(state: StatusState, event: StatusEvent): StatusState {
  switch (event.type) {
    case "starting":
      return { server: "starting", error: undefined, modelReady: false, tasks: new Map() };
    case "running":
      return { ...state, server: "running" };
    case "stopped":
      return { ...state, server: "stopped", modelReady: false, tasks: new Map() };
    case "crashed":
      return { server: "crashed", error: event.message, modelReady: false, tasks: new Map() };
    case "progress":
      return onProgress(state, event.token, event.value);
  }
}

export type StatusKind = "stopped" | "starting" | "loading" | "ready" | "generating" | "error";

export interface StatusView {
  kind: StatusKind;
  text: string;
  tooltip: string;
  /** What a click does. */
  click: "cancel" | "showLog" | "none";
}

/** Tokens of the answers being generated: what a click on "generating" cancels. */
export function generatingTokens(state: StatusState): ProgressToken[] {
  return [...state.tasks].filter(([, task]) => task.kind === "generating").map(([token]) => token);
}

function find(state: StatusState, kind: Task["kind"]): Task | undefined {
  return [...state.tasks.values()].find((task) => task.kind === kind);
}

export function view(state: StatusState): StatusView {
  if (state.server === "crashed") {
    return { kind: "error", text: "$(error) Code Llama", tooltip: `${state.error ?? "The server stopped"}. Click to show the log.`, click: "showLog" };
  }
  if (state.server === "stopped") {
    return { kind: "stopped", text: "$(circle-slash) Code Llama", tooltip: "The server is not running. Click to show the log.", click: "showLog" };
  }
  const loading = find(state, "loading");
  if (loading !== undefined) {
    const percent = loading.percentage === undefined ? "" : ` ${Math.round(loading.percentage)}%`;
    const detail = loading.message === undefined ? "" : `: ${loading.message}`;
    return { kind: "loading", text: `$(sync~spin) Code Llama: loading${percent}`, tooltip: `Loading the model${detail}`, click: "showLog" };
  }
  const generating = generatingTokens(state);
  if (generating.length > 0) {
    const title = find(state, "generating")?.title ?? "Code Llama";
    const count = generating.length > 1 ? ` (${generating.length})` : "";
    return { kind: "generating", text: `$(loading~spin) Code Llama: generating${count}`, tooltip: `${title}. Click to cancel.`, click: "cancel" };
  }
  if (state.error !== undefined) {
    return { kind: "error", text: "$(error) Code Llama", tooltip: `${state.error}. Click to show the log.`, click: "showLog" };
  }
  if (state.server === "starting" || !state.modelReady) {
    return { kind: "starting", text: "$(sync~spin) Code Llama: starting", tooltip: "Starting the language server", click: "showLog" };
  }
  return { kind: "ready", text: "$(check) Code Llama", tooltip: "The model is ready. Click to show the log.", click: "showLog" };
}
