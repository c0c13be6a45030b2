"""Inline prompt layouts: how the code around the cursor is framed for the model, by name.

- "suffix-first": the code after the cursor, then the code before it, then the instruction.
  While the user types, the prompt changes only at its end, so the prefix cache reuses the rest.
- "prefix-first": the file with the cursor marked, in reading order, then the instruction.
- "prefilled": the turns of "suffix-first", plus the assistant's answer begun with the opening
  fence and the current line up to the cursor, so the model continues the line rather than restating it.

A layout returns chat turns; a final assistant turn is a prefill that the model continues
(`render_chat`), and the answer to post-process is that prefill followed by the model's reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codellama_lsp.engine import SamplingParams

from .context import CodeContext, Excerpt
from .engines import Engine
from .generation import CLOSED_BLOCK, answer
from .languages import Language
from .prompts import (
    CURSOR,
    Message,
    _fenced,
    _other_files,
    _plain_lines,
    _shown_lines,
    fence_for,
    inline_messages,
    system_turn,
)

# (code context, language, path, other files' excerpts, the user's system prompt) -> chat turns
InlineFraming = Callable[[CodeContext, Language, str, Sequence[Excerpt], str | None], list[Message]]


def _instruction(language: Language, fence: str) -> str:
    return (
        f"Write the code that belongs at {CURSOR}: finish the current line, and the statement or block it starts "
        f"if it is incomplete. Reply with only the code to insert, in one {fence}{language.fence} block. "
        f"Do not repeat the code before or after {CURSOR}, and do not explain."
    )


def prefix_first_messages(
    ctx: CodeContext,
    language: Language,
    path: str,
    excerpts: Sequence[Excerpt] = (),
    system_prompt: str | None = None,
) -> list[Message]:
    """Turns showing the code as it reads, the cursor marked where it is, then the instruction."""
    prefix, suffix = _plain_lines(ctx.prefix), _plain_lines(ctx.suffix)
    fence = fence_for(prefix, suffix)
    user = (
        _other_files(excerpts)
        + f"Here is `{path}`{_shown_lines(ctx)}, with the cursor marked as {CURSOR}:\n"
        + _fenced(fence, language.fence, prefix + CURSOR + suffix)
        + "\n"
        + _instruction(language, fence)
    )
    return [
        {"role": "system", "content": system_turn(language, path, system_prompt)},
        {"role": "user", "content": user},
    ]


def answer_start(ctx: CodeContext, language: Language) -> str:
    """The opening fence and the cursor's line up to the cursor, without trailing blanks: a token
    boundary inside indentation or before a word would be one the model rarely saw."""
    prefix, suffix = _plain_lines(ctx.prefix), _plain_lines(ctx.suffix)
    head = prefix.rpartition("\n")[2]
    return f"{fence_for(prefix, suffix)}{language.fence}\n{head.rstrip()}"


def prefilled_messages(
    ctx: CodeContext,
    language: Language,
    path: str,
    excerpts: Sequence[Excerpt] = (),
    system_prompt: str | None = None,
) -> list[Message]:
    """The turns of "suffix-first" and the start of the assistant's answer."""
    turns = inline_messages(ctx, language, path, excerpts, system_prompt)
    return [*turns, {"role": "assistant", "content": answer_start(ctx, language)}]


LAYOUTS: dict[str, InlineFraming] = {
    "suffix-first": inline_messages,
    "prefix-first": prefix_first_messages,
    "prefilled": prefilled_messages,
}
DEFAULT_LAYOUT = "suffix-first"


def prefill_of(messages: list[Message]) -> str:
    """The answer's start when the turns end with one (an assistant turn), else ""."""
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


async def continue_answer(model: Engine, prompt: list[int], params: SamplingParams, prefill: str) -> str:
    """The whole answer: `prefill`, then the model's reply, stopped once the code block closes."""
    if not prefill:
        return await answer(model, prompt, params, until_code_block=True, priority="inline")
    text = prefill
    stream = model.stream(prompt, params, "inline")
    try:
        async for delta in stream:
            text += delta
            if "\n" in delta and CLOSED_BLOCK.search(text):
                break
    finally:
        await stream.aclose()  # frees the KV cache now, also when stopped early
    return text
