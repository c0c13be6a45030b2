"""Model and quantization settings read from a checkpoint's JSON files."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError

SUPPORTED_BITS = (2, 3, 4, 8)
SUPPORTED_ARCHITECTURES = ("llama", "codellama")


@dataclass(frozen=True)
class RopeScaling:
    """RoPE frequency scaling: 'default' (none), 'linear' or 'llama3'."""

    kind: str = "default"
    factor: float = 1.0
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position: int = 8192


@dataclass(frozen=True)
class ModelArgs:
    """Llama hyper-parameters, named as in the paper and gpt-fast."""

    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    intermediate_size: int
    head_dim: int
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling = field(default_factory=RopeScaling)
    max_seq_len: int = 4096
    attention_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    bos_token_id: int | None = 1
    eos_token_ids: tuple[int, ...] = (2,)
    dtype: str = "float16"

    def __post_init__(self) -> None:
        assert self.n_heads % self.n_kv_heads == 0, "query heads must be a multiple of KV heads"


@dataclass(frozen=True)
class QuantConfig:
    """GPTQ settings: `bits`, `group_size` (-1 = one group), act-order, zero-point format."""

    bits: int
    group_size: int = -1
    desc_act: bool = False
    sym: bool = True
    checkpoint_format: str = "gptq"  # "gptq" (v1: zeros stored minus one) or "gptq_v2"

    @property
    def zeros_stored_minus_one(self) -> bool:
        return self.checkpoint_format == "gptq"

    def n_groups(self, in_features: int) -> int:
        return 1 if self.group_size <= 0 else math.ceil(in_features / self.group_size)


@dataclass(frozen=True)
class ServingConfig:
    """How the engine batches requests and how much memory its KV cache may take."""

    kv_cache_bytes: int = 0  # 0: a share of free memory (kv_cache_fraction on a GPU, an eighth of RAM on a CPU)
    kv_cache_fraction: float = 0.8  # of the GPU memory free after the weights load
    block_size: int = 16  # tokens per KV block: the prefix cache's granularity
    max_batch: int = 16  # sequences decoded together
    step_tokens: int = 512  # tokens per step: the prompt chunk a waiting ghost-text request can be held behind
    max_waiting: int = 64  # queued requests past which new ones are refused as busy
    decode_graphs: str = (
        "auto"  # decode steps from CUDA graphs: "auto" (on CUDA), "on" (a CPU runs the static step eagerly), "off"
    )
    speculative: str | None = "ngram"  # draft tokens from the sequence itself ("ngram") and verify them; None: off
    draft_tokens: int = 8  # most tokens drafted per step (a step with a draft runs eagerly, not from a graph)

    def __post_init__(self) -> None:
        if self.kv_cache_bytes < 0 or not 0 < self.kv_cache_fraction <= 1:
            raise ValueError("kv_cache_bytes must be >= 0 and kv_cache_fraction in (0, 1]")
        if self.decode_graphs not in ("auto", "on", "off"):
            raise ValueError("decode_graphs must be 'auto', 'on' or 'off'")
        if self.speculative not in ("ngram", None) or self.draft_tokens < 1:
            raise ValueError("speculative must be 'ngram' or None, and draft_tokens >= 1")
        if self.block_size < 1 or self.max_batch < 1 or self.step_tokens <= self.max_batch or self.max_waiting < 1:
            raise ValueError("block_size, max_batch and max_waiting must be positive and step_tokens > max_batch")


def read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise CheckpointError("file is missing", str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"not valid JSON ({e})", str(path)) from None
    if not isinstance(data, dict):
        raise CheckpointError("expected a JSON object", str(path))
    return data


def _rope(cfg: dict[str, Any]) -> tuple[float, RopeScaling]:
    # transformers 5 writes `rope_parameters`; older checkpoints `rope_theta` + `rope_scaling`.
    params = dict(cfg.get("rope_scaling") or {})
    params.update(cfg.get("rope_parameters") or {})
    theta = float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    kind = params.get("rope_type", params.get("type", "default")) or "default"
    if kind not in ("default", "linear", "llama3"):
        raise CheckpointError(f"rope scaling type {kind!r} is not supported (default, linear, llama3)")
    scaling = RopeScaling(
        kind=kind,
        factor=float(params.get("factor", 1.0)),
        low_freq_factor=float(params.get("low_freq_factor", 1.0)),
        high_freq_factor=float(params.get("high_freq_factor", 4.0)),
        original_max_position=int(params.get("original_max_position_embeddings", 8192)),
    )
    return theta, scaling


def parse_model_args(cfg: dict[str, Any], path: str = "config.json") -> ModelArgs:
    arch = cfg.get("model_type", "llama")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise CheckpointError(f"model_type {arch!r} is not a Llama model; only Llama/CodeLlama are supported", path)
    try:
        dim, n_heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
        theta, scaling = _rope(cfg)
        eos = cfg.get("eos_token_id", 2)
        return ModelArgs(
            vocab_size=int(cfg["vocab_size"]),
            dim=dim,
            n_layers=int(cfg["num_hidden_layers"]),
            n_heads=n_heads,
            n_kv_heads=int(cfg.get("num_key_value_heads") or n_heads),
            intermediate_size=int(cfg["intermediate_size"]),
            head_dim=int(cfg.get("head_dim") or dim // n_heads),
            norm_eps=float(cfg.get("rms_norm_eps", 1e-5)),
            rope_theta=theta,
            rope_scaling=scaling,
            max_seq_len=int(cfg.get("max_position_embeddings", 4096)),
            attention_bias=bool(cfg.get("attention_bias", False)),
            mlp_bias=bool(cfg.get("mlp_bias", False)),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
            bos_token_id=cfg.get("bos_token_id", 1),
            eos_token_ids=tuple(eos) if isinstance(eos, list) else ((eos,) if eos is not None else ()),
            dtype=str(cfg.get("dtype") or cfg.get("torch_dtype") or "float16"),
        )
    except KeyError as e:
        raise CheckpointError(f"missing required field {e.args[0]!r}", path) from None
    except (TypeError, ValueError, AssertionError) as e:
        raise CheckpointError(f"invalid model settings ({e})", path) from None


def parse_quant_config(folder: Path, cfg: dict[str, Any]) -> QuantConfig | None:
    """GPTQ settings from quantize_config.json or config.json's quantization_config; None if unquantized."""
    path = folder / "quantize_config.json"
    if path.exists():
        q, where = read_json(path), str(path)
    elif "quantization_config" in cfg:
        q, where = cfg["quantization_config"], str(folder / "config.json")
    else:
        return None
    method = str(q.get("quant_method", "gptq")).lower()
    if method != "gptq":
        raise CheckpointError(f"quant_method {method!r} is not supported; only GPTQ checkpoints are", where)
    fmt = str(q.get("checkpoint_format", q.get("format", "gptq"))).lower()
    if fmt not in ("gptq", "gptq_v2"):
        raise CheckpointError(f"checkpoint_format {fmt!r} is not supported (gptq, gptq_v2)", where)
    bits = int(q.get("bits", 0))
    if bits not in SUPPORTED_BITS:
        raise CheckpointError(f"{bits}-bit GPTQ is not supported (bits must be one of {SUPPORTED_BITS})", where)
    return QuantConfig(
        bits=bits,
        group_size=int(q.get("group_size", -1) or -1),
        desc_act=bool(q.get("desc_act", False)),
        sym=bool(q.get("sym", True)),
        checkpoint_format=fmt,
    )
