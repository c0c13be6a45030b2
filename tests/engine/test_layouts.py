"""Engine logits equal transformers' LlamaForCausalLM run on the exact dequantized weights."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from codellama_lsp.engine import QuantConfig, load_model
from codellama_lsp.engine.synthetic import SyntheticSpec
from tests.conftest import SEED_LAYOUTS, relative_error

# in-features 256 and 512 span several groups of 32 and 128; GQA with 4 query / 2 KV heads.
SPEC = SyntheticSpec(vocab_size=512, dim=256, n_layers=2, n_heads=4, n_kv_heads=2, intermediate_size=512)
TOKENS = [1, 17, 300, 42, 5, 511, 0, 99, 256, 3, 3, 3, 140, 77, 2, 8, 400, 23, 61, 12]


def oracle_logits(folder, exact: dict[str, torch.Tensor], bias: bool) -> torch.Tensor:
    cfg = json.loads((folder / "config.json").read_text())
    cfg.pop("quantization_config", None)
    config = LlamaConfig(**cfg)
    config.attention_bias = config.mlp_bias = bias
    model = LlamaForCausalLM(config).float().eval()
    result = model.load_state_dict(exact, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with torch.no_grad():
        return model(torch.tensor([TOKENS])).logits[0]


@pytest.mark.parametrize("bits,group_size", SEED_LAYOUTS, ids=[f"{b}bit-g{g}" for b, g in SEED_LAYOUTS])
def test_seed_branch_layouts_match_transformers(checkpoint_factory, bits, group_size):
    quant = QuantConfig(bits=bits, group_size=group_size, desc_act=True, sym=True, checkpoint_format="gptq")
    folder, exact = checkpoint_factory(SPEC, quant, seed=bits * 1000 + group_size)
    model = load_model(folder)
    g_idx = model.transformer.layers[0].mlp.down_proj.g_idx
    if group_size > 0:  # act-order: shuffled, not sorted
        assert not torch.equal(g_idx, g_idx.sort().values)
    assert relative_error(model.logits(TOKENS), oracle_logits(folder, exact, False)) <= 1e-4


def test_fp16_checkpoint_matches_transformers(checkpoint_factory):
    folder, exact = checkpoint_factory(SPEC, None, seed=7)
    assert relative_error(load_model(folder).logits(TOKENS), oracle_logits(folder, exact, False)) <= 1e-4


@pytest.mark.parametrize(
    "quant",
    [
        QuantConfig(4, 128, True, False, "gptq"),
        QuantConfig(4, 128, True, True, "gptq_v2"),
        QuantConfig(3, 32, True, False, "gptq_v2"),
        QuantConfig(3, 32, True, False, "gptq"),
        QuantConfig(2, 32, True, False, "gptq"),
        QuantConfig(8, -1, False, True, "gptq"),
    ],
    ids=["4bit-asym-v1", "4bit-sym-v2", "3bit-asym-v2", "3bit-asym-v1", "2bit-asym-v1", "8bit-sym-noact"],
)
def test_sym_asym_v1_v2_and_bias(checkpoint_factory, quant):
    spec = SyntheticSpec(vocab_size=512, dim=256, n_layers=1, n_heads=4, n_kv_heads=2, intermediate_size=512, bias=True)
    folder, exact = checkpoint_factory(spec, quant, seed=11)
    assert relative_error(load_model(folder).logits(TOKENS), oracle_logits(folder, exact, True)) <= 1e-4


def test_sharded_checkpoint_and_quantize_config_in_config_json(checkpoint_factory, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, exact = checkpoint_factory(SPEC, QuantConfig(4, 128, True, True, "gptq"), seed=5)
    tensors = load_file(folder / "model.safetensors")
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, tmp_path / shard)
    index = {"metadata": {}, "weight_map": {k: shard for shard, keys in shards.items() for k in keys}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "config.json").write_text((folder / "config.json").read_text())  # settings only in config.json
    assert not (tmp_path / "quantize_config.json").exists()
    assert relative_error(load_model(tmp_path).logits(TOKENS), oracle_logits(folder, exact, False)) <= 1e-4


def test_uncached_dequantization_gives_the_same_logits(checkpoint_factory):
    from codellama_lsp.engine.quant import QuantLinear, TorchKernel

    folder, _ = checkpoint_factory(SPEC, QuantConfig(3, 128, True, True, "gptq"), seed=3128)
    model = load_model(folder)
    cached = model.logits(TOKENS)
    for layer in model.transformer.modules():
        if isinstance(layer, QuantLinear):
            layer.kernel = TorchKernel(cache=False)
    assert torch.equal(model.logits(TOKENS), cached)
