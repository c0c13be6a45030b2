"""The server as an editor sees it: capabilities, ghost text, completion items, code actions, edits."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import (
    CAPABILITIES,
    KNOWN_ANSWER,
    SERVER,
    change_document,
    open_document,
    pos,
    progress_values,
    rng,
    settings,
    wait_for_model,
)

SOURCE = "import math\n\n\ndef add(a, b):\n    \n\n\ndef area(r):\n    return math.pi * r * r\n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model):
    result = await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(known_model))
    )
    lsp_client.initialize_result = result
    await wait_for_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_initialize_advertises_every_capability(client: LanguageClient):
    caps = client.initialize_result.capabilities
    assert caps.inline_completion_provider is not None
    assert caps.completion_provider is not None
    assert caps.code_action_provider.resolve_provider is True
    assert "quickfix" in caps.code_action_provider.code_action_kinds
    assert set(caps.execute_command_provider.commands) >= {"codellama.ask", "codellama.explain", "codellama.runAction"}
    sync = caps.text_document_sync
    assert sync.change == lsp.TextDocumentSyncKind.Incremental and sync.open_close


async def test_model_load_reports_progress(client: LanguageClient):
    values = progress_values(client)
    assert any(isinstance(v, lsp.WorkDoneProgressBegin) and "loading model" in v.title for v in values)
    assert any(isinstance(v, lsp.WorkDoneProgressEnd) and "ready" in (v.message or "") for v in values)


async def test_inline_completion_is_the_known_answer(client: LanguageClient):
    open_document(client, "file:///ws/calc.py", SOURCE)
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri="file:///ws/calc.py"),
            position=pos(4, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
        )
    )
    assert [item.insert_text for item in result.items] == [KNOWN_ANSWER]
    assert result.items[0].range == rng((4, 4), (4, 4))


async def test_completion_fallback_offers_the_same_text(client: LanguageClient):
    open_document(client, "file:///ws/calc.py", SOURCE.replace("    \n\n\ndef area", "    return\n\n\ndef area"))
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri="file:///ws/calc.py"), position=pos(4, 10))
    )
    (item,) = result.items
    # the typed word "return" is part of the item, so clients filtering by it keep the item
    assert item.text_edit.new_text == item.filter_text == KNOWN_ANSWER  # "return" + the ghost text " a + b"
    assert item.text_edit.range == rng((4, 4), (4, 10))


async def test_code_actions_list_at_once_without_edits(client: LanguageClient):
    open_document(client, "file:///ws/calc.py", SOURCE)
    problem = lsp.Diagnostic(
        range=rng((8, 11), (8, 15)), message="name 'math' might be shadowed", severity=lsp.DiagnosticSeverity.Warning
    )
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri="file:///ws/calc.py"),
            range=rng((8, 4), (8, 4)),
            context=lsp.CodeActionContext(diagnostics=[problem]),
        )
    )
    titles = {a.title: a for a in actions}
    assert set(titles) == {
        "Code Llama: Explain this code",
        "Code Llama: Fix",
        "Code Llama: Add documentation",
        "Code Llama: Write tests",
        "Code Llama: Refactor / simplify",
    }
    assert all(a.edit is None and a.data for a in actions)
    assert titles["Code Llama: Fix"].kind == lsp.CodeActionKind.QuickFix
    assert list(titles["Code Llama: Fix"].diagnostics) == [problem]
    assert titles["Code Llama: Refactor / simplify"].kind == lsp.CodeActionKind.RefactorRewrite
    only_fix = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri="file:///ws/calc.py"),
            range=rng((8, 4), (8, 4)),
            context=lsp.CodeActionContext(diagnostics=[problem], only=[lsp.CodeActionKind.QuickFix]),
        )
    )
    assert [a.title for a in only_fix] == ["Code Llama: Fix"]


async def list_and_resolve(client: LanguageClient, uri: str, range_: lsp.Range, title: str) -> lsp.CodeAction:
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=range_,
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    (action,) = [a for a in actions if a.title == title]
    return await client.code_action_resolve_async(action)


def only_edit(action: lsp.CodeAction, uri: str, version: int) -> lsp.TextEdit:
    (change,) = action.edit.document_changes
    assert change.text_document.uri == uri and change.text_document.version == version
    (edit,) = change.edits
    return edit


async def test_refactor_resolves_to_a_versioned_edit_of_the_cursor_function(client: LanguageClient):
    uri = "file:///ws/area.py"
    open_document(client, uri, SOURCE, version=7)
    resolved = await list_and_resolve(client, uri, rng((8, 8), (8, 8)), "Code Llama: Refactor / simplify")
    edit = only_edit(resolved, uri, 7)
    assert edit.range == rng((7, 0), (9, 0))  # `def area` and its body, whole lines
    assert edit.new_text == KNOWN_ANSWER + "\n"
    assert any(
        isinstance(v, lsp.WorkDoneProgressBegin) and v.title == "Code Llama: Refactor / simplify" and v.cancellable
        for v in progress_values(client)
    )


async def test_explain_inserts_a_comment_block_above_and_returns_the_text(client: LanguageClient):
    uri = "file:///ws/explain.py"
    open_document(client, uri, SOURCE, version=3)
    resolved = await list_and_resolve(client, uri, rng((7, 0), (8, 30)), "Code Llama: Explain this code")
    edit = only_edit(resolved, uri, 3)
    assert edit.range == rng((7, 0), (7, 0)) and edit.new_text == f"# {KNOWN_ANSWER}\n"
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(
            command="codellama.explain",
            arguments=[
                {
                    "textDocument": {"uri": uri},
                    "range": {"start": {"line": 7, "character": 0}, "end": {"line": 8, "character": 30}},
                }
            ],
        )
    )
    assert result["text"] == KNOWN_ANSWER


async def test_tests_action_inserts_below_the_selection(client: LanguageClient):
    uri = "file:///ws/tests.py"
    open_document(client, uri, SOURCE, version=2)
    resolved = await list_and_resolve(client, uri, rng((7, 0), (9, 0)), "Code Llama: Write tests")
    edit = only_edit(resolved, uri, 2)
    assert edit.range == rng((9, 0), (9, 0)) and edit.new_text == f"\n{KNOWN_ANSWER}\n"


async def test_ask_command_applies_a_versioned_edit_through_the_editor(client: LanguageClient):
    uri = "file:///ws/ask.py"
    open_document(client, uri, SOURCE, version=4)
    applied: list[lsp.ApplyWorkspaceEditParams] = []

    @client.feature(lsp.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: lsp.ApplyWorkspaceEditParams) -> lsp.ApplyWorkspaceEditResult:
        applied.append(params)
        return lsp.ApplyWorkspaceEditResult(applied=True)

    argument = {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 3, "character": 0}, "end": {"line": 5, "character": 0}},
        "instruction": "implement it",
    }
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="codellama.ask", arguments=[argument])
    )
    assert result == {"applied": True, "text": KNOWN_ANSWER + "\n    \n"}  # the selection's blank last line stays
    (params,) = applied
    (change,) = params.edit.document_changes
    assert change.text_document.version == 4
    assert change.edits[0].range == rng((3, 0), (5, 0)) and change.edits[0].new_text == KNOWN_ANSWER + "\n    \n"


async def test_stale_edit_is_refused(client: LanguageClient):
    uri = "file:///ws/stale.py"
    open_document(client, uri, SOURCE, version=1)

    def create(params: lsp.WorkDoneProgressCreateParams) -> None:
        # The user types while the action is being generated (the server has read version 1).
        client.progress_reports.setdefault(params.token, [])
        change_document(client, uri, 2, "# edited\n", rng((0, 0), (0, 0)))

    client.protocol.fm.features[lsp.WINDOW_WORK_DONE_PROGRESS_CREATE] = create

    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=rng((8, 4), (8, 4)),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    refactor = next(a for a in actions if a.kind == lsp.CodeActionKind.RefactorRewrite)
    with pytest.raises(Exception, match="changed while the answer was generated") as info:
        await client.code_action_resolve_async(refactor)
    assert getattr(info.value, "code", None) == -32801  # ContentModified
    assert any("was not applied" in m.message for m in client.messages)


async def test_settings_change_applies(client: LanguageClient):
    uri = "file:///ws/lang.py"
    open_document(client, uri, SOURCE)
    params = lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=pos(4, 4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )
    assert (await client.text_document_inline_completion_async(params)).items
    known = client.initialize_result  # unchanged model: no reload
    client.workspace_did_change_configuration(
        lsp.DidChangeConfigurationParams(
            settings={
                "codellama": {**settings("")["codellama"], "model": _model_of(client), "enabledLanguages": ["rust"]}
            }
        )
    )
    assert list((await client.text_document_inline_completion_async(params)).items) == []
    assert known is client.initialize_result


def _model_of(client: LanguageClient) -> str:
    return next(
        v.message
        for v in progress_values(client)
        if isinstance(v, lsp.WorkDoneProgressBegin) and "loading model" in v.title
    ).split(" (")[0]
