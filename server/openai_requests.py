"""OpenAI `/v1/completions` and `/v1/chat/completions` bodies -> what the engine runs.

Unknown fields are ignored (clients send extras); fields whose meaning the engine cannot honour
are refused, naming them. `fit` checks the request against the loaded model's context window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from codellama_lsp.engine import Model, SamplingParams, TokenizerMissingError
from codellama_lsp.engine.sequence import Priority

COMPLETION_MAX_TOKENS = 256  # OpenAI's default is 16; an answer of code needs more
CHAT_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
SEED_RANGE = (-(2**63), 2**64 - 1)  # what torch.Generator.manual_seed takes
# Fields whose meaning cannot be honoured, and the values that ask for nothing.
UNSUPPORTED: dict[str, tuple] = {
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "echo": (None, False),
    "suffix": (None, ""),
    "best_of": (None, 1),
    "logit_bias": (None, {}),
    "presence_penalty": (None, 0),
    "frequency_penalty": (None, 0),
    "tools": (None, []),
    "functions": (None, []),
    "response_format": (None, {"type": "text"}),
}


class RequestError(Exception):
    """A request the server refuses: an OpenAI-style error with its HTTP status and the field at fault."""

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code


@dataclass(frozen=True)
class GenerationRequest:
    chat: bool
    prompt: str | list[int] | list[dict[str, str]]  # completions: text or token ids; chat: messages
    params: SamplingParams  # max_new_tokens is set by `fit`
    max_tokens: int | None  # None: COMPLETION_MAX_TOKENS for completions, the room left for chat
    priority: Priority
    stream: bool
    include_usage: bool
    model: str | None

    @property
    def prompt_param(self) -> str:
        return "messages" if self.chat else "prompt"


def _value(body: dict, name: str, kinds: tuple[type, ...], expected: str) -> Any:
    """The field, None when absent or null; a value of the wrong JSON type is refused."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds):
        raise RequestError(f"'{name}' must be {expected}, got {value!r}", name)
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"'{name}' must be a finite number", name)
    return value


def _number(body: dict, name: str, default: float, ok, rule: str) -> float:
    value = _value(body, name, (int, float), "a number")
    if value is None:
        return default
    if not ok(value):
        raise RequestError(f"'{name}' must be {rule}, got {value!r}", name)
    return float(value)


def _integer(body: dict, name: str, ok, rule: str) -> int | None:
    value = _value(body, name, (int,), "an integer")
    if value is not None and not ok(value):
        raise RequestError(f"'{name}' must be {rule}, got {value!r}", name)
    return value


def _stop(body: dict) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise RequestError("'stop' must be a string or a list of strings", "stop")


def _harmless(value: Any, harmless: tuple) -> bool:
    return any(value == h and isinstance(value, bool) == isinstance(h, bool) for h in harmless)


def _refuse_unsupported(body: dict) -> None:
    for name, harmless in UNSUPPORTED.items():
        if name in body and not _harmless(body[name], harmless):
            raise RequestError(f"'{name}' is not supported by this server; leave it out", name)
    n = _value(body, "n", (int,), "an integer")
    if n not in (None, 1):
        raise RequestError(f"'n' must be 1 (one answer per request), got {n!r}", "n")


def _sampling(body: dict) -> SamplingParams:
    top_k = _integer(body, "top_k", lambda v: v >= -1, "-1 or 0 (off) or a positive integer")
    return SamplingParams(
        temperature=_number(body, "temperature", 1.0, lambda v: v >= 0, ">= 0"),
        top_p=_number(body, "top_p", 1.0, lambda v: 0 < v <= 1, "in (0, 1]"),
        top_k=max(top_k or 0, 0),
        repetition_penalty=_number(body, "repetition_penalty", 1.0, lambda v: v > 0, "> 0"),
        stop=_stop(body),
        seed=_integer(body, "seed", lambda v: SEED_RANGE[0] <= v <= SEED_RANGE[1], "a 64-bit integer"),
    )


def _include_usage(body: dict, stream: bool) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise RequestError("'stream_options' is only allowed when 'stream' is true", "stream_options")
    usage = options.get("include_usage") if isinstance(options, dict) else None
    if not isinstance(options, dict) or not isinstance(usage, (bool, type(None))):
        raise RequestError("'stream_options' must be an object like {\"include_usage\": true}", "stream_options")
    return bool(usage)


def _common(body: Any, chat: bool, prompt: Any) -> GenerationRequest:
    _refuse_unsupported(body)
    model = _value(body, "model", (str,), "a string")
    stream = bool(_value(body, "stream", (bool,), "true or false"))
    max_tokens = _integer(body, "max_tokens", lambda v: v >= 1, ">= 1")
    if chat and max_tokens is None:
        max_tokens = _integer(body, "max_completion_tokens", lambda v: v >= 1, ">= 1")
    priority = _integer(body, "priority", lambda v: True, "an integer")
    return GenerationRequest(
        chat=chat,
        prompt=prompt,
        params=_sampling(body),
        max_tokens=max_tokens,
        priority=Priority.INLINE if priority is not None and priority < 0 else Priority.ACTION,
        stream=stream,
        include_usage=_include_usage(body, stream),
        model=model,
    )


def _is_ids(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(type(t) is int for t in value)


def parse_completion(body: Any) -> GenerationRequest:
    """A `/v1/completions` body: `prompt` is text, token ids, or a one-element list of either."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and (isinstance(prompt[0], str) or _is_ids(prompt[0])):
        prompt = prompt[0]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, (str, list)) for p in prompt):
        raise RequestError("'prompt' must be one prompt; this server answers one per request", "prompt")
    if not (isinstance(prompt, str) or _is_ids(prompt)):
        raise RequestError("'prompt' must be a string or a non-empty list of token ids", "prompt")
    return _common(body, chat=False, prompt=prompt)


def _content(message: dict, i: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        if all(isinstance(p.get("text"), str) for p in content):
            return "".join(p["text"] for p in content)
    raise RequestError(f"messages[{i}].content must be a string or a list of text parts", "messages")


def parse_chat(body: Any) -> GenerationRequest:
    """A `/v1/chat/completions` body: `messages` with roles system (or developer), user and assistant."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise RequestError("'messages' must be a non-empty list of message objects", "messages")
    rendered = []
    for i, message in enumerate(messages):
        role = CHAT_ROLES.get(message.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise RequestError(f"messages[{i}].role must be one of {', '.join(CHAT_ROLES)}", "messages")
        rendered.append({"role": role, "content": _content(message, i)})
    return _common(body, chat=True, prompt=rendered)


def context_window(model: Model) -> int:
    """Prompt + answer tokens one request can have: the model's positions, or the KV cache if smaller."""
    return min(model.args.max_seq_len, model.blocks.num_blocks * model.blocks.block_size)


def encode(request: GenerationRequest, model: Model) -> list[int]:
    """The prompt's token ids, as the engine will see them."""
    param = request.prompt_param
    try:
        if request.chat:
            return model.encode_chat(request.prompt)  # type: ignore[arg-type]
        return model.encode(request.prompt)  # type: ignore[arg-type]
    except TokenizerMissingError as e:
        raise RequestError(str(e), param) from None
    except ValueError as e:
        raise RequestError(f"'{param}': {e}", param) from None
    except Exception as e:  # the chat template raises jinja2's errors, e.g. roles that do not alternate
        if type(e).__module__.startswith("jinja2"):
            raise RequestError(f"'messages' cannot be rendered with the chat template: {e}", param) from None
        raise


def fit(request: GenerationRequest, model: Model) -> tuple[list[int], SamplingParams]:
    """Token ids and sampling settings within the context window; an answer that would overflow it is cut
    (finish_reason "length")."""
    ids, window = encode(request, model), context_window(model)
    if len(ids) >= window:
        raise RequestError(
            f"'{request.prompt_param}' has {len(ids)} tokens; the context window is {window} tokens, prompt and "
            "answer together",
            request.prompt_param,
        )
    if request.max_tokens is not None and request.max_tokens > window:
        raise RequestError(f"'max_tokens' is {request.max_tokens}; the context window is {window}", "max_tokens")
    room = window - len(ids)
    wanted = request.max_tokens or (room if request.chat else COMPLETION_MAX_TOKENS)
    return ids, replace(request.params, max_new_tokens=min(wanted, room))
