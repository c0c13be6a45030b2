"""GPTQ bit packing: `bits`-wide integers packed into int32 words, low bits first.

Every width uses the same rule: 32 consecutive values form one little-endian bit stream
of `bits` words, so value j starts at bit j*bits. For 2, 4 and 8 bits no value crosses a
word; for 3 bits values 10 and 21 straddle words.
"""

from __future__ import annotations

import torch

WORD = 32


def _split_offsets(bits: int) -> list[tuple[int, int]]:
    """(word index, bit offset) of each of the 32 values in one block."""
    return [divmod(j * bits, WORD) for j in range(WORD)]


def unpack(packed: torch.Tensor, bits: int, dim: int) -> torch.Tensor:
    """int32 words packed along `dim` -> int64 values in [0, 2**bits), 32/bits times longer."""
    words = packed.movedim(dim, -1).to(torch.int64) & 0xFFFFFFFF  # [..., W]
    assert words.shape[-1] % bits == 0, f"{words.shape[-1]} words is not a whole number of {bits}-bit blocks"
    blocks = words.reshape(*words.shape[:-1], -1, bits)  # [..., W/bits, bits]
    mask = (1 << bits) - 1
    values = []
    for word, offset in _split_offsets(bits):
        v = blocks[..., word] >> offset
        if offset + bits > WORD:  # straddles into the next word
            v = v | (blocks[..., word + 1] << (WORD - offset))
        values.append(v & mask)
    out = torch.stack(values, dim=-1)  # [..., W/bits, 32]
    return out.reshape(*words.shape[:-1], -1).movedim(-1, dim)


def pack(values: torch.Tensor, bits: int, dim: int) -> torch.Tensor:
    """Inverse of `unpack`: values in [0, 2**bits) along `dim` (a multiple of 32) -> int32 words."""
    v = values.movedim(dim, -1).to(torch.int64)
    assert v.shape[-1] % WORD == 0, f"{v.shape[-1]} values is not a multiple of 32"
    assert int(v.min()) >= 0 and int(v.max()) < (1 << bits), f"values out of range for {bits} bits"
    blocks = v.reshape(*v.shape[:-1], -1, WORD)  # [..., K/32, 32]
    words = torch.zeros(*blocks.shape[:-1], bits, dtype=torch.int64)
    for j, (word, offset) in enumerate(_split_offsets(bits)):
        words[..., word] |= (blocks[..., j] << offset) & 0xFFFFFFFF
        if offset + bits > WORD:
            words[..., word + 1] |= blocks[..., j] >> (WORD - offset)
    words = words.reshape(*v.shape[:-1], -1)
    words = torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)
    return words.movedim(-1, dim).contiguous()


def _carry_chain(bits: int) -> int:
    """How many values share one integer in packed arithmetic: one word, or a 3-word block."""
    return WORD if WORD % bits else WORD // bits


def shift_zeros(values: torch.Tensor, bits: int, delta: int) -> torch.Tensor:
    """Add `delta` (+1 or -1) to every packed zero-point as integer arithmetic on the words.

    GPTQ v1 stores zero-1 by subtracting a constant from the packed integers, so a zero of
    0 borrows from its neighbour; adding back reproduces the true zeros exactly.
    `values` are unpacked along the last dim.
    """
    assert delta in (1, -1)
    mask, chain = (1 << bits) - 1, _carry_chain(bits)
    v = values.to(torch.int64).reshape(*values.shape[:-1], -1, chain).clone()
    carry = torch.zeros_like(v[..., 0])
    for j in range(chain):
        t = v[..., j] + delta + carry
        carry = torch.where(t > mask, 1, torch.where(t < 0, -1, 0))
        v[..., j] = t & mask
    return v.reshape(values.shape)
