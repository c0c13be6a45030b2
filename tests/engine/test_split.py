"""A model split across devices ("cpu,cpu", "cpu,cpu,cpu": the same code path as GPUs) answers exactly as on one."""

from __future__ import annotations

import asyncio

import pytest
import torch

from codellama_lsp.engine import EngineError, Model, QuantConfig, SamplingParams, ServingConfig, load_model
from codellama_lsp.engine.synthetic import SyntheticSpec

from .test_serving import prompt, run_together, streaming

SPEC = SyntheticSpec(vocab_size=32016, dim=64, n_layers=4, n_heads=2, n_kv_heads=1, intermediate_size=128)
QUANT = QuantConfig(4, 32, True, True, "gptq")


@pytest.fixture(scope="module")
def folder(checkpoint_factory):
    return checkpoint_factory(SPEC, QUANT, seed=5, tokenizer=True)[0]


@pytest.fixture(scope="module")
def one(folder):
    return load_model(folder, device="cpu")


@pytest.fixture(scope="module", params=["cpu,cpu", "cpu,cpu,cpu"])
def split(request, folder):
    return load_model(folder, device=request.param)


def fresh(model: Model, **serving) -> Model:
    """The same weights and placement behind a fresh engine (empty cache)."""
    return Model(
        model.transformer, model.tokenizer, model.eos_token_ids, model.device, model.dtype, model.source,
        ServingConfig(**serving), available_memory=1 << 30, placement=model.placement,
    )  # fmt: skip


def test_the_layers_are_split_in_order(split):
    n = len(split.device_label.split(","))
    assert len(split.transformer.split) == n
    assert [i for _, layers in split.transformer.split for i in layers] == [0, 1, 2, 3]
    stats = split.stats()
    assert stats["placement"].count("cpu:") == n and "embedding" in stats["placement"]
    assert split.device_label == ",".join(["cpu"] * n)
    devices = [device for device, layers in split.transformer.split for _ in layers]
    assert [k.device for k in split.kv_cache.keys] == devices  # each layer's KV on its layer's device
    assert fresh(split, decode_graphs="on").runner.graphs is None  # a split model decodes eagerly


def test_split_logits_equal_one_device(one, split):
    ids = prompt(70, 1)
    assert torch.equal(split.logits(ids), one.logits(ids))


def test_split_batched_greedy_generation_equals_one_device(one, split):
    prompts = [prompt(n, seed) for seed, n in enumerate([5, 37, 120, 64])]
    params = SamplingParams(max_new_tokens=12)
    alone = [one.generate_ids(p, params) for p in prompts]
    model = fresh(split, step_tokens=48, max_batch=8)
    assert run_together(model, prompts, params) == alone
    assert model.blocks.num_used == 0


def test_the_prefix_cache_hits_across_segments(one, split):
    model = fresh(split)
    base = prompt(100, 7)
    longer = base + prompt(40, 8)[1:]
    params = SamplingParams(max_new_tokens=6)
    model.generate_ids(base, params)
    reused = model.stats()["reusedTokens"]
    assert model.generate_ids(longer, params) == one.generate_ids(longer, params)
    assert model.stats()["reusedTokens"] - reused >= 96  # six full blocks, in every segment's pool


def test_speculative_and_sampled_requests_match_one_device(one, split):
    greedy = SamplingParams(max_new_tokens=24)
    base = prompt(30, 2)
    echo = base + one.generate_ids(base, greedy) + base[1:]  # the answer is in the prompt: drafts are found
    plain = fresh(one, speculative=None)
    model = fresh(split)
    assert model.generate_ids(echo, greedy) == plain.generate_ids(echo, greedy)
    assert model.stats()["draftedTokens"] > 0 and model.stats()["acceptedTokens"] > 0
    sampled = SamplingParams(temperature=0.8, top_p=0.9, max_new_tokens=10, seed=3)
    assert model.generate_ids(prompt(20, 4), sampled) == one.generate_ids(prompt(20, 4), sampled)


def test_out_of_memory_in_the_second_segment_fails_only_that_request(one, split):
    model = fresh(split)
    _, layers = model.transformer.split[1]
    block = model.transformer.layers[layers[0]]
    forward = block.forward

    def fails_on_long_inputs(x, *args):
        if x.shape[0] > 100:
            raise torch.OutOfMemoryError("CUDA out of memory on the second segment (simulated)")
        return forward(x, *args)

    block.forward = fails_on_long_inputs
    try:
        params = SamplingParams(max_new_tokens=6)
        short_a, long, short_b = prompt(30, 1), prompt(200, 2), prompt(40, 3)
        results = run_together(model, [short_a, long, short_b], params)
    finally:
        del block.forward
    assert isinstance(results[1], torch.OutOfMemoryError)
    assert results[0] == one.generate_ids(short_a, params)
    assert results[2] == one.generate_ids(short_b, params)
    assert model.blocks.num_used == 0
    assert model.generate_ids(long, params) == one.generate_ids(long, params)  # the engine goes on


async def test_cancelling_a_split_stream_frees_its_blocks(split):
    model = fresh(split)
    task = await streaming(model)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert model.blocks.num_used == 0 and model.active_requests == 0


def test_load_progress_shows_the_placement(folder):
    messages: list[str] = []
    load_model(folder, device="cpu,cpu", progress=lambda message, _: messages.append(message))
    assert messages[0].startswith("Placement: cpu: embedding, layers 0-1")
    assert "Loading layer 4/4 on cpu" in messages


def test_gpu_split_and_bad_device_lists(folder):
    tiny = load_model(folder, device="cpu,cpu", gpu_split=[1e-9, 1])  # nothing but the embedding on the first
    assert [(p.embedding, p.layers, p.lm_head) for p in tiny.placement.parts] == [
        (True, range(0, 0), False),
        (False, range(0, 4), True),
    ]
    assert tiny.transformer.split == [(torch.device("cpu"), range(0, 4))]
    with pytest.raises(EngineError, match="gpu_split has 1 entries"):
        load_model(folder, device="cpu,cpu", gpu_split=[1])
    with pytest.raises(EngineError, match="unknown device"):
        load_model(folder, device="cpu,,cpu")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="no CUDA GPU"):
            load_model(folder, device="cuda:0,cuda:1")


def test_out_of_memory_at_load_names_the_device_and_what_it_needed(folder, monkeypatch):
    from codellama_lsp.engine import loader

    linear = loader._Loader.linear

    def short_of_memory(self, prefix, module):
        if prefix.startswith("model.layers.3."):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return linear(self, prefix, module)

    monkeypatch.setattr(loader._Loader, "linear", short_of_memory)
    with pytest.raises(EngineError) as error:
        load_model(folder, device="cpu,cpu")
    message = str(error.value)
    assert "out of memory loading" in message and " on cpu: its weights there need " in message
    assert "and its KV cache" in message and "another GPU" in message
