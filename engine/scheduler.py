"""Which sequences run in the next step, and how many of their tokens.

Every step decodes all running sequences together (one token each) and spends what is left
of the step's token budget on prompt chunks, highest priority first. Only the most urgent
priority prefills, so a code action's long prompt waits while ghost text is prefilled, and an
inline request that arrives mid-prompt waits at most one chunk.
"""

from __future__ import annotations

from .block_manager import BlockManager
from .errors import EngineBusyError
from .sequence import Finish, Sequence, Status

Step = list[tuple[Sequence, int]]  # (sequence, new tokens this step)


class Scheduler:
    def __init__(self, blocks: BlockManager, max_batch: int = 16, step_tokens: int = 512, max_waiting: int = 64):
        assert max_batch > 0 and step_tokens > max_batch
        self.blocks = blocks
        self.max_batch, self.step_tokens, self.max_waiting = max_batch, step_tokens, max_waiting
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
            while not self.blocks.can_allocate(seq):
                victims = [s for s in self.running if s.order > seq.order]
                if not victims:
                    return
                self._preempt(max(victims, key=lambda s: s.order))
            self.waiting.pop(0)
            self.blocks.allocate(seq)
            seq.status = Status.RUNNING
            self.running.append(seq)

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

    def advance(self, step: Step, sampled: dict[int, int]) -> None:
        """Record a finished step: KV computed, sampled tokens appended, finished sequences released."""
        for seq, n in step:
            if seq.status is not Status.RUNNING:
                continue  # aborted while the step ran
            seq.num_computed += n
            self.blocks.commit(seq)
            token = sampled.get(seq.id)
            if token is None:
                continue  # a prompt chunk that is not the last
            if token in seq.eos_token_ids:
                self.finish(seq, Finish("eos"))
                continue
            seq.token_ids.append(token)
            seq.emit(token)
            if seq.num_generated >= seq.params.max_new_tokens:
                self.finish(seq, Finish("length"))
