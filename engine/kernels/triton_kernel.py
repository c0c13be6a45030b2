"""`TritonKernel`: the GPTQKernel protocol on Triton kernels (GPU, or the interpreter on CPU).

prepare() puts each layer in the sorted-row / v2-zero layout once (`layout.normalize`);
forward() gathers x[..., perm] when the rows were sorted, then runs the decode kernel for
up to `decode_max_rows` rows and the chosen prefill path above that.
"""

from __future__ import annotations

import functools
import logging

import torch

from ..quant import QuantLinear, TorchKernel
from .gptq_decode import decode, decode_kernel
from .gptq_prefill import dequantize_into, prefill
from .interpreter import interpreted
from .layout import PermutationPool, normalize

log = logging.getLogger(__name__)

PREFILL_MODES = ("fused", "dequant")
INTERPRETED = interpreted(decode_kernel)  # all kernels here were defined at import, in one mode


def block_k_for(group: int, largest: int = 64) -> int:
    """The largest power of two <= `largest` dividing the group size (a multiple of 32): tiles never span groups."""
    block = largest
    while group > 0 and group % block:
        block //= 2
    return block


def supports(layer: QuantLinear) -> str | None:
    """Why the Triton kernels cannot run `layer`, or None if they can."""
    q = layer.quant
    if q.bits not in (2, 3, 4, 8):
        return f"{q.bits}-bit weights"
    if q.group_size > 0 and q.group_size % 32:
        return f"group size {q.group_size} (needs a multiple of 32)"
    if layer.in_features % 32 or layer.out_features % 32:
        return f"shape {layer.in_features}x{layer.out_features} (needs multiples of 32)"
    return None


class TritonKernel:
    """Fused dequantize + matmul in Triton; one instance serves every layer of a model."""

    name = "triton"

    def __init__(self, prefill: str = "fused", decode_max_rows: int = 16, split_k: int | None = None):
        if prefill not in PREFILL_MODES:
            raise ValueError(f"prefill must be one of {PREFILL_MODES}, got {prefill!r}")
        assert 1 <= decode_max_rows <= 16, "the decode kernel handles at most 16 rows"
        self.prefill = prefill  # switchable at any time: benchmarks compare the two
        self.decode_max_rows = decode_max_rows
        self.split_k = split_k  # None: chosen from the GPU's SM count
        self.workspace: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}  # reused buffers
        self.perms = PermutationPool()

    def prepare(self, layer: QuantLinear) -> None:
        reason = supports(layer)
        if reason is None and not normalize(layer, self.perms):
            reason = "act-order groups of unequal size"
        if reason is not None:
            log.warning(
                "Triton kernels do not support %s; layer %s uses the torch reference", reason, layer.extra_repr()
            )
            layer.kernel = TorchKernel(cache=False)
            layer.kernel.prepare(layer)

    def buffer(self, kind: str, numel: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """A flat buffer of at least `numel` elements, kept for the next call."""
        key = (kind, device, dtype)
        buf = self.workspace.get(key)
        if buf is None or buf.numel() < numel:
            self.workspace[key] = buf = torch.empty(numel, device=device, dtype=dtype)
        return buf[:numel]

    def forward(self, layer: QuantLinear, x: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """x [..., K] -> [..., N]; `out` [rows, N] contiguous is written when given."""
        K, N = layer.in_features, layer.out_features
        x2 = x.reshape(-1, K)  # [M, K]
        if layer.perm is not None:
            x2 = x2.index_select(1, layer.perm)
        x2 = x2.contiguous()
        M = x2.shape[0]
        if out is None:
            out = torch.empty(M, N, device=x.device, dtype=x.dtype)
        if M == 0:
            return out.view(*x.shape[:-1], N)
        group = max(layer.quant.group_size, 0)
        args = (layer.qweight, layer.qzeros, layer.scales, layer.quant.bits, group)
        if M <= self.decode_max_rows:
            scratch = functools.partial(self.buffer, "partials", device=x.device, dtype=torch.float32)
            decode(x2, *args, out=out, block_k=block_k_for(group), split=self.split_k, scratch=scratch)
        elif self.prefill == "fused":
            prefill(x2, *args, out=out, block_k=block_k_for(group))
        else:
            weight = self.buffer("weight", K * N, x.device, x.dtype).view(K, N)
            dequantize_into(*args, weight=weight, block_k=block_k_for(group))
            torch.matmul(x2, weight, out=out)
        return out.view(*x.shape[:-1], N)
