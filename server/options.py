"""The `codellama` settings: typed, defaulted, validated once where they enter.

A bad value is reported once and replaced by its default; the rest still apply.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from codellama_lsp.engine import SamplingParams

DEFAULT_MODEL = "TheBloke/CodeLlama-70B-Instruct-GPTQ"
MAX_CONTEXT_TOKENS = 16384


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling for one kind of request (defaults: the model card's settings)."""

    maxNewTokens: int = 400
    temperature: float = 0.7
    topP: float = 0.95
    topK: int = 40
    repetitionPenalty: float = 1.1

    def sampling(self, stop: tuple[str, ...] = (), seed: int | None = None) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.topP,
            top_k=self.topK,
            repetition_penalty=self.repetitionPenalty,
            max_new_tokens=self.maxNewTokens,
            stop=stop,
            seed=seed,
        )


INLINE_DEFAULTS = GenerationOptions(maxNewTokens=128, temperature=0.2, topP=0.9, topK=0, repetitionPenalty=1.0)
ACTION_DEFAULTS = GenerationOptions()


@dataclass(frozen=True)
class Options:
    model: str = DEFAULT_MODEL
    revision: str | None = None
    device: str = "auto"  # auto = cuda when a GPU is visible, else cpu
    contextTokens: int = 4096  # prompt + answer, as the model card's serving example
    systemPrompt: str | None = None
    enabledLanguages: tuple[str, ...] = ("*",)
    otherFiles: int = 3  # other open files (most recently used) excerpted when the budget allows
    kvCacheBytes: int = 0  # the engine's KV cache; 0 = most of the GPU memory left after the weights
    inline: GenerationOptions = INLINE_DEFAULTS
    actions: GenerationOptions = ACTION_DEFAULTS

    def language_enabled(self, language_id: str) -> bool:
        return "*" in self.enabledLanguages or language_id in self.enabledLanguages

    def model_key(self) -> tuple[str, str | None, str, int]:
        """Changing any of these reloads the model."""
        return (self.model, self.revision, self.device, self.kvCacheBytes)


def _check_generation(name: str, raw: Any, defaults: GenerationOptions, errors: list[str]) -> GenerationOptions:
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        errors.append(f"codellama.{name} must be an object")
        return defaults
    rules = {
        "maxNewTokens": (int, lambda v: 1 <= v <= 8192, "an integer from 1 to 8192"),
        "temperature": (float, lambda v: 0 <= v <= 5, "a number from 0 to 5"),
        "topP": (float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
        "topK": (int, lambda v: v >= 0, "an integer >= 0"),
        "repetitionPenalty": (float, lambda v: 0 < v <= 5, "a number in (0, 5]"),
    }
    values = {}
    for key, value in raw.items():
        if key not in rules:
            errors.append(f"codellama.{name}.{key} is not a setting")
            continue
        kind, ok, wanted = rules[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (kind is int and value != int(value))
            or not ok(value)
        ):
            errors.append(f"codellama.{name}.{key} must be {wanted}, got {value!r}")
            continue
        values[key] = kind(value)
    return replace(defaults, **values)


def parse_options(raw: Any, base: Options = Options()) -> tuple[Options, list[str]]:
    """Settings from the editor -> (Options, one message per bad value)."""
    errors: list[str] = []
    if raw is None:
        return base, errors
    if not isinstance(raw, dict):
        return base, [f"codellama settings must be an object, got {type(raw).__name__}"]
    raw = raw.get("codellama", raw)  # accept the section itself or {"codellama": {...}}
    values: dict[str, Any] = {}

    def take(key: str, check, wanted: str, convert=lambda v: v) -> None:
        if key in raw and raw[key] is not None:
            value = raw[key]
            if check(value):
                values[key] = convert(value)
            else:
                errors.append(f"codellama.{key} must be {wanted}, got {value!r}")

    is_text = lambda v: isinstance(v, str) and v.strip() != ""  # noqa: E731
    take("model", is_text, "a hub id, a folder or 'demo'", str.strip)
    take("revision", is_text, "a branch name", str.strip)
    take(
        "device",
        lambda v: isinstance(v, str) and (v in ("auto", "cpu", "cuda") or v.startswith("cuda:")),
        "auto, cpu, cuda or cuda:N",
    )
    take(
        "contextTokens",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 512 <= v <= MAX_CONTEXT_TOKENS,
        f"an integer from 512 to {MAX_CONTEXT_TOKENS}",
    )
    take("systemPrompt", lambda v: isinstance(v, str), "a string")
    take(
        "enabledLanguages",
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "a list of language ids",
        tuple,
    )
    take(
        "kvCacheBytes",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "a number of bytes (0 = automatic)",
    )
    take(
        "otherFiles",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 20,
        "an integer from 0 to 20",
    )
    if "revision" in raw and raw["revision"] is None:
        values["revision"] = None
    known = {f.name for f in fields(Options)}
    errors += [f"codellama.{key} is not a setting" for key in raw if key not in known]
    values["inline"] = _check_generation("inline", raw.get("inline"), base.inline, errors)
    values["actions"] = _check_generation("actions", raw.get("actions"), base.actions, errors)
    options = replace(base, **values)
    if options.contextTokens <= options.actions.maxNewTokens + 256:
        errors.append("codellama.contextTokens leaves no room for the prompt; using the defaults for both")
        options = replace(
            options,
            contextTokens=Options.contextTokens,
            actions=replace(options.actions, maxNewTokens=ACTION_DEFAULTS.maxNewTokens),
        )
    return options, errors
