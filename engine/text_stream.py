"""Generated token ids -> text deltas: whole characters only, SentencePiece spaces kept, stop strings cut."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CONTEXT_TOKENS = 4  # prompt tokens decoded alongside the output so a leading space survives
REPLACEMENT = "\ufffd"  # what a half-decoded multi-byte character looks like


@dataclass(frozen=True)
class Chunk:
    """A piece of a streamed answer: its text, the tokens generated so far, and at the end why it ended."""

    text: str
    tokens: int
    finish_reason: str | None = None  # "stop" (EOS or a stop string) or "length" (max_new_tokens), on the last


class TextStream:
    """Feed token ids one at a time; get the text they add, never split inside a character."""

    def __init__(self, tokenizer, prompt_ids: Sequence[int], stop: Sequence[str] = ()):
        self.tokenizer = tokenizer
        self.tokens = list(prompt_ids[-CONTEXT_TOKENS:])
        self.prefix_offset = 0
        self.read_offset = len(self.tokens)
        self.stop = [s for s in stop if s]
        self.text = ""  # everything decoded so far
        self.emitted = 0  # characters of `text` handed out
        self.stopped = False

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def _decode_new(self, final: bool) -> None:
        before = self._decode(self.tokens[self.prefix_offset : self.read_offset])
        after = self._decode(self.tokens[self.prefix_offset :])
        if len(after) > len(before) and (final or not after.endswith(REPLACEMENT)):
            self.text += after[len(before) :]
            self.prefix_offset, self.read_offset = self.read_offset, len(self.tokens)

    def _held_back(self) -> int:
        """Length of the longest tail of `text` that could still grow into a stop string."""
        longest = 0
        for s in self.stop:
            for n in range(min(len(s) - 1, len(self.text)), longest, -1):
                if self.text.endswith(s[:n]):
                    longest = n
                    break
        return longest

    def _release(self, final: bool) -> str:
        start = max(0, self.emitted - max((len(s) for s in self.stop), default=0))
        hits = [i for i in (self.text.find(s, start) for s in self.stop) if i >= 0]
        if hits:
            end, self.stopped = min(hits), True
        else:
            end = len(self.text) if final else len(self.text) - self._held_back()
        delta = self.text[self.emitted : max(end, self.emitted)]
        self.emitted = max(end, self.emitted)
        return delta

    def push(self, token: int) -> str:
        """Add one token; returns the text it releases (may be empty). Check `stopped` after."""
        self.tokens.append(token)
        self._decode_new(final=False)
        return self._release(final=False)

    def finish(self) -> str:
        """The text still held back when generation ends without a stop string."""
        if self.stopped:
            return ""
        if self.read_offset < len(self.tokens):
            self._decode_new(final=True)
        return self._release(final=True)
