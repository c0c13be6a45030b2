"""Remote-engine benchmark: `codellama-lsp serve` over HTTP (TCP) and over a unix socket against the same engine
in-process, measured side by side in one run.

The model is `bench/serving.py`'s (random weights, hidden 512, 8 layers, CodeLlama's vocabulary, float32) with
the end-of-sequence rows of its lm_head zeroed, so every answer runs to its full length. Each measurement
uses prompts of its own (the prefix cache never helps), the same ones on every side; the sides take turns,
and a ratio is the median over runs of served / in-process, each pair measured back to back.

    python bench/remote.py            (or: codellama-lsp bench remote)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch
from safetensors.torch import load_file, save_file

from codellama_lsp.bench.serving import SPEC, cpu_name, random_prompt, write_random_model
from codellama_lsp.engine import SamplingParams, ServingConfig, load_model

KV_CACHE_BYTES = 256 << 20  # the same budget on every side
CLIENTS, ANSWER_TOKENS = 8, 64
SIDES = ("in-process", "TCP", "unix socket")
PAUSE = 0.3  # seconds between measurements: the previous process's threads go idle, the machine settles


def never_ending(folder: Path, eos_ids: set[int]) -> None:
    """Zero the lm_head rows of the EOS tokens: their logit is 0, far below the argmax of 32,016 random ones."""
    path = folder / "model.safetensors"
    tensors = load_file(path)
    for token in eos_ids:
        tensors["lm_head.weight"][token] = 0
    save_file(tensors, str(path), metadata={"format": "pt"})


class Served:
    """A `codellama-lsp serve` process on a free TCP port or on a unix socket."""

    def __init__(self, folder: Path, log: Path, sock: Path | None = None):
        self.sock = sock
        if sock is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            where, self.url = ["--port", str(port)], f"http://127.0.0.1:{port}"
        else:
            where, self.url = ["--socket", str(sock)], "http://engine"
        command = [sys.executable, "-m", "codellama_lsp.server", "serve", "--model", str(folder), "--device", "cpu"]
        command += [*where, "--kv-cache-bytes", str(KV_CACHE_BYTES), "--log-file", str(log), "--log-level", "WARNING"]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def client(self) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=str(self.sock)) if self.sock else None
        return httpx.AsyncClient(base_url=self.url, transport=transport, timeout=300)

    async def wait_ready(self) -> None:
        async with self.client() as client:
            while True:
                try:
                    if (await client.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None:
                    raise RuntimeError("serve exited before it was ready")
                await asyncio.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


async def http_first_token(client: httpx.AsyncClient, ids: list[int]) -> float:
    """Seconds from sending a streamed request to its first event (the first token's text)."""
    body = {"prompt": ids, "max_tokens": 1, "temperature": 0, "stream": True}
    start, seconds = time.perf_counter(), None
    async with client.stream("POST", "/v1/completions", json=body) as response:
        async for line in response.aiter_lines():  # read to the end: the connection is kept for the next one
            if seconds is None and line.startswith("data: "):
                seconds = time.perf_counter() - start
    assert seconds is not None, "no event"
    return seconds


async def local_first_token(model, ids: list[int]) -> float:
    start, seconds = time.perf_counter(), None
    async for _ in model.stream_chunks(ids, SamplingParams(max_new_tokens=1)):
        seconds = time.perf_counter() - start if seconds is None else seconds
    assert seconds is not None, "no chunk"
    return seconds


async def http_throughput(client: httpx.AsyncClient, prompts: list[list[int]]) -> float:
    async def one(ids: list[int]) -> int:
        body = {"prompt": ids, "max_tokens": ANSWER_TOKENS, "temperature": 0, "stream": True}
        body["stream_options"] = {"include_usage": True}
        tokens = 0
        async with client.stream("POST", "/v1/completions", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: {") and '"usage"' in line:
                    tokens = json.loads(line[len("data: ") :])["usage"]["completion_tokens"]
        return tokens

    start = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(p) for p in prompts)))
    return tokens / (time.perf_counter() - start)


async def local_throughput(model, prompts: list[list[int]]) -> float:
    async def one(ids: list[int]) -> int:
        tokens = 0
        async for chunk in model.stream_chunks(ids, SamplingParams(max_new_tokens=ANSWER_TOKENS)):
            tokens = chunk.tokens
        return tokens

    start = time.perf_counter()
    tokens = sum(await asyncio.gather(*(one(p) for p in prompts)))
    return tokens / (time.perf_counter() - start)


async def measure(folder: Path, runs: int, throughput_runs: int) -> dict[str, dict[str, list[float]]]:
    """Samples by measure (long, short, rate) and side."""
    model = load_model(folder, serving=ServingConfig(kv_cache_bytes=KV_CACHE_BYTES))
    tcp, uds = Served(folder, folder / "tcp.log"), Served(folder, folder / "uds.log", folder / "run" / "engine.sock")
    try:
        await asyncio.gather(tcp.wait_ready(), uds.wait_ready())
        async with tcp.client() as tcp_client, uds.client() as uds_client:
            first = {
                "in-process": lambda ids: local_first_token(model, ids),
                "TCP": lambda ids: http_first_token(tcp_client, ids),
                "unix socket": lambda ids: http_first_token(uds_client, ids),
            }
            rate = {
                "in-process": lambda ps: local_throughput(model, ps),
                "TCP": lambda ps: http_throughput(tcp_client, ps),
                "unix socket": lambda ps: http_throughput(uds_client, ps),
            }
            for side in SIDES:  # warm-up: first requests, thread start, connections
                await first[side](random_prompt(64, 90))
                await rate[side]([random_prompt(16, 91 + i) for i in range(CLIENTS)])
            samples: dict[str, dict[str, list[float]]] = {m: {s: [] for s in SIDES} for m in ("long", "short", "rate")}
            for run in range(runs):
                for side in SIDES:  # the sides take turns, so drift in the machine's speed hits all alike
                    await asyncio.sleep(PAUSE)
                    samples["long"][side].append(await first[side](random_prompt(1000, 100 + run)))
                    await asyncio.sleep(PAUSE)
                    samples["short"][side].append(await first[side](random_prompt(16, 200 + run)))
            for run in range(throughput_runs):
                prompts = [random_prompt(32, 300 + CLIENTS * run + i) for i in range(CLIENTS)]
                for side in SIDES:
                    await asyncio.sleep(PAUSE)
                    samples["rate"][side].append(await rate[side](prompts))
    finally:
        tcp.stop()
        uds.stop()
        model.close()
    return samples


def paired_ratio(by_side: dict[str, list[float]], side: str) -> float:
    """The median over runs of served / in-process, each pair measured back to back."""
    return statistics.median(a / b for a, b in zip(by_side[side], by_side["in-process"]))


def table(samples: dict[str, dict[str, list[float]]], runs: int, throughput_runs: int) -> str:
    lines = [
        "| measure | in-process | serve, TCP | serve, unix socket | ratio TCP | ratio socket | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, what in (("long", "1,000-token prompt"), ("short", "16-token prompt")):
        by_side = samples[key]
        cells = [f"{statistics.median(by_side[s]) * 1e3:.1f} ms" for s in SIDES]
        cells += [f"{paired_ratio(by_side, s):.2f}×" for s in SIDES[1:]]
        lines.append(f"| first token, {what} (median of {runs}) | {' | '.join(cells)} | ≤ 1.1× |")
    by_side = samples["rate"]
    cells = [f"{statistics.median(by_side[s]):.1f} tok/s" for s in SIDES]
    cells += [f"{paired_ratio(by_side, s):.2f}×" for s in SIDES[1:]]
    what = f"{CLIENTS} concurrent clients × {ANSWER_TOKENS} tokens (median of {throughput_runs})"
    lines.append(f"| {what} | {' | '.join(cells)} | ≥ 0.9× |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="first-token samples per side and prompt")
    parser.add_argument("--throughput-runs", type=int, default=5)
    args = parser.parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_random_model(folder)
        with load_model(folder) as probe:
            eos = set(probe.eos_token_ids)
        never_ending(folder, eos)
        samples = asyncio.run(measure(folder, args.runs, args.throughput_runs))
    print(
        f"{time.strftime('%Y-%m-%d')} · {cpu_name()}, {torch.get_num_threads()} threads · torch {torch.__version__} · "
        f"model: hidden {SPEC.dim}, {SPEC.n_layers} layers, vocab {SPEC.vocab_size}, float32 · "
        f"{time.perf_counter() - started:.0f} s · load average {load:.1f} → {os.getloadavg()[0]:.1f}"
    )
    print(table(samples, args.runs, args.throughput_runs))


if __name__ == "__main__":
    main()
