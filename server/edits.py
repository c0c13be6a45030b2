"""Workspace edits that carry the document version, so stale edits are never applied."""

from __future__ import annotations

from lsprotocol import types as lsp


class StaleDocumentError(Exception):
    """The document changed after the request read it; the edit would overwrite newer text."""

    def __init__(self, uri: str, expected: int | None, current: int | None):
        self.uri, self.expected, self.current = uri, expected, current
        super().__init__(
            f"{uri} changed while the answer was generated (version {expected} -> {current}); "
            "the edit was not applied. Run the action again."
        )


def versioned_edit(uri: str, version: int | None, edits: list[lsp.TextEdit]) -> lsp.WorkspaceEdit:
    """One document's edits as `documentChanges`, pinned to `version`."""
    document = lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
    return lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(text_document=document, edits=edits)])


def replace_range(uri: str, version: int | None, range_: lsp.Range, new_text: str) -> lsp.WorkspaceEdit:
    return versioned_edit(uri, version, [lsp.TextEdit(range=range_, new_text=new_text)])


def insert_at(uri: str, version: int | None, position: lsp.Position, text: str) -> lsp.WorkspaceEdit:
    return replace_range(uri, version, lsp.Range(start=position, end=position), text)


def check_version(uri: str, expected: int | None, current: int | None) -> None:
    """Raise StaleDocumentError when the document moved on since `expected`."""
    if expected is not None and current != expected:
        raise StaleDocumentError(uri, expected, current)


def apply_edit(text: str, edit: lsp.WorkspaceEdit) -> str:
    """The text after a single-document versioned edit (for diffs on the command line)."""
    from .document import clamp, offset, split_lines

    changes = [e for change in edit.document_changes or [] for e in change.edits]
    for e in sorted(changes, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        lines = split_lines(text)
        start = offset(lines, *clamp(lines, e.range.start.line, e.range.start.character))
        end = offset(lines, *clamp(lines, e.range.end.line, e.range.end.character))
        text = text[:start] + e.new_text + text[end:]
    return text
