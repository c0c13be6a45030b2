"""One generation request as the scheduler sees it: its tokens, its KV blocks, its progress."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from enum import Enum, IntEnum

import torch

from .ngram_draft import Drafter
from .sampler import SamplingParams

_ids = itertools.count()


class Priority(IntEnum):
    """Lower runs first: ghost text is waited for, a code action is not."""

    INLINE = 0
    ACTION = 1

    @classmethod
    def parse(cls, value: Priority | str) -> Priority:
        return value if isinstance(value, Priority) else cls[str(value).upper()]


class Status(Enum):
    WAITING = "waiting"
    RUNNING = "running"
    FINISHED = "finished"


class Sequence:
    """Prompt + generated token ids. Tokens [0, num_computed) have their KV in `block_table`."""

    def __init__(
        self,
        prompt: list[int],
        params: SamplingParams,
        priority: Priority = Priority.ACTION,
        eos_token_ids: frozenset[int] = frozenset(),
        generator: torch.Generator | None = None,
        emit: Callable[[object], None] = lambda item: None,
    ):
        self.id = next(_ids)
        self.token_ids = list(prompt)
        self.prompt_len = len(prompt)
        self.params, self.priority, self.eos_token_ids, self.generator = params, priority, eos_token_ids, generator
        self.emit = emit  # receives each new token id, then a `Finish` or an exception
        self.status = Status.WAITING
        self.block_table: list[int] = []
        self.block_hashes: list[bytes] = []  # hashes of the full blocks registered so far, in order
        self.num_computed = 0
        self.num_cached_prompt = 0  # prompt tokens found in the prefix cache at the last admission
        self.drafter: Drafter | None = None  # set by a scheduler that drafts, when the request allows it
        self.draft: list[int] = []  # tokens proposed after token_ids for the step in flight; never KV-committed

    def __len__(self) -> int:
        return len(self.token_ids)

    def __repr__(self) -> str:
        return (
            f"Sequence({self.id}, {self.priority.name}, {self.num_computed}/{len(self)} computed, {self.status.value})"
        )

    @property
    def num_generated(self) -> int:
        return len(self.token_ids) - self.prompt_len

    @property
    def remaining_prefill(self) -> int:
        """Tokens without KV yet; 1 while decoding (the last sampled token)."""
        return len(self.token_ids) - self.num_computed

    def step_tokens(self, n: int) -> list[int]:
        """The n tokens a step feeds: from the first without KV on, through the draft."""
        start = self.num_computed
        return (self.token_ids[start : start + n] + self.draft)[:n]

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.id)


class Finish:
    """The end of a sequence's output, and why: "eos", "length" or "abort"."""

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Finish({self.reason!r})"
