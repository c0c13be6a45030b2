/**
 * The `codellama.*` settings as the server reads them: VS Code's configuration section,
 * cleaned up and without the client-only keys, ready for `initializationOptions` and
 * `workspace/didChangeConfiguration`.
 */

/** Sampling for one kind of request (server option names). */
export interface GenerationSettings {
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
}

/** Ghost text: its sampling, the candidates per request, and the wait before asking. */
export interface InlineSettings {
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  candidates?: number;
  debounceMs?: number;
}

/** The server's `codellama` section. Absent keys take the server's defaults. */
export interface ServerSettings {
  model?: string;
  revision: string | null;
  device?: string;
  gpuSplit: string | null;
  engine?: string;
  engineIdleMinutes?: number;
  apiKeyEnv?: string;
  contextTokens?: number;
  systemPrompt: string | null;
  enabledLanguages?: string[];
  otherFiles?: number;
  kvCacheBytes?: number;
  speculative?: boolean;
  inline?: InlineSettings;
  actions?: GenerationSettings;
}

/** Reads one setting of the section by its dotted key (e.g. `inline.topP`); undefined when unset. */
export type SettingReader = (key: string) => unknown;

/** Settings that only the editor uses; never sent to the server (it rejects unknown keys). */
export const CLIENT_ONLY_KEYS: readonly string[] = ["serverCommand"];

/** Changing one of these means restarting the server process rather than telling it. */
export const RESTART_KEYS: readonly string[] = ["serverCommand"];

const GENERATION_KEYS = ["maxNewTokens", "temperature", "topP", "topK", "repetitionPenalty"] as const;
const INLINE_KEYS = [...GENERATION_KEYS, "candidates", "debounceMs"] as const;

function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function number(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function generation(read: SettingReader, group: "inline" | "actions"): InlineSettings | undefined {
  const out: InlineSettings = {};
  for (const key of group === "inline" ? INLINE_KEYS : GENERATION_KEYS) {
    const value = number(read(`${group}.${key}`));
    if (value !== undefined) out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The server's settings from the editor's. Empty strings mean "unset" (the server
 * would refuse them); values of the wrong type are left out so the server's defaults apply.
 */
export function serverSettings(read: SettingReader): ServerSettings {
  const settings: ServerSettings = {
    revision: text(read("revision")) ?? null,
    gpuSplit: text(read("gpuSplit")) ?? null,
    systemPrompt: text(read("systemPrompt")) ?? null,
  };
  const model = text(read("model"));
  if (model !== undefined) settings.model = model;
  const device = text(read("device"));
  if (device !== undefined) settings.device = device;
  const engine = text(read("engine"));
  if (engine !== undefined) settings.engine = engine;
  const engineIdleMinutes = number(read("engineIdleMinutes"));
  if (engineIdleMinutes !== undefined) settings.engineIdleMinutes = engineIdleMinutes;
  const apiKeyEnv = text(read("apiKeyEnv"));
  if (apiKeyEnv !== undefined) settings.apiKeyEnv = apiKeyEnv;
  const contextTokens = number(read("contextTokens"));
  if (contextTokens !== undefined) settings.contextTokens = contextTokens;
  const languages = read("enabledLanguages");
  if (Array.isArray(languages) && languages.every((x) => typeof x === "string")) {
    settings.enabledLanguages = languages.map((x: string) => x.trim()).filter((x) => x !== "");
  }
  const otherFiles = number(read("otherFiles"));
  if (otherFiles !== undefined) settings.otherFiles = otherFiles;
  const kvCacheBytes = number(read("kvCacheBytes"));
  if (kvCacheBytes !== undefined) settings.kvCacheBytes = kvCacheBytes;
  const speculative = read("speculative");
  if (typeof speculative === "boolean") settings.speculative = speculative;
  const inline = generation(read, "inline");
  if (inline !== undefined) settings.inline = inline;
  const actions = generation(read, "actions");
  if (actions !== undefined) settings.actions = actions;
  return settings;
}

/** `initializationOptions` and `didChangeConfiguration` settings: the section under its name. */
export function settingsPayload(read: SettingReader): { codellama: ServerSettings } {
  return { codellama: serverSettings(read) };
}

/** Whether a change to these dotted `codellama.*` keys needs a server restart. */
export function needsRestart(changed: (key: string) => boolean): boolean {
  return RESTART_KEYS.some((key) => changed(`codellama.${key}`));
}
