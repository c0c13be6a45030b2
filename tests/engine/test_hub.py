"""Hub sources: download progress reaches the caller, and hub failures read as one clear error."""

from __future__ import annotations

import huggingface_hub
import pytest
from huggingface_hub import errors

from codellama_lsp.engine import CheckpointError
from codellama_lsp.engine.hub import HUB_PATTERNS, resolve_source


def test_download_reports_files_fetched_and_only_asks_for_safe_files(monkeypatch, tmp_path):
    seen = {}

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, tqdm_class=None, **_):
        seen.update(repo_id=repo_id, revision=revision, patterns=allow_patterns)
        bar = tqdm_class(total=3, disable=True)
        for _ in range(3):
            bar.update(1)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    reports = []
    folder = resolve_source(
        "TheBloke/CodeLlama-70B-Instruct-GPTQ", "gptq-3bit--1g-actorder_True", lambda m, f: reports.append((m, f))
    )
    assert folder == tmp_path
    assert seen == {
        "repo_id": "TheBloke/CodeLlama-70B-Instruct-GPTQ",
        "revision": "gptq-3bit--1g-actorder_True",
        "patterns": HUB_PATTERNS,
    }
    assert not any(p.endswith((".bin", ".pt", ".py")) for p in HUB_PATTERNS)
    assert reports[-1] == (
        "Downloading TheBloke/CodeLlama-70B-Instruct-GPTQ@gptq-3bit--1g-actorder_True: 3/3 files",
        1.0,
    )


def hub_error(kind: type[Exception]) -> Exception:
    error = kind.__new__(kind)  # without an HTTP response, as the hub client would attach
    Exception.__init__(error, "404")
    return error


@pytest.mark.parametrize(
    "kind,message",
    [
        (errors.RepositoryNotFoundError, "repository not found"),
        (errors.RevisionNotFoundError, "no such branch"),
        (ConnectionResetError, "download failed .* run again to resume"),
    ],
)
def test_hub_failures_are_checkpoint_errors(monkeypatch, kind, message):
    def failing(*args, **kwargs):
        raise hub_error(kind)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", failing)
    with pytest.raises(CheckpointError, match=f"owner/model@main: {message}"):
        resolve_source("owner/model")
