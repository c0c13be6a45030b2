"""One inline request, answered: from the rest of the last suggestions while the user types them,
else by the model (its candidates, post-processed); "" items when there is nothing to show."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import torch

from codellama_lsp.engine import EngineBusyError, EngineClosedError

from .document import clamp, offset, split_lines
from .engines import RemoteEngineError
from .inline import complete_inline
from .snapshot import UnusableDocument

if TYPE_CHECKING:
    from .server import CodellamaServer

log = logging.getLogger(__name__)


async def ghost_texts(ls: CodellamaServer, uri: str, line: int, character: int) -> list[str]:
    """The suggestions to show, [] for none. A request made while the model loads waits for it; one that a
    newer request for the same document replaced ends with []."""
    ls.suggestions.requests += 1
    try:
        return await _ghost_texts(ls, uri, line, character)
    except asyncio.CancelledError:
        if asyncio.current_task() in ls.superseded:
            return []
        raise  # cancelled by the editor: pygls answers RequestCancelled


async def _ghost_texts(ls: CodellamaServer, uri: str, line: int, character: int) -> list[str]:
    if uri not in ls.documents:
        log.info("inline completion for unknown document %s", uri)
        return []
    doc = ls.documents.snapshot(uri)
    if not ls.options.language_enabled(doc.language_id or ""):
        return []
    lines = split_lines(doc.text)
    cursor = offset(lines, *clamp(lines, line, character))
    rest = ls.suggestions.remainder(uri, doc.text, cursor)
    if rest:
        ls.suggestions.from_remainder += 1
        return rest
    model = await ls.host.get()
    if model is None:
        return []  # the load failed, and said so once
    if ls.documents.version(uri) != doc.version:
        return []  # edited while the model loaded: the position is stale
    try:
        ls.suggestions.model_runs += 1
        completion = await complete_inline(model, doc, line, character, ls.options, ls.other_files(uri))
        ls.shown.discard("oom")
        ls.engine_back()
        ls.suggestions.remember(uri, doc.text, cursor, list(completion.texts))
        return list(completion.texts)
    except (UnusableDocument, EngineBusyError, EngineClosedError) as e:
        log.info("no completion: %s", e)
        return []
    except RemoteEngineError as e:
        ls.engine_trouble(e)
        return []
    except torch.OutOfMemoryError as e:
        raise ls.translate_error(e) from None
