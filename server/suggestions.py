"""The last ghost-text suggestions of each document, and what is left of them as the user types.

While the user types what a suggestion predicted (or accepts a part of it), the document differs
from the one the suggestion was made for only by that text, at that place: the rest of the
suggestion is still the answer, and the model need not run again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shown:
    """Suggestions as made: the document's text around the position they were made for."""

    before: str
    after: str
    texts: tuple[str, ...]

    def remainder(self, text: str, cursor: int) -> list[str]:
        """What is left of each suggestion that the text typed since agrees with; [] once the document
        changed in any other way (or a suggestion is typed in full)."""
        if cursor < len(self.before) or not text.startswith(self.before) or text[cursor:] != self.after:
            return []
        typed = text[len(self.before) : cursor]
        return [t[len(typed) :] for t in self.texts if t.startswith(typed) and len(t) > len(typed)]


class Suggestions:
    """Per document: the suggestions last answered; and how requests were answered."""

    def __init__(self) -> None:
        self.shown: dict[str, Shown] = {}
        self.requests = self.model_runs = self.from_remainder = 0

    def remember(self, uri: str, text: str, cursor: int, texts: list[str]) -> None:
        if texts:
            self.shown[uri] = Shown(text[:cursor], text[cursor:], tuple(texts))
        else:
            self.forget(uri)

    def remainder(self, uri: str, text: str, cursor: int) -> list[str]:
        shown = self.shown.get(uri)
        return [] if shown is None else shown.remainder(text, cursor)

    def forget(self, uri: str) -> None:
        self.shown.pop(uri, None)

    def figures(self) -> dict[str, int]:
        """For `codellama.status`: inline requests received, answered by the model, answered from a remainder."""
        return {"requests": self.requests, "modelRuns": self.model_runs, "fromRemainder": self.from_remainder}
