"""Triton building blocks shared by the decode and prefill kernels: unpack and dequantize a tile.

The weights are in the layout `layout.normalize` makes: rows sorted by group, so a tile of
BLOCK_K rows (a multiple of 32 dividing the group size) lies in one group, and v2 zeros.
Packing (see `packing.py`): 32 values form one little-endian bit stream of BITS int32 words;
value j starts at bit j*BITS, and for 3 bits values 10 and 21 straddle two words.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def tile_offsets(offs_n, BLOCK_K: tl.constexpr, BITS: tl.constexpr):
    """Unpacking offsets, the same for every K tile (tiles start at multiples of 32 rows).

    -> row r of a tile: (word after the tile's first word, bit shift) [BK];
       column n's zero-point: (word in its group's row, bit shift) [BN].
    """
    r = tl.arange(0, BLOCK_K)
    if BITS == 3:
        r_bit, n_bit = (r % 32) * 3, (offs_n % 32) * 3
        r_word, n_word = (r // 32) * 3 + r_bit // 32, (offs_n // 32) * 3 + n_bit // 32
        r_shift, n_shift = r_bit % 32, n_bit % 32
    else:
        r_word, n_word = r // (32 // BITS), offs_n // (32 // BITS)
        r_shift, n_shift = (r % (32 // BITS)) * BITS, (offs_n % (32 // BITS)) * BITS
    return r_word, r_shift.to(tl.uint32), n_word, n_shift.to(tl.uint32)


@triton.jit
def dequant_tile(
    qw_ptr, qz_ptr, s_ptr, k0, offs_n, K, N,
    r_word, r_shift, n_word, n_shift,
    stride_qw, stride_qz, stride_s,
    BITS: tl.constexpr, GROUP: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    """W[k0:k0+BLOCK_K, offs_n] as float32 [BK, BN]; the rows lie in one group (GROUP 0: one group).

    Offsets come from `tile_offsets`. One function on purpose: the interpreter pays per nested call.
    """
    n_mask = offs_n < N
    mask = (k0 + tl.arange(0, BLOCK_K) < K)[:, None] & n_mask[None, :]
    if GROUP > 0:
        g = k0 // GROUP
    else:
        g = 0
    w_ptrs = qw_ptr + (k0 // 32 * BITS + r_word)[:, None] * stride_qw + offs_n[None, :]  # [BK, BN]
    z_ptrs = qz_ptr + g * stride_qz + n_word  # [BN], the group's zero-points, packed along N
    q = tl.load(w_ptrs, mask=mask, other=0).to(tl.uint32, bitcast=True) >> r_shift[:, None]
    z = tl.load(z_ptrs, mask=n_mask, other=0).to(tl.uint32, bitcast=True) >> n_shift
    if BITS == 3:  # values 10 and 21 of a block continue in the next word's low bits
        q_hi = tl.load(w_ptrs + stride_qw, mask=mask & (r_shift > 29)[:, None], other=0).to(tl.uint32, bitcast=True)
        z_hi = tl.load(z_ptrs + 1, mask=n_mask & (n_shift > 29), other=0).to(tl.uint32, bitcast=True)
        q = q | (q_hi << ((32 - r_shift) % 32)[:, None])  # q_hi is 0 where nothing spills
        z = z | (z_hi << ((32 - n_shift) % 32))
    q = (q & ((1 << BITS) - 1)).to(tl.int32)
    z = (z & ((1 << BITS) - 1)).to(tl.int32)
    s = tl.load(s_ptr + g * stride_s + offs_n, mask=n_mask, other=0.0).to(tl.float32)  # [BN]
    return (q - z[None, :]).to(tl.float32) * s[None, :]
