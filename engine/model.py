"""Llama as CodeLlama uses it: RMSNorm, RoPE, grouped-query attention, SwiGLU, untied lm_head.

Module names follow the checkpoint keys (`model.layers.N.self_attn.q_proj` ...), so weights
load by name. A forward takes a flat run of T tokens (one sequence, or the new tokens of a
batch back to back); `attention` decides which keys each token sees. D = head_dim. A model
split across devices (`split`) runs each segment of layers on its device, and the hidden
state is copied to the next device at each boundary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

from .attention import CausalAttention
from .config import ModelArgs, RopeScaling

LINEARS = (  # a block's linear layers, by checkpoint name
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)
Attend = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (layer, q, k, v) -> out


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)
        normed = F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps)  # x / sqrt(mean(x^2) + eps), in float32
        return self.weight * normed.to(x.dtype)


def rope_inverse_frequencies(args: ModelArgs) -> torch.Tensor:
    """[D/2] float32, with linear or llama3 scaling applied."""
    d = args.head_dim
    inv_freq = 1.0 / (args.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    s: RopeScaling = args.rope_scaling
    if s.kind == "linear":
        inv_freq = inv_freq / s.factor
    elif s.kind == "llama3":
        wavelen = 2 * math.pi / inv_freq
        low_wavelen = s.original_max_position / s.low_freq_factor
        high_wavelen = s.original_max_position / s.high_freq_factor
        smooth = (s.original_max_position / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor)
        scaled = torch.where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq)
        mid = (wavelen <= low_wavelen) & (wavelen >= high_wavelen)
        inv_freq = torch.where(mid, (1 - smooth) * inv_freq / s.factor + smooth * inv_freq, scaled)
    return inv_freq


def rope_cos_sin(
    inv_freq: torch.Tensor, positions: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """positions [T] -> cos, signed sin [T, 1, D] (half-rotation layout, as the checkpoints store q/k).

    The sin's first half is negated, so rotating is x * cos + roll(x, D/2) * sin.
    """
    angles = positions.float()[:, None] * inv_freq[None, :]  # [T, D/2]
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([cos, cos], -1)[:, None].to(dtype), torch.cat([-sin, sin], -1)[:, None].to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [T, H, D] rotated by each token's position: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)."""
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * sin


class Attention(nn.Module):
    def __init__(self, args: ModelArgs, layer: int):
        super().__init__()
        self.layer, self.n_heads, self.n_kv_heads, self.head_dim = layer, args.n_heads, args.n_kv_heads, args.head_dim
        bias = args.attention_bias
        self.q_proj = nn.Linear(args.dim, args.n_heads * args.head_dim, bias=bias)
        self.k_proj = nn.Linear(args.dim, args.n_kv_heads * args.head_dim, bias=bias)
        self.v_proj = nn.Linear(args.dim, args.n_kv_heads * args.head_dim, bias=bias)
        self.o_proj = nn.Linear(args.n_heads * args.head_dim, args.dim, bias=bias)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, attend: Attend) -> torch.Tensor:
        T = x.shape[0]
        q = self.q_proj(x).view(T, self.n_heads, self.head_dim)  # [T, H, D]
        k = self.k_proj(x).view(T, self.n_kv_heads, self.head_dim)  # [T, KVH, D]
        v = self.v_proj(x).view(T, self.n_kv_heads, self.head_dim)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        out = attend(self.layer, q, k, v)  # [T, H, D]
        return self.o_proj(out.reshape(T, self.n_heads * self.head_dim))


class FeedForward(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, args: ModelArgs):
        super().__init__()
        self.gate_proj = nn.Linear(args.dim, args.intermediate_size, bias=args.mlp_bias)
        self.up_proj = nn.Linear(args.dim, args.intermediate_size, bias=args.mlp_bias)
        self.down_proj = nn.Linear(args.intermediate_size, args.dim, bias=args.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs, layer: int):
        super().__init__()
        self.input_layernorm = RMSNorm(args.dim, args.norm_eps)
        self.self_attn = Attention(args, layer)
        self.post_attention_layernorm = RMSNorm(args.dim, args.norm_eps)
        self.mlp = FeedForward(args)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, attend: Attend) -> torch.Tensor:
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, attend)
        return h + self.mlp(self.post_attention_layernorm(h))


class Transformer(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embed_tokens = nn.Embedding(args.vocab_size, args.dim)
        self.layers = nn.ModuleList(TransformerBlock(args, i) for i in range(args.n_layers))
        self.norm = RMSNorm(args.dim, args.norm_eps)
        self.lm_head = nn.Linear(args.dim, args.vocab_size, bias=False)
        self.register_buffer("inv_freq", rope_inverse_frequencies(args), persistent=False)
        self.split: list[tuple[torch.device, range]] | None = None  # segments (device, layers) of a split model

    def forward(
        self,
        tokens: torch.Tensor,  # [T]
        positions: torch.Tensor | None = None,  # [T]; default 0..T-1
        attend: Attend | None = None,  # default: causal over `tokens` alone
        logit_rows: torch.Tensor | None = None,  # [R] rows whose logits are wanted; default all
    ) -> torch.Tensor:
        """-> logits [R, vocab] float32."""
        (T,) = tokens.shape
        if positions is None:
            positions = torch.arange(T, device=tokens.device)
        x = self.embed_tokens(tokens)  # [T, dim]
        cos, sin = rope_cos_sin(self.inv_freq, positions, x.dtype)
        attend = attend or CausalAttention()
        if self.split is None:
            for block in self.layers:
                x = block(x, cos, sin, attend)
            if logit_rows is not None:
                x = x[logit_rows]  # [R, dim]
            return self.lm_head(self.norm(x)).float()
        for device, layers in self.split:  # the hidden state hops to each segment's device
            x, cos, sin = hop(x, device), hop(cos, device), hop(sin, device)
            with on(device):
                for i in layers:
                    x = self.layers[i](x, cos, sin, attend)
        head = self.norm.weight.device
        x = hop(x, head)
        if logit_rows is not None:
            x = x[logit_rows.to(head)]  # [R, dim]
        with on(head):
            return self.lm_head(self.norm(x)).float()


def hop(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A copy of `t` on `device` at a segment boundary, queued behind the work that made it."""
    return t.to(device, non_blocking=True, copy=True)


def on(device: torch.device):
    """Makes `device` current, so kernels (Triton's too) launch where their tensors are."""
    return torch.cuda.device(device) if device.type == "cuda" else nullcontext()
