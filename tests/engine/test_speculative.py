"""Speculative decoding end to end: with drafts, greedy output is the output without them.

Prompt-lookup drafts from a random model are whatever its own tokens suggest; to reach full,
partial and first-token rejection on purpose, an oracle drafter proposes the known answer,
corrupted where a test wants the model to disagree.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import replace

import pytest
import torch

from codellama_lsp.engine import Model, SamplingParams
from codellama_lsp.engine import scheduler as scheduler_module
from codellama_lsp.engine.ngram_draft import Drafter
from codellama_lsp.engine.sequence import Finish

from .test_serving import prompt, rebuilt, run_together

GREEDY = SamplingParams(max_new_tokens=24)


def echo(plain: Model, n: int, seed: int) -> list[int]:
    """A prompt, the model's answer to it, and the prompt again: the answer is in the prompt, as when
    code is rewritten, so prompt-lookup drafts are found and (a random model's answers depending mostly
    on the last tokens) often accepted."""
    base = prompt(n, seed)
    return base + plain.generate_ids(base, GREEDY) + base[1:]


@pytest.fixture
def plain(chat_model) -> Model:
    return rebuilt(chat_model, speculative=None)


@pytest.fixture
def oracle(monkeypatch):
    """oracle(answer, corrupt) makes every drafting sequence propose `answer`'s next tokens, with the
    tokens at the draft indices in `corrupt` changed; returns the list of (drafted, accepted) records."""
    records: list[tuple[int, int]] = []

    def install(answer: list[int], corrupt: tuple[int, ...] = (), prompt_len: int = 0):
        class Oracle(Drafter):
            def draft(self, tokens, room):
                done = len(tokens) - prompt_len
                draft = answer[done : done + min(self.max_tokens, room)]
                return [(t + 1) % 32000 if i in corrupt else t for i, t in enumerate(draft)]

            def record(self, drafted, accepted):
                records.append((drafted, accepted))
                super().record(drafted, accepted)

        monkeypatch.setattr(scheduler_module, "Drafter", Oracle)
        return records

    return install


def test_greedy_is_identical_with_drafts_in_mixed_batches_with_chunked_prefill(chat_model, plain):
    prompts = [echo(plain, 30, 1), prompt(150, 2), echo(plain, 20, 3), prompt(7, 4), echo(plain, 40, 5)]
    without = run_together(plain, prompts, GREEDY)
    model = rebuilt(chat_model, step_tokens=40, max_batch=8, draft_tokens=4)
    steps = []
    run = model.runner.run
    model.runner.run = lambda step: (steps.append([(s.draft != [], n) for s, n in step]), run(step))[1]
    assert run_together(model, prompts, GREEDY) == without
    mixed = [s for s in steps if any(d for d, _ in s) and any(not d and n > 1 for d, n in s)]
    assert mixed, "a step verified a draft beside a prompt chunk"
    stats = model.stats()
    assert stats["draftedTokens"] > 0 and stats["acceptedTokens"] > 0
    assert stats["acceptanceRate"] == stats["acceptedTokens"] / stats["draftedTokens"]
    assert model.blocks.num_used == 0 and model.active_requests == 0


@pytest.mark.parametrize(
    ("corrupt", "first_record"),
    [((), (4, 4)), ((2,), (4, 2)), ((0,), (4, 0))],
    ids=["fully accepted", "partly accepted", "rejected at the first token"],
)
def test_each_verify_outcome_gives_the_same_greedy_tokens(chat_model, plain, oracle, corrupt, first_record):
    ids = prompt(40, 7)
    answer = plain.generate_ids(ids, GREEDY)
    records = oracle(answer, corrupt, prompt_len=len(ids))
    model = rebuilt(chat_model, draft_tokens=4)
    assert model.generate_ids(ids, GREEDY) == answer
    assert records[0] == first_record
    assert model.stats()["acceptedTokens"] == sum(a for _, a in records)
    assert model.blocks.num_used == 0


def test_max_new_tokens_reached_inside_a_draft(chat_model, plain, oracle):
    ids = prompt(30, 8)
    answer = plain.generate_ids(ids, SamplingParams(max_new_tokens=6))
    records = oracle(answer + [5] * 10, prompt_len=len(ids))
    model = rebuilt(chat_model, draft_tokens=8)
    assert model.generate_ids(ids, SamplingParams(max_new_tokens=6)) == answer
    assert records == [(4, 4)]  # the first token came with the prompt; 4 drafted + 1 more fill the answer


def test_a_stop_string_inside_an_accepted_draft(chat_model, plain, oracle):
    ids = prompt(30, 9)
    answer = plain.generate_ids(ids, GREEDY)
    text = chat_model.tokenizer.decode(answer[:8])
    stop = text[len(text) // 2 :][:3]
    assert stop.strip()
    expected = plain.generate(ids, SamplingParams(max_new_tokens=24, stop=(stop,)))
    records = oracle(answer, prompt_len=len(ids))
    model = rebuilt(chat_model, draft_tokens=8)
    assert model.generate(ids, SamplingParams(max_new_tokens=24, stop=(stop,))) == expected
    assert records[0] == (8, 8)


def test_requests_that_opt_out_and_sampled_requests_share_steps_with_drafting_ones(chat_model, plain):
    sampled = SamplingParams(temperature=0.05, top_k=50, top_p=0.9, repetition_penalty=1.01, max_new_tokens=16, seed=3)
    prompts = [echo(plain, 40, 11), echo(plain, 50, 12)]
    model = rebuilt(chat_model, draft_tokens=4)
    with_drafts = run_together(model, prompts, sampled)
    assert with_drafts == run_together(rebuilt(chat_model, draft_tokens=4), prompts, sampled)  # seeded: repeatable
    assert model.stats()["draftedTokens"] > 0
    opted_out = SamplingParams(max_new_tokens=16, speculate=False, repetition_penalty=1.2)
    model = rebuilt(chat_model, draft_tokens=4)
    assert run_together(model, prompts, opted_out) == run_together(plain, prompts, opted_out)
    assert model.stats()["draftedTokens"] == 0


def test_repetition_penalty_with_drafts_is_identical_when_greedy(chat_model, plain, oracle):
    params = SamplingParams(max_new_tokens=24, repetition_penalty=1.3)
    ids = echo(plain, 30, 13)
    answer = plain.generate_ids(ids, params)
    records = oracle(answer, corrupt=(3,), prompt_len=len(ids))
    model = rebuilt(chat_model, draft_tokens=6)
    assert model.generate_ids(ids, params) == answer
    assert records[0] == (6, 3)  # the penalty grows with each kept draft token, row by row


async def test_cancelling_mid_verify_frees_everything_at_once(chat_model, plain, oracle):
    ids = prompt(40, 15)
    answer = plain.generate_ids(ids, SamplingParams(max_new_tokens=40))
    oracle(answer, prompt_len=len(ids))
    model = rebuilt(chat_model, draft_tokens=8)
    in_verify, release = threading.Event(), threading.Event()
    run = model.runner.run

    def held_run(step):
        if any(seq.draft for seq, _ in step):
            in_verify.set()
            release.wait(30)
        return run(step)

    model.runner.run = held_run

    async def consume():
        async for _ in model.stream(ids, SamplingParams(max_new_tokens=10_000)):
            pass

    task = asyncio.create_task(consume())
    assert await asyncio.to_thread(in_verify.wait, 30)
    assert model.blocks.num_used > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.blocks.num_used == 0 and model.active_requests == 0  # before the step in flight ends
    release.set()
    model.runner.run = run
    assert model.generate_ids(ids, SamplingParams(max_new_tokens=40)) == answer  # the engine goes on, exact


def test_outputs_finish_with_the_same_reasons(chat_model, plain):
    ids = echo(plain, 50, 16)
    reasons = []
    for model in (plain, rebuilt(chat_model, draft_tokens=4)):
        items: queue.SimpleQueue = queue.SimpleQueue()
        model.submit(ids, GREEDY, "action", items.put)
        out = [items.get(timeout=60)]
        while not isinstance(out[-1], Finish):
            out.append(items.get(timeout=60))
        reasons.append((out[:-1], out[-1].reason))
    assert reasons[0] == reasons[1]


# Two-sample Pearson chi-square with at most 9 degrees of freedom exceeds 45 with probability < 1e-6
# when both samples come from one distribution (scipy.stats.chi2.isf(1e-6, 9) = 44.7).
TWO_SAMPLE_BOUND, SEEDS = 45.0, 400


def test_over_many_seeds_the_sampled_next_token_has_the_same_distribution(chat_model, plain, oracle):
    ids = prompt(20, 17)
    params = SamplingParams(temperature=1.0, top_k=3, max_new_tokens=3)
    greedy = plain.generate_ids(ids, SamplingParams(max_new_tokens=2))
    records = oracle(greedy, prompt_len=len(ids))  # the second token's draft: the greedy one
    model = rebuilt(chat_model, draft_tokens=4)
    counts: dict[int, list[int]] = {}
    for column, engine in enumerate((plain, model)):
        for seed in range(SEEDS):
            second = engine.generate_ids(ids, replace(params, seed=seed))[1]
            counts.setdefault(second, [0, 0])[column] += 1
    assert 0 < sum(a for _, a in records) < len(records)  # drafts were both kept and rejected
    table = torch.tensor(list(counts.values()), dtype=torch.float64)  # [tokens, 2]
    assert 2 <= len(table) <= 10
    expected = table.sum(1, keepdim=True) * table.sum(0, keepdim=True) / table.sum()
    assert float(((table - expected) ** 2 / expected).sum()) < TWO_SAMPLE_BOUND
