"""Round-to-nearest GPTQ quantization: float weights -> the packed tensors a GPTQ checkpoint holds.

No calibration data: each group's scale (and zero-point) comes from its own min and max.
The result is packed by `packing`.
"""

from __future__ import annotations

import torch

from .config import QuantConfig
from .packing import pack, shift_zeros


def quantize_rtn(weight: torch.Tensor, quant: QuantConfig) -> dict[str, torch.Tensor]:
    """A linear's weight [N, K] (transformers layout) -> qweight, qzeros, scales (fp16), g_idx."""
    assert not quant.desc_act, "round-to-nearest keeps the rows in order (no act-order)"
    w = weight.t().float()  # [K, N]: GPTQ computes x @ W
    k, n = w.shape
    groups, top = quant.n_groups(k), (1 << quant.bits) - 1
    size = k if quant.group_size <= 0 else quant.group_size
    # A last, partial group is padded with zeros: they change neither |max| nor the clamped min/max.
    grouped = torch.cat([w, w.new_zeros(groups * size - k, n)]).reshape(groups, size, n)
    if quant.sym:
        high = grouped.abs().amax(dim=1).clamp_min(1e-8)  # [G, N]
        # Zero at 2**(bits-1) and |max| at 2**(bits-1) - 1 steps from it: nothing is clipped.
        scales = (high / ((top + 1) // 2 - 1)).half()
        zeros = torch.full((groups, n), (top + 1) // 2, dtype=torch.int64)
    else:
        low, high = grouped.amin(dim=1).clamp_max(0), grouped.amax(dim=1).clamp_min(0)
        scales = ((high - low).clamp_min(1e-8) / top).half()
        zeros = torch.round(-low / scales.float()).long().clamp(0, top)
    g_idx = torch.arange(k) // size
    q = torch.round(w / scales.float()[g_idx]) + zeros[g_idx]
    q = q.clamp(0, top).long()
    stored_zeros = shift_zeros(zeros, quant.bits, -1) if quant.zeros_stored_minus_one else zeros
    return {
        "qweight": pack(q, quant.bits, dim=0),
        "qzeros": pack(stored_zeros, quant.bits, dim=1),
        "scales": scales,
        "g_idx": g_idx.to(torch.int32),
    }
