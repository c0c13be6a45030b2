"""Static decode steps (what CUDA graphs replay) give the eager steps' tokens, padding included."""

from __future__ import annotations

import logging

import pytest
import torch

from codellama_lsp.engine import SamplingParams
from codellama_lsp.engine.decode_graphs import DecodeGraphs

from .test_serving import prompt, rebuilt, run_together

LENGTHS = [5, 37, 120, 64, 18]


def test_static_decode_matches_eager_for_padded_batches(chat_model):
    static = rebuilt(chat_model, decode_graphs="on", step_tokens=64)
    graphs = static.runner.graphs
    assert graphs is not None and not graphs.capture  # on a CPU the static step runs eagerly
    params = SamplingParams(max_new_tokens=10)
    for count in (1, 3, 5):  # buckets 1, 4 and 8: two and three padding rows
        prompts = [prompt(n, seed) for seed, n in enumerate(LENGTHS[:count])]
        alone = [chat_model.generate_ids(p, params) for p in prompts]
        assert run_together(static, prompts, params) == alone
    assert graphs.enabled and {1, 4, 8} <= set(graphs.buckets)
    assert graphs.scratch_block == static.blocks.num_blocks  # outside what sequences are given
    assert static.blocks.num_used == 0


def test_static_decode_with_sampling_and_penalty(chat_model):
    static = rebuilt(chat_model, decode_graphs="on")
    params = SamplingParams(temperature=0.9, top_k=40, repetition_penalty=1.2, max_new_tokens=8, seed=11)
    prompts = [prompt(30, 1), prompt(70, 2)]
    assert run_together(static, prompts, params) == [chat_model.generate_ids(p, params) for p in prompts]


def test_a_graph_that_disagrees_turns_graphs_off(chat_model, monkeypatch, caplog):
    static = rebuilt(chat_model, decode_graphs="on")
    forward = DecodeGraphs._forward

    def wrong(self, bucket):
        forward(self, bucket)
        bucket.logits = bucket.logits.flip(-1)

    monkeypatch.setattr(DecodeGraphs, "_forward", wrong)
    params = SamplingParams(max_new_tokens=6)
    ids = prompt(40, 4)
    with caplog.at_level(logging.WARNING):
        assert static.generate_ids(ids, params) == chat_model.generate_ids(ids, params)
    assert not static.runner.graphs.enabled and "decode graphs are off" in caplog.text


def test_static_decode_on_the_triton_kernel(chat_model):
    pytest.importorskip("triton")
    static = rebuilt(chat_model, decode_graphs="on")
    static.runner.graphs = DecodeGraphs(
        static.transformer,
        static.kv_cache,
        static.blocks.num_blocks,
        static.device,
        capture=False,
        decode_kernel="triton",
    )
    assert static.runner.graphs.kernel is not None  # the paged-decode kernel, interpreted
    params = SamplingParams(max_new_tokens=5)
    prompts = [prompt(20, 5), prompt(45, 6), prompt(9, 7)]
    assert run_together(static, prompts, params) == [chat_model.generate_ids(p, params) for p in prompts]
    assert static.runner.graphs.enabled and static.runner.graphs.buckets[4].attend.decode_blocks.dtype == torch.int32


def test_out_of_memory_in_a_static_decode_step_fails_only_its_request(chat_model):
    """Out of memory inside a graph-path step: the step is retried one sequence at a time (still
    from the graphs), the sequence that does not fit fails alone, and the engine goes on."""
    static = rebuilt(chat_model, decode_graphs="on")
    runner, graphs = static.runner, static.runner.graphs
    forward = runner.forward
    params = SamplingParams(max_new_tokens=6)
    prompts = [prompt(20, 5), prompt(45, 6), prompt(9, 7)]
    victim: list[int] = []  # the id of the first sequence with prompts[1]
    fired: list[int] = []  # the size of each step the fault hit

    def forward_that_fails_for_one_request(step):
        for seq, _ in step:
            if not victim and seq.token_ids[: seq.prompt_len] == prompts[1]:
                victim.append(seq.id)
        if any(seq.id in victim for seq, _ in step) and graphs.supports(step):
            fired.append(len(step))
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(step)

    runner.forward = forward_that_fails_for_one_request
    results = run_together(static, prompts, params)
    assert fired == [3, 1]  # the decode step of all three, then the victim's retry alone
    assert isinstance(results[1], torch.OutOfMemoryError)
    assert results[0] == chat_model.generate_ids(prompts[0], params)
    assert results[2] == chat_model.generate_ids(prompts[2], params)
    assert graphs.enabled and {1, 2} <= set(graphs.buckets)  # the others decoded alone, then as two
    assert static.blocks.num_used == 0
    assert static.generate_ids(prompts[1], params) == chat_model.generate_ids(prompts[1], params)  # the engine goes on
    assert fired == [3, 1] and static.blocks.num_used == 0
