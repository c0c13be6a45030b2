"""The `codellama` settings: typed, defaulted, validated once where they enter.

Each setting is a dataclass field carrying its default and a `Spec` (what it accepts, in
JSON schema's terms); on the wire its name is the field's in camelCase. `option_parsing`
turns the editor's JSON into `Options`.
"""

from __future__ import annotations

import re
from dataclasses import Field, dataclass, field, is_dataclass, replace
from typing import Any

from codellama_lsp.engine import SamplingParams

SECTION = "codellama"
DEFAULT_MODEL = "TheBloke/CodeLlama-70B-Instruct-GPTQ"
MAX_CONTEXT_TOKENS = 16384
PROMPT_ROOM = 256  # tokens a prompt needs at least beside the answer
NAMES = tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    """What a setting is for and what it accepts beyond its type (JSON schema's keywords)."""

    description: str
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None  # searched for, as JSON schema does
    pattern_message: str | None = None  # what the pattern wants, in words

    def admits(self, value: Any) -> bool:
        return not (
            (self.minimum is not None and value < self.minimum)
            or (self.exclusive_minimum is not None and value <= self.exclusive_minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.pattern is not None and re.search(self.pattern, value) is None)
        )

    def wanted(self, hint: Any) -> str:
        """What the setting accepts, in words, for messages."""
        if self.pattern_message:
            return self.pattern_message
        if is_dataclass(hint):
            return "an object"
        if hint == NAMES:
            return "a list of strings"
        if hint in (str, str | None):
            return "a string"
        if hint is bool:
            return "true or false"
        kind = "an integer" if hint is int else "a number"
        low = self.minimum if self.minimum is not None else self.exclusive_minimum
        if low is None:
            return kind
        if self.maximum is None:
            return f"{kind} {'>=' if self.minimum is not None else '>'} {low}"
        if self.minimum is not None:
            return f"{kind} from {low} to {self.maximum}"
        return f"{kind} in ({low}, {self.maximum}]"


def setting(default: Any, description: str, **accepts: Any) -> Any:
    """A settings field: its default and its Spec."""
    return field(default=default, metadata={"spec": Spec(description, **accepts)})


def spec_of(f: Field) -> Spec:
    return f.metadata["spec"]


def wire_name(name: str) -> str:
    """`max_new_tokens` -> `maxNewTokens`."""
    head, *words = name.split("_")
    return head + "".join(word.title() for word in words)


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling for one kind of request (defaults: the model card's settings)."""

    max_new_tokens: int = setting(400, "most tokens generated", minimum=1, maximum=8192)
    temperature: float = setting(0.7, "sampling temperature; 0 is greedy", minimum=0, maximum=5)
    top_p: float = setting(0.95, "nucleus sampling: likeliest tokens up to this mass", exclusive_minimum=0, maximum=1)
    top_k: int = setting(40, "keep only the k likeliest tokens; 0 keeps all", minimum=0)
    repetition_penalty: float = setting(1.1, "penalty on tokens seen; 1 is none", exclusive_minimum=0, maximum=5)

    def sampling(self) -> SamplingParams:
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repetition_penalty=self.repetition_penalty,
            max_new_tokens=self.max_new_tokens,
        )


SAMPLED_TEMPERATURE = 0.8  # the extra candidates' temperature when the setting's is 0 (greedy)


@dataclass(frozen=True)
class InlineOptions(GenerationOptions):
    """Ghost text: its sampling, how many candidates, and how long the editors wait before asking."""

    candidates: int = setting(1, "suggestions per request: the greedy one, then sampled ones", minimum=1, maximum=5)
    debounce_ms: int = setting(
        250, "the editor waits this long after the last keystroke before it asks", minimum=0, maximum=2000
    )

    def candidate_sampling(self) -> list[SamplingParams]:
        """One request's sampling per candidate: one keeps the settings; with more, the first is greedy and
        the others sample (at SAMPLED_TEMPERATURE when the setting is greedy)."""
        if self.candidates == 1:
            return [self.sampling()]
        sampled = replace(self.sampling(), temperature=self.temperature or SAMPLED_TEMPERATURE)
        return [replace(sampled, temperature=0.0)] + [sampled] * (self.candidates - 1)


INLINE_DEFAULTS = InlineOptions(max_new_tokens=128, temperature=0.2, top_p=0.9, top_k=0, repetition_penalty=1.0)
ACTION_DEFAULTS = GenerationOptions()


@dataclass(frozen=True)
class Options:
    model: str = setting(
        DEFAULT_MODEL, "hub id, local folder, or demo", pattern=r"\S", pattern_message="a hub id, a folder or 'demo'"
    )
    revision: str | None = setting(None, "hub branch; None is main", pattern=r"\S", pattern_message="a branch name")
    device: str = setting(
        "auto",
        "where the model runs; auto is one GPU if the model fits on it, else the fewest that hold it, else cpu; "
        "a list (cuda:0,cuda:1) splits the layers across its devices",
        pattern=r"^(auto|cpu|cuda|cuda:\d+|(cpu|cuda:\d+)(,(cpu|cuda:\d+))+)$",
        pattern_message="auto, cpu, cuda, cuda:N or a list such as cuda:0,cuda:1",
    )
    engine: str = setting(
        "in-process",
        "where the engine runs: in-process, shared (one per user, over a unix socket) or the URL of an "
        "OpenAI-compatible server (this project's serve, vLLM, TGI, llama.cpp)",
        pattern=r"^(in-process|shared|https?://\S+)$",
        pattern_message="in-process, shared, or an http(s):// URL",
    )
    engine_idle_minutes: float = setting(
        10.0, "a shared engine exits after this long with no client and no request", exclusive_minimum=0
    )
    api_key_env: str = setting(
        "CODELLAMA_API_KEY",
        "the environment variable that holds the API key for a URL engine",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        pattern_message="an environment variable name",
    )
    context_tokens: int = setting(4096, "prompt + answer tokens", minimum=512, maximum=MAX_CONTEXT_TOKENS)
    system_prompt: str | None = setting(None, "replaces the default role sentence of the system turn")
    enabled_languages: NAMES = setting(("*",), "language ids to serve; * serves all")
    other_files: int = setting(3, "other open files excerpted when the budget allows", minimum=0, maximum=20)
    kv_cache_bytes: int = setting(0, "the engine's KV cache; 0 is most GPU memory left after the weights", minimum=0)
    gpu_split: str | None = setting(
        None,
        "GB of weights on each device of the device list, e.g. 20,24; None: planned from free memory",
        pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?)*$",
        pattern_message="GB per device, separated by commas, e.g. 20,24",
    )
    speculative: bool = setting(
        True, "draft tokens from the prompt and check them in one pass: faster code edits, the same answers"
    )
    inline: InlineOptions = setting(INLINE_DEFAULTS, "sampling for ghost text")
    actions: GenerationOptions = setting(ACTION_DEFAULTS, "sampling for code actions")

    def language_enabled(self, language_id: str) -> bool:
        return "*" in self.enabled_languages or language_id in self.enabled_languages

    @property
    def placement(self) -> str:
        """ "in-process", "shared" or "url" (`engine` holds the URL)."""
        return self.engine if self.engine in ("in-process", "shared") else "url"

    @property
    def gpu_split_gb(self) -> list[float] | None:
        """`gpu_split` as load_model takes it."""
        return [float(gb) for gb in self.gpu_split.split(",")] if self.gpu_split else None

    def model_key(self) -> tuple:
        """Changing any of these reloads the model (or reconnects to its engine)."""
        if self.placement == "url":
            return (self.engine, self.model, self.revision, self.api_key_env)
        key = (self.engine, self.model, self.revision, self.device, self.kv_cache_bytes, self.gpu_split)
        return (*key, self.engine_idle_minutes) if self.placement == "shared" else (*key, self.speculative)
