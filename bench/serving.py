"""Serving benchmark: the engine against its baselines, measured side by side in one run.

Two models, each written to a temporary folder and loaded twice (by the engine and by
transformers), float32, unquantized: a random Llama (hidden 512, 8 layers, CodeLlama's
32,016-token vocabulary and tokenizer), and the demo's trained SmolLM2-135M-Instruct
(hidden 576, 30 thin layers, where per-token overhead shows). Prints one table: raw
figures beside their ratios, a column per model.

    python bench/serving.py            (or: codellama-lsp bench serving)
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import torch

from codellama_lsp.engine import SamplingParams, load_model
from codellama_lsp.engine.demo import tokenizer_files
from codellama_lsp.engine.sequence import Finish
from codellama_lsp.engine.synthetic import SyntheticSpec, write_checkpoint

SPEC = SyntheticSpec(
    vocab_size=32016, dim=512, n_layers=8, n_heads=8, n_kv_heads=2, intermediate_size=1408, max_seq_len=8192
)


def random_prompt(n: int, seed: int, vocab: int = 32000) -> list[int]:
    return [1] + torch.randint(3, vocab, (n - 1,), generator=torch.Generator().manual_seed(seed)).tolist()


def write_random_model(folder: Path) -> None:
    write_checkpoint(folder, SPEC, None, seed=0, dtype=torch.float32)
    for f in tokenizer_files().iterdir():
        if f.suffix == ".json":
            shutil.copyfile(f, folder / f.name)


def write_real_model(folder: Path) -> None:
    """SmolLM2-135M-Instruct unquantized (the demo's weights, before its 8-bit packing)."""
    from codellama_lsp.engine.demo import demo_gguf
    from codellama_lsp.engine.gguf_import import write_llama_checkpoint

    write_llama_checkpoint(demo_gguf(), folder, bits=None)


MODELS = {  # column -> (writer, vocabulary size for random prompts)
    "random, 8 layers": (write_random_model, 32000),
    "SmolLM2-135M, 30 layers": (write_real_model, 49152),
}


def engine_decode_rate(model, prompt: list[int], n: int) -> float:
    """Tokens/s between the first and the last token of one greedy request."""
    stamps: list[float] = []
    finished = threading.Event()
    model.submit(
        prompt,
        SamplingParams(max_new_tokens=n),
        "action",
        lambda item: (
            finished.set() if isinstance(item, (Finish, BaseException)) else stamps.append(time.perf_counter())
        ),
    )
    finished.wait()
    assert len(stamps) == n, f"stopped after {len(stamps)} tokens"
    return (n - 1) / (stamps[-1] - stamps[0])


def transformers_decode_rate(folder: Path, prompt: list[int], n: int) -> float:
    from transformers import LlamaForCausalLM
    from transformers.generation.streamers import BaseStreamer

    hf = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    stamps: list[float] = []

    class Stamps(BaseStreamer):
        def put(self, value):
            stamps.append(time.perf_counter())

        def end(self):
            pass

    ids = torch.tensor([prompt])
    hf.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False, streamer=Stamps(), pad_token_id=0)
    stamps = stamps[1:]  # the first put is the prompt
    assert len(stamps) == n
    return (n - 1) / (stamps[-1] - stamps[0])


def weight_floor_rate(model) -> float:
    """Tokens/s if a batch-1 step did nothing but its weight matmuls (every projection, one row)."""
    from codellama_lsp.engine.dense import Dense

    weights = [m.weight_t for m in model.transformer.modules() if isinstance(m, Dense)]
    inputs = {w.shape[0]: torch.randn(1, w.shape[0]) for w in weights}

    def one_token():
        for w in weights:
            inputs[w.shape[0]] @ w

    for _ in range(3):
        one_token()
    start = time.perf_counter()
    for _ in range(20):
        one_token()
    return 20 / (time.perf_counter() - start)


async def first_token_time(model, prompt: list[int], priority: str = "action") -> float:
    start = time.perf_counter()
    async for _ in model.stream(prompt, SamplingParams(max_new_tokens=1), priority):
        pass
    return time.perf_counter() - start


async def throughput(model, prompts: list[list[int]], n: int, concurrent: bool) -> float:
    async def one(p):
        ids = 0
        async for _ in model.stream(p, SamplingParams(max_new_tokens=n)):
            ids += 1
        return ids

    start = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(one(p) for p in prompts))
    else:
        for p in prompts:
            await one(p)
    return len(prompts) * n / (time.perf_counter() - start)


async def inline_beside_action(model, action: list[int], inline: list[int]) -> float:
    """First-token time of an inline request submitted while `action` is being prefilled."""
    steps = model.loop.steps
    task = asyncio.create_task(first_token_time(model, action, "action"))
    while model.loop.steps == steps and not task.done():  # the action's first chunk is done; its next is running
        await asyncio.sleep(0.001)
    seconds = await first_token_time(model, inline, "inline")
    await task
    return seconds


async def candidates_run(model, prompt: list[int], k: int, n: int) -> tuple[float, int, int]:
    """`k` candidates of `n` tokens for one prompt, submitted together as the server does (the first greedy,
    the others sampled): (seconds to the last token, most KV blocks in use, prompt tokens computed)."""
    blocks, peak, done = model.blocks, [0], asyncio.Event()
    computed = blocks.prompt_tokens - blocks.reused_tokens

    async def watch():
        while not done.is_set():
            peak[0] = max(peak[0], blocks.num_used)
            await asyncio.sleep(0.001)

    async def one(temperature: float):
        async for _ in model.stream(prompt, SamplingParams(temperature=temperature, max_new_tokens=n), "inline"):
            pass

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    await asyncio.gather(*(one(0.0 if i == 0 else 0.8) for i in range(k)))
    seconds = time.perf_counter() - start
    done.set()
    await watcher
    return seconds, peak[0], blocks.prompt_tokens - blocks.reused_tokens - computed


Row = tuple[str, str, str, float, str]  # measure, engine, baseline, ratio, target


def table(columns: dict[str, list[Row]]) -> str:
    """One row per measure; per model its engine figure, baseline figure and ratio."""
    names = list(columns)
    head = "| measure | target | " + " | ".join(f"{n}: engine | baseline | ratio" for n in names) + " |"
    lines = [head, "|---|---|" + "---|---|---|" * len(names)]
    for i, (measure_, *_, target) in enumerate(columns[names[0]]):
        cells = " | ".join(f"{e} | {b} | {r:.1f}×" for _, e, b, r, _ in (columns[n][i] for n in names))
        lines.append(f"| {measure_} | {target} | {cells} |")
    return "\n".join(lines)


async def measure(folder: Path, decode_tokens: int, vocab: int) -> list[Row]:
    model = load_model(folder, dtype="float32")
    model.eos_token_ids.clear()  # always generate the full length
    prompt = lambda n, seed: random_prompt(n, seed, vocab)  # noqa: E731
    engine_rate = engine_decode_rate(model, prompt(64, 1), decode_tokens)
    hf_rate = transformers_decode_rate(folder, prompt(64, 1), decode_tokens)
    floor = weight_floor_rate(model)

    await first_token_time(model, prompt(2000, 2))  # the prefix, now cached
    cached = await first_token_time(model, prompt(2000, 2) + prompt(21, 3)[1:])
    cold = await first_token_time(model, prompt(2000, 4) + prompt(21, 3)[1:])

    prompts = [prompt(32, 10 + i) for i in range(8)]
    together = await throughput(model, prompts, 64, concurrent=True)
    one_by_one = await throughput(model, [prompt(32, 20 + i) for i in range(8)], 64, concurrent=False)

    alone = await first_token_time(model, prompt(1000, 30), "inline")
    beside = await inline_beside_action(model, prompt(2000, 31), prompt(1000, 32))
    one_candidate = await candidates_run(model, prompt(1000, 40), 1, 32)
    three_candidates = await candidates_run(model, prompt(1000, 41), 3, 32)  # a prompt not cached either
    model.close()
    step = model.serving.step_tokens
    return [
        (
            "decode, batch 1 (64-token prompt)",
            f"{engine_rate:.1f} tok/s",
            f"transformers `generate` {hf_rate:.1f} tok/s",
            engine_rate / hf_rate,
            "≥ 2×",
        ),
        (
            "decode, batch 1: step time against its weight matmuls alone (the floor)",
            f"{1e3 / engine_rate:.1f} ms, {engine_rate / floor:.0%} of the floor's rate",
            f"weight matmuls {1e3 / floor:.1f} ms; transformers {1e3 / hf_rate:.1f} ms ({hf_rate / floor:.0%})",
            floor / engine_rate,
            "(context)",
        ),
        (
            "first token: 2,000 cached + 20 new tokens",
            f"{cached * 1e3:.0f} ms",
            f"cold {cold * 1e3:.0f} ms",
            cold / cached,
            "≥ 10×",
        ),
        (
            "8 concurrent requests × 64 tokens",
            f"{together:.1f} tok/s",
            f"one after another {one_by_one:.1f} tok/s",
            together / one_by_one,
            "≥ 3×",
        ),
        (
            f"inline first token (1,000-token prompt) while a 2,000-token action prefills ({step}-token chunks)",
            f"{beside * 1e3:.0f} ms",
            f"alone {alone * 1e3:.0f} ms",
            beside / alone,
            "≤ 2×",
        ),
        (
            "3 candidates × 32 tokens of one uncached 1,000-token prompt, submitted together: time to the last token",
            "{:.0f} ms, {} KV blocks at most, {} prompt tokens computed".format(
                three_candidates[0] * 1e3, *three_candidates[1:]
            ),
            "1 candidate {:.0f} ms, {} blocks, {} computed".format(one_candidate[0] * 1e3, *one_candidate[1:]),
            three_candidates[0] / one_candidate[0],
            "≤ 1.3× (GPU)",
        ),
    ]


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decode-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    columns = {}
    for name, (write, vocab) in MODELS.items():
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp))
            columns[name] = asyncio.run(measure(Path(tmp), args.decode_tokens, vocab))
    cpu = cpu_name()
    print(
        f"{date.today()} · {cpu}, {torch.get_num_threads()} threads · torch {torch.__version__} · "
        f"float32 · {time.perf_counter() - started:.0f} s"
    )
    print(table(columns))


if __name__ == "__main__":
    main()
