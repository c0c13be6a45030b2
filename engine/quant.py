"""The GPTQ linear layer and its reference kernel.

W[k, n] = scales[g_idx[k], n] * (q[k, n] - zeros[g_idx[k], n]); the layer computes x @ W.
A kernel turns the packed tensors into y = x @ W + bias; `TorchKernel` is the reference that
runs anywhere (dequantize, then matmul). Faster kernels implement the same `GPTQKernel` protocol.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import nn

from .config import QuantConfig
from .packing import shift_zeros, unpack


class GPTQKernel(Protocol):
    name: str

    def prepare(self, layer: QuantLinear) -> None:
        """Called once after the weights are on their device."""

    def forward(self, layer: QuantLinear, x: torch.Tensor) -> torch.Tensor:
        """x [..., K] -> [..., N] (without bias)."""


def dequantize(
    qweight: torch.Tensor, qzeros: torch.Tensor, scales: torch.Tensor, g_idx: torch.Tensor, quant: QuantConfig
) -> torch.Tensor:
    """Packed GPTQ tensors -> float32 W [K, N]."""
    in_features, out_features = g_idx.shape[0], scales.shape[1]
    q = unpack(qweight, quant.bits, dim=0)[:in_features]  # [K, N]
    zeros = unpack(qzeros, quant.bits, dim=1)[:, :out_features]  # [G, N]
    if quant.zeros_stored_minus_one:
        zeros = shift_zeros(zeros, quant.bits, +1)
    g = g_idx.long()
    return scales.float()[g] * (q - zeros[g]).float()


class TorchKernel:
    """Reference kernel: dequantize to the compute dtype (cached when allowed) and matmul."""

    name = "torch"

    def __init__(self, cache: bool = True):
        self.cache = cache

    def prepare(self, layer: QuantLinear) -> None:
        if self.cache:
            layer.register_buffer("dequantized", layer.dequantize(), persistent=False)

    def forward(self, layer: QuantLinear, x: torch.Tensor) -> torch.Tensor:
        weight = layer.dequantized if self.cache else layer.dequantize()  # [K, N]
        return x @ weight


class QuantLinear(nn.Module):
    """A GPTQ-quantized linear: in_features K -> out_features N."""

    def __init__(
        self,
        quant: QuantConfig,
        qweight: torch.Tensor,  # int32 [K*bits/32, N]
        qzeros: torch.Tensor,  # int32 [G, N*bits/32]
        scales: torch.Tensor,  # [G, N]
        g_idx: torch.Tensor,  # int32 [K]
        bias: torch.Tensor | None,  # [N]
        compute_dtype: torch.dtype,
        kernel: GPTQKernel,
    ):
        super().__init__()
        self.quant = quant
        self.in_features, self.out_features = g_idx.shape[0], scales.shape[1]
        self.compute_dtype = compute_dtype
        self.register_buffer("qweight", qweight)
        self.register_buffer("qzeros", qzeros)
        self.register_buffer("scales", scales)
        self.register_buffer("g_idx", g_idx)
        self.register_buffer("bias", None if bias is None else bias.to(compute_dtype))
        self.register_buffer("perm", None)  # [K] when a kernel sorted the rows: row k holds input perm[k]
        self.kernel = kernel
        kernel.prepare(self)

    def dequantize(self) -> torch.Tensor:
        """W [K, N] in the compute dtype, rows in input order."""
        w = dequantize(self.qweight, self.qzeros, self.scales, self.g_idx, self.quant)
        if self.perm is not None:
            w = torch.empty_like(w).index_copy_(0, self.perm, w)
        return w.to(self.compute_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.kernel.forward(self, x)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        q = self.quant
        return (
            f"in={self.in_features}, out={self.out_features}, bits={q.bits}, "
            f"group={q.group_size}, kernel={self.kernel.name}"
        )


def expected_shapes(quant: QuantConfig, in_features: int, out_features: int) -> dict[str, tuple[int, ...]]:
    """Tensor shapes a GPTQ checkpoint must hold for one linear layer."""
    groups = quant.n_groups(in_features)
    return {
        "qweight": (in_features * quant.bits // 32, out_features),
        "qzeros": (groups, out_features * quant.bits // 32),
        "scales": (groups, out_features),
        "g_idx": (in_features,),
    }


PACKED_DTYPES = {"qweight": torch.int32, "qzeros": torch.int32, "scales": torch.float16, "g_idx": torch.int32}


def packed_bytes(quant: QuantConfig, in_features: int, out_features: int) -> int:
    """Bytes of one GPTQ linear's tensors as loaded (without bias)."""
    shapes = expected_shapes(quant, in_features, out_features)
    return sum(math.prod(shape) * PACKED_DTYPES[name].itemsize for name, shape in shapes.items())


def default_g_idx(quant: QuantConfig, in_features: int) -> torch.Tensor:
    """g_idx of a checkpoint without act-order: consecutive groups."""
    if quant.group_size <= 0:
        return torch.zeros(in_features, dtype=torch.int32)
    return (torch.arange(in_features) // quant.group_size).to(torch.int32)
