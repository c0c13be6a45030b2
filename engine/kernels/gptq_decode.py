"""Decode: y = x @ W for a few rows (1-16), reading each packed weight from memory once.

Fused dequantize + GEMV: one program owns BLOCK_N output columns and a slice of K (split-K,
so short-N layers still fill the GPU); split slices write float32 partial sums that one
torch sum adds up. One row uses FMAs, 2-16 rows one 16-row tensor-core dot per tile.
Only Triton builtins are used (not tl.sum/tl.zeros/tl.cdiv, which are Triton library
functions fixed as compiled or interpreted when Triton is imported), so the kernels also run
under the interpreter in a process where torch imported Triton first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import triton
import triton.language as tl

from .gptq_dequant import dequant_tile, tile_offsets


@triton.jit
def decode_kernel(
    x_ptr, qw_ptr, qz_ptr, s_ptr, out_ptr,
    M, N, K, k_per_split,
    stride_xm, stride_qw, stride_qz, stride_s, stride_om, stride_os,
    BITS: tl.constexpr, GROUP: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    pid_n = tl.program_id(0)
    pid_s = tl.program_id(1)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    r_word, r_shift, n_word, n_shift = tile_offsets(offs_n, BLOCK_K, BITS)
    k_start = pid_s * k_per_split
    k_end = tl.minimum(k_start + k_per_split, K)
    out_ptr += pid_s * stride_os
    if BLOCK_M == 1:  # GEMV: FMA into a [BK, BN] accumulator, rows summed once at the end
        acc = tl.full((BLOCK_K, BLOCK_N), 0.0, dtype=tl.float32)
        for k0 in range(k_start, k_end, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            x = tl.load(x_ptr + offs_k, mask=offs_k < K, other=0.0).to(tl.float32)  # [BK]
            w = dequant_tile(  # [BK, BN] float32
                qw_ptr, qz_ptr, s_ptr, k0, offs_n, K, N, r_word, r_shift, n_word, n_shift,
                stride_qw, stride_qz, stride_s, BITS, GROUP, BLOCK_K,
            )  # fmt: skip
            acc += x[:, None] * w.to(x_ptr.dtype.element_ty).to(tl.float32)  # W rounded as the reference rounds it
        ones = tl.full((16, BLOCK_K), 1.0, dtype=tl.float32)  # column sums as a dot: every row of it is the sum
        total = tl.dot(ones, acc, input_precision="ieee")  # [16, BN]
        rows = tl.arange(0, 16)[:, None]
        tl.store(
            out_ptr + rows * 0 + offs_n[None, :],
            total.to(out_ptr.dtype.element_ty),
            mask=(rows == 0) & (offs_n[None, :] < N),
        )
    else:  # skinny GEMM: one 16-row tensor-core dot per tile
        offs_m = tl.arange(0, BLOCK_M)
        acc2 = tl.full((BLOCK_M, BLOCK_N), 0.0, dtype=tl.float32)
        for k0 in range(k_start, k_end, BLOCK_K):
            offs_k = k0 + tl.arange(0, BLOCK_K)
            x_mask = (offs_m[:, None] < M) & (offs_k[None, :] < K)
            x2 = tl.load(x_ptr + offs_m[:, None] * stride_xm + offs_k[None, :], mask=x_mask, other=0.0)  # [BM, BK]
            w = dequant_tile(  # [BK, BN] float32
                qw_ptr, qz_ptr, s_ptr, k0, offs_n, K, N, r_word, r_shift, n_word, n_shift,
                stride_qw, stride_qz, stride_s, BITS, GROUP, BLOCK_K,
            )  # fmt: skip
            acc2 = tl.dot(x2, w.to(x_ptr.dtype.element_ty), acc2, input_precision=PRECISION)
        out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
        tl.store(out, acc2.to(out_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


@functools.cache
def multiprocessors(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 1


def split_for(n_blocks: int, k_blocks: int, programs: int) -> int:
    """Split K until about `programs` programs run (never slices of under 4 blocks)."""
    if n_blocks >= programs:
        return 1
    return max(1, min(triton.cdiv(programs, n_blocks), k_blocks // 4))


def decode(
    x: torch.Tensor,  # [M, K] contiguous, M <= 16
    qweight: torch.Tensor,  # int32 [K*bits/32, N], rows sorted by group
    qzeros: torch.Tensor,  # int32 [G, N*bits/32], v2
    scales: torch.Tensor,  # [G, N]
    bits: int,
    group: int,  # rows per group; 0: one group
    out: torch.Tensor,  # [M, N], written
    block_k: int,
    split: int | None = None,
    scratch: Callable[[int], torch.Tensor] | None = None,  # numel -> float32 buffer for split partials
    block_n: int = 128,
) -> torch.Tensor:
    M, K = x.shape
    N = out.shape[1]
    n_blocks, k_blocks = triton.cdiv(N, block_n), triton.cdiv(K, block_k)
    if split is None:
        split = split_for(n_blocks, k_blocks, 2 * multiprocessors(x.device))
    k_per_split = triton.cdiv(k_blocks, max(1, min(split, k_blocks))) * block_k
    split = triton.cdiv(K, k_per_split)
    target = out
    if split > 1:
        need = split * M * N
        buf = scratch(need) if scratch is not None else torch.empty(need, device=x.device, dtype=torch.float32)
        target = buf[:need].view(split, M, N)  # [split, M, N]
    precision = "ieee" if x.dtype == torch.float32 else "tf32"
    decode_kernel[(n_blocks, split)](
        x, qweight, qzeros, scales, target,
        M, N, K, k_per_split,
        x.stride(0), qweight.stride(0), qzeros.stride(0), scales.stride(0), target.stride(-2),
        target.stride(0) if split > 1 else 0,
        BITS=bits, GROUP=group, BLOCK_M=1 if M == 1 else 16, BLOCK_N=block_n, BLOCK_K=block_k,
        PRECISION=precision, num_warps=4, num_stages=2,
    )  # fmt: skip
    if split > 1:
        out.copy_(target.sum(0))
    return out
