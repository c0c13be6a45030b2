"""generate / stream: determinism, seeds, stop strings, EOS, cancellation, text deltas."""

from __future__ import annotations

import asyncio

import pytest

from codellama_lsp.engine import SamplingParams
from codellama_lsp.engine.text_stream import TextStream

PROMPT = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "Reverse a string."}]


async def collect(model, prompt, params) -> list[str]:
    return [delta async for delta in model.stream(prompt, params)]


def test_greedy_is_deterministic_and_matches_the_logits(chat_model):
    params = SamplingParams(max_new_tokens=12)
    ids = chat_model.generate_ids(PROMPT, params)
    assert ids == chat_model.generate_ids(PROMPT, params)
    prompt_ids = chat_model.encode_chat(PROMPT)
    # the cached decode picks the argmax of a full no-cache forward at every step
    full = chat_model.logits(prompt_ids + ids[:-1])
    assert full[len(prompt_ids) - 1 :].argmax(-1).tolist() == ids


def test_seed_reproduces_sampling_and_other_seeds_differ(chat_model):
    params = dict(temperature=1.0, top_p=0.95, top_k=40, max_new_tokens=16)
    first = chat_model.generate_ids(PROMPT, SamplingParams(seed=1, **params))
    assert first == chat_model.generate_ids(PROMPT, SamplingParams(seed=1, **params))
    others = {tuple(chat_model.generate_ids(PROMPT, SamplingParams(seed=s, **params))) for s in (2, 3, 4)}
    assert others != {tuple(first)}


def test_stream_equals_generate(chat_model):
    params = SamplingParams(max_new_tokens=24)
    deltas = asyncio.run(collect(chat_model, PROMPT, params))
    assert "".join(deltas) == chat_model.generate(PROMPT, params)
    assert all(deltas)


def test_prompt_kinds_agree(chat_model):
    params = SamplingParams(max_new_tokens=6)
    ids = chat_model.encode_chat(PROMPT)
    text = chat_model.tokenizer.decode(ids[1:])  # the same prompt as text; BOS is added back
    assert chat_model.generate(ids, params) == chat_model.generate(PROMPT, params) == chat_model.generate(text, params)


def test_stop_string_ends_generation_and_is_not_emitted(chat_model):
    params = SamplingParams(max_new_tokens=24)
    full = chat_model.generate(PROMPT, params)
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    cut = chat_model.generate(PROMPT, SamplingParams(max_new_tokens=24, stop=(stop, "\u2603never")))
    assert cut == full[: full.index(stop)]
    streamed = "".join(asyncio.run(collect(chat_model, PROMPT, SamplingParams(max_new_tokens=24, stop=[stop]))))
    assert streamed == cut


def test_eos_stops_generation(chat_model):
    ids = chat_model.generate_ids(PROMPT, SamplingParams(max_new_tokens=8))
    chat_model.eos_token_ids.add(ids[3])
    try:
        assert chat_model.generate_ids(PROMPT, SamplingParams(max_new_tokens=8)) == ids[:3]
    finally:
        chat_model.eos_token_ids.discard(ids[3])


def test_max_new_tokens_zero_and_too_long_prompt(chat_model):
    assert chat_model.generate(PROMPT, SamplingParams(max_new_tokens=0)) == ""
    with pytest.raises(ValueError, match="at most"):
        chat_model.generate_ids([5] * (chat_model.args.max_seq_len + 1), SamplingParams(max_new_tokens=1))


async def test_cancelling_the_stream_frees_its_state(chat_model):
    before = chat_model.generate(PROMPT, SamplingParams(max_new_tokens=3))
    started = asyncio.Event()

    async def consume():
        async for _ in chat_model.stream(PROMPT, SamplingParams(max_new_tokens=10_000)):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    assert chat_model.active_requests == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(200):  # the step running when the task was cancelled finishes, then the cache is freed
        if chat_model.active_requests == 0:
            break
        await asyncio.sleep(0.01)
    assert chat_model.active_requests == 0
    assert chat_model.generate(PROMPT, SamplingParams(max_new_tokens=3)) == before  # the same answer as before


async def test_concurrent_streams_each_match_their_solo_answer(chat_model):
    prompts = [PROMPT, [{"role": "user", "content": "Sort a list."}], "def fibonacci(n):"]
    params = SamplingParams(max_new_tokens=10)
    solo = [chat_model.generate(p, params) for p in prompts]
    together = await asyncio.gather(*(collect(chat_model, p, params) for p in prompts))
    assert ["".join(d) for d in together] == solo


@pytest.mark.parametrize(
    "text",
    [
        "    return s[::-1]\n",
        "héllo wörld",
        "日本語のテキスト",
        "emoji 🚀🎉 ok",
        "tabs\tand  double  spaces",
        " leading space",
    ],
)
def test_text_stream_deltas_rebuild_the_text_exactly(chat_model, text):
    tok = chat_model.tokenizer
    prompt = chat_model.encode_chat(PROMPT)
    ids = tok.encode(text, add_special_tokens=False)
    stream = TextStream(tok, prompt, stop=())
    deltas = [stream.push(t) for t in ids] + [stream.finish()]
    assert (
        "".join(deltas)
        == tok.decode(prompt + ids, skip_special_tokens=True)[len(tok.decode(prompt, skip_special_tokens=True)) :]
    )
    assert not any("\ufffd" in d for d in deltas)


def test_text_stream_holds_back_a_partial_stop_string(chat_model):
    tok = chat_model.tokenizer
    stream = TextStream(tok, [1], stop=["```"])
    ids = tok.encode("x = 1\n```\nmore", add_special_tokens=False)
    out = ""
    for token in ids:
        out += stream.push(token)
        if "".join(tok.convert_ids_to_tokens([token])).startswith("`"):
            assert out == "x = 1\n"  # a partial "```" is held back until it is decided
        if stream.stopped:
            break
    assert stream.stopped and out == "x = 1\n"
