"""Running chat prompts through the model for the server: fitted prompts and early stopping."""

from __future__ import annotations

import re

from codellama_lsp.engine import Model, SamplingParams

from .context import CodeContext, CountTokens, Position
from .prompts import Framing, fit_prompt

CLOSED_BLOCK = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*\n(?:.*\n)*?[ \t]*\1[ \t]*$", re.MULTILINE)


def token_counter(model: Model) -> CountTokens:
    encode = model.tokenizer.encode
    return lambda text: len(encode(text, add_special_tokens=False)) if text else 0


def build_prompt(
    model: Model,
    text: str,
    start: Position,
    end: Position | None,
    framing: Framing,
    window: int,
    answer_tokens: int,
    other_files: list[tuple[str, str]],
) -> tuple[CodeContext, list[dict]]:
    """The code context and chat messages for a range, measured with the model's own tokenizer."""
    fitted = fit_prompt(
        framing, text, start, end,
        count_prompt=lambda messages: len(model.encode_chat(messages)),
        count_tokens=token_counter(model),
        window=window, answer_tokens=answer_tokens, other_files=other_files,
    )  # fmt: skip
    return fitted.context, fitted.messages


async def answer(
    model: Model, messages: list[dict], params: SamplingParams, until_code_block: bool, priority: str = "action"
) -> str:
    """The model's reply; with `until_code_block`, it stops as soon as one fenced block is complete.

    `priority` "inline" puts the request ahead of code actions in the engine.
    """
    text = ""
    stream = model.stream(messages, params, priority)
    try:
        async for delta in stream:
            text += delta
            if until_code_block and "\n" in delta and CLOSED_BLOCK.search(text):
                break
    finally:
        await stream.aclose()  # frees the KV cache now, also when stopped early
    return text[1:] if text.startswith(" ") else text  # the space that ends the chat template's last turn
