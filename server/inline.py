"""Ghost text for a cursor: context, prompt, generation, post-processing."""

from __future__ import annotations

from dataclasses import dataclass

from .engines import Engine
from .generation import answer, build_prompt
from .languages import language_for
from .options import Options
from .postprocess import clean_inline
from .prompts import inline_messages
from .snapshot import Snapshot


@dataclass(frozen=True)
class InlineCompletion:
    text: str  # what to insert at the cursor ("" when the answer had nothing useful)
    reply: str  # the model's raw answer


async def complete_inline(
    model: Engine, doc: Snapshot, line: int, character: int, options: Options, other_files: list[tuple[str, str]] = ()
) -> InlineCompletion:
    """The text to insert at (line, UTF-16 character), and the answer it came from."""
    doc.check_usable()
    language = language_for(doc.language_id, doc.path)
    gen = options.inline
    framing = lambda ctx, ex: inline_messages(ctx, language, doc.path, ex, options.system_prompt)  # noqa: E731
    others = list(other_files)[: options.other_files]
    ctx, prompt = build_prompt(
        model, doc.text, (line, character), None, framing, options.context_tokens, gen.max_new_tokens, others
    )
    reply = await answer(model, prompt, gen.sampling(), until_code_block=True, priority="inline")
    return InlineCompletion(clean_inline(reply, ctx.prefix, ctx.suffix), reply)
