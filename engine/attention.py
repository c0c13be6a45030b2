"""Attention over the KV a step can see: the prompt alone, or paged cache blocks for a batch.

A step's tokens are flattened: T = sum of each sequence's new tokens. q [T, H, D];
k, v [T, KVH, D]; H = G * KVH query heads share each KV head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import torch
import torch.nn.functional as F

from .kv_cache import PagedKVCache


class CausalAttention:
    """One sequence, no cache: every token sees itself and the ones before it."""

    def __call__(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        out = F.scaled_dot_product_attention(
            q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], is_causal=True, enable_gqa=True
        )  # [1, H, T, D]
        return out[0].transpose(0, 1)


@dataclass(frozen=True)
class Segment:
    """One sequence's new tokens in a step: rows [row, row+n) at positions [start, start+n)."""

    row: int
    n: int
    start: int
    block_table: list[int]


class PagedAttention:
    """Writes the step's keys/values into their slots, then attends over each sequence's blocks.

    Single-token segments (decode) are attended together: by the Triton kernel, which reads
    each sequence's own blocks (`kernel`: the paged-decode module `kernels.resolve_kernel`
    picked), or in torch, padded to the longest and masked. Longer segments (prompt chunks)
    one by one, causally, over their cached prefix and themselves.
    """

    def __init__(
        self, cache: PagedKVCache, segments: list[Segment], device: torch.device, kernel: ModuleType | None = None
    ):
        self.cache = cache
        self.kernel = kernel
        bs = cache.block_size
        slots = [
            seg.block_table[p // bs] * bs + p % bs for seg in segments for p in range(seg.start, seg.start + seg.n)
        ]
        self.slots = torch.tensor(slots, dtype=torch.long, device=device)  # [T]
        decode = [seg for seg in segments if seg.n == 1]
        self.prefill = [seg for seg in segments if seg.n > 1]
        self.decode_rows = None
        if decode:
            width = max(len(seg.block_table) for seg in decode)
            table = [seg.block_table + [0] * (width - len(seg.block_table)) for seg in decode]
            self.decode_rows = torch.tensor([seg.row for seg in decode], dtype=torch.long, device=device)  # [B]
            index = torch.int32 if self.kernel else torch.long
            self.decode_blocks = torch.tensor(table, dtype=index, device=device)  # [B, nb]
            self.decode_lengths = torch.tensor([seg.start + 1 for seg in decode], dtype=index, device=device)  # [B]
            if not self.kernel:
                self.decode_visible = (
                    torch.arange(width * bs, device=device)[None, :] < self.decode_lengths[:, None]
                )  # [B, S]
        self.prefill_blocks = {
            seg.row: torch.tensor(seg.block_table[: -(-(seg.start + seg.n) // bs)], dtype=torch.long, device=device)
            for seg in self.prefill
            if seg.start > 0
        }

    def __call__(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        k_slots, v_slots = self.cache.keys[layer], self.cache.values[layer]
        k_slots.index_copy_(0, self.slots, k)
        v_slots.index_copy_(0, self.slots, v)
        if not self.prefill:  # decode only: row i is sequence i
            return self._decode(layer, q)
        out = torch.empty_like(q)  # [T, H, D]
        if self.decode_rows is not None:
            out[self.decode_rows] = self._decode(layer, q[self.decode_rows])
        k_blocks, v_blocks = self.cache.blocks(layer)  # [num_blocks, bs, KVH, D]
        for seg in self.prefill:
            rows = slice(seg.row, seg.row + seg.n)
            if seg.start == 0:  # nothing cached: the chunk attends to itself
                keys, values, mask = k[rows], v[rows], None
            else:
                end = seg.start + seg.n
                blocks = self.prefill_blocks[seg.row]
                keys = k_blocks[blocks].flatten(0, 1)[:end]  # [S, KVH, D]
                values = v_blocks[blocks].flatten(0, 1)[:end]
                positions = torch.arange(seg.start, end, device=q.device)
                mask = torch.arange(end, device=q.device)[None, :] <= positions[:, None]  # [n, S]
            o = F.scaled_dot_product_attention(
                q[rows].transpose(0, 1)[None], keys.transpose(0, 1)[None], values.transpose(0, 1)[None],
                attn_mask=mask, is_causal=mask is None, enable_gqa=True,
            )  # fmt: skip
            out[rows] = o[0].transpose(0, 1)
        return out

    def _decode(self, layer: int, q: torch.Tensor) -> torch.Tensor:
        """q [B, H, D] -> [B, H, D], each row over its own visible keys."""
        B, H, D = q.shape
        if self.kernel:  # reads only each sequence's own blocks
            k_slots, v_slots = self.cache.keys[layer], self.cache.values[layer]  # [slots, KVH, D]
            bs = self.cache.block_size
            return self.kernel.paged_decode_attention(
                q, k_slots, v_slots, self.decode_blocks, self.decode_lengths, bs, D**-0.5
            )
        k_blocks, v_blocks = self.cache.blocks(layer)  # [num_blocks, bs, KVH, D]
        keys = k_blocks[self.decode_blocks].flatten(1, 2)  # [B, S, KVH, D]
        values = v_blocks[self.decode_blocks].flatten(1, 2)
        kvh = keys.shape[2]
        q = q.view(B, kvh, H // kvh, D)  # [B, KVH, G, D]
        scores = q @ keys.permute(0, 2, 3, 1) / math.sqrt(D)  # [B, KVH, G, S]
        scores = scores.float().masked_fill(~self.decode_visible[:, None, None, :], float("-inf"))
        weights = scores.softmax(-1).to(values.dtype)
        return (weights @ values.transpose(1, 2)).view(B, H, D)  # [B, KVH, G, D] -> [B, H, D]
