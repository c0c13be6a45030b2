"""The scheduler, driven by hand: batching, chunked prefill, priorities, aborts, back-pressure."""

from __future__ import annotations

import pytest

from codellama_lsp.engine.block_manager import BlockManager
from codellama_lsp.engine.errors import EngineBusyError
from codellama_lsp.engine.sampler import SamplingParams
from codellama_lsp.engine.scheduler import Scheduler
from codellama_lsp.engine.sequence import Priority, Sequence, Status

BS = 4


class Request(Sequence):
    def __init__(self, n_prompt: int, priority=Priority.ACTION, max_new=3, first=1):
        self.out: list = []
        super().__init__(
            list(range(first, first + n_prompt)),
            SamplingParams(max_new_tokens=max_new),
            priority,
            frozenset({0}),
            emit=self.out.append,
        )


def make(num_blocks=64, max_batch=4, step_tokens=16, max_waiting=8) -> Scheduler:
    return Scheduler(BlockManager(num_blocks, BS), max_batch, step_tokens, max_waiting)


def run_step(s: Scheduler, token: int = 9) -> list[tuple[int, int]]:
    """One step where every sequence that is due samples `token`; returns [(seq id, new tokens)]."""
    step = s.schedule()
    sampled = {seq.id: [token] for seq, n in step if seq.num_computed + n == len(seq)}
    s.advance(step, sampled)
    return [(seq.id, n) for seq, n in step]


def test_long_prompts_are_chunked_by_the_step_budget():
    s = make(step_tokens=16)
    r = Request(40)
    s.add(r)
    assert run_step(s) == [(r.id, 16)]
    assert run_step(s) == [(r.id, 16)]
    assert r.out == []
    assert run_step(s) == [(r.id, 8)]  # the last chunk samples the first token
    assert r.out == [9]
    assert run_step(s) == [(r.id, 1)]


def test_running_sequences_decode_together_and_leave_when_done():
    s = make()
    a, b = Request(3, max_new=2), Request(5, max_new=4, first=20)
    s.add(a), s.add(b)
    assert sorted(n for _, n in run_step(s)) == [3, 5]  # both prompts in one step
    assert sorted(run_step(s)) == sorted([(a.id, 1), (b.id, 1)])
    assert a.out[:2] == [9, 9]
    assert a.status is Status.FINISHED and a.out[-1].reason == "length"
    assert run_step(s) == [(b.id, 1)]


def test_eos_finishes_without_emitting_the_eos_token():
    s = make()
    r = Request(3)
    s.add(r)
    run_step(s, token=0)
    assert len(r.out) == 1 and r.out[0].reason == "eos"
    assert s.blocks.num_used == 0


def test_inline_prefill_goes_first_and_waits_at_most_one_chunk():
    s = make(step_tokens=16)
    action = Request(64)
    s.add(action)
    assert run_step(s) == [(action.id, 16)]  # the action's prompt is being prefilled
    inline = Request(20, Priority.INLINE, first=100)
    s.add(inline)
    assert run_step(s) == [(inline.id, 16)]  # the very next step is the inline request's
    assert run_step(s) == [(inline.id, 4)]
    assert inline.out == [9]
    # now the inline request decodes while the action's prefill goes on beside it
    assert run_step(s) == [(inline.id, 1), (action.id, 15)]


def test_lower_priority_prefill_does_not_share_an_urgent_step():
    s = make(step_tokens=32)
    action, inline = Request(8), Request(8, Priority.INLINE, first=50)
    s.add(action), s.add(inline)
    assert run_step(s) == [(inline.id, 8)]  # budget left, but the action's prefill waits
    assert run_step(s) == [(inline.id, 1), (action.id, 8)]


def test_abort_mid_prefill_and_mid_decode_frees_blocks_at_once():
    s = make(step_tokens=8)
    r = Request(20)
    s.add(r)
    run_step(s)
    used = s.blocks.num_used
    assert used == 5
    s.abort(r)
    assert s.blocks.num_used == 0 and r.out[-1].reason == "abort" and not s
    d = Request(3, max_new=10)
    s.add(d)
    run_step(s), run_step(s)
    assert d.num_generated == 2
    step = s.schedule()  # abort while a step is in flight: its result is ignored
    s.abort(d)
    s.advance(step, {d.id: [9]})
    assert d.num_generated == 2 and s.blocks.num_used == 0


def test_abort_keeps_blocks_shared_with_another_sequence():
    s = make(step_tokens=64)
    a = Request(13)
    s.add(a)
    run_step(s)
    b = Request(13)
    s.add(b)
    run_step(s)
    assert b.num_cached_prompt == 12
    shared = a.block_table[:3]
    s.abort(a)
    assert all(s.blocks.blocks[i].ref_count == 1 for i in shared)


def test_a_full_queue_refuses_with_busy_and_an_oversized_request_is_refused():
    s = make(max_batch=1, max_waiting=2)
    for _ in range(2):
        s.add(Request(3))
    with pytest.raises(EngineBusyError, match="busy"):
        s.add(Request(3))
    with pytest.raises(ValueError, match="KV cache"):
        make(num_blocks=4).add(Request(10, max_new=10))


def test_max_batch_holds_the_rest_in_the_queue():
    s = make(max_batch=2)
    reqs = [Request(3, max_new=2, first=10 * i + 1) for i in range(3)]
    for r in reqs:
        s.add(r)
    assert {i for i, _ in run_step(s)} == {reqs[0].id, reqs[1].id}
    run_step(s)  # both finish
    assert [i for i, _ in run_step(s)] == [reqs[2].id]


def test_an_urgent_request_preempts_a_code_action_when_blocks_run_out():
    s = make(num_blocks=6, step_tokens=32)
    action = Request(16, max_new=8)
    s.add(action)
    run_step(s)
    inline = Request(16, Priority.INLINE, max_new=4, first=200)
    s.add(inline)  # needs 4 of the 6 blocks; the action holds 5
    assert run_step(s) == [(inline.id, 16)]
    assert action.status is Status.WAITING and action.num_computed == 0
    assert action.num_generated == 1  # kept: it resumes from its tokens (and the prefix cache)


def test_a_prompt_being_computed_is_waited_for_then_taken_from_the_cache():
    s = make(step_tokens=16)
    a, b, c = Request(30), Request(30), Request(30, first=100)  # b: a's prompt (another candidate); c: its own
    for r in (a, b, c):
        s.add(r)
    assert run_step(s) == [(a.id, 16)]  # b waits for a's blocks, and c (behind it in line) with it
    assert run_step(s) == [(a.id, 14)]  # a's prompt is computed and registered
    assert sorted(run_step(s)) == sorted([(a.id, 1), (b.id, 2), (c.id, 13)])  # b computes the last block only
    assert b.num_cached_prompt == 28
    assert s.blocks.reused_tokens == 28 and s.blocks.prompt_tokens == 90


def test_an_inline_request_does_not_wait_for_a_code_actions_prompt():
    s = make(step_tokens=16)
    action, inline = Request(30), Request(30, priority=Priority.INLINE)
    s.add(action)
    run_step(s)  # the action's first 16 tokens, registered
    s.add(inline)  # the same prompt
    assert run_step(s) == [(inline.id, 14)]  # admitted at once: the 16 cached, the rest its own (and first)
