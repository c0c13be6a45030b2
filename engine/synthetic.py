"""Random-weight Llama checkpoints in GPTQ (or plain) form, written to disk like real ones.

Used by the tests and the benchmarks. Each quantized layer is built from
random integers, so its exact float weights are known without unpacking anything.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file

from .config import QuantConfig
from .packing import pack, shift_zeros

LINEAR_SHAPES = {  # name -> (in_features, out_features) as functions of the spec
    "self_attn.q_proj": lambda s: (s.dim, s.n_heads * s.head_dim),
    "self_attn.k_proj": lambda s: (s.dim, s.n_kv_heads * s.head_dim),
    "self_attn.v_proj": lambda s: (s.dim, s.n_kv_heads * s.head_dim),
    "self_attn.o_proj": lambda s: (s.n_heads * s.head_dim, s.dim),
    "mlp.gate_proj": lambda s: (s.dim, s.intermediate_size),
    "mlp.up_proj": lambda s: (s.dim, s.intermediate_size),
    "mlp.down_proj": lambda s: (s.intermediate_size, s.dim),
}


@dataclass(frozen=True)
class SyntheticSpec:
    vocab_size: int = 512
    dim: int = 256
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    intermediate_size: int = 512
    rope_theta: float = 1e6
    max_seq_len: int = 16384
    bias: bool = False  # write a bias for every quantized linear

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def config_json(self, dtype: str) -> dict:
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.dim,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "num_key_value_heads": self.n_kv_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "max_position_embeddings": self.max_seq_len,
            "rms_norm_eps": 1e-5,
            "rope_theta": self.rope_theta,
            "tie_word_embeddings": False,
            "attention_bias": self.bias,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "torch_dtype": dtype,
        }


# CodeLlama-70B's shapes (the model card's config.json)
CODELLAMA_70B = SyntheticSpec(
    vocab_size=32016, dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, intermediate_size=28672
)


def random_gptq_linear(
    k: int, n: int, quant: QuantConfig, gen: torch.Generator, bias: bool
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Packed tensors of one random GPTQ linear, and its exact float weights W [K, N]."""
    groups = quant.n_groups(k)
    top = 1 << quant.bits
    q = torch.randint(0, top, (k, n), generator=gen)
    if quant.sym:
        zeros = torch.full((groups, n), top // 2, dtype=torch.int64)
    else:
        zeros = torch.randint(0, top, (groups, n), generator=gen)
    scales = ((torch.rand(groups, n, generator=gen) + 0.5) * (2.0 / (top * k**0.5))).to(torch.float16)
    if quant.group_size > 0:
        g_idx = torch.arange(k) // quant.group_size
        if quant.desc_act:  # act-order: rows are quantized in a shuffled order
            g_idx = g_idx[torch.randperm(k, generator=gen)]
    else:
        g_idx = torch.zeros(k, dtype=torch.int64)
    weight = scales.float()[g_idx] * (q - zeros[g_idx]).float()  # [K, N]
    stored_zeros = shift_zeros(zeros, quant.bits, -1) if quant.zeros_stored_minus_one else zeros
    tensors = {
        "qweight": pack(q, quant.bits, dim=0),
        "qzeros": pack(stored_zeros, quant.bits, dim=1),
        "scales": scales,
        "g_idx": g_idx.to(torch.int32),
    }
    if bias:
        tensors["bias"] = (torch.randn(n, generator=gen) * 0.02).to(torch.float16)
    return tensors, weight


def write_checkpoint(
    folder: Path, spec: SyntheticSpec, quant: QuantConfig | None, seed: int = 0, dtype: torch.dtype = torch.float16
) -> dict[str, torch.Tensor]:
    """Write config + safetensors to `folder`; return the float32 state dict (transformers names) they encode."""
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    stored: dict[str, torch.Tensor] = {}
    exact: dict[str, torch.Tensor] = {}

    def plain(name: str, tensor: torch.Tensor) -> None:
        stored[name] = tensor.to(dtype).contiguous()
        exact[name] = stored[name].float()

    plain("model.embed_tokens.weight", torch.randn(spec.vocab_size, spec.dim, generator=gen))
    for i in range(spec.n_layers):
        prefix = f"model.layers.{i}"
        plain(f"{prefix}.input_layernorm.weight", 1 + 0.1 * torch.randn(spec.dim, generator=gen))
        plain(f"{prefix}.post_attention_layernorm.weight", 1 + 0.1 * torch.randn(spec.dim, generator=gen))
        for path, shape in LINEAR_SHAPES.items():
            k, n = shape(spec)
            if quant is None:
                plain(f"{prefix}.{path}.weight", torch.randn(n, k, generator=gen) / k**0.5)
                continue
            tensors, weight = random_gptq_linear(k, n, quant, gen, spec.bias)
            stored.update({f"{prefix}.{path}.{key}": t for key, t in tensors.items()})
            exact[f"{prefix}.{path}.weight"] = weight.t().contiguous()
            if "bias" in tensors:
                exact[f"{prefix}.{path}.bias"] = tensors["bias"].float()
    plain("model.norm.weight", 1 + 0.1 * torch.randn(spec.dim, generator=gen))
    plain("lm_head.weight", torch.randn(spec.vocab_size, spec.dim, generator=gen) / spec.dim**0.5)

    save_file(stored, str(folder / "model.safetensors"), metadata={"format": "pt"})
    write_config(folder, spec, quant, dtype)
    return exact


def write_config(
    folder: Path, spec: SyntheticSpec, quant: QuantConfig | None, dtype: torch.dtype = torch.float16, **extra
) -> None:
    """config.json (+ quantize_config.json) for `spec`; `extra` overrides config.json fields."""
    folder.mkdir(parents=True, exist_ok=True)
    config = spec.config_json(str(dtype).removeprefix("torch.")) | extra
    if quant is not None:
        q = asdict(quant) | {"quant_method": "gptq", "damp_percent": 0.1}
        config["quantization_config"] = q
        (folder / "quantize_config.json").write_text(json.dumps(q, indent=2) + "\n")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")


class RandomWeights:
    """`write_checkpoint`'s tensors (names, shapes, dtypes) made at random directly on `device`.

    Nothing touches the disk; packed words are random bits, so a forward costs what the real
    checkpoint's does. Pass as `load_model(folder, checkpoint=RandomWeights(...))` with a
    folder holding `write_config`'s files.
    """

    def __init__(self, spec: SyntheticSpec, quant: QuantConfig | None, device: torch.device | str, seed: int = 0):
        self.spec, self.quant, self.device = spec, quant, torch.device(device)
        self.folder = Path("<random weights>")
        self.tensor_file: dict[str, Path] = {}
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        names = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
        for i in range(spec.n_layers):
            prefix = f"model.layers.{i}"
            names |= {f"{prefix}.input_layernorm.weight", f"{prefix}.post_attention_layernorm.weight"}
            for path in LINEAR_SHAPES:
                keys = (
                    ("weight",)
                    if quant is None
                    else ("qweight", "qzeros", "scales", "g_idx") + (("bias",) if spec.bias else ())
                )
                names |= {f"{prefix}.{path}.{key}" for key in keys}
        self.names = names

    def has(self, name: str) -> bool:
        return name in self.names

    def expect(self, name: str, shape: tuple[int, ...], device: torch.device | str | None = None) -> torch.Tensor:
        assert name in self.names, name
        tensor = self._make(name, tuple(shape))
        return tensor if device is None else tensor.to(device)

    def close(self) -> None:
        pass

    def _randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.gen, device=self.device)

    def _make(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        kw = {"generator": self.gen, "device": self.device}
        key = name.rsplit(".", 1)[1]
        if key == "weight":
            if "norm" in name:
                return (1 + 0.1 * self._randn(shape)).half()
            return (self._randn(shape) / (1 if "embed" in name else shape[1] ** 0.5)).half()
        if key == "bias":
            return (0.02 * self._randn(shape)).half()
        q, k = self.quant, LINEAR_SHAPES[name.split(".", 3)[3].rsplit(".", 1)[0]](self.spec)[0]
        if key == "qweight" or (key == "qzeros" and not q.sym):
            return torch.randint(-(2**31), 2**31, shape, dtype=torch.int32, **kw)
        if key == "qzeros":  # symmetric: every zero-point 2**(bits-1), stored as GPTQ stores it
            zeros = torch.full((1, 32), 1 << (q.bits - 1), dtype=torch.int64)
            zeros = shift_zeros(zeros, q.bits, -1) if q.zeros_stored_minus_one else zeros
            return pack(zeros, q.bits, dim=1).to(self.device).repeat(shape[0], shape[1] // q.bits)
        if key == "scales":
            top = 1 << q.bits
            return ((torch.rand(shape, **kw) + 0.5) * (2.0 / (top * k**0.5))).half()
        assert key == "g_idx", name
        g_idx = (
            torch.arange(k, device=self.device) // q.group_size
            if q.group_size > 0
            else torch.zeros(k, device=self.device)
        )
        if q.desc_act and q.group_size > 0:
            g_idx = g_idx[torch.randperm(k, **kw)]
        return g_idx.to(torch.int32)
