"""The layout fast kernels want, made once at load on the weights' device.

Two rewrites of a `QuantLinear`, both exact and both visible on the layer:
- act-order: rows (K) sorted by group, `perm = argsort(g_idx)`, so each group is a contiguous
  run of rows; the layer then stores `perm` and inputs are gathered as x[..., perm];
- v1 zeros (stored zero-1) become v2 zeros (the true zero-points), repacked the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib

import torch

from ..packing import WORD, shift_zeros, unpack
from ..quant import QuantLinear

COLUMN_CHUNK = 2048  # columns repacked at a time: bounds the temporary int64 copy


def pack_on_device(values: torch.Tensor, bits: int, dim: int) -> torch.Tensor:
    """`packing.pack` on the values' own device, without its range checks (values in [0, 2**bits))."""
    v = values.movedim(dim, -1).to(torch.int64)
    blocks = v.reshape(*v.shape[:-1], -1, WORD)  # [..., n/32, 32]
    words = torch.zeros(*blocks.shape[:-1], bits, dtype=torch.int64, device=v.device)
    for j in range(WORD):
        word, offset = divmod(j * bits, WORD)
        words[..., word] |= (blocks[..., j] << offset) & 0xFFFFFFFF
        if offset + bits > WORD:  # straddles into the next word
            words[..., word + 1] |= blocks[..., j] >> (WORD - offset)
    words = words.reshape(*v.shape[:-1], -1)
    words = torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)
    return words.movedim(-1, dim).contiguous()


def contiguous_groups(in_features: int, group_size: int, device: torch.device) -> torch.Tensor:
    """g_idx of rows sorted by group: [K] int64, group_size rows per group."""
    if group_size <= 0:
        return torch.zeros(in_features, dtype=torch.int64, device=device)
    return torch.arange(in_features, device=device) // group_size


def sort_rows(qweight: torch.Tensor, perm: torch.Tensor, bits: int, in_features: int) -> torch.Tensor:
    """Packed int32 [K*bits/32, N] -> the same with row k holding old row perm[k]."""
    out = torch.empty_like(qweight)
    for c in range(0, qweight.shape[1], COLUMN_CHUNK):
        q = unpack(qweight[:, c : c + COLUMN_CHUNK], bits, dim=0)[:in_features]  # [K, chunk]
        out[:, c : c + COLUMN_CHUNK] = pack_on_device(q[perm], bits, dim=0)
        del q
    return out


def row_permutation(layer: QuantLinear) -> tuple[torch.Tensor | None, bool]:
    """(perm or None when g_idx is already consecutive, whether sorted rows form equal groups)."""
    g = layer.g_idx.long()
    want = contiguous_groups(layer.in_features, layer.quant.group_size, g.device)
    if torch.equal(g, want):
        return None, True
    perm = torch.argsort(g, stable=True)
    return perm, torch.equal(g[perm], want)


class PermutationPool:
    """Layers with equal permutations (q/k/v, gate/up) share one tensor, so callers can gather once."""

    def __init__(self) -> None:
        self._pool: dict[tuple[str, bytes], torch.Tensor] = {}

    def share(self, perm: torch.Tensor) -> torch.Tensor:
        key = (str(perm.device), hashlib.sha1(perm.cpu().numpy().tobytes()).digest())
        return self._pool.setdefault(key, perm)


def normalize(layer: QuantLinear, pool: PermutationPool | None = None) -> bool:
    """Rewrite `layer` in place into sorted-row, v2-zero form; False (untouched) if its groups are uneven."""
    perm, even = row_permutation(layer)
    if not even:
        return False
    bits = layer.quant.bits
    if perm is not None:
        layer.qweight = sort_rows(layer.qweight, perm, bits, layer.in_features)
        layer.g_idx = contiguous_groups(layer.in_features, layer.quant.group_size, perm.device).to(torch.int32)
        layer.perm = pool.share(perm) if pool is not None else perm
    if layer.quant.zeros_stored_minus_one:
        zeros = shift_zeros(unpack(layer.qzeros, bits, dim=1), bits, +1)  # [G, words*32/bits]
        layer.qzeros = pack_on_device(zeros, bits, dim=1)
        layer.quant = dataclasses.replace(layer.quant, checkpoint_format="gptq_v2")
    return True
