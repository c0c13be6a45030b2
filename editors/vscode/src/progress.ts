/** LSP work-done progress values as status.ts's events. */
import type { WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport } from "vscode-languageclient";
import type { ProgressValue } from "./status";

export function progressValue(params: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd): ProgressValue {
  switch (params.kind) {
    case "begin":
      return { kind: "begin", title: params.title, message: params.message, percentage: params.percentage, cancellable: params.cancellable };
    case "report":
      return { kind: "report", message: params.message, percentage: params.percentage };
    case "end":
      return { kind: "end", message: params.message };
  }
}
