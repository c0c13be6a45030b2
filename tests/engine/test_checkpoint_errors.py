"""Bad checkpoints give one clear error naming the file, never a deep traceback."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from codellama_lsp.engine import CheckpointError, EngineError, QuantConfig, load_model
from codellama_lsp.engine.synthetic import SyntheticSpec

SPEC = SyntheticSpec(vocab_size=256, dim=64, n_layers=1, n_heads=2, n_kv_heads=1, intermediate_size=128)
QUANT = QuantConfig(4, 32, True, True, "gptq")


@pytest.fixture
def folder(checkpoint_factory, tmp_path):
    source, _ = checkpoint_factory(SPEC, QUANT, seed=1)
    target = tmp_path / "ckpt"
    shutil.copytree(source, target)
    return target


def test_missing_folder_and_non_hub_path():
    with pytest.raises(CheckpointError, match="no such folder"):
        load_model("./does/not/exist")


def test_missing_config(folder):
    (folder / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json: file is missing"):
        load_model(folder)


def test_invalid_config_json(folder):
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: not valid JSON"):
        load_model(folder)


def test_missing_weights(folder):
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"no \*\.safetensors weight files"):
        load_model(folder)


def test_pickle_only_folder_is_refused(folder):
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(CheckpointError, match=r"only pickle weights \(pytorch_model\.bin\).*never loaded"):
        load_model(folder)


def test_truncated_safetensors_names_the_file(folder):
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match=r"model\.safetensors: (corrupt or truncated|cannot read tensor)"):
        load_model(folder)


def test_garbage_safetensors_names_the_file(folder):
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: corrupt or truncated"):
        load_model(folder)


def test_missing_shard_named(folder):
    index = {"weight_map": {"model.embed_tokens.weight": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"model-00002-of-00002\.safetensors: shard .* missing"):
        load_model(folder)


def test_wrong_shape_names_tensor_and_file(folder):
    tensors = load_file(folder / "model.safetensors")
    name = "model.layers.0.mlp.down_proj.scales"
    tensors[name] = torch.ones(3, 64, dtype=torch.float16)
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(
        CheckpointError, match=rf"model\.safetensors: tensor '{name}' has shape \[3, 64\], expected \[4, 64\]"
    ):
        load_model(folder)


def test_missing_tensor_named(folder):
    tensors = load_file(folder / "model.safetensors")
    del tensors["model.norm.weight"]
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"tensor 'model\.norm\.weight' is missing"):
        load_model(folder)


def test_g_idx_out_of_range(folder):
    tensors = load_file(folder / "model.safetensors")
    tensors["model.layers.0.self_attn.q_proj.g_idx"][0] = 99
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="points outside its 2 group"):
        load_model(folder)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"bits": 5}, "5-bit GPTQ is not supported"),
        ({"quant_method": "awq"}, "quant_method 'awq' is not supported"),
        ({"checkpoint_format": "marlin"}, "checkpoint_format 'marlin' is not supported"),
    ],
)
def test_unsupported_quantization(folder, change, message):
    q = json.loads((folder / "quantize_config.json").read_text()) | change
    (folder / "quantize_config.json").write_text(json.dumps(q))
    with pytest.raises(CheckpointError, match=message):
        load_model(folder)


def test_not_a_llama(folder):
    cfg = json.loads((folder / "config.json").read_text()) | {"model_type": "gpt2"}
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="not a Llama model"):
        load_model(folder)


def test_hub_id_offline_and_uncached(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(CheckpointError, match=r"TheBloke/CodeLlama-70B-Instruct-GPTQ@main: not in the local cache"):
        load_model("TheBloke/CodeLlama-70B-Instruct-GPTQ")


def test_bad_device_and_dtype(folder):
    with pytest.raises(EngineError, match="unknown device"):
        load_model(folder, device="tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="no CUDA GPU"):
            load_model(folder, device="cuda")
    with pytest.raises(EngineError, match="unknown dtype"):
        load_model(folder, dtype="float8")
