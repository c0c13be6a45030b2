/** The argument of the server's `codellama.ask` and `codellama.explain` commands. */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export interface ActionArgument {
  textDocument: { uri: string };
  range: Range;
  instruction?: string;
}

/** An empty range (a bare cursor) asks the server for the function around it. */
export function actionArgument(uri: string, range: Range, instruction?: string): ActionArgument {
  const argument: ActionArgument = { textDocument: { uri }, range };
  if (instruction !== undefined) argument.instruction = instruction;
  return argument;
}

/** The instruction typed into the input box, or undefined when there is nothing to ask. */
export function cleanInstruction(typed: string | undefined): string | undefined {
  const trimmed = typed?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/** The server's explain answer: `{"text": ...}`. */
export function explanationText(result: unknown): string | undefined {
  if (typeof result === "object" && result !== null && "text" in result) {
    const text = result.text;
    return typeof text === "string" ? text : undefined;
  }
  return undefined;
}

/** The Markdown document shown beside the editor. */
export function explanationMarkdown(fileName: string, range: Range, text: string): string {
  const first = range.start.line + 1;
  const last = range.end.line + 1;
  const empty = range.start.line === range.end.line && range.start.character === range.end.character;
  const where = empty ? `the code around line ${first}` : first === last ? `line ${first}` : `lines ${first}–${last}`;
  return `# Explanation: \`${fileName}\`, ${where}\n\n${text.trim()}\n`;
}
