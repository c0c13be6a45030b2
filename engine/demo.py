"""The demo model: a tiny random-weight GPTQ checkpoint with CodeLlama-70B's tokenizer.

4-bit, act-order, group size 128, like the real model's branches, small enough for a laptop
CPU. Its weights are random, so what it writes is noise; it exists to run the whole stack.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from .config import QuantConfig
from .synthetic import SyntheticSpec, write_checkpoint

DEMO_VERSION = 1
DEMO_SPEC = SyntheticSpec(vocab_size=32016, dim=256, n_layers=2, n_heads=4, n_kv_heads=2, intermediate_size=768)
DEMO_QUANT = QuantConfig(bits=4, group_size=128, desc_act=True, sym=True, checkpoint_format="gptq")
TOKENIZER_ASSET = "codellama-70b-instruct-tokenizer"
NOTICE = "Demo model: random weights, so its output is noise. It only shows the whole stack working."


def tokenizer_files() -> Path:
    """The bundled CodeLlama-70B-Instruct tokenizer (Llama vocabulary + 16 added tokens, its chat template)."""
    return Path(str(resources.files(__package__).joinpath("assets", TOKENIZER_ASSET)))


def write_demo_model(folder: Path, seed: int = 0) -> Path:
    """Write the demo checkpoint into `folder` (created)."""
    folder = Path(folder)
    write_checkpoint(folder, DEMO_SPEC, DEMO_QUANT, seed=seed)
    for f in tokenizer_files().iterdir():
        if f.suffix == ".json":
            shutil.copyfile(f, folder / f.name)
    config = json.loads((folder / "config.json").read_text())
    config["codellama_lsp_demo_version"] = DEMO_VERSION
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text(f"# codellama-lsp demo model\n\n{NOTICE}\n")
    return folder


def ensure_demo_model(folder: Path) -> Path:
    """Build the demo model into `folder` once; later calls reuse it."""
    config = folder / "config.json"
    if config.exists():
        try:
            if json.loads(config.read_text()).get("codellama_lsp_demo_version") == DEMO_VERSION:
                return folder
        except (OSError, ValueError):
            pass  # unreadable: build it again
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=folder.parent))
    write_demo_model(staging)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.replace(staging, folder)  # atomic: a concurrent builder never sees half a model
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race
    return folder
