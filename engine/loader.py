"""`load_model`: a checkpoint folder or hub id -> a ready `Model` on the chosen device."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
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
from .devices import parse_devices, place
from .engine import Model
from .errors import CheckpointError, EngineError
from .hub import Progress, resolve_source
from .kernels import check_or_fall_back, kernel_factory
from .kv_cache import available_memory
from .model import LINEARS, Transformer, on, rope_inverse_frequencies
from .placement import Footprint, GiB, Placement
from .quant import PACKED_DTYPES, GPTQKernel, QuantLinear, default_g_idx, expected_shapes
from .tokenizer import load_tokenizer

log = logging.getLogger(__name__)

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


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
        plan: Placement | None = None,
    ):
        self.ckpt, self.args, self.quant, self.dtype, self.kernel, self.plan = ckpt, args, quant, dtype, kernel, plan
        self.kernels: dict[torch.device, Callable[[bool], GPTQKernel]] = {}
        self.budgets: dict[torch.device, int] = {}
        self.use(device)

    def use(self, device: torch.device) -> None:
        """Load the next tensors onto `device`."""
        self.device = device
        if device not in self.kernels:
            self.kernels[device] = kernel_factory(self.kernel, device)
            # Dequantized weights are cached while they fit in half of the memory free now (a plan counts none).
            self.budgets[device] = 0 if self.plan and device.type == "cuda" else available_memory(device) // 2
        self.make_kernel = self.kernels[device]

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
            self.tensor(g_name, shapes["g_idx"], PACKED_DTYPES["g_idx"])
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
        cache = dequantized_bytes <= self.budgets[self.device]
        self.budgets[self.device] -= dequantized_bytes if cache else 0
        return QuantLinear(
            quant,
            qweight=self.tensor(f"{prefix}.qweight", shapes["qweight"], PACKED_DTYPES["qweight"]),
            qzeros=self.tensor(f"{prefix}.qzeros", shapes["qzeros"], PACKED_DTYPES["qzeros"]),
            scales=self.tensor(f"{prefix}.scales", shapes["scales"]),
            g_idx=g_idx,
            bias=bias,
            compute_dtype=self.dtype,
            kernel=self.make_kernel(cache),
        )

    def norm(self, module: nn.Module, name: str) -> None:
        module.weight = nn.Parameter(self.tensor(name, (self.args.dim,), self.dtype), requires_grad=False)

    def build(self, progress: Progress | None) -> Transformer:
        a, plan = self.args, self.plan
        devices = [torch.device(d) for d in plan.layer_devices()] if plan else [self.device] * a.n_layers
        first, last = (torch.device(plan.parts[0].device), torch.device(plan.parts[-1].device)) if plan else (None,) * 2
        with torch.device("meta"):
            model = Transformer(a)
        self.use(first or self.device)
        embed = self.tensor("model.embed_tokens.weight", (a.vocab_size, a.dim), self.dtype)
        model.embed_tokens.weight = nn.Parameter(embed, requires_grad=False)
        model.inv_freq = rope_inverse_frequencies(a).to(self.device)
        for i, block in enumerate(model.layers):
            self.use(devices[i])
            prefix = f"model.layers.{i}"
            self.norm(block.input_layernorm, f"{prefix}.input_layernorm.weight")
            self.norm(block.post_attention_layernorm, f"{prefix}.post_attention_layernorm.weight")
            with on(self.device):  # kernels preparing a layer launch on its device
                for path in LINEARS:
                    parent, name = path.split(".")
                    owner = getattr(block, parent)
                    setattr(owner, name, self.linear(f"{prefix}.{path}", getattr(owner, name)))
            if progress:
                where = f" on {self.device}" if plan else ""
                progress(f"Loading layer {i + 1}/{a.n_layers}{where}", (i + 1) / a.n_layers)
        self.use(last or self.device)
        self.norm(model.norm, "model.norm.weight")
        if a.tie_word_embeddings and not self.ckpt.has("lm_head.weight"):
            tied = model.embed_tokens.weight.to(self.device)
            model.lm_head = Dense(tied, keep_rows_layout=self.device.type == "cpu")
        else:
            model.lm_head = self.linear("lm_head", model.lm_head)
        if plan:
            model.split = [(torch.device(p.device), p.layers) for p in plan.parts if p.layers]
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


DEFAULT_DEVICE = "auto"  # one GPU if the model and its context fit, else the fewest that do; the CPU without one


def load_model(
    source: str | os.PathLike,
    revision: str | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    progress: Progress | None = None,
    kernel: str = "auto",
    checkpoint: Checkpoint | None = None,
    serving: ServingConfig = ServingConfig(),
    gpu_split: list[float] | None = None,
    context_tokens: int | None = None,
) -> Model:
    """Load a GPTQ or fp16/bf16 Llama checkpoint from a folder, a hub id, or "demo".

    device: "auto" (None: DEFAULT_DEVICE), "cpu", "cuda", "cuda:N", or a list such as "cuda:0,cuda:1"
    whose devices each take a run of layers (with their KV cache), in proportion to their free memory.
    gpu_split: GB of weights for each listed device, in order (the last takes what is left).
    context_tokens: tokens of KV cache a split plan must leave at least (default: the model's context).
    kernel: GPTQ kernel, "auto" (Triton on CUDA when it imports, else torch), "triton" or "torch".
    checkpoint: read tensors from this instead of the folder's safetensors (the folder still
    gives config and tokenizer; benchmarks pass random weights made on the device).
    serving: batching and KV-cache budget (`ServingConfig`).
    """
    device = DEFAULT_DEVICE if device is None else device
    devices, _ = parse_devices(device)  # a bad device fails before any download
    folder = resolve_source(source, revision, progress)
    cfg = read_json(folder / "config.json")
    args = parse_model_args(cfg, str(folder / "config.json"))
    quant = parse_quant_config(folder, cfg)
    compute_dtype = parse_dtype(dtype, devices[0], args)
    footprint = Footprint(args, quant, compute_dtype)
    dev, plan = place(device, footprint, context_tokens or args.max_seq_len, serving.block_size, gpu_split)
    if plan is not None:
        log.info("placement of %s: %s", source, plan.describe())
        if progress:
            progress(f"Placement: {plan.describe()}", 0.0)
    ckpt = checkpoint if checkpoint is not None else Checkpoint(folder)
    log.info("loading %s (%s) on %s as %s", folder, quant or "unquantized", dev, compute_dtype)
    loader = _Loader(ckpt, args, quant, dev, compute_dtype, kernel, plan)
    try:
        transformer = loader.build(progress)
    except torch.OutOfMemoryError:
        raise EngineError(out_of_memory(str(source), loader.device, footprint, plan)) from None
    finally:
        ckpt.close()
    check_or_fall_back(transformer, kernel)
    tokenizer = load_tokenizer(folder)
    eos = eos_ids(folder, args, tokenizer)
    return Model(transformer, tokenizer, eos, dev, compute_dtype, str(source), serving, placement=plan)


def out_of_memory(source: str, device: torch.device, footprint: Footprint, plan: Placement | None) -> str:
    """Names the device that ran out and what the load needed there."""
    part = next((p for p in plan.parts if p.device == str(device)), None) if plan else None
    needed = part.weight_bytes if part else footprint.weights
    return (
        f"out of memory loading {source} on {device}: its weights there need {needed / GiB:.1f} GB"
        + (f" and its KV cache {part.kv_bytes / GiB:.1f} GB" if part else "")
        + "; try a smaller branch (3-bit), another GPU (device 'cuda:0,cuda:1'), or a remote engine"
    )
