"""Which sequences run in the next step, and how many of their tokens.

Every step decodes all running sequences together (one token each) and spends what is left
of the step's token budget on prompt chunks, highest priority first. Only the most urgent
priority prefills, so a code action's long prompt waits while ghost text is prefilled, and an
inline request that arrives mid-prompt waits at most one chunk.

With `draft_tokens` > 0 a decoding sequence may also feed a draft (`ngram_draft`) after its last
token, to be verified in the same pass (`verify`); the KV slots of drafted tokens that the model
rejects are rolled back in `advance`, and no block is registered in the prefix cache before every
token in it is accepted.
"""

from __future__ import annotations

from .block_manager import BlockManager
from .errors import EngineBusyError
from .ngram_draft import Drafter
from .sequence import Finish, Sequence, Status

Step = list[tuple[Sequence, int]]  # (sequence, new tokens this step: a prompt chunk, or 1 + its draft)
Sampled = dict[int, list[int]]  # sequence id -> the tokens its step produced (1 + accepted draft tokens)


class Scheduler:
    def __init__(
        self,
        blocks: BlockManager,
        max_batch: int = 16,
        step_tokens: int = 512,
        max_waiting: int = 64,
        draft_tokens: int = 0,  # most tokens a sequence drafts per step; 0: no drafting
    ):
        assert max_batch > 0 and step_tokens > max_batch and draft_tokens >= 0
        self.blocks = blocks
        self.max_batch, self.step_tokens, self.max_waiting = max_batch, step_tokens, max_waiting
        self.draft_tokens = draft_tokens
        self.drafted = self.accepted = self.verified = 0  # over all verify steps: drafted, accepted, steps
        self.waiting: list[Sequence] = []  # kept sorted by (priority, arrival)
        self.running: list[Sequence] = []

    def __bool__(self) -> bool:
        return bool(self.waiting or self.running)

    def add(self, seq: Sequence) -> None:
        budget = self.blocks.blocks_for(len(seq) + seq.params.max_new_tokens)
        if budget > self.blocks.num_blocks:
            raise ValueError(
                f"the prompt ({len(seq)} tokens) and answer ({seq.params.max_new_tokens}) need more KV cache "
                f"than the engine has ({self.blocks.num_blocks * self.blocks.block_size} tokens)"
            )
        if len(self.waiting) >= self.max_waiting:
            raise EngineBusyError(
                f"the engine is busy: {len(self.waiting)} requests are already waiting; try again shortly"
            )
        self.waiting.append(seq)
        self.waiting.sort(key=lambda s: s.order)

    def abort(self, seq: Sequence) -> None:
        """Drop `seq` now and release its blocks (blocks shared with others stay)."""
        self.finish(seq, Finish("abort"))

    def finish(self, seq: Sequence, outcome: object) -> None:
        """End `seq` with `outcome` (a `Finish` or an exception) and release its blocks."""
        if seq.status is Status.FINISHED:
            return
        if seq in self.waiting:
            self.waiting.remove(seq)
        if seq in self.running:
            self.running.remove(seq)
            self.blocks.deallocate(seq, keep_view=True)
        seq.status = Status.FINISHED
        seq.emit(outcome)

    def _preempt(self, seq: Sequence) -> None:
        """Give `seq`'s blocks back; it waits again and resumes from its prefix cache."""
        self.running.remove(seq)
        self.blocks.deallocate(seq)
        seq.status = Status.WAITING
        self.waiting.append(seq)
        self.waiting.sort(key=lambda s: s.order)

    def _admit(self) -> None:
        while self.waiting and len(self.running) < self.max_batch:
            seq = self.waiting[0]
            if self._shares_blocks_in_progress(seq):
                return  # admitted once they are cached, so their tokens are computed once
            while not self.blocks.can_allocate(seq):
                victims = [s for s in self.running if s.order > seq.order]
                if not victims:
                    return
                self._preempt(max(victims, key=lambda s: s.order))
            self.waiting.pop(0)
            if self.draft_tokens and seq.params.speculate and seq.drafter is None:
                seq.drafter = Drafter(self.draft_tokens)
            self.blocks.allocate(seq)
            seq.status = Status.RUNNING
            self.running.append(seq)

    def _shares_blocks_in_progress(self, seq: Sequence) -> bool:
        """A running sequence at least as urgent is still prefilling full blocks that `seq`'s prompt
        starts with (several candidates for one prompt, say) and has not registered them yet."""
        bs = self.blocks.block_size
        for other in self.running:
            if other.remaining_prefill <= 1 or other.priority > seq.priority:
                continue
            n = (len(other.block_hashes) + 1) * bs  # through its first block not registered yet
            if n <= min(len(seq) - 1, other.prompt_len) and seq.token_ids[:n] == other.token_ids[:n]:
                return True  # (the last token of `seq` is never matched from the cache)
        return False

    def schedule(self) -> Step:
        self._admit()
        self.running.sort(key=lambda s: s.order)
        step: Step = []
        for seq in [s for s in self.running if s.remaining_prefill == 1]:
            while seq.status is Status.RUNNING and not self.blocks.can_append(seq):
                self._preempt(max(self.running, key=lambda s: s.order))
            if seq.status is Status.RUNNING:
                self.blocks.append(seq)
                step.append((seq, 1))
        budget = self.step_tokens - len(step)
        for i, (seq, _) in enumerate(step):  # drafts only take what every decoding sequence left over
            seq.draft = self._draft(seq, budget)
            self.blocks.append(seq, len(seq.draft))
            step[i] = (seq, 1 + len(seq.draft))
            budget -= len(seq.draft)
        prefilling = [s for s in self.running if s.remaining_prefill > 1]
        if prefilling:
            urgent = prefilling[0].priority
            for seq in prefilling:
                if budget <= 0 or seq.priority != urgent:
                    break
                n = min(seq.remaining_prefill, budget)
                step.append((seq, n))
                budget -= n
        return step

    def _draft(self, seq: Sequence, budget: int) -> list[int]:
        """Tokens to verify after `seq`'s last one: within the answer's length, the step and the free blocks."""
        if seq.drafter is None:
            return []
        room = min(seq.params.max_new_tokens - seq.num_generated - 1, budget)  # the step adds 1 token more
        draft = seq.drafter.draft(seq.token_ids, room)
        while draft and not self.blocks.can_append(seq, len(draft)):
            draft.pop()
        return draft

    def advance(self, step: Step, sampled: Sampled) -> None:
        """Record a finished step: KV computed, tokens appended, rejected drafts rolled back, finished
        sequences released."""
        for seq, n in step:
            draft, seq.draft = seq.draft, []
            if seq.status is not Status.RUNNING:
                continue  # aborted while the step ran
            tokens = sampled.get(seq.id, [])  # none: a prompt chunk that is not the last
            accepted = max(len(tokens) - 1, 0) if draft else 0
            kept = tokens[: seq.params.max_new_tokens - seq.num_generated]
            end = next((i for i, t in enumerate(kept) if t in seq.eos_token_ids), None)
            seq.token_ids += kept[:end]
            seq.num_computed = min(seq.num_computed + n - len(draft) + accepted, len(seq))
            self.blocks.commit(seq)  # only accepted tokens are in token_ids, so only they are hashed
            if draft:
                seq.drafter.record(len(draft), accepted)
                self.drafted, self.accepted, self.verified = (
                    self.drafted + len(draft), self.accepted + accepted, self.verified + 1
                )  # fmt: skip
            for token in kept[:end]:
                seq.emit(token)
            if end is not None:
                self.finish(seq, Finish("eos"))
            elif tokens and seq.num_generated >= seq.params.max_new_tokens:
                self.finish(seq, Finish("length"))
            else:
                self.blocks.truncate(seq)
