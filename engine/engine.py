"""The public model object: logits, generate and stream over a loaded checkpoint.

Generation goes through the serving loop: concurrent requests are decoded in one batch,
prompts that start like an earlier one reuse its cached KV blocks, and ghost text
(priority "inline") goes ahead of code actions.
"""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import AsyncIterator, Callable, Iterator
from collections.abc import Sequence as Seq
from contextlib import aclosing
from dataclasses import replace

import torch

from .block_manager import BlockManager
from .config import ModelArgs, ServingConfig
from .decode_graphs import DecodeGraphs
from .kv_cache import PagedKVCache, kv_cache_blocks, kv_memory, split_layer_devices
from .model import Transformer
from .model_runner import ModelRunner
from .placement import Placement
from .sampler import SamplingParams, make_generator
from .scheduler import Scheduler
from .sequence import Finish, Priority, Sequence
from .step_loop import StepLoop
from .text_stream import Chunk, TextStream
from .tokenizer import Messages, encode_chat, encode_prompt, require

log = logging.getLogger(__name__)
Prompt = str | Seq[int] | Messages
FINISH_REASONS = {"eos": "stop"}  # the engine's reasons as OpenAI names them


class Model:
    """A loaded Llama/GPTQ checkpoint. Use `load_model` to make one."""

    def __init__(
        self,
        transformer: Transformer,
        tokenizer,
        eos_token_ids: set[int],
        device: torch.device,
        dtype: torch.dtype,
        source: str,
        serving: ServingConfig = ServingConfig(),
        available_memory: int | None = None,  # bytes free for the KV cache; measured when None
        placement: Placement | None = None,  # where each layer lives when split across devices
    ):
        self.transformer = transformer
        self.tokenizer = tokenizer
        self.eos_token_ids = eos_token_ids
        self.device, self.dtype, self.source, self.serving = device, dtype, source, serving
        self.placement = placement
        kv_devices = split_layer_devices(transformer) or device
        if available_memory is None:
            available_memory = kv_memory(transformer, device)
        num_blocks = kv_cache_blocks(self.args, dtype, device, serving, available_memory) - 1  # the last: scratch
        if placement is not None:
            self.placement = placement.with_kv_blocks(num_blocks + 1)
        self.kv_cache = PagedKVCache(self.args, num_blocks + 1, serving.block_size, kv_devices, dtype)
        self.blocks = BlockManager(num_blocks, serving.block_size)
        drafts = serving.draft_tokens if serving.speculative else 0
        self.scheduler = Scheduler(self.blocks, serving.max_batch, serving.step_tokens, serving.max_waiting, drafts)
        graphs = None
        wanted = serving.decode_graphs == "on" or (serving.decode_graphs == "auto" and device.type == "cuda")
        if wanted and transformer.split is None:
            graphs = DecodeGraphs(transformer, self.kv_cache, num_blocks, device, capture=device.type == "cuda")
        elif wanted:
            log.info("decode graphs are off: a model split across devices decodes eagerly, segment by segment")
        self.runner = ModelRunner(transformer, self.kv_cache, device, graphs=graphs)
        self.loop = StepLoop(self.scheduler, self.runner)

    @property
    def args(self) -> ModelArgs:
        return self.transformer.args

    @property
    def active_requests(self) -> int:
        """Requests waiting or running in the engine now."""
        return len(self.scheduler.waiting) + len(self.scheduler.running)

    @property
    def device_label(self) -> str:
        """Where the model runs: "cuda:0", or each device of a split ("cuda:0,cuda:1")."""
        return ",".join(self.placement.devices) if self.placement else str(self.device)

    def stats(self) -> dict[str, int | float | str]:
        """The engine's state now: requests, KV blocks, how much prompt the prefix cache saved, and how many
        drafted tokens were verified (`draftSteps`: sequence-steps with a draft) and accepted."""
        blocks, s = self.blocks, self.scheduler
        return {
            "waiting": len(self.scheduler.waiting),
            "running": len(self.scheduler.running),
            "kvBlocks": blocks.num_blocks,
            "kvBlocksUsed": blocks.num_used,
            "kvBlocksCached": len(blocks.evictable),
            "blockSize": blocks.block_size,
            "kvCacheBytes": self.kv_cache.nbytes(),
            "promptTokens": blocks.prompt_tokens,
            "reusedTokens": blocks.reused_tokens,
            "draftedTokens": s.drafted,
            "acceptedTokens": s.accepted,
            "draftSteps": s.verified,
            "acceptanceRate": s.accepted / s.drafted if s.drafted else 0.0,
            "placement": self.placement.describe() if self.placement else f"{self.device}: the whole model",
        }

    def close(self) -> None:
        """End every request (they get EngineClosedError), wait for the step in flight, and let go of
        the CUDA graphs. Idempotent; the model refuses new requests afterwards. Also `with load_model(...)`."""
        self.loop.close()
        self.runner.graphs = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    @property
    def closed(self) -> bool:
        return self.loop.closed

    def __enter__(self) -> Model:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        a = self.args
        shape = f"layers={a.n_layers}, dim={a.dim}, vocab={a.vocab_size}"
        return f"Model({self.source!r}, {shape}, device={self.device_label}, dtype={self.dtype})"

    def encode_chat(self, messages: Messages) -> list[int]:
        return encode_chat(self.tokenizer, messages)

    def encode(self, prompt: Prompt) -> list[int]:
        ids = encode_prompt(self.tokenizer, prompt)
        if not ids:
            raise ValueError("the prompt is empty")
        if max(ids) >= self.args.vocab_size or min(ids) < 0:
            raise ValueError(f"token ids must be in [0, {self.args.vocab_size})")
        return ids

    def logits(self, ids: Seq[int]) -> torch.Tensor:
        """Full forward without a cache: [len(ids), vocab] float32 on the CPU."""
        tokens = torch.as_tensor(self.encode(list(ids)), dtype=torch.long, device=self.device)
        with self.loop.forward_lock, torch.inference_mode():
            return self.transformer(tokens).cpu()

    def submit(
        self, prompt: Prompt, params: SamplingParams, priority: Priority | str, emit: Callable[[object], None]
    ) -> Sequence:
        """Queue a request; `emit` gets each token id (from the engine's thread), then a `Finish` or an exception."""
        ids = self.encode(prompt)
        room = self.args.max_seq_len - len(ids)
        if room < 0:
            raise ValueError(f"the prompt has {len(ids)} tokens; the model takes at most {self.args.max_seq_len}")
        if params.max_new_tokens > room:
            params = replace(params, max_new_tokens=room)
        seq = Sequence(
            ids,
            params,
            Priority.parse(priority),
            frozenset(self.eos_token_ids),
            make_generator(params, self.transformer.norm.weight.device),  # where the logits are
            emit,
        )
        if params.max_new_tokens == 0:
            emit(Finish("length"))
        else:
            self.loop.submit(seq)
        return seq

    def abort(self, seq: Sequence) -> None:
        """Stop a request now and free its KV blocks (prefix blocks shared with others stay)."""
        self.loop.abort(seq)

    def _token_items(self, prompt: Prompt, params: SamplingParams, priority: Priority | str) -> Iterator[int]:
        items: queue.SimpleQueue = queue.SimpleQueue()
        seq = self.submit(prompt, params, priority, items.put)
        try:
            while not isinstance(item := items.get(), Finish):
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.abort(seq)

    def generate_ids(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), priority: Priority | str = "action"
    ) -> list[int]:
        """The generated token ids (without the prompt or EOS); stop strings are not applied."""
        return list(self._token_items(prompt, params, priority))

    def generate(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), priority: Priority | str = "action"
    ) -> str:
        """The whole answer; stops at EOS or a stop string (not included)."""
        ids = self.encode(prompt)
        text = TextStream(require(self.tokenizer, "text output"), ids, params.stop)
        tokens = self._token_items(ids, params, priority)
        out = []
        try:
            for token in tokens:
                out.append(text.push(token))
                if text.stopped:
                    return "".join(out)
            return "".join(out) + text.finish()
        finally:
            tokens.close()

    async def stream(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), priority: Priority | str = "action"
    ) -> AsyncIterator[str]:
        """Text deltas as they are decoded; cancelling the consuming task ends the request and frees its KV."""
        async with aclosing(self.stream_chunks(prompt, params, priority)) as chunks:
            async for chunk in chunks:
                if chunk.text:
                    yield chunk.text

    async def stream_chunks(
        self, prompt: Prompt, params: SamplingParams = SamplingParams(), priority: Priority | str = "action"
    ) -> AsyncIterator[Chunk]:
        """`Chunk`s as text is decoded, the last with its finish reason. The request is queued at the first
        `__anext__`; cancelling the consumer or closing the iterator ends it and frees its KV at once."""
        ids = self.encode(prompt)
        text = TextStream(require(self.tokenizer, "text output"), ids, params.stop)
        loop = asyncio.get_running_loop()
        items: asyncio.Queue = asyncio.Queue()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, item)
            except RuntimeError:  # the consumer's event loop is gone
                pass

        seq = self.submit(ids, params, priority, emit)
        tokens = 0
        try:
            while not isinstance(item := await items.get(), Finish):
                if isinstance(item, BaseException):
                    raise item
                tokens += 1
                delta = text.push(item)
                if text.stopped:
                    yield Chunk(delta, tokens, "stop")
                    return
                if delta:
                    yield Chunk(delta, tokens)
            yield Chunk(text.finish(), tokens, FINISH_REASONS.get(item.reason, item.reason))
        finally:
            self.abort(seq)
