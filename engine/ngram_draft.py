"""Prompt-lookup drafting: guess the next tokens by finding the sequence's last n tokens earlier in it.

An answer that rewrites code from the prompt copies long runs of it. When the last n tokens
(n from 4 down to 1) occurred before, the tokens that followed their latest earlier occurrence
are proposed as a draft; the model checks them all in one forward pass (`verify`). No second
model, no training: the draft costs a scan of the sequence's own token ids.

Each sequence keeps its own `Drafter`: it drafts k tokens while drafts are accepted and fewer
after a miss, and after several misses in a row (prose, which has little to copy) it pauses
for a number of steps that doubles with each pause; so does a sequence whose recent
acceptance rate is low. Decoding that gains nothing from drafts runs as it would without them.
"""

from __future__ import annotations

MAX_NGRAM, MIN_NGRAM = 4, 1
PATIENCE = 3  # drafts wholly rejected in a row before drafting pauses
LOW_ACCEPTANCE = 0.4  # a recent acceptance rate below this pauses drafting too
MAX_PAUSE = 64  # steps


def propose(tokens: list[int], k: int, max_n: int = MAX_NGRAM, min_n: int = MIN_NGRAM) -> list[int]:
    """Up to k tokens that followed the latest earlier occurrence of the longest suffix n-gram of `tokens`."""
    size = len(tokens)
    if k <= 0 or size < 2:
        return []
    ends, i = [], -1  # where earlier occurrences of the last token end (exclusive), each followed by a token
    try:
        while True:
            i = tokens.index(tokens[-1], i + 1, size - 1)
            ends.append(i + 1)
    except ValueError:
        pass
    best, best_end = 0, 0
    for end in reversed(ends):  # the latest first: a tie keeps the latest
        n = 1
        while n < max_n and end - n - 1 >= 0 and tokens[end - n - 1] == tokens[size - n - 1]:
            n += 1
        if n > best:
            best, best_end = n, end
            if n == max_n:
                break
    return tokens[best_end : best_end + k] if best >= min_n else []


class Drafter:
    """One sequence's drafting: how many tokens to propose next, and what its drafts earned."""

    __slots__ = ("max_tokens", "tokens", "misses", "recent", "pause", "wait", "drafted", "accepted", "steps")

    def __init__(self, max_tokens: int):
        assert max_tokens > 0
        self.max_tokens = self.tokens = max_tokens
        self.misses = 0  # wholly rejected drafts in a row
        self.recent = 1.0  # acceptance rate over about the last 4 drafts
        self.pause = PATIENCE  # steps the next pause lasts
        self.wait = 0  # steps left in the current pause
        self.drafted = self.accepted = self.steps = 0

    def draft(self, tokens: list[int], room: int) -> list[int]:
        """The draft for this step (maybe empty); `room`: draft tokens the answer and the KV cache allow."""
        if self.wait > 0:
            self.wait -= 1
            return []
        return propose(tokens, min(self.tokens, room))

    def record(self, drafted: int, accepted: int) -> None:
        """A verified draft: `accepted` of its `drafted` tokens were the model's own choice."""
        self.drafted, self.accepted, self.steps = self.drafted + drafted, self.accepted + accepted, self.steps + 1
        if accepted == drafted:
            self.tokens = min(self.max_tokens, 2 * self.tokens)
        else:
            self.tokens = max(1, accepted + 1)
        self.recent += (accepted / drafted - self.recent) / 4
        self.misses = 0 if accepted else self.misses + 1
        if self.misses >= PATIENCE or self.recent < LOW_ACCEPTANCE:
            self.misses, self.recent, self.wait = 0, 1.0, self.pause
            self.pause = min(MAX_PAUSE, 2 * self.pause)
        elif accepted:
            self.pause = PATIENCE  # drafting pays again: the next pause starts short
