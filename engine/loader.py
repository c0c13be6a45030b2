"""`load_model`: a checkpoint folder or hub id -> a ready `Model` on the chosen device."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from .checkpoint import Checkpoint
from .config import (
    ModelArgs,
    QuantConfig,
    ServingConfig,
    parse_model_args,
    parse_quant_config,
    read_json,
)
from .dense import Dense
from .engine import Model
from .errors import CheckpointError, EngineError
from .hub import Progress, resolve_source
from .kernels import check_or_fall_back, kernel_factory
from .kv_cache import available_memory
from .model import Transformer, rope_inverse_frequencies
from .quant import QuantLinear, default_g_idx, expected_shapes
from .tokenizer import load_tokenizer

log = logging.getLogger(__name__)

LINEARS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)
DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def parse_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise EngineError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EngineError(f"device {device!r} requested but no CUDA GPU is visible to torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise EngineError(f"device {device!r} does not exist ({torch.cuda.device_count()} GPU(s) visible)")
    elif dev.type != "cpu":
        raise EngineError(f"device type {dev.type!r} is not supported; use 'cpu' or 'cuda'")
    return dev


def parse_dtype(dtype: str | torch.dtype | None, device: torch.device, args: ModelArgs) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None:  # CPUs compute float32 best; GPUs use the checkpoint's half type
        return torch.float32 if device.type == "cpu" else DTYPES.get(args.dtype, torch.float16)
    if dtype not in DTYPES:
        raise EngineError(f"unknown dtype {dtype!r}; use one of {sorted(DTYPES)}")
    return DTYPES[dtype]


class _Loader:
    """Builds the Transformer's modules from checkpoint tensors, checking every shape."""

    def __init__(
        self,
        ckpt: Checkpoint,
        args: ModelArgs,
        quant: QuantConfig | None,
        device: torch.device,
        dtype: torch.dtype,
        kernel: str = "auto",
    ):
        self.ckpt, self.args, self.quant, self.device, self.dtype = ckpt, args, quant, device, dtype
        self.make_kernel = kernel_factory(kernel, device)
        # Dequantized weights are cached while they fit in half of the memory free now.
        self.cache_budget = available_memory(device) // 2

    def tensor(self, name: str, shape: tuple[int, ...], dtype: torch.dtype | None = None) -> torch.Tensor:
        t = self.ckpt.expect(name, shape, self.device)
        return t.to(dtype) if dtype is not None else t

    def optional(self, name: str, shape: tuple[int, ...]) -> torch.Tensor | None:
        return self.tensor(name, shape, self.dtype) if self.ckpt.has(name) else None

    def linear(self, prefix: str, module: nn.Linear) -> nn.Module:
        k, n = module.in_features, module.out_features
        bias = self.optional(f"{prefix}.bias", (n,))
        if self.quant is not None and self.ckpt.has(f"{prefix}.qweight"):
            return self.quant_linear(prefix, k, n, bias)
        wide = prefix == "lm_head" and self.device.type == "cpu"
        return Dense(self.tensor(f"{prefix}.weight", (n, k), self.dtype), bias, keep_rows_layout=wide)

    def quant_linear(self, prefix: str, k: int, n: int, bias: torch.Tensor | None) -> QuantLinear:
        quant, shapes = self.quant, expected_shapes(self.quant, k, n)
        if k % 32 or n % 32:
            raise CheckpointError(f"{prefix}: GPTQ needs in/out features that are multiples of 32, got {k}x{n}")
        g_name = f"{prefix}.g_idx"
        g_idx = (
            self.tensor(g_name, shapes["g_idx"], torch.int32)
            if self.ckpt.has(g_name)
            else default_g_idx(quant, k).to(self.device)
        )
        groups = shapes["scales"][0]
        if int(g_idx.min()) < 0 or int(g_idx.max()) >= groups:
            raise CheckpointError(
                f"tensor {g_name!r} points outside its {groups} group(s)",
                str(self.ckpt.tensor_file.get(g_name, self.ckpt.folder)),
            )
        dequantized_bytes = k * n * torch.finfo(self.dtype).bits // 8
        cache = dequantized_bytes <= self.cache_budget
        self.cache_budget -= dequantized_bytes if cache else 0
        return QuantLinear(
            quant,
            qweight=self.tensor(f"{prefix}.qweight", shapes["qweight"], torch.int32),
            qzeros=self.tensor(f"{prefix}.qzeros", shapes["qzeros"], torch.int32),
            scales=self.tensor(f"{prefix}.scales", shapes["scales"]),
            g_idx=g_idx,
            bias=bias,
            compute_dtype=self.dtype,
            kernel=self.make_kernel(cache),
        )

    def norm(self, module: nn.Module, name: str) -> None:
        module.weight = nn.Parameter(self.tensor(name, (self.args.dim,), self.dtype), requires_grad=False)

    def build(self, progress: Progress | None) -> Transformer:
        a = self.args
        with torch.device("meta"):
            model = Transformer(a)
        embed = self.tensor("model.embed_tokens.weight", (a.vocab_size, a.dim), self.dtype)
        model.embed_tokens.weight = nn.Parameter(embed, requires_grad=False)
        for i, block in enumerate(model.layers):
            prefix = f"model.layers.{i}"
            self.norm(block.input_layernorm, f"{prefix}.input_layernorm.weight")
            self.norm(block.post_attention_layernorm, f"{prefix}.post_attention_layernorm.weight")
            for path in LINEARS:
                parent, name = path.split(".")
                owner = getattr(block, parent)
                setattr(owner, name, self.linear(f"{prefix}.{path}", getattr(owner, name)))
            if progress:
                progress(f"Loading layer {i + 1}/{a.n_layers}", (i + 1) / a.n_layers)
        self.norm(model.norm, "model.norm.weight")
        if a.tie_word_embeddings and not self.ckpt.has("lm_head.weight"):
            model.lm_head = Dense(model.embed_tokens.weight, keep_rows_layout=self.device.type == "cpu")
        else:
            model.lm_head = self.linear("lm_head", model.lm_head)
        model.inv_freq = rope_inverse_frequencies(a).to(self.device)
        return model.eval()


def eos_ids(folder: Path, args: ModelArgs, tokenizer) -> set[int]:
    """EOS from config.json, generation_config.json and the tokenizer, plus `<step>` (CodeLlama-70B's end of turn)."""
    ids = set(args.eos_token_ids)
    gen = folder / "generation_config.json"
    if gen.exists():
        eos = read_json(gen).get("eos_token_id")
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer is not None:
        if tokenizer.eos_token_id is not None:
            ids.add(tokenizer.eos_token_id)
        step = tokenizer.convert_tokens_to_ids("<step>")
        if isinstance(step, int) and step != tokenizer.unk_token_id:
            ids.add(step)
    return {int(i) for i in ids}


def load_model(
    source: str | os.PathLike,
    revision: str | None = None,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    progress: Progress | None = None,
    kernel: str = "auto",
    checkpoint: Checkpoint | None = None,
    serving: ServingConfig = ServingConfig(),
) -> Model:
    """Load a GPTQ or fp16/bf16 Llama checkpoint from a folder, a hub id, or "demo".

    kernel: GPTQ kernel, "auto" (Triton on CUDA when it imports, else torch), "triton" or "torch".
    checkpoint: read tensors from this instead of the folder's safetensors (the folder still
    gives config and tokenizer; benchmarks pass random weights made on the device).
    serving: batching and KV-cache budget (`ServingConfig`).
    """
    dev = parse_device(device)
    folder = resolve_source(source, revision, progress)
    cfg = read_json(folder / "config.json")
    args = parse_model_args(cfg, str(folder / "config.json"))
    quant = parse_quant_config(folder, cfg)
    compute_dtype = parse_dtype(dtype, dev, args)
    ckpt = checkpoint if checkpoint is not None else Checkpoint(folder)
    log.info("loading %s (%s) on %s as %s", folder, quant or "unquantized", dev, compute_dtype)
    try:
        transformer = _Loader(ckpt, args, quant, dev, compute_dtype, kernel).build(progress)
    except torch.OutOfMemoryError:
        raise EngineError(
            f"out of memory loading {source} on {dev}; try a smaller branch (3-bit) or another GPU"
        ) from None
    finally:
        ckpt.close()
    check_or_fall_back(transformer, kernel)
    tokenizer = load_tokenizer(folder)
    return Model(transformer, tokenizer, eos_ids(folder, args, tokenizer), dev, compute_dtype, str(source), serving)
