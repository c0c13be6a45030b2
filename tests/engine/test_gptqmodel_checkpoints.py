"""The engine reads checkpoints written by GPTQModel and matches GPTQModel's own logits.

Each folder in tests/fixtures/gptqmodel/ holds a tiny Llama quantized by GPTQModel (no
tokenizer) and `reference_logits.safetensors`: the logits GPTQModel's torch kernel computed
for `input_ids` on the CPU in float16. See tests/fixtures/gptqmodel/README.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gptqmodel"
VARIANTS = sorted(p for p in FIXTURES.iterdir() if (p / "reference_logits.safetensors").is_file())

MAX_RELATIVE_ERROR = 5e-3  # observed ~8e-4 on fp16 references; 5e-2 is the acceptance bound
MIN_ARGMAX_AGREEMENT = 0.85


def test_fixtures_present():
    assert len(VARIANTS) >= 6, f"expected GPTQModel checkpoints in {FIXTURES}"


@pytest.fixture(scope="module", params=VARIANTS, ids=lambda p: p.name)
def variant(request):
    """(folder, engine logits, reference input ids, reference logits) for one fixture folder."""
    from codellama_lsp.engine import load_model

    folder = request.param
    reference = load_file(str(folder / "reference_logits.safetensors"))
    model = load_model(str(folder), device="cpu")  # the folders ship no tokenizer
    logits = model.logits(reference["input_ids"].tolist())
    return folder, logits, reference["input_ids"], reference["logits"]


def test_logits_shape_and_dtype(variant):
    _, logits, input_ids, expected = variant
    assert isinstance(logits, torch.Tensor)
    assert logits.dtype == torch.float32
    assert tuple(logits.shape) == (len(input_ids), expected.shape[-1])
    assert torch.isfinite(logits).all()


def test_logits_match_gptqmodel(variant):
    folder, logits, _, expected = variant
    relative_error = float((logits - expected).norm() / expected.norm())
    assert relative_error <= MAX_RELATIVE_ERROR, f"{folder.name}: relative error {relative_error:.3e}"


def test_argmax_matches_gptqmodel(variant):
    folder, logits, _, expected = variant
    agreement = float((logits.argmax(-1) == expected.argmax(-1)).float().mean())
    assert agreement >= MIN_ARGMAX_AGREEMENT, f"{folder.name}: argmax agrees on {agreement:.0%} of positions"


def test_fixture_names_its_layout(variant):
    """The folder name (e.g. 4bit-128g-asym-v2) matches what quantize_config.json says."""
    folder = variant[0]
    config = json.loads((folder / "quantize_config.json").read_text())
    bits, group_size, zeros, version = re.fullmatch(r"(\d+)bit-(-?\d+)g-(sym|asym)-(v1|v2)", folder.name).groups()
    assert (config["bits"], config["group_size"]) == (int(bits), int(group_size))
    assert config["sym"] == (zeros == "sym")
    assert config["checkpoint_format"] == {"v1": "gptq", "v2": "gptq_v2"}[version]
    assert config["desc_act"] is True
