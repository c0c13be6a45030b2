/**
 * Which program runs the language server: `codellama.serverCommand` when set, else the
 * Python extension's selected interpreter with `-m codellama_lsp.server`, else
 * `codellama-lsp` on PATH.
 */

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the command came from, for the log. */
  source: "setting" | "python" | "path";
}

export const SERVER_MODULE = "codellama_lsp.server";
export const SERVER_PROGRAM = "codellama-lsp";

/**
 * The setting as given: a string is the program alone (no shell splitting, so paths with
 * spaces work); an array is the program followed by its arguments. Undefined when unset.
 */
export function commandFromSetting(value: unknown): string[] | undefined {
  if (typeof value === "string") {
    return value.trim() === "" ? undefined : [value.trim()];
  }
  if (Array.isArray(value) && value.every((x) => typeof x === "string")) {
    const [program, ...args] = value;
    return program === undefined || program.trim() === "" ? undefined : [program.trim(), ...args];
  }
  return undefined;
}

/** The command to start; `python` is the selected interpreter's command line, if known. */
export function resolveServerCommand(setting: unknown, python: readonly string[] | undefined): ServerCommand {
  const [program, ...args] = commandFromSetting(setting) ?? [];
  if (program !== undefined) {
    return { command: program, args, source: "setting" };
  }
  const [interpreter, ...interpreterArgs] = python ?? [];
  if (interpreter !== undefined && interpreter.trim() !== "") {
    return { command: interpreter, args: [...interpreterArgs, "-m", SERVER_MODULE], source: "python" };
  }
  return { command: SERVER_PROGRAM, args: [], source: "path" };
}

/** One line for the log: the command as a shell would show it. */
export function describeCommand(command: ServerCommand): string {
  const quote = (part: string): string => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`);
  return [command.command, ...command.args].map(quote).join(" ") + ` (from ${command.source})`;
}
