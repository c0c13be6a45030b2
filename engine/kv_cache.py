"""Key/value cache for one or more sequences decoded together."""

from __future__ import annotations

import torch

from .config import ModelArgs


class KVCache:
    """Keys and values per layer: [batch, n_kv_heads, capacity, head_dim], grown by doubling."""

    def __init__(self, args: ModelArgs, device: torch.device, dtype: torch.dtype, batch: int = 1, capacity: int = 256):
        self.args, self.device, self.dtype, self.batch = args, device, dtype, batch
        self.length = 0  # positions filled
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self._allocate(capacity)

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def _allocate(self, capacity: int) -> None:
        shape = (self.batch, self.args.n_kv_heads, capacity, self.args.head_dim)
        new_k = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(self.args.n_layers)]
        new_v = [torch.zeros(shape, device=self.device, dtype=self.dtype) for _ in range(self.args.n_layers)]
        for old, new in zip(self.keys + self.values, new_k + new_v):
            new[:, :, : self.length] = old[:, :, : self.length]
        self.keys, self.values = new_k, new_v

    def reserve(self, new_tokens: int) -> None:
        """Make room for `new_tokens` more positions."""
        need = self.length + new_tokens
        if need > self.capacity:
            capacity = self.capacity
            while capacity < need:
                capacity *= 2
            self._allocate(capacity)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v [B, KVH, T, D] at the current length; return all keys/values so far."""
        end = self.length + k.shape[2]
        self.keys[layer][:, :, self.length : end] = k
        self.values[layer][:, :, self.length : end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, n: int) -> None:
        self.length += n

    def free(self) -> None:
        self.keys, self.values, self.length = [], [], 0

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)
