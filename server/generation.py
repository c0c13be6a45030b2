"""Running chat prompts through the model for the server: token budgets and early stopping."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from codellama_lsp.engine import Model, SamplingParams

from .context import CodeContext, CountTokens, Excerpt, other_file_excerpts, surrounding_code

CLOSED_BLOCK = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*\n(?:.*\n)*?[ \t]*\1[ \t]*$", re.MULTILINE)
EXCERPT_OVERHEAD = 24  # tokens of framing text around each other-file excerpt
EMPTY_CONTEXT = CodeContext("", "", "", 0, 0, False, False)
Framing = Callable[[CodeContext, list[Excerpt]], list[dict]]  # (code context, excerpts) -> chat messages


def token_counter(model: Model) -> CountTokens:
    encode = model.tokenizer.encode
    return lambda text: len(encode(text, add_special_tokens=False)) if text else 0


@dataclass(frozen=True)
class Budget:
    """Tokens for the file's code and for other files' excerpts in one prompt."""

    code: int
    excerpts: list[Excerpt]


def plan_budget(
    model: Model,
    window: int,
    answer_tokens: int,
    framing: Framing,
    other_files: list[tuple[str, str]],
) -> Budget:
    """Split `window` into the answer, the prompt's fixed text, excerpts of other files, and the code."""
    count = token_counter(model)
    overhead = len(model.encode_chat(framing(EMPTY_CONTEXT, [])))
    left = window - answer_tokens - overhead
    excerpts = other_file_excerpts(other_files, left // 4, count) if other_files else []
    left -= sum(count(e.text) + EXCERPT_OVERHEAD for e in excerpts)
    return Budget(code=max(left, 0), excerpts=excerpts)


def build_prompt(
    model: Model,
    text: str,
    start: tuple[int, int],
    end: tuple[int, int] | None,
    framing: Framing,
    window: int,
    answer_tokens: int,
    other_files: list[tuple[str, str]],
) -> tuple[CodeContext, list[dict]]:
    """The code context and chat messages for a range, within `window` minus the answer."""
    budget = plan_budget(model, window, answer_tokens, framing, other_files)
    count, code_budget = token_counter(model), budget.code
    for _ in range(3):  # line-by-line counts differ a little from the whole prompt's: shrink until it fits
        ctx = surrounding_code(text, start, end, code_budget, count)
        messages = framing(ctx, budget.excerpts)
        over = len(model.encode_chat(messages)) - (window - answer_tokens)
        if over <= 0:
            break
        code_budget = max(code_budget - over - 8, 0)
    return ctx, messages


async def answer(model: Model, messages: list[dict], params: SamplingParams, until_code_block: bool) -> str:
    """The model's reply; with `until_code_block`, it stops as soon as one fenced block is complete."""
    text = ""
    stream = model.stream(messages, params)
    try:
        async for delta in stream:
            text += delta
            if until_code_block and "\n" in delta and CLOSED_BLOCK.search(text):
                break
    finally:
        await stream.aclose()  # frees the KV cache now, also when stopped early
    return text[1:] if text.startswith(" ") else text  # the space that ends the chat template's last turn
