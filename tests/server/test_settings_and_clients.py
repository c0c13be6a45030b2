"""Editors without codeAction/resolve, bad settings, and switching models while serving."""

from __future__ import annotations

import shutil

import attrs
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import (
    CAPABILITIES,
    KNOWN_ANSWER,
    SERVER,
    open_document,
    pos,
    progress_values,
    raw_request,
    settings,
    wait_for_model,
)

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"
NO_RESOLVE = attrs.evolve(
    CAPABILITIES,
    text_document=attrs.evolve(
        CAPABILITIES.text_document,
        code_action=attrs.evolve(CAPABILITIES.text_document.code_action, resolve_support=None),
    ),
)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model):
    bad = settings(known_model, contextTokens=99, inline={"temperature": -1, "topP": 0.5}, colour="blue")
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=NO_RESOLVE, initialization_options=bad))
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


async def test_bad_settings_are_reported_once_each_and_defaults_used(client: LanguageClient):
    warnings = [m.message for m in client.messages if m.type == lsp.MessageType.Warning]
    assert any("codellama.contextTokens" in m for m in warnings)
    assert any("codellama.inline.temperature" in m for m in warnings)
    assert any("codellama.colour is not a setting" in m for m in warnings)
    assert len(warnings) == len(set(warnings)) == 3
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI),
            position=pos(1, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert [i.insert_text for i in result.items] == [KNOWN_ANSWER]


async def test_without_resolve_actions_are_commands_that_apply_edits(client: LanguageClient):
    applied: list[lsp.ApplyWorkspaceEditParams] = []

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        applied.append(params)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    params = {
        "textDocument": {"uri": URI},
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
        "context": {"diagnostics": []},
    }
    actions = await raw_request(client, "list-1", lsp.TEXT_DOCUMENT_CODE_ACTION, params)  # JSON as the editor gets it
    refactor = next(a for a in actions if a["title"] == "Code Llama: Refactor / simplify")
    assert "edit" not in refactor and "data" not in refactor and refactor["command"]["command"] == "codellama.runAction"
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="codellama.runAction", arguments=refactor["command"]["arguments"])
    )
    assert result["applied"] is True
    (params,) = applied
    (change,) = params.edit.document_changes
    assert change.text_document.version == 1 and change.edits[0].new_text == KNOWN_ANSWER + "\n"


async def test_changing_the_model_reloads_it_in_the_background(client: LanguageClient, known_model, tmp_path):
    other = tmp_path / "other-model"
    shutil.copytree(known_model, other)
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=settings(other)))
    await wait_for_model(client, loads=2)
    begins = [
        v for v in progress_values(client) if isinstance(v, lsp.WorkDoneProgressBegin) and "loading model" in v.title
    ]
    assert [b.message for b in begins] == [f"{known_model} (main)", f"{other} (main)"]
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI),
            position=pos(1, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    assert [i.insert_text for i in result.items] == [KNOWN_ANSWER]
