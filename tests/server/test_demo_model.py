"""The demo model (SmolLM2-135M-Instruct, trained weights) through the whole server: real ghost text."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import CAPABILITIES, SERVER, open_document, pos, settings, wait_for_model

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    greedy = settings("demo", inline={"temperature": 0}, actions={"temperature": 0})
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=greedy))
    await wait_for_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_ghost_text_in_a_function_body_is_its_code(client: LanguageClient):
    uri = "file:///ws/calc.py"
    open_document(client, uri, "def add(a, b):\n    \n")
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=pos(1, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    (item,) = result.items
    assert "return a + b" in item.insert_text
