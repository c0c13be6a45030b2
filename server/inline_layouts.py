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

from .context import CodeContext, Excerpt
from .languages import Language
from .prompts import (
    CURSOR,
    Message,
    _fenced,
    _other_files,
    _plain_lines,
    _shown_lines,
    _turns,
    fence_for,
    inline_instruction,
    inline_messages,
    system_turn,
)

# (code context, language, path, other files' excerpts, the user's system prompt) -> chat turns
InlineFraming = Callable[[CodeContext, Language, str, Sequence[Excerpt], str | None], list[Message]]


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
        + inline_instruction(language, fence)
    )
    return _turns(system_turn(language, path, system_prompt), user)


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
    "prefilled": prefilled_messages,  # next to suffix-first, whose prompt it extends (cached blocks reused)
    "prefix-first": prefix_first_messages,
}
DEFAULT_LAYOUT = "prefilled"  # measured best by bench/quality.py
