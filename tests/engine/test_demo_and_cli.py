"""The demo model and the engine's command line."""

from __future__ import annotations

import json

import pytest

from codellama_lsp.engine import QuantConfig, SamplingParams, load_model
from codellama_lsp.engine.config import parse_quant_config
from codellama_lsp.server.cli import main


def test_demo_model_command_writes_a_loadable_gptq_checkpoint(tmp_path, capsys):
    assert main(["demo-model", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "noise" in out
    folder = tmp_path / "demo"
    cfg = json.loads((folder / "config.json").read_text())
    assert parse_quant_config(folder, cfg) == QuantConfig(4, 128, True, True, "gptq")
    model = load_model(folder)
    assert model.args.vocab_size == len(model.tokenizer) == 32016
    assert model.tokenizer.convert_tokens_to_ids("<step>") == 32015
    assert 32015 in model.eos_token_ids
    ids = model.generate_ids("def add(a, b):", SamplingParams(max_new_tokens=5))
    assert 0 < len(ids) <= 5 and not set(ids) & model.eos_token_ids
    text = model.generate("def add(a, b):", SamplingParams(max_new_tokens=5))
    assert text.strip() == model.tokenizer.decode(ids).strip()  # the text path decodes the same tokens


def test_demo_source_is_built_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = load_model("demo")
    built = tmp_path / "codellama-lsp" / "demo-model" / "model.safetensors"
    stamp = built.stat().st_mtime_ns
    second = load_model("demo")
    assert built.stat().st_mtime_ns == stamp  # reused, not rebuilt
    ids = first.encode_chat([{"role": "user", "content": "hi"}])
    assert first.logits(ids).equal(second.logits(ids))


def test_generate_command_streams_an_answer_and_warns_about_noise(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["generate", "--model", "demo", "--device", "cpu", "--max-new-tokens", "4", "Reverse a string"]) == 0
    captured = capsys.readouterr()
    assert "noise" in captured.err
    assert captured.out.endswith("\n")


def test_cli_reports_a_bad_model_in_one_line(tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "missing"), "--device", "cpu", "hi"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("codellama-lsp: ") and "no such folder" in err and "Traceback" not in err


def test_cli_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in ("complete", "action", "generate", "demo-model", "--tcp"))
