"""Running chat prompts through the model for the server: fitted prompts and early stopping."""

from __future__ import annotations

import re
from collections import OrderedDict
from weakref import WeakKeyDictionary

from codellama_lsp.engine import SamplingParams

from .context import CodeContext, CountTokens, Position
from .engines import Engine
from .postprocess import without_turn_space
from .prompts import Framing, fit_prompt, prefill_of

CLOSED_BLOCK = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*\n(?:.*\n)*?[ \t]*\1[ \t]*$", re.MULTILINE)


def token_counter(model: Engine) -> CountTokens:
    encode = model.tokenizer.encode
    return lambda text: len(encode(text, add_special_tokens=False)) if text else 0


class ChatEncoder:
    """`model.encode_chat` with its latest answers kept: the fixed text of a request's prompt (the prompt
    without code) is measured on every keystroke and rarely changes."""

    def __init__(self, model: Engine, size: int = 8):
        self.model, self.size = model, size
        self.recent: OrderedDict[tuple, list[int]] = OrderedDict()

    def __call__(self, messages: list[dict]) -> list[int]:
        key = tuple((m["role"], m["content"]) for m in messages)
        if key in self.recent:
            self.recent.move_to_end(key)
            return self.recent[key]
        ids = self.recent[key] = self.model.encode_chat(messages)
        if len(self.recent) > self.size:
            self.recent.popitem(last=False)
        return ids


_encoders: WeakKeyDictionary[Engine, ChatEncoder] = WeakKeyDictionary()


def chat_encoder(model: Engine) -> ChatEncoder:
    if model not in _encoders:
        _encoders[model] = ChatEncoder(model)
    return _encoders[model]


def build_prompt(
    model: Engine,
    text: str,
    start: Position,
    end: Position | None,
    framing: Framing,
    window: int,
    answer_tokens: int,
    other_files: list[tuple[str, str]],
) -> tuple[CodeContext, list[int], str]:
    """The code context for a range, the prompt's token ids (measured with the model's own tokenizer),
    and the answer's start that the prompt ends with ("" when it ends with the user's turn)."""
    fitted = fit_prompt(
        framing, text, start, end,
        encode_prompt=chat_encoder(model),
        count_tokens=token_counter(model),
        window=window, answer_tokens=answer_tokens, other_files=other_files,
    )  # fmt: skip
    return fitted.context, fitted.ids, prefill_of(fitted.messages)


async def answer(
    model: Engine,
    prompt: list[int],
    params: SamplingParams,
    until_code_block: bool,
    priority: str = "action",
    prefill: str = "",
) -> str:
    """The model's reply; with `until_code_block`, it stops as soon as one fenced block is complete.

    `priority` "inline" puts the request ahead of code actions in the engine. With `prefill` (the
    start of the answer, already in the prompt), the answer is the prefill followed by the reply.
    """
    text = prefill
    stream = model.stream(prompt, params, priority)
    try:
        async for delta in stream:
            text += delta
            if until_code_block and "\n" in delta and CLOSED_BLOCK.search(text):
                break
    finally:
        await stream.aclose()  # frees the KV cache now, also when stopped early
    return text if prefill else without_turn_space(text, model.tokenizer, prompt)
