"""Paged key/value storage: per layer, one flat array of slots; block b holds slots [b*bs, (b+1)*bs)."""

from __future__ import annotations

import os

import torch

from .config import ModelArgs, ServingConfig


def bytes_per_token_layer(args: ModelArgs, dtype: torch.dtype) -> int:
    """Keys + values of one position in one layer."""
    return 2 * args.n_kv_heads * args.head_dim * dtype.itemsize


def bytes_per_token(args: ModelArgs, dtype: torch.dtype) -> int:
    """Keys + values of one position over all layers."""
    return args.n_layers * bytes_per_token_layer(args, dtype)


class PagedKVCache:
    """`device`: one for all layers, or each layer's (a split model: one pool per device, the same block ids)."""

    def __init__(
        self,
        args: ModelArgs,
        num_blocks: int,
        block_size: int,
        device: torch.device | list[torch.device],
        dtype: torch.dtype,
    ):
        self.num_blocks, self.block_size = num_blocks, block_size
        shape = (num_blocks * block_size, args.n_kv_heads, args.head_dim)  # [slots, KVH, D]
        devices = device if isinstance(device, list) else [device] * args.n_layers
        # zeros, not empty: padded attention reads unwritten slots, and 0 * NaN would poison the output
        self.keys = [torch.zeros(shape, device=d, dtype=dtype) for d in devices]
        self.values = [torch.zeros(shape, device=d, dtype=dtype) for d in devices]

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def blocks(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys, values of one layer as [num_blocks, bs, KVH, D]."""
        k, v = self.keys[layer], self.values[layer]
        return k.view(self.num_blocks, self.block_size, *k.shape[1:]), v.view(
            self.num_blocks, self.block_size, *v.shape[1:]
        )


def available_memory(device: torch.device) -> int:
    """Bytes free on the device now (a generous guess if the OS won't say)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def split_layer_devices(transformer) -> list[torch.device] | None:
    """Each layer's device in a split model (its KV lives there too); None for one device."""
    if transformer.split is None:
        return None
    return [device for device, layers in transformer.split for _ in layers]


def kv_memory(transformer, device: torch.device) -> int:
    """Bytes free for the whole KV cache, as if on one device: a split is held back by the device whose
    free memory is least per layer it holds (host memory is one pool, however many CPU 'devices')."""
    layers = split_layer_devices(transformer)
    gpus = {d for d in layers or [] if d.type == "cuda"}
    if not gpus:
        return available_memory(device)
    n = transformer.args.n_layers
    return min(available_memory(d) * n // layers.count(d) for d in gpus)


def kv_cache_blocks(
    args: ModelArgs, dtype: torch.dtype, device: torch.device, config: ServingConfig, available: int
) -> int:
    """Blocks for the configured budget, or a share of `available` bytes; never less than one full-length
    sequence plus the scratch block that padded decode rows write to."""
    block_bytes = config.block_size * bytes_per_token(args, dtype)
    if config.kv_cache_bytes:
        budget = config.kv_cache_bytes
    elif device.type == "cuda":
        budget = int(available * config.kv_cache_fraction)
    else:  # host memory is shared with everything else; the cache is zero-filled up front
        budget = min(available // 8, 4 * args.max_seq_len * bytes_per_token(args, dtype))
    blocks = max(budget // block_bytes, 2)
    if not config.kv_cache_bytes:
        blocks = max(blocks, -(-args.max_seq_len // config.block_size) + 1)
    return blocks
