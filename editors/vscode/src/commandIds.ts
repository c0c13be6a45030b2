/** The extension's command ids (contributed in package.json; not the server's `codellama.ask`/`.explain`). */
export const COMMANDS = {
  ask: "codellama.askSelection",
  explain: "codellama.explainSelection",
  restart: "codellama.restartServer",
  showLog: "codellama.showLog",
  selectBranch: "codellama.selectModelBranch",
} as const;
