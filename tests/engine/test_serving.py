"""The serving engine end to end: batching, prefix cache, aborts, memory budget, out-of-memory."""

from __future__ import annotations

import asyncio
import threading

import pytest
import torch

from codellama_lsp.engine import Model, SamplingParams
from codellama_lsp.engine.config import ServingConfig
from codellama_lsp.engine.kv_cache import bytes_per_token
from codellama_lsp.engine.sequence import Finish

from ..conftest import relative_error


def rebuilt(model: Model, **serving) -> Model:
    """The same weights behind a fresh engine (empty cache) with these serving settings."""
    return Model(
        model.transformer,
        model.tokenizer,
        model.eos_token_ids,
        model.device,
        model.dtype,
        model.source,
        ServingConfig(**serving),
        available_memory=1 << 30,
    )


def prompt(n: int, seed: int) -> list[int]:
    return [1] + torch.randint(3, 32000, (n - 1,), generator=torch.Generator().manual_seed(seed)).tolist()


async def streaming(model: Model) -> asyncio.Task:
    """A long request, consumed in a task, once it has given its first token."""
    started = asyncio.Event()

    async def consume():
        async for _ in model.stream(prompt(50, 3), SamplingParams(max_new_tokens=10_000)):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    return task


def run_together(model: Model, prompts: list[list[int]], params: SamplingParams) -> list[list[int] | BaseException]:
    """Submit all prompts at once; each one's tokens, or the exception that ended it."""
    outputs: list[list] = [[] for _ in prompts]
    done = threading.Semaphore(0)

    def collector(out: list):
        def emit(item):
            if isinstance(item, (Finish, BaseException)):
                out.append(item)
                done.release()
            else:
                out.append(item)

        return emit

    with model.loop.forward_lock:  # hold the first step back so the requests meet in the queue
        for p, out in zip(prompts, outputs):
            model.submit(p, params, "action", collector(out))
    for _ in prompts:
        assert done.acquire(timeout=120)
    return [out[-1] if isinstance(out[-1], BaseException) else out[:-1] for out in outputs]


@pytest.fixture
def batch_sizes(chat_model):
    """Wraps the runner to record how many sequences each step ran."""
    sizes: list[int] = []

    def record(model: Model):
        run = model.runner.run
        model.runner.run = lambda step: (sizes.append(len(step)), run(step))[1]
        return sizes

    return record


def test_batched_greedy_equals_each_request_alone(chat_model, batch_sizes):
    model = rebuilt(chat_model, step_tokens=48, max_batch=8)
    sizes = batch_sizes(model)
    prompts = [prompt(n, seed) for seed, n in enumerate([5, 37, 120, 64, 2])]
    params = SamplingParams(max_new_tokens=12)
    alone = [chat_model.generate_ids(p, params) for p in prompts]
    assert run_together(model, prompts, params) == alone
    assert max(sizes) >= 4  # they really were decoded together, prompts chunked beside decodes
    assert model.blocks.num_used == 0 and model.active_requests == 0


def test_sampled_requests_are_reproducible_in_a_batch(chat_model):
    model = rebuilt(chat_model)
    params = SamplingParams(temperature=0.8, top_p=0.9, top_k=50, repetition_penalty=1.1, max_new_tokens=10, seed=7)
    prompts = [prompt(20, 1), prompt(33, 2)]
    alone = [chat_model.generate_ids(p, params) for p in prompts]
    assert run_together(model, prompts, params) == alone


def test_a_cached_prefix_gives_the_cold_logits(chat_model):
    model = rebuilt(chat_model, block_size=16)
    captured: list[torch.Tensor] = []
    forward = model.runner.forward
    model.runner.forward = lambda step: (captured.append((out := forward(step))[1]), out)[1]
    base = prompt(100, 5)
    model.generate_ids(base, SamplingParams(max_new_tokens=1))
    longer = base + prompt(21, 6)[1:]
    captured.clear()
    seq_ids = model.generate_ids(longer, SamplingParams(max_new_tokens=1))
    cold = model.logits(longer)[-1]
    assert relative_error(captured[0][-1], cold) <= 1e-4
    assert seq_ids == [int(cold.argmax())]
    hits = model.blocks.by_hash
    assert len(hits) >= 7  # 112 of the 120 prompt tokens were registered as full blocks


def test_a_repeated_prompt_prefills_only_its_tail(chat_model):
    model = rebuilt(chat_model, block_size=16)
    counts: list[int] = []
    run = model.runner.run
    model.runner.run = lambda step: (counts.append(sum(n for _, n in step)), run(step))[1]
    ids = prompt(200, 9)
    first = model.generate_ids(ids, SamplingParams(max_new_tokens=3))
    prefill_cold = counts[0]
    counts.clear()
    assert model.generate_ids(ids, SamplingParams(max_new_tokens=3)) == first
    assert prefill_cold == 200 and counts[0] == 200 - 192  # 12 full blocks reused, 8 tokens computed


async def test_cancelling_a_stream_frees_its_blocks_at_once(chat_model):
    model = rebuilt(chat_model)
    task = await streaming(model)
    assert model.blocks.num_used > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.blocks.num_used == 0 and model.active_requests == 0


def test_the_kv_budget_is_respected_and_overflowing_requests_still_finish(chat_model, batch_sizes):
    per_block = 16 * bytes_per_token(chat_model.args, chat_model.dtype)
    model = rebuilt(chat_model, kv_cache_bytes=12 * per_block, block_size=16)
    assert model.blocks.num_blocks == 11 and model.kv_cache.nbytes() == 12 * per_block  # + the scratch block
    peak = []
    run = model.runner.run
    model.runner.run = lambda step: (peak.append(model.blocks.num_used), run(step))[1]
    prompts = [prompt(60, s) for s in range(4)]  # each needs 5 blocks with its answer: 20 > 11
    params = SamplingParams(max_new_tokens=16)
    alone = [chat_model.generate_ids(p, params) for p in prompts]
    assert run_together(model, prompts, params) == alone
    assert max(peak) <= 11
    with pytest.raises(ValueError, match="KV cache"):
        model.generate_ids(prompt(150, 1), SamplingParams(max_new_tokens=100))


def test_out_of_memory_fails_only_the_request_that_caused_it(chat_model):
    model = rebuilt(chat_model)
    forward = model.runner.forward

    def forward_that_fails_on_long_inputs(step):
        if sum(n for _, n in step) > 100:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(step)

    model.runner.forward = forward_that_fails_on_long_inputs
    params = SamplingParams(max_new_tokens=6)
    short_a, long, short_b = prompt(30, 1), prompt(200, 2), prompt(40, 3)
    results = run_together(model, [short_a, long, short_b], params)
    assert isinstance(results[1], torch.OutOfMemoryError)
    assert results[0] == chat_model.generate_ids(short_a, params)
    assert results[2] == chat_model.generate_ids(short_b, params)
    assert model.blocks.num_used == 0
    assert model.generate_ids(short_a, params) == results[0]  # the engine goes on
