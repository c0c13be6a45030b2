/** The server's settings section as the contributed defaults map to it (nested sampling groups). */
export const SERVER_DEFAULTS = {
  model: "TheBloke/CodeLlama-70B-Instruct-GPTQ",
  revision: null,
  device: "auto",
  contextTokens: 4096,
  systemPrompt: null,
  enabledLanguages: ["*"],
  otherFiles: 3,
  kvCacheBytes: 0,
  inline: { maxNewTokens: 128, temperature: 0.2, topP: 0.9, topK: 0, repetitionPenalty: 1.0 },
  actions: { maxNewTokens: 400, temperature: 0.7, topP: 0.95, topK: 40, repetitionPenalty: 1.1 },
};
