"""Decode steps replayed from CUDA graphs: one graph per batch-size bucket, static inputs.

A decode step's shapes depend only on the batch size once the block table has a fixed
width (enough blocks for the longest sequence the model takes), so each bucket is captured
once and replayed with new inputs copied into its buffers: no Python, no launch overhead
and no host sync per layer, the greedy argmax taken on the GPU. Rows past the real batch
write into a scratch block no sequence owns. On a CPU the same static step runs eagerly
(tests use that). The first replay of each bucket is checked against the eager step; a
graph that fails or disagrees turns graphs off with a warning.
"""

from __future__ import annotations

import logging

import torch

from .attention import PagedAttention
from .kernels import PAGED_DECODE, resolve_kernel
from .kv_cache import PagedKVCache
from .model import Transformer
from .scheduler import Step

log = logging.getLogger(__name__)
BUCKETS = (1, 2, 4, 8, 16, 32)


class StaticDecode(PagedAttention):
    """PagedAttention for a decode-only step whose index tensors are fixed buffers."""

    def __init__(self, cache: PagedKVCache, batch: int, width: int, device: torch.device, kernel):
        self.cache, self.kernel, self.prefill, self.decode_rows = cache, kernel, [], None
        index = torch.int32 if kernel else torch.long
        self.slots = torch.zeros(batch, dtype=torch.long, device=device)  # [B]
        self.decode_blocks = torch.zeros(batch, width, dtype=index, device=device)  # [B, W]
        self.decode_lengths = torch.ones(batch, dtype=index, device=device)  # [B]
        self.positions = torch.arange(width * cache.block_size, device=device)  # [W * bs]

    @property
    def decode_visible(self) -> torch.Tensor:  # [B, W * bs], computed on the device inside the graph
        return self.positions[None, :] < self.decode_lengths[:, None]


class Bucket:
    def __init__(self, batch: int, width: int, cache: PagedKVCache, device: torch.device, kernel):
        self.batch = batch
        self.tokens = torch.zeros(batch, dtype=torch.long, device=device)
        self.positions = torch.zeros(batch, dtype=torch.long, device=device)
        self.attend = StaticDecode(cache, batch, width, device, kernel)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.logits = self.greedy = None  # outputs: [B, vocab], [B]


class DecodeGraphs:
    def __init__(
        self,
        transformer: Transformer,
        cache: PagedKVCache,
        scratch_block: int,
        device: torch.device,
        capture: bool,
        decode_kernel: str = "auto",
    ):
        self.transformer, self.cache, self.device, self.capture = transformer, cache, device, capture
        self.scratch_block = scratch_block  # written by padding rows; never given to a sequence
        self.width = -(-transformer.args.max_seq_len // cache.block_size)
        self.kernel = resolve_kernel(decode_kernel, device, PAGED_DECODE)  # "auto", "triton" or "torch"
        self.buckets: dict[int, Bucket] = {}
        self.enabled = True
        self.pool = None

    def supports(self, step: Step) -> bool:
        return self.enabled and len(step) <= BUCKETS[-1] and all(n == 1 for _, n in step)

    def run(self, step: Step, eager) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, vocab] and greedy tokens [B] of a decode-only step; `eager(step)` is the reference."""
        size = next(b for b in BUCKETS if b >= len(step))
        bucket = self.buckets.get(size)
        if bucket is None:
            bucket = self.buckets[size] = Bucket(size, self.width, self.cache, self.device, self.kernel)
            reference = eager(step)  # the step computed once the usual way; the graph must agree
            try:
                self._fill(bucket, step)
                self._build(bucket)
                logits, greedy = self._replay(bucket, step)
                error = float((logits - reference).norm() / reference.norm())
                if not error <= 1e-3:
                    raise RuntimeError(f"relative error {error:.2g} against the eager step")
            except Exception as e:  # a broken capture must not break decoding
                log.warning("decode graphs are off: the %d-row graph failed its check (%s)", size, e)
                self.enabled = False
                return reference, reference.argmax(-1)
            return logits, greedy
        self._fill(bucket, step)
        return self._replay(bucket, step)

    def _fill(self, b: Bucket, step: Step) -> None:
        """Copy the step's inputs into the bucket's buffers; padding rows use the scratch block."""
        bs, n = self.cache.block_size, len(step)
        tokens = [seq.token_ids[seq.num_computed] for seq, _ in step] + [0] * (b.batch - n)
        positions = [seq.num_computed for seq, _ in step] + [0] * (b.batch - n)
        tables = torch.full((b.batch, self.width), self.scratch_block, dtype=b.attend.decode_blocks.dtype)
        for row, (seq, _) in enumerate(step):
            tables[row, : len(seq.block_table)] = torch.tensor(seq.block_table, dtype=tables.dtype)
        slots = [int(tables[row, p // bs]) * bs + p % bs for row, p in enumerate(positions)]
        b.tokens.copy_(torch.tensor(tokens), non_blocking=True)
        b.positions.copy_(torch.tensor(positions), non_blocking=True)
        b.attend.slots.copy_(torch.tensor(slots), non_blocking=True)
        b.attend.decode_blocks.copy_(tables, non_blocking=True)
        b.attend.decode_lengths.copy_(torch.tensor(positions) + 1, non_blocking=True)

    def _forward(self, b: Bucket) -> None:
        with torch.inference_mode():
            b.logits = self.transformer(b.tokens, b.positions, b.attend)  # [B, vocab]
            b.greedy = b.logits.argmax(-1)  # [B], on the device

    def _build(self, b: Bucket) -> None:
        if not self.capture:
            return
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):  # warm up (Triton compiles, allocator settles) off the capture
            for _ in range(2):
                self._forward(b)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        b.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(b.graph, pool=self.pool):
            self._forward(b)
        self.pool = b.graph.pool()

    def _replay(self, b: Bucket, step: Step) -> tuple[torch.Tensor, torch.Tensor]:
        if b.graph is not None:
            b.graph.replay()
        else:
            self._forward(b)
        n = len(step)
        return b.logits[:n], b.greedy[:n]
