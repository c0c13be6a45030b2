"""Ghost text for a cursor: context, prompt, generation of each candidate, post-processing."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from .engines import Engine
from .generation import answer, build_prompt
from .inline_layouts import DEFAULT_LAYOUT, LAYOUTS
from .languages import language_for
from .options import Options
from .postprocess import clean_inline
from .snapshot import Snapshot


@dataclass(frozen=True)
class InlineCompletion:
    texts: tuple[str, ...]  # what to insert at the cursor: distinct, none empty, the first candidate's first
    reply: str  # the first candidate's answer, after the layout's prefill of it if there is one

    @property
    def text(self) -> str:
        """The first suggestion ("" when no answer had anything useful)."""
        return self.texts[0] if self.texts else ""


def distinct(texts: list[str]) -> tuple[str, ...]:
    """The non-empty texts, each once, in order."""
    return tuple(dict.fromkeys(t for t in texts if t))


async def together(runs: list[Coroutine[Any, Any, str]]) -> list[str]:
    """Every candidate's answer. All are submitted at once, so the engine decodes them in the same steps;
    when one fails or the request is cancelled, the others stop too."""
    if len(runs) == 1:
        return [await runs[0]]
    tasks = [asyncio.ensure_future(run) for run in runs]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)  # their streams are closed (the engine freed their KV) before this returns


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
    ctx, prompt, prefill = build_prompt(
        model, doc.text, (line, character), None, framing, options.context_tokens, gen.max_new_tokens, others
    )
    replies = await together(
        [
            answer(model, prompt, params, until_code_block=True, priority="inline", prefill=prefill)
            for params in gen.candidate_sampling()
        ]
    )
    return InlineCompletion(distinct([clean_inline(r, ctx.prefix, ctx.suffix) for r in replies]), replies[0])
