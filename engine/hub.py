"""Where a checkpoint comes from: a local folder, the built-in demo, or the Hugging Face hub."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

from .errors import CheckpointError

log = logging.getLogger(__name__)

DEMO_SOURCE = "demo"
# Weights as safetensors, configs and tokenizer files; never pickles or remote code.
HUB_PATTERNS = ["*.safetensors", "*.json", "tokenizer.model", "*.jinja"]
TOKENIZER_PATTERNS = ["*.json", "tokenizer.model", "*.jinja"]  # configs and tokenizer: a few MB
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

Progress = Callable[[str, float | None], None]


def cache_dir() -> Path:
    """Where codellama-lsp keeps what it fetches and builds (the demo model)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "codellama-lsp"


def resolve_source(
    source: str | os.PathLike,
    revision: str | None = None,
    progress: Progress | None = None,
    patterns: list[str] = HUB_PATTERNS,
) -> Path:
    """A folder holding the checkpoint: `source` itself, the demo model, or a hub snapshot (of `patterns`)."""
    text = str(source)
    if text == DEMO_SOURCE:
        from .demo import ensure_demo_model

        return ensure_demo_model(cache_dir() / "demo-model", progress)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError("is a file; give the folder that holds config.json and the weights", text)
    if not HUB_ID.match(text) or text.startswith((".", "/", "~")):
        raise CheckpointError("no such folder, and not a hub id of the form owner/name", text)
    return download(text, revision, progress, patterns)


def _reporting_bar(progress: Progress | None, where: str):
    """A tqdm bar (shown on a terminal) that also reports the files fetched so far to `progress`."""
    from tqdm.auto import tqdm

    if progress is None:
        return None

    class ReportingBar(tqdm):
        fetched = 0  # counted here too: a disabled bar (no terminal) counts nothing

        def update(self, n: float | None = 1) -> bool | None:
            self.fetched += n or 0
            if self.total:
                progress(f"Downloading {where}: {int(self.fetched)}/{int(self.total)} files", self.fetched / self.total)
            return super().update(n)

    return ReportingBar


def download(
    repo_id: str, revision: str | None, progress: Progress | None = None, patterns: list[str] = HUB_PATTERNS
) -> Path:
    """Fetch (or reuse from the cache) the hub snapshot; resumable, honours HF_HUB_OFFLINE."""
    from huggingface_hub import errors, snapshot_download

    where = f"{repo_id}@{revision or 'main'}"
    if progress:
        progress(f"Downloading {where}", None)
    log.info("downloading %s (patterns %s)", where, patterns)
    try:
        folder = snapshot_download(
            repo_id, revision=revision, allow_patterns=patterns, tqdm_class=_reporting_bar(progress, where)
        )
    except errors.RepositoryNotFoundError:
        raise CheckpointError(
            "repository not found on the hub (or it is private: run `hf auth login`)", where
        ) from None
    except errors.RevisionNotFoundError:
        raise CheckpointError("no such branch or revision in this repository", where) from None
    except errors.GatedRepoError:
        raise CheckpointError(
            "repository is gated: accept its licence on the hub and run `hf auth login`", where
        ) from None
    except errors.LocalEntryNotFoundError:
        raise CheckpointError(
            "not in the local cache and the hub cannot be reached (HF_HUB_OFFLINE set, or no network)", where
        ) from None
    except (errors.HfHubHTTPError, OSError) as e:
        raise CheckpointError(f"download failed ({e}); run again to resume", where) from None
    return Path(folder)
