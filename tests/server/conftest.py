"""An editor-like LSP client (explicit capabilities) against the real `codellama-lsp` process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from codellama_lsp.server.status import STATUS_NOTIFICATION
from tests.fixtures.known_answer import write_known_answer_checkpoint

KNOWN_ANSWER = "return a + b"
SERVER = [sys.executable, "-m", "codellama_lsp.server", "--log-level", "DEBUG"]
FAULTY_SERVER = [sys.executable, str(Path(__file__).parent / "faulty_server.py")]

CAPABILITIES = lsp.ClientCapabilities(
    text_document=lsp.TextDocumentClientCapabilities(
        synchronization=lsp.TextDocumentSyncClientCapabilities(did_save=False),
        inline_completion=lsp.InlineCompletionClientCapabilities(),
        completion=lsp.CompletionClientCapabilities(),
        code_action=lsp.CodeActionClientCapabilities(
            data_support=True,
            resolve_support=lsp.ClientCodeActionResolveOptions(properties=["edit"]),
            code_action_literal_support=lsp.ClientCodeActionLiteralOptions(
                code_action_kind=lsp.ClientCodeActionKindOptions(
                    value_set=["", "quickfix", "refactor", "refactor.rewrite"]
                )
            ),
        ),
    ),
    window=lsp.WindowClientCapabilities(work_done_progress=True),
    workspace=lsp.WorkspaceClientCapabilities(
        apply_edit=True,
        configuration=True,
        workspace_edit=lsp.WorkspaceEditClientCapabilities(document_changes=True),
        did_change_configuration=lsp.DidChangeConfigurationClientCapabilities(),
    ),
)


@pytest.fixture(scope="session")
def known_model(tmp_path_factory) -> Path:
    """A checkpoint whose greedy answer to any chat prompt is KNOWN_ANSWER."""
    folder = tmp_path_factory.mktemp("known-answer")
    write_known_answer_checkpoint(folder, KNOWN_ANSWER)
    return folder


@pytest.fixture(scope="session")
def endless_model(tmp_path_factory) -> Path:
    """Like `known_model`, but the answer repeats instead of ending (for long generations)."""
    folder = tmp_path_factory.mktemp("endless")
    write_known_answer_checkpoint(folder, KNOWN_ANSWER, endless=True)
    return folder


def settings(model: Path | str, **extra) -> dict:
    return {"codellama": {"model": str(model), "device": "cpu", **extra}}


async def wait_until(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def progress_values(client) -> list:
    return [value for values in client.progress_reports.values() for value in values]


async def wait_for_model(client, loads: int = 1) -> None:
    """Until `loads` model loads have ended (their progress bar says ready or failed)."""

    def ended() -> int:
        return sum(
            1
            for v in progress_values(client)
            if isinstance(v, lsp.WorkDoneProgressEnd) and v.message and ("ready" in v.message or v.message == "failed")
        )

    await wait_until(lambda: ended() >= loads, what="the model to load")


def open_document(client, uri: str, text: str, language: str = "python", version: int = 1) -> None:
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)
        )
    )


def change_document(client, uri: str, version: int, text: str, range_: lsp.Range) -> None:
    change = lsp.TextDocumentContentChangePartial(range=range_, text=text)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
        )
    )


def pos(line: int, character: int) -> lsp.Position:
    return lsp.Position(line=line, character=character)


def rng(a: tuple[int, int], b: tuple[int, int]) -> lsp.Range:
    return lsp.Range(start=pos(*a), end=pos(*b))


async def raw_request(client, msg_id: str, method: str, params) -> object:
    """Send JSON as written and get the JSON answer, bypassing the client's own types."""
    future = asyncio.get_running_loop().create_future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return await future


def watch_status(client) -> list[dict]:
    """Every `codellama/didChangeStatus` the server sends, in order, as JSON."""
    seen: list[dict] = []

    @client.feature(STATUS_NOTIFICATION)
    def on_status(params) -> None:
        seen.append(params._asdict())  # pygls gives a custom notification's params as a namedtuple

    return seen
