"""Decode attention straight from the paged KV cache: one query token per sequence.

One program per (sequence, KV head, context split) loads that head's G = H / KVH query rows,
walks the sequence's own positions in tiles of BLOCK_N (each position's slot looked up in
its block table) and keeps an online softmax in float32, so every key and value is read
once. Long contexts may be split (flash-decoding): each split writes its unnormalised sum,
max and denominator, and a few torch ops merge them.

The kernel is defined lazily, once per mode: compiled for CUDA tensors, run by Triton's
interpreter for CPU tensors (see `interpreter`). Reductions go through `tl.reduce` with
Triton's own max/sum combine functions, which the interpreter maps to numpy whichever way
Triton itself was imported.
"""

from __future__ import annotations

from typing import Any

import torch
import triton
import triton.language as tl

from .interpreter import defining_for

LOG2E = 1.4426950408889634


def _paged_decode_kernel(
    q_ptr, k_ptr, v_ptr, table_ptr, len_ptr, out_ptr, m_ptr, l_ptr,
    scale_log2e, tokens_per_split,
    stride_qb, stride_qh, stride_ks, stride_kh, stride_vs, stride_vh, stride_tb,
    stride_ob, stride_oh, stride_os, stride_mb, stride_mh,
    G: tl.constexpr, BLOCK_G: tl.constexpr, D: tl.constexpr, BLOCK_SIZE: tl.constexpr, BLOCK_N: tl.constexpr,
    SPLIT: tl.constexpr, PRECISION: tl.constexpr, F32_DOT: tl.constexpr,
):  # fmt: skip
    b = tl.program_id(0)
    kvh = tl.program_id(1)
    split = tl.program_id(2)
    length = tl.load(len_ptr + b)
    start = split * tokens_per_split
    end = tl.minimum(start + tokens_per_split, length)
    offs_g = tl.arange(0, BLOCK_G)
    offs_d = tl.arange(0, D)
    heads = kvh * G + offs_g  # [BG]; rows >= G are padding for the 16-row dot
    g_mask = offs_g < G
    q = tl.load(q_ptr + b * stride_qb + heads[:, None] * stride_qh + offs_d[None, :], mask=g_mask[:, None], other=0.0)
    if F32_DOT:  # the interpreter's bf16 dot is wrong: bf16 values, float32 products
        q = q.to(tl.float32)
    m = tl.full((BLOCK_G,), float("-inf"), dtype=tl.float32)  # running max, log2 units
    l = tl.full((BLOCK_G,), 0.0, dtype=tl.float32)  # running denominator
    acc = tl.full((BLOCK_G, D), 0.0, dtype=tl.float32)
    for n0 in range(start, end, BLOCK_N):  # every tile holds at least one visible key
        pos = n0 + tl.arange(0, BLOCK_N)
        visible = pos < end
        block = tl.load(table_ptr + b * stride_tb + pos // BLOCK_SIZE, mask=visible, other=0)
        slot = block.to(tl.int64) * BLOCK_SIZE + pos % BLOCK_SIZE  # [BN]
        kt = tl.load(
            k_ptr + slot[None, :] * stride_ks + kvh * stride_kh + offs_d[:, None], mask=visible[None, :], other=0.0
        )  # [D, BN]
        v = tl.load(
            v_ptr + slot[:, None] * stride_vs + kvh * stride_vh + offs_d[None, :], mask=visible[:, None], other=0.0
        )  # [BN, D]
        if F32_DOT:
            kt, v = kt.to(tl.float32), v.to(tl.float32)
        s = tl.dot(q, kt, input_precision=PRECISION) * scale_log2e  # [BG, BN]
        s = tl.where(visible[None, :], s, float("-inf"))
        m_new = tl.maximum(m, tl.reduce(s, 1, tl.standard._elementwise_max))
        alpha = tl.exp2(m - m_new)
        p = tl.exp2(s - m_new[:, None])  # [BG, BN]
        l = l * alpha + tl.reduce(p, 1, tl.standard._sum_combine)
        acc = acc * alpha[:, None] + tl.dot(p.to(v_ptr.dtype.element_ty).to(v.dtype), v, input_precision=PRECISION)
        m = m_new
    rows = b * stride_ob + heads * stride_oh  # [BG]
    if SPLIT:  # float32 partials: acc [B, H, S, D], m and l [B, H, S]
        part = b * stride_mb + heads * stride_mh + split  # [BG]
        tl.store(m_ptr + part, m, mask=g_mask)
        tl.store(l_ptr + part, l, mask=g_mask)
        dst = out_ptr + rows[:, None] + split * stride_os + offs_d[None, :]
        tl.store(dst, acc, mask=g_mask[:, None])
    else:
        dst = out_ptr + rows[:, None] + offs_d[None, :]
        tl.store(dst, (acc / l[:, None]).to(out_ptr.dtype.element_ty), mask=g_mask[:, None])


_KERNELS: dict[bool, Any] = {}


def kernel_for(device: torch.device) -> Any:
    """The kernel compiled for CUDA, or interpreted for any other device; defined on first use."""
    interpret = device.type != "cuda"
    if interpret not in _KERNELS:
        with defining_for(device):
            _KERNELS[interpret] = triton.jit(_paged_decode_kernel)
    return _KERNELS[interpret]


def default_splits(batch_heads: int, max_context: int, device: torch.device, min_tokens: int = 256) -> int:
    """Split the context until about two programs per SM run (slices of at least `min_tokens`)."""
    if device.type != "cuda":
        return 1
    programs = 2 * torch.cuda.get_device_properties(device).multi_processor_count
    if batch_heads >= programs:
        return 1
    return max(1, min(triton.cdiv(programs, batch_heads), max_context // min_tokens))


def paged_decode_attention(
    q: torch.Tensor,  # [B, H, D], one query token per sequence
    k_slots: torch.Tensor,  # [num_slots, KVH, D]
    v_slots: torch.Tensor,  # [num_slots, KVH, D]
    block_tables: torch.Tensor,  # int32 [B, max_blocks], padded
    lengths: torch.Tensor,  # int32 [B], >= 1: positions 0..length-1 visible
    block_size: int,
    scale: float,
    out: torch.Tensor | None = None,  # [B, H, D] in q's dtype, written
    splits: int | None = None,  # context splits; None: enough to fill the GPU
    block_n: int = 64,  # positions per tile (a power of two >= 16)
) -> torch.Tensor:
    """softmax(q k^T * scale) v over each sequence's own cached keys -> [B, H, D] in q's dtype."""
    B, H, D = q.shape
    kvh = k_slots.shape[1]
    assert H % kvh == 0 and D >= 16 and D & (D - 1) == 0, (
        f"H={H}, KVH={kvh}, D={D}: need H % KVH == 0, D a power of two >= 16"
    )
    assert k_slots.shape == v_slots.shape and k_slots.shape[2] == D and k_slots.dtype == v_slots.dtype == q.dtype
    assert block_tables.dtype == lengths.dtype == torch.int32 and block_tables.shape[0] == lengths.shape[0] == B
    assert q.stride(2) == k_slots.stride(2) == v_slots.stride(2) == 1 and block_tables.stride(1) == 1
    if out is None:
        out = torch.empty_like(q)
    assert out.shape == q.shape and out.dtype == q.dtype and out.stride(2) == 1
    G = H // kvh
    max_context = block_tables.shape[1] * block_size
    if splits is None:
        splits = default_splits(B * kvh, max_context, q.device)
    per_split = triton.cdiv(triton.cdiv(max_context, max(1, splits)), block_n) * block_n
    splits = triton.cdiv(max_context, per_split)
    f32_dot = q.dtype == torch.bfloat16 and q.device.type != "cuda"
    if splits > 1:
        acc = torch.empty(B, H, splits, D, device=q.device, dtype=torch.float32)  # [B, H, S, D]
        m = torch.empty(B, H, splits, device=q.device, dtype=torch.float32)  # [B, H, S]
        l = torch.empty_like(m)
        target = acc
    else:
        target, m, l = out, out, out  # m, l unused
    kernel_for(q.device)[(B, kvh, splits)](
        q, k_slots, v_slots, block_tables, lengths, target, m, l,
        scale * LOG2E, per_split,
        q.stride(0), q.stride(1), k_slots.stride(0), k_slots.stride(1), v_slots.stride(0), v_slots.stride(1),
        block_tables.stride(0), target.stride(0), target.stride(1), target.stride(2) if splits > 1 else 0,
        m.stride(0), m.stride(1),
        G=G, BLOCK_G=max(16, triton.next_power_of_2(G)), D=D, BLOCK_SIZE=block_size, BLOCK_N=block_n,
        SPLIT=splits > 1, PRECISION="ieee" if q.dtype == torch.float32 or f32_dot else "tf32", F32_DOT=f32_dot,
        num_warps=4,
    )  # fmt: skip
    if splits > 1:  # merge: weights 2^(m_s - max m); empty splits have m = -inf, weight 0
        w = torch.exp2(m - m.amax(-1, keepdim=True))  # [B, H, S]
        merged = (acc * w[..., None]).sum(2) / (l * w).sum(-1)[..., None]  # [B, H, D]
        out.copy_(merged)
    return out
