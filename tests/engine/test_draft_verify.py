"""Drafting and verifying by hand: prompt lookup, adaptive draft length, the acceptance rule, and the
scheduler's rollback of rejected drafts in the block manager."""

from __future__ import annotations

import torch

from codellama_lsp.engine.block_manager import BlockManager, chain_hash
from codellama_lsp.engine.ngram_draft import PATIENCE, Drafter, propose
from codellama_lsp.engine.sampler import SamplingParams, apply_repetition_penalty, distribution
from codellama_lsp.engine.scheduler import Scheduler
from codellama_lsp.engine.verify import accept, accept_greedy

from .test_scheduler import BS, Request


def test_propose_takes_the_longest_latest_match_and_at_most_k_tokens():
    assert propose([1, 2, 3, 4, 5, 9, 3, 4, 6, 2, 3, 4], 2) == [5, 9]  # "2 3 4" beats the later "3 4"
    assert propose([7, 3, 4, 6, 8, 3, 4, 5, 3, 4], 5) == [5, 3, 4]  # the latest of equal matches; no more than there is
    assert propose([1, 2, 3], 4) == [] and propose([5], 4) == [] and propose([1, 2, 1], 0) == []
    assert propose([9, 1, 2, 3, 4, 0, 1, 2, 3, 4], 3) == [0, 1, 2]  # n is at most 4


def test_the_drafter_shrinks_after_a_miss_grows_after_a_hit_and_pauses_after_misses():
    d = Drafter(8)
    tokens = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1]
    assert len(d.draft(tokens, room=100)) == 8
    d.record(8, 2)
    assert d.tokens == 3
    d.record(3, 3)
    assert d.tokens == 6
    assert d.draft(tokens, room=2) == [2, 3]  # the answer's room caps the draft
    for _ in range(PATIENCE):
        d.record(1, 0)
    assert [d.draft(tokens, 100) for _ in range(PATIENCE)] == [[]] * PATIENCE  # paused
    assert d.draft(tokens, 100) == [2]
    for _ in range(PATIENCE):
        d.record(1, 0)
    assert sum(not d.draft(tokens, 100) for _ in range(4 * PATIENCE)) == 2 * PATIENCE  # the pause doubled
    assert (d.drafted, d.accepted, d.steps) == (8 + 3 + 2 * PATIENCE, 5, 2 + 2 * PATIENCE)


def test_greedy_acceptance_keeps_the_agreeing_prefix_then_the_models_token():
    assert accept_greedy([5, 6, 7], [5, 6, 7, 8]) == [5, 6, 7, 8]
    assert accept_greedy([5, 6, 7], [5, 9, 7, 8]) == [5, 9]
    assert accept_greedy([5, 6, 7], [1, 6, 7, 8]) == [1]
    assert accept_greedy([], [4]) == [4]


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> float:
    expected = probs * counts.sum()
    assert bool((counts[probs == 0] == 0).all())  # filtered tokens are never emitted
    keep = probs > 0
    return float(((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum())


# Pearson's chi-square over at most 8 categories (df <= 7) exceeds 40 with probability < 1e-6 when the
# counts follow `probs` (scipy.stats.chi2.isf(1e-6, 7) = 40.5); the draws use a fixed seed, so the test
# is deterministic, and the biased rule below lands far above it, so the bound has power.
CHI_SQUARE_BOUND, DRAWS = 40.0, 12_000


def test_sampled_acceptance_leaves_each_tokens_distribution_unchanged():
    V = 8
    rows = torch.randn(3, V, generator=torch.Generator().manual_seed(0)) * 1.5  # [m+1, V]
    history = [1, 5]
    params = SamplingParams(temperature=0.8, top_k=6, top_p=0.97, repetition_penalty=1.2)
    p0 = distribution(apply_repetition_penalty(rows[0], torch.tensor(history), 1.2), params)
    draft = [int(p0.argsort()[-2]), 3]  # the second likeliest token, then another
    p1 = distribution(apply_repetition_penalty(rows[1], torch.tensor(history + draft[:1]), 1.2), params)
    generator = torch.Generator().manual_seed(1234)
    first, second = torch.zeros(V), torch.zeros(V)
    for _ in range(DRAWS):
        out = accept(draft, rows, history, params, generator)
        first[out[0]] += 1
        if out[0] == draft[0]:  # given the first draft token kept, the next is drawn from row 1
            second[out[1]] += 1
    assert chi_square(first, p0) < CHI_SQUARE_BOUND
    assert chi_square(second, p1) < CHI_SQUARE_BOUND
    assert 0.2 < float(p0[draft[0]]) < 0.8  # both acceptance and rejection were exercised

    biased = torch.zeros(V)  # on rejection, drawing from p itself (the drafted token not removed) is wrong
    for _ in range(DRAWS):
        token = draft[0] if torch.rand((), generator=generator) < p0[draft[0]] else None
        biased[token if token is not None else int(torch.multinomial(p0, 1, generator=generator))] += 1
    assert chi_square(biased, p0) > 10 * CHI_SQUARE_BOUND


class Fixed(Drafter):
    """Drafts the same tokens every step."""

    def __init__(self, tokens: list[int]):
        super().__init__(8)
        self.fixed = tokens

    def draft(self, tokens, room):
        return self.fixed[:room]


def verify_step(s: Scheduler, draft: list[int], produced: list[int]):
    """One step in which the decoding sequence drafts `draft` and the model produces `produced`."""
    (seq,) = s.running
    seq.drafter = Fixed(draft)
    step = s.schedule()
    assert step == [(seq, 1 + len(draft))]
    s.advance(step, {seq.id: produced})
    return seq


def test_rejected_drafts_are_rolled_back_and_never_cached():
    s = Scheduler(BlockManager(16, BS), 4, 64, 8)
    r = Request(6, max_new=40)  # tokens 1..6
    s.add(r)
    s.advance(s.schedule(), {r.id: [7]})  # prefill; 7 tokens, 2 blocks
    free_before = list(s.blocks.free)
    rejected = [50, 51, 52, 53, 54, 55, 56]  # positions 7..13: blocks 1..3
    verify_step(s, rejected, [8])  # rejected at the first token
    assert r.token_ids == [1, 2, 3, 4, 5, 6, 7, 8] and r.num_computed == 7
    assert len(r.block_table) == 2 and list(s.blocks.free) == free_before  # the draft's blocks came back
    verify_step(s, [9, 10, 11, 60, 61], [9, 10, 11, 12])  # 3 kept, then the model's 12
    assert r.token_ids[-4:] == [9, 10, 11, 12] and r.num_computed == len(r) - 1 == 11
    assert len(r.block_table) == 3 and s.drafted == 12 and s.accepted == 3
    assert r.block_table[2] == free_before[0]  # the rolled-back block is the next one taken
    registered = {s.blocks.blocks[b].tokens for b in s.blocks.by_hash.values()}
    assert registered == {(1, 2, 3, 4), (5, 6, 7, 8)}  # (9, 10, 11, 12) waits for the KV of 12
    h = chain_hash(chain_hash(b"", [1, 2, 3, 4]), [5, 6, 7, 50])
    assert h not in s.blocks.by_hash  # a prompt that goes on with a rejected draft finds only the true prefix
    assert len(s.blocks._prefix_hits([1, 2, 3, 4, 5, 6, 7, 50, 51, 52, 53, 54])) == 1


def test_a_draft_fits_the_answers_room_and_eos_inside_it_finishes_the_sequence():
    s = Scheduler(BlockManager(3, BS), 4, 64, 8)
    r = Request(6, max_new=5)
    s.add(r)
    s.advance(s.schedule(), {r.id: [7]})
    r.drafter = Fixed([20, 21, 22, 23, 24, 25, 26])
    step = s.schedule()
    assert step == [(r, 4)]  # room for 3 more answer tokens after the bonus one: max_new_tokens caps it
    s.advance(step, {r.id: [20, 0]})  # 0 is EOS: the sequence ends there without emitting it
    assert r.out[:-1] == [7, 20] and r.out[-1].reason == "eos"
    assert s.blocks.num_used == 0
