"""The editor's open documents as requests read them: snapshots, recency, and the other files to excerpt."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import Workspace

from .document import clamp, split_lines
from .snapshot import MAX_DOCUMENT_CHARS, Snapshot

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
EXCERPT_HEAD_CHARS = 64 * 1024  # more than any excerpt of another file shows (at most 1024 tokens of its start)


def _without_lone_surrogates(text: str) -> str:
    return LONE_SURROGATE.sub("\ufffd", text)  # one UTF-16 unit each way: positions stay valid


class OpenDocuments:
    def __init__(self, workspace: Callable[[], Workspace]):
        self._workspace = workspace  # pygls makes the workspace at `initialize`
        self.recent: OrderedDict[str, None] = OrderedDict()  # uris, most recently used last

    def __contains__(self, uri: str) -> bool:
        return uri in self._workspace().text_documents

    def snapshot(self, uri: str, touch: bool = True) -> Snapshot:
        """The document as it is now; a request that uses it makes it the most recently used."""
        if uri not in self:
            raise JsonRpcInvalidParams(f"Unknown document {uri}: open it first (textDocument/didOpen)")
        doc = self._workspace().get_text_document(uri)
        if touch:
            self.touch(uri)
        return Snapshot(uri, _without_lone_surrogates(doc.source), doc.version, doc.language_id)

    def touch(self, uri: str) -> None:
        self.recent.pop(uri, None)
        self.recent[uri] = None

    def forget(self, uri: str) -> None:
        self.recent.pop(uri, None)

    def version(self, uri: str) -> int | None:
        return self._workspace().get_text_document(uri).version if uri in self else None

    def line_before(self, uri: str, position: lsp.Position) -> str:
        lines = split_lines(self._workspace().get_text_document(uri).source)
        line, index = clamp(lines, position.line, position.character)
        return lines[line][:index]

    def others(self, uri: str, limit: int) -> list[tuple[str, str]]:
        """(path, start of the text) of up to `limit` other open documents, most recently used first.

        Only their starts are copied and checked: an excerpt shows no more than that.
        """
        files: list[tuple[str, str]] = []
        for other in reversed(self.recent):
            if len(files) == limit:
                break
            if other == uri or other not in self:
                continue
            source = self._workspace().get_text_document(other).source
            head = Snapshot(other, _without_lone_surrogates(source[:EXCERPT_HEAD_CHARS]), None, None)
            if len(source) > MAX_DOCUMENT_CHARS or "\x00" in head.text:
                continue  # huge or binary: not worth the prompt
            files.append((head.path, head.text))
        return files
