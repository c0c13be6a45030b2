/** Cancellable `$/progress` as status.ts's events: a click on "generating" cancels through these tokens. */
import type { WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport } from "vscode-languageclient";
import type { ProgressToken, StatusEvent } from "./status";

export function workEvent(token: ProgressToken, params: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd): StatusEvent | undefined {
  if (params.kind === "begin") return params.cancellable === true ? { type: "workBegan", token } : undefined;
  if (params.kind === "end") return { type: "workEnded", token };
  return undefined;
}
