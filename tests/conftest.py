"""Shared fixtures: tiny checkpoints written on the fly, and the bundled CodeLlama-70B tokenizer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from codellama_lsp.engine import QuantConfig
from codellama_lsp.engine.demo import tokenizer_files
from codellama_lsp.engine.synthetic import SyntheticSpec, write_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
TOKENIZER_DIR = FIXTURES / "codellama-70b-instruct-tokenizer"

# The model card's six branches: (bits, group size), all act-order.
SEED_LAYOUTS = [(4, -1), (4, 128), (4, 32), (3, -1), (3, 128), (3, 32)]


@pytest.fixture(scope="session", autouse=True)
def cpu_unless_asked():
    """Tests compare with float32 references: a model loaded without a device stays on the CPU (rather than
    "auto", which picks a GPU when there is one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("codellama_lsp.engine.loader.DEFAULT_DEVICE", "cpu")
        yield


def add_tokenizer(folder: Path) -> Path:
    for f in tokenizer_files().iterdir():
        if f.suffix == ".json":
            shutil.copyfile(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory):
    """make(spec, quant, seed, tokenizer) -> (folder, exact float32 state dict), cached per arguments."""
    made: dict = {}

    def make(
        spec: SyntheticSpec = SyntheticSpec(), quant: QuantConfig | None = None, seed: int = 0, tokenizer: bool = False
    ):
        key = (spec, quant, seed, tokenizer)
        if key not in made:
            folder = tmp_path_factory.mktemp("ckpt")
            exact = write_checkpoint(folder, spec, quant, seed=seed)
            if tokenizer:
                add_tokenizer(folder)
            made[key] = (folder, exact)
        return made[key]

    return make


CHAT_SPEC = SyntheticSpec(vocab_size=32016, dim=64, n_layers=2, n_heads=2, n_kv_heads=1, intermediate_size=128)


@pytest.fixture(scope="session")
def chat_model(checkpoint_factory):
    """A tiny random GPTQ model with the real CodeLlama-70B tokenizer."""
    from codellama_lsp.engine import load_model

    folder, _ = checkpoint_factory(CHAT_SPEC, QuantConfig(4, 32, True, True, "gptq"), seed=3, tokenizer=True)
    return load_model(folder)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())
