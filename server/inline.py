"""Ghost text for a cursor: context, prompt, generation, post-processing."""

from __future__ import annotations

from dataclasses import dataclass

from .engines import Engine
from .generation import answer, build_prompt
from .inline_layouts import DEFAULT_LAYOUT, LAYOUTS, prefill_of
from .languages import language_for
from .options import Options
from .postprocess import clean_inline
from .snapshot import Snapshot


@dataclass(frozen=True)
class InlineCompletion:
    text: str  # what to insert at the cursor ("" when the answer had nothing useful)
    reply: str  # the model's answer, after the layout's prefill of it if there is one


async def complete_inline(
    model: Engine,
    doc: Snapshot,
    line: int,
    character: int,
    options: Options,
    other_files: list[tuple[str, str]] = (),
    layout: str = DEFAULT_LAYOUT,
) -> InlineCompletion:
    """The text to insert at (line, UTF-16 character), and the answer it came from; `layout` names
    the prompt's framing (see `inline_layouts.LAYOUTS`)."""
    doc.check_usable()
    language = language_for(doc.language_id, doc.path)
    gen = options.inline
    frame = LAYOUTS[layout]
    framing = lambda ctx, ex: frame(ctx, language, doc.path, ex, options.system_prompt)  # noqa: E731
    others = list(other_files)[: options.other_files]
    ctx, prompt = build_prompt(
        model, doc.text, (line, character), None, framing, options.context_tokens, gen.max_new_tokens, others
    )
    prefill = prefill_of(framing(ctx, ()))
    reply = await answer(model, prompt, gen.sampling(), until_code_block=True, priority="inline", prefill=prefill)
    return InlineCompletion(clean_inline(reply, ctx.prefix, ctx.suffix), reply)
