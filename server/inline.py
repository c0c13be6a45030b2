"""Ghost text for a cursor: context, prompt, generation, post-processing."""

from __future__ import annotations

from codellama_lsp.engine import Model

from .generation import answer, build_prompt
from .languages import language_for
from .options import Options
from .postprocess import clean_inline
from .prompts import inline_messages
from .snapshot import Snapshot


async def complete_inline(
    model: Model, doc: Snapshot, line: int, character: int, options: Options, other_files: list[tuple[str, str]] = ()
) -> str:
    """The text to insert at (line, UTF-16 character); "" when the model has nothing useful."""
    doc.check_usable()
    language = language_for(doc.language_id, doc.path)
    gen = options.inline
    framing = lambda ctx, ex: inline_messages(ctx, language, doc.path, ex, options.systemPrompt)  # noqa: E731
    others = list(other_files)[: options.otherFiles]
    ctx, messages = build_prompt(model, doc.text, (line, character), None, framing, options.contextTokens, gen.maxNewTokens, others)
    reply = await answer(model, messages, gen.sampling(), until_code_block=True)
    return clean_inline(reply, ctx.prefix, ctx.suffix)
