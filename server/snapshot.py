"""An immutable view of a document at the moment a request read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

MAX_DOCUMENT_CHARS = 4_000_000  # larger files get no model requests (minified bundles, logs)


class UnusableDocument(ValueError):
    """A document the model should not be asked about (binary, too large)."""


@dataclass(frozen=True)
class Snapshot:
    uri: str
    text: str
    version: int | None
    language_id: str | None

    @property
    def path(self) -> str:
        parsed = urlparse(self.uri)
        return unquote(parsed.path) if parsed.scheme == "file" else self.uri

    @property
    def name(self) -> str:
        return Path(self.path).name or self.uri

    def check_usable(self) -> None:
        if "\x00" in self.text:
            raise UnusableDocument(f"{self.name} looks binary (it contains NUL characters)")
        if len(self.text) > MAX_DOCUMENT_CHARS:
            raise UnusableDocument(f"{self.name} is too large ({len(self.text):,} characters)")


def file_snapshot(path: str | Path, language_id: str | None = None) -> Snapshot:
    """A snapshot of a file on disk (for the command line)."""
    p = Path(path).resolve()
    text = p.read_bytes().decode("utf-8", errors="replace")
    return Snapshot(uri=p.as_uri(), text=text, version=None, language_id=language_id)
