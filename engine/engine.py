"""The public model object: logits, generate and stream over a loaded checkpoint."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import AsyncIterator, Iterator, Sequence

import torch

from .config import ModelArgs
from .kv_cache import KVCache
from .model import Transformer
from .sampler import SamplingParams, make_generator, sample
from .text_stream import TextStream
from .tokenizer import Messages, encode_chat, encode_prompt, require

Prompt = str | Sequence[int] | Messages
_DONE = object()


class Model:
    """A loaded Llama/GPTQ checkpoint. Use `load_model` to make one."""

    def __init__(self, transformer: Transformer, tokenizer, eos_token_ids: set[int], device: torch.device, dtype: torch.dtype, source: str):
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.eos_token_ids = eos_token_ids
        self.device, self.dtype, self.source = device, dtype, source
        self._forward_lock = threading.Lock()  # one forward at a time; concurrent streams interleave by step
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="codellama-engine")
        self.active_requests = 0  # generations holding a KV cache right now

    @property
    def args(self) -> ModelArgs:
        return self.transformer.args

    def __repr__(self) -> str:
        a = self.args
        return f"Model({self.source!r}, layers={a.n_layers}, dim={a.dim}, vocab={a.vocab_size}, device={self.device}, dtype={self.dtype})"

    def encode_chat(self, messages: Messages) -> list[int]:
        return encode_chat(self.tokenizer, messages)

    def encode(self, prompt: Prompt) -> list[int]:
        ids = encode_prompt(self.tokenizer, prompt)
        if not ids:
            raise ValueError("the prompt is empty")
        if max(ids) >= self.args.vocab_size or min(ids) < 0:
            raise ValueError(f"token ids must be in [0, {self.args.vocab_size})")
        return ids

    def _forward(self, ids: Sequence[int] | torch.Tensor, cache: KVCache | None) -> torch.Tensor:
        tokens = torch.as_tensor(ids, dtype=torch.long, device=self.device).view(1, -1)
        with self._forward_lock, torch.inference_mode():
            return self.transformer(tokens, cache)[0]  # [T, vocab]

    def logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Full forward without a cache: [len(ids), vocab] float32 on the CPU."""
        return self._forward(self.encode(list(ids)), None).cpu()

    def generate_ids(self, prompt: Prompt, params: SamplingParams = SamplingParams()) -> list[int]:
        """The generated token ids (without the prompt or EOS); stop strings are not applied."""
        return list(self._tokens(self.encode(prompt), params))

    def _tokens(self, ids: list[int], params: SamplingParams) -> Iterator[int]:
        """Decode with a KV cache, one token per iteration; closing the iterator frees the cache."""
        budget = min(params.max_new_tokens, self.args.max_seq_len - len(ids))
        if budget < 0:
            raise ValueError(f"the prompt has {len(ids)} tokens; the model takes at most {self.args.max_seq_len}")
        cache = KVCache(self.args, self.device, self.dtype, capacity=len(ids) + min(budget, 256))
        generator = make_generator(params, self.device)
        history = torch.tensor(ids, dtype=torch.long, device=self.device)
        self.active_requests += 1
        try:
            if budget == 0:
                return
            logits = self._forward(ids, cache)[-1]  # prefill
            for i in range(budget):
                token = sample(logits, history, params, generator)
                if token in self.eos_token_ids:
                    return
                yield token
                if i + 1 < budget:
                    history = torch.cat([history, history.new_tensor([token])])
                    logits = self._forward([token], cache)[-1]
        finally:
            cache.free()
            self.active_requests -= 1

    def _text(self, prompt: Prompt, params: SamplingParams) -> Iterator[str]:
        ids = self.encode(prompt)
        text = TextStream(require(self.tokenizer, "text output"), ids, params.stop)
        tokens = self._tokens(ids, params)
        try:
            for token in tokens:
                delta = text.push(token)
                if delta:
                    yield delta
                if text.stopped:
                    return
            tail = text.finish()
            if tail:
                yield tail
        finally:
            tokens.close()

    def generate(self, prompt: Prompt, params: SamplingParams = SamplingParams()) -> str:
        """The whole answer; stops at EOS or a stop string (not included)."""
        return "".join(self._text(prompt, params))

    async def stream(self, prompt: Prompt, params: SamplingParams = SamplingParams()) -> AsyncIterator[str]:
        """Text deltas as they are decoded; cancelling the consuming task ends generation and frees its cache."""
        deltas = self._text(prompt, params)
        step: Future | None = None
        try:
            while True:
                step = self._workers.submit(next, deltas, _DONE)
                delta = await asyncio.wrap_future(step)
                if delta is _DONE:
                    return
                yield delta
        finally:
            if step is not None and not step.done():
                step.add_done_callback(lambda _: deltas.close())  # close once the running step returns
            else:
                deltas.close()
