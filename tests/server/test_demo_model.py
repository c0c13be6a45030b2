"""The demo model (SmolLM2-135M-Instruct, trained weights) through the whole server: real ghost text."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import CAPABILITIES, SERVER, open_document, pos, rng, settings, wait_for_model
from tests.server.test_lsp_features import list_and_resolve, only_edit

pytestmark = pytest.mark.slow


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    greedy = settings("demo", inline={"temperature": 0}, actions={"temperature": 0})
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=greedy))
    await wait_for_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


# The file's name is in the prompt; a 135M model's answer can hinge on it ("add.py" gets an
# `if a < 0 ...` ramble), so more than one name is asked.
@pytest.mark.parametrize("name", ["calc.py", "utils.py", "main.py"])
async def test_ghost_text_in_add_is_its_body(client: LanguageClient, name: str):
    uri = f"file:///ws/{name}"
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


GEOMETRY = """import math


def circle_area(radius):
    return math.pi * radius ** 2


def count_vowels(text):
    return sum(1 for c in text.lower() if c in "aeiou")
"""


async def test_doc_adds_documentation_and_keeps_the_functions_code(client: LanguageClient):
    uri = "file:///ws/geometry.py"
    open_document(client, uri, GEOMETRY, version=3)
    resolved = await list_and_resolve(client, uri, rng((4, 4), (4, 4)), "Code Llama: Add documentation")
    edit = only_edit(resolved, uri, 3)
    assert edit.range == rng((3, 0), (5, 0))  # `def circle_area` and its body
    new = edit.new_text.split("\n")
    assert new[0] == "def circle_area(radius):" and new[-2] == "    return math.pi * radius ** 2"
    docstring = "\n".join(new[1:-2])
    assert docstring.strip().startswith('"""') and docstring.strip().endswith('"""') and len(docstring) > 10
