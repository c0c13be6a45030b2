"""A llama.cpp GGUF file -> a transformers-style Llama checkpoint (fp16, or GPTQ packed here).

Tensors are read and dequantized with the `gguf` package. llama.cpp stores `attn_q` and
`attn_k` rows permuted for its RoPE layout; that permutation is undone, as transformers'
GGUF loader does. The tokenizer (and its chat template) is built by transformers from the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from .config import QuantConfig
from .errors import CheckpointError
from .hub import Progress
from .rtn import quantize_rtn

GROUP_SIZE = 128
# GGUF block tensor -> transformers name (under model.layers.{i}.)
BLOCK_TENSORS = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def _field(reader, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def reverse_permute(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's q/k row order (halves of each head interleaved) -> transformers' order."""
    half = weight.shape[0] // n_heads // 2
    w = weight.reshape(n_heads, half, 2, *weight.shape[1:])
    return w.swapaxes(2, 1).reshape(weight.shape)


def llama_config(reader) -> dict[str, Any]:
    """config.json (LlamaForCausalLM, tied embeddings) from the GGUF metadata."""
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise CheckpointError(f"GGUF architecture {arch!r} is not llama")

    def get(key: str, default: Any = None) -> Any:
        return _field(reader, f"llama.{key}", default)

    dim, n_heads = int(get("embedding_length")), int(get("attention.head_count"))
    vocab = get("vocab_size") or len(_field(reader, "tokenizer.ggml.tokens", []))
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": int(vocab),
        "hidden_size": dim,
        "intermediate_size": int(get("feed_forward_length")),
        "num_hidden_layers": int(get("block_count")),
        "num_attention_heads": n_heads,
        "num_key_value_heads": int(get("attention.head_count_kv", n_heads)),
        "head_dim": dim // n_heads,
        "hidden_act": "silu",
        "max_position_embeddings": int(get("context_length", 4096)),
        "rms_norm_eps": float(f"{get('attention.layer_norm_rms_epsilon', 1e-5):.7g}"),  # stored as float32
        "rope_theta": float(get("rope.freq_base", 10000.0)),
        "tie_word_embeddings": "output.weight" not in {t.name for t in reader.tensors},
        "attention_bias": False,
        "bos_token_id": int(_field(reader, "tokenizer.ggml.bos_token_id", 1)),
        "eos_token_id": int(_field(reader, "tokenizer.ggml.eos_token_id", 2)),
        "torch_dtype": "float16",
    }


def _open(path: Path):
    import gguf

    try:
        return gguf.GGUFReader(str(path))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"not a readable GGUF file ({e})", str(path)) from None


def _tensors(reader, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """GGUF name -> dequantized float32 array in transformers' [out, in] layout, q/k un-permuted."""
    from gguf.quants import dequantize

    out: dict[str, np.ndarray] = {}
    for t in reader.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)])  # GGUF lists dims innermost first
        if t.name.endswith("attn_q.weight"):
            w = reverse_permute(w, config["num_attention_heads"])
        elif t.name.endswith("attn_k.weight"):
            w = reverse_permute(w, config["num_key_value_heads"])
        out[t.name] = w
    return out


def hf_name(gguf_name: str) -> str:
    if gguf_name == "token_embd.weight":
        return "model.embed_tokens.weight"
    if gguf_name == "output_norm.weight":
        return "model.norm.weight"
    if gguf_name == "output.weight":
        return "lm_head.weight"
    parts = gguf_name.split(".")  # blk.{i}.{tensor}.weight
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in BLOCK_TENSORS:
        return f"model.layers.{parts[1]}.{BLOCK_TENSORS[parts[2]]}.{parts[3]}"
    raise CheckpointError(f"GGUF tensor {gguf_name!r} is not part of a Llama model")


def read_gguf_llama(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """config.json contents and the float32 state dict (transformers names) of a Llama GGUF."""
    reader = _open(Path(path))
    config = llama_config(reader)
    state = {hf_name(name): torch.from_numpy(w) for name, w in _tensors(reader, config).items()}
    return config, state


def write_tokenizer(gguf_path: Path, folder: Path) -> None:
    """tokenizer.json + tokenizer_config.json + the chat template, built by transformers from the GGUF."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    if not getattr(tokenizer, "chat_template", None):
        template = _field(_open(gguf_path), "tokenizer.chat_template")
        if template:
            tokenizer.chat_template = template
    tokenizer.save_pretrained(str(folder))


def write_llama_checkpoint(
    gguf_path: Path, folder: Path, bits: int | None, progress: Progress | None = None
) -> dict[str, torch.Tensor]:
    """Write the GGUF's model into `folder`: fp16 when `bits` is None, else GPTQ (symmetric, group 128, v1).

    Embeddings and norms stay fp16. Returns the float32 state dict that was converted.
    """
    gguf_path, folder = Path(gguf_path), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config, state = read_gguf_llama(gguf_path)
    quant = None if bits is None else QuantConfig(bits=bits, group_size=GROUP_SIZE, sym=True, checkpoint_format="gptq")
    stored: dict[str, torch.Tensor] = {}
    n_layers = config["num_hidden_layers"]
    for i in range(n_layers):
        prefix = f"model.layers.{i}."
        for name, w in state.items():
            if not name.startswith(prefix):
                continue
            if quant is None or w.dim() == 1:
                stored[name] = w.half()
            else:
                packed = quantize_rtn(w, quant)
                stored.update({f"{name.removesuffix('.weight')}.{key}": t for key, t in packed.items()})
        if progress:
            progress(f"Converting {gguf_path.name}: layer {i + 1}/{n_layers}", (i + 1) / n_layers)
    for name, w in state.items():
        if not name.startswith("model.layers."):
            stored[name] = w.half().contiguous()
    save_file(stored, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if quant is not None:
        q = asdict(quant) | {"quant_method": "gptq", "damp_percent": 0.0}
        config["quantization_config"] = q
        (folder / "quantize_config.json").write_text(json.dumps(q, indent=2) + "\n")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    write_tokenizer(gguf_path, folder)
    return state
