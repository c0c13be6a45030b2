"""The language server on a model split across two devices ("cpu,cpu", the path two GPUs take):
`codellama.status` names both devices and the placement, and ghost text answers as on one."""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import CAPABILITIES, KNOWN_ANSWER, SERVER, open_document, pos, settings, wait_for_model

URI = "file:///ws/add.py"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model):
    options = settings(known_model, device="cpu,cpu", gpuSplit="0,1", inline={"temperature": 0})
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=options))
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, "def add(a, b):\n    \n")
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_status_names_the_devices_and_ghost_text_answers(client: LanguageClient):
    status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.status"))
    assert status["state"] == "ready" and status["device"] == "cpu,cpu"
    assert status["engine"]["placement"].startswith("cpu: embedding (")
    assert "cpu: layer 0, lm_head" in status["engine"]["placement"]
    params = lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI), position=pos(1, 4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )  # fmt: skip
    result = await client.text_document_inline_completion_async(params)
    assert result.items and result.items[0].insert_text.startswith(KNOWN_ANSWER)
