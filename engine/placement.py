"""Where each part of the model lives when one device is not enough: a pure plan from free memory.

The model is a chain: embedding, layers 0..L-1, final norm + lm_head. Each device takes a
contiguous run of it, in order, and the KV cache of a layer lives with the layer. Every device
holds the same number of KV blocks (one block table serves all of them), so the plan is the
largest block count for which the chain still packs. Packing fills the devices in turn, each
up to its weight target: all it can hold ("auto"), a share in proportion to its free memory
(an explicit list), or the GB given for it (`gpu_split`). Byte counts come from the shapes the
loader checks (`quant.packed_bytes`, `kv_cache.bytes_per_token_layer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import torch

from .config import ModelArgs, QuantConfig
from .errors import EngineError
from .kv_cache import bytes_per_token_layer
from .model import LINEARS, TransformerBlock
from .quant import packed_bytes

GiB = 1 << 30
DEFAULT_RESERVE = GiB  # per device: activations of a prompt chunk, logits, kernel workspaces, fragmentation


class PlacementError(EngineError):
    """Nothing fits: the message says what would."""


@dataclass(frozen=True)
class DeviceMemory:
    name: str  # "cuda:0", "cpu"
    free: int  # bytes free now


@dataclass(frozen=True)
class Footprint:
    """Bytes of each part of the chain, from the checkpoint's shapes."""

    args: ModelArgs
    quant: QuantConfig | None
    dtype: torch.dtype = torch.float16

    @cached_property
    def layer(self) -> int:
        """One decoder layer's weights: seven linears and two norms."""
        with torch.device("meta"):
            block = TransformerBlock(self.args, 0)
        size = self.dtype.itemsize
        total = 2 * self.args.dim * size
        for path in LINEARS:
            linear = block.get_submodule(path)
            k, n = linear.in_features, linear.out_features
            total += packed_bytes(self.quant, k, n) if self.quant else k * n * size
            total += n * size if linear.bias is not None else 0
        return total

    @property
    def embedding(self) -> int:
        return self.args.vocab_size * self.args.dim * self.dtype.itemsize

    @property
    def head(self) -> int:
        """Final norm and lm_head (unquantized, as GPTQ checkpoints keep it)."""
        return (self.args.vocab_size + 1) * self.args.dim * self.dtype.itemsize

    @property
    def kv_token_layer(self) -> int:
        return bytes_per_token_layer(self.args, self.dtype)

    @property
    def weights(self) -> int:
        return self.embedding + self.args.n_layers * self.layer + self.head


@dataclass(frozen=True)
class Part:
    """One device's run of the chain."""

    device: str
    layers: range
    embedding: bool
    lm_head: bool
    weight_bytes: int
    kv_bytes: int

    def describe(self) -> str:
        first, last = self.layers.start, self.layers.stop - 1
        held = ["embedding"] if self.embedding else []
        held += [f"layer {first}" if first == last else f"layers {first}-{last}"] if self.layers else []
        held += ["lm_head"] if self.lm_head else []
        return f"{self.device}: {', '.join(held)} ({size(self.weight_bytes)} weights, {size(self.kv_bytes)} KV)"


def size(n: int) -> str:
    return f"{n / GiB:.1f} GB" if n >= GiB // 10 else f"{n / (1 << 20):.0f} MB"


@dataclass(frozen=True)
class Placement:
    parts: tuple[Part, ...]
    kv_blocks: int  # in every device's pool, the scratch block included
    block_size: int
    kv_token_layer: int  # bytes of one token's keys and values in one layer

    def with_kv_blocks(self, blocks: int) -> Placement:
        """The same layers with the KV cache the engine allocated."""
        per_layer = blocks * self.block_size * self.kv_token_layer
        parts = tuple(replace(p, kv_bytes=len(p.layers) * per_layer) for p in self.parts)
        return replace(self, parts=parts, kv_blocks=blocks)

    @property
    def kv_tokens(self) -> int:
        """Tokens of context the KV cache holds (all requests together)."""
        return (self.kv_blocks - 1) * self.block_size

    @property
    def devices(self) -> list[str]:
        return [p.device for p in self.parts]

    def layer_devices(self) -> list[str]:
        return [p.device for p in self.parts for _ in p.layers]

    def describe(self) -> str:
        return "; ".join(p.describe() for p in self.parts) + f"; {self.kv_tokens} tokens of KV cache"


@dataclass(frozen=True)
class Fill:
    """How the devices fill: each one's budget (free less reserve), and the weights it takes before the next
    (of all its weights with `by_total`, else of its layers alone; the last device takes what is left)."""

    budgets: list[int]
    targets: list[float]
    by_total: bool = True

    @classmethod
    def of(cls, fp: Footprint, devices: list[DeviceMemory], reserve: int, gpu_split: list[float] | None, even: bool):
        budgets = [max(d.free - reserve, 0) for d in devices]
        if gpu_split is not None:
            return cls(budgets, [gb * GiB for gb in gpu_split])
        if even:  # layers in proportion to each device's budget
            share = fp.args.n_layers * fp.layer / max(sum(budgets), 1)
            return cls(budgets, [b * share for b in budgets], by_total=False)
        return cls(budgets, [math.inf] * len(devices))


def _pack(fp: Footprint, fill: Fill, blocks: int, block_size: int) -> list[Part] | None:
    """The chain packed in order at `blocks` KV blocks per layer, or None if it does not fit."""
    kv = blocks * block_size * fp.kv_token_layer
    items = [("embedding", fp.embedding, 0)] + [("layer", fp.layer, kv)] * fp.args.n_layers + [("head", fp.head, 0)]
    n_devices = len(fill.budgets)
    device, used, weights, parts = 0, [0] * n_devices, [0] * n_devices, [[] for _ in fill.budgets]
    counted = weights if fill.by_total else [0] * n_devices  # the weights held against each target
    for kind, weight, cache in items:
        while True:
            last = device == n_devices - 1
            over_target = kind == "layer" and not last and counted[device] + weight / 2 > fill.targets[device]
            if used[device] + weight + cache <= fill.budgets[device] and not over_target:
                break
            device += 1
            if device == n_devices:
                return None
        used[device] += weight + cache
        weights[device] += weight
        if not fill.by_total and kind == "layer":
            counted[device] += weight
        parts[device].append(kind)
    out, layer = [], 0
    for i, kinds in enumerate(parts):
        n = kinds.count("layer")
        if kinds:
            out.append(Part(str(i), range(layer, layer + n), "embedding" in kinds, "head" in kinds, weights[i], n * kv))
        layer += n
    return out


def _largest(fp: Footprint, fill: Fill, low: int, block_size: int) -> int | None:
    """The most KV blocks (at least `low`) for which the chain packs; None if even `low` does not."""
    if _pack(fp, fill, low, block_size) is None:
        return None
    high = max(fill.budgets) // max(block_size * fp.kv_token_layer, 1) + 1  # one layer's KV cannot outgrow a device
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if _pack(fp, fill, mid, block_size) else (low, mid - 1)
    return low


def plan_placement(
    fp: Footprint,
    devices: list[DeviceMemory],
    context_tokens: int,
    reserve: int = DEFAULT_RESERVE,
    block_size: int = 16,
    gpu_split: list[float] | None = None,  # GB of weights per device, in order
    even: bool = False,  # layers in proportion to free memory, rather than each device filled in turn
) -> Placement:
    """Layer ranges, embedding and lm_head devices, and KV blocks per device; PlacementError if nothing fits."""
    if gpu_split is not None and len(gpu_split) != len(devices):
        raise PlacementError(f"gpu_split has {len(gpu_split)} entries for {len(devices)} devices")
    fill = Fill.of(fp, devices, reserve, gpu_split, even)
    low = -(-context_tokens // block_size) + 1  # one full context, plus the scratch block
    blocks = _largest(fp, fill, low, block_size)
    if blocks is None:
        raise PlacementError(_advice(fp, devices, reserve, fill, context_tokens, block_size))
    parts = tuple(replace(p, device=devices[int(p.device)].name) for p in _pack(fp, fill, blocks, block_size))
    return Placement(parts, blocks, block_size, fp.kv_token_layer)


def plan_auto(
    fp: Footprint,
    devices: list[DeviceMemory],
    context_tokens: int,
    reserve: int = DEFAULT_RESERVE,
    block_size: int = 16,
) -> Placement:
    """The fewest devices that hold the model and `context_tokens` of KV: the roomiest first, kept in order."""
    ranked = sorted(range(len(devices)), key=lambda i: -devices[i].free)
    for n in range(1, len(devices) + 1):
        chosen = [devices[i] for i in sorted(ranked[:n])]
        try:
            return plan_placement(fp, chosen, context_tokens, reserve, block_size)
        except PlacementError:
            if n == len(devices):
                raise
    raise PlacementError("no devices to place the model on")


def _advice(fp: Footprint, devices: list[DeviceMemory], reserve: int, fill: Fill, context: int, bs: int) -> str:
    kv = context * fp.args.n_layers * fp.kv_token_layer
    have = ", ".join(f"{d.name} {d.free / GiB:.1f} GB free" for d in devices)
    text = (
        f"the model does not fit: it needs {fp.weights / GiB:.1f} GB of weights and {kv / GiB:.1f} GB of KV cache "
        f"for {context} tokens of context, plus {reserve / GiB:.1f} GB reserve per device ({have}). What would fit:"
    )
    tips = []
    fewer = _largest(fp, fill, 2, bs)
    if fewer is not None:
        tips.append(f"fewer context tokens (up to {(fewer - 1) * bs}: the contextTokens setting)")
    if fp.quant is None or fp.quant.bits > 3:
        three = Footprint(fp.args, QuantConfig(3, -1, desc_act=True), fp.dtype)
        blocks = _largest(three, Fill.of(three, devices, reserve, None, not fill.by_total), 2, bs)
        if blocks is not None:
            tips.append(f"a 3-bit branch ({three.weights / GiB:.1f} GB, {(blocks - 1) * bs} tokens of context)")
    short = fp.weights + kv + bs * fp.args.n_layers * fp.kv_token_layer - sum(fill.budgets)
    tips.append(f"another GPU (about {max(short, 0) / GiB + 1:.0f} GB more)")
    tips.append("or a remote engine: the `engine` setting names a server with more memory (vLLM, serve)")
    return text + " " + "; ".join(tips)
