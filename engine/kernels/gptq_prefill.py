"""Prefill: y = x @ W for many rows, on tensor cores.

Two ways, picked by `TritonKernel(prefill=...)`:
- "fused": dequantize each [BLOCK_K, BLOCK_N] tile to the compute dtype in registers and
  feed it to tl.dot (weights read once per BLOCK_M rows of x; tiles ordered for L2 reuse);
- "dequant": dequantize the whole W [K, N] into a reused buffer, then torch.matmul (cuBLAS).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .gptq_dequant import dequant_tile, tile_offsets


@triton.jit
def prefill_kernel(
    x_ptr, qw_ptr, qz_ptr, s_ptr, out_ptr,
    M, N, K,
    stride_xm, stride_qw, stride_qz, stride_s, stride_om,
    BITS: tl.constexpr, GROUP: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
    PRECISION: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    num_m, num_n = (M + BLOCK_M - 1) // BLOCK_M, (N + BLOCK_N - 1) // BLOCK_N
    width = GROUP_M * num_n  # GROUP_M row blocks sweep the columns together: W tiles stay in L2
    first_m = (pid // width) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % width) % size_m
    pid_n = (pid % width) // size_m
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    r_word, r_shift, n_word, n_shift = tile_offsets(offs_n, BLOCK_K, BITS)
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        x_mask = (offs_m[:, None] < M) & (offs_k[None, :] < K)
        x = tl.load(x_ptr + offs_m[:, None] * stride_xm + offs_k[None, :], mask=x_mask, other=0.0)  # [BM, BK]
        w = dequant_tile(  # [BK, BN] float32
            qw_ptr, qz_ptr, s_ptr, k0, offs_n, K, N, r_word, r_shift, n_word, n_shift,
            stride_qw, stride_qz, stride_s, BITS, GROUP, BLOCK_K,
        )  # fmt: skip
        acc = tl.dot(x, w.to(x_ptr.dtype.element_ty), acc, input_precision=PRECISION)  # [BM, BN]
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=(offs_m[:, None] < M) & (offs_n[None, :] < N))


@triton.jit
def dequant_kernel(
    qw_ptr, qz_ptr, s_ptr, w_ptr,
    N, K,
    stride_qw, stride_qz, stride_s, stride_w,
    BITS: tl.constexpr, GROUP: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    k0 = tl.program_id(0) * BLOCK_K
    offs_k = k0 + tl.arange(0, BLOCK_K)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    r_word, r_shift, n_word, n_shift = tile_offsets(offs_n, BLOCK_K, BITS)
    w = dequant_tile(  # [BK, BN] float32
        qw_ptr, qz_ptr, s_ptr, k0, offs_n, K, N, r_word, r_shift, n_word, n_shift,
        stride_qw, stride_qz, stride_s, BITS, GROUP, BLOCK_K,
    )  # fmt: skip
    mask = (offs_k[:, None] < K) & (offs_n[None, :] < N)
    tl.store(w_ptr + offs_k[:, None] * stride_w + offs_n[None, :], w.to(w_ptr.dtype.element_ty), mask=mask)


def prefill(
    x: torch.Tensor,  # [M, K] contiguous
    qweight: torch.Tensor,  # int32 [K*bits/32, N], rows sorted by group
    qzeros: torch.Tensor,  # int32 [G, N*bits/32], v2
    scales: torch.Tensor,  # [G, N]
    bits: int,
    group: int,  # rows per group; 0: one group
    out: torch.Tensor,  # [M, N], written
    block_k: int,
) -> torch.Tensor:
    M, K = x.shape
    N = out.shape[1]
    block_m = 64 if M <= 64 else 128
    block_n = 128
    grid = (triton.cdiv(M, block_m) * triton.cdiv(N, block_n),)
    prefill_kernel[grid](
        x, qweight, qzeros, scales, out,
        M, N, K,
        x.stride(0), qweight.stride(0), qzeros.stride(0), scales.stride(0), out.stride(0),
        BITS=bits, GROUP=group, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, GROUP_M=8,
        PRECISION="ieee" if x.dtype == torch.float32 else "tf32",
        num_warps=8 if block_m == 128 else 4, num_stages=2,
    )  # fmt: skip
    return out


def dequantize_into(
    qweight: torch.Tensor,
    qzeros: torch.Tensor,
    scales: torch.Tensor,
    bits: int,
    group: int,
    weight: torch.Tensor,  # [K, N] in the compute dtype, written
    block_k: int,
) -> torch.Tensor:
    K, N = weight.shape
    block_n = 128
    grid = (triton.cdiv(K, block_k), triton.cdiv(N, block_n))
    dequant_kernel[grid](
        qweight, qzeros, scales, weight, N, K,
        qweight.stride(0), qzeros.stride(0), scales.stride(0), weight.stride(0),
        BITS=bits, GROUP=group, BLOCK_N=block_n, BLOCK_K=block_k, num_warps=4,
    )  # fmt: skip
    return weight
