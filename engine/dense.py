"""A plain (unquantized) linear layer stored the way the engine multiplies: W [in, out].

y = x @ W + b, as GPTQ layers compute it. Checkpoints store nn.Linear's [out, in]; the
transpose is made once at load. For one row, a [in, out] matrix is read in order, which is
what a decode step at batch 1 does for every weight.
"""

from __future__ import annotations

import torch
from torch import nn


class Dense(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, keep_rows_layout: bool = False):
        """weight [N, K] as stored. `keep_rows_layout` also keeps it as stored, for several rows at once:
        CPU BLAS multiplies a wide matrix (the vocabulary projection) by a few rows several times
        faster as W @ x^T than as x @ W^T, and by one row faster the other way round."""
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight_t = nn.Parameter(weight.t().contiguous(), requires_grad=False)  # [K, N]
        self.weight = nn.Parameter(weight, requires_grad=False) if keep_rows_layout else None  # [N, K]
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., K] -> [..., N]
        if self.weight is not None and x.dim() == 2 and x.shape[0] > 1:
            y = (self.weight @ x.t()).t()  # [N, K] @ [K, R] -> [R, N]
        else:
            y = x @ self.weight_t
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, bias={self.bias is not None}"
