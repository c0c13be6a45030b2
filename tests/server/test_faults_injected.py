"""Faults from outside the request: slow or failed model loads, out-of-memory, cancellation mid-generation."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import (
    CAPABILITIES,
    FAULTY_SERVER,
    KNOWN_ANSWER,
    SERVER,
    open_document,
    pos,
    progress_values,
    settings,
    wait_for_model,
    wait_until,
)

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"
EXPLAIN = {
    "textDocument": {"uri": URI},
    "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
}


def inline_params() -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI),
        position=pos(1, 4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def explain(client: LanguageClient, msg_id: str | None = None):
    params = lsp.ExecuteCommandParams(command="codellama.explain", arguments=[EXPLAIN])
    return await client.protocol.send_request_async(lsp.WORKSPACE_EXECUTE_COMMAND, params, msg_id=msg_id)


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=FAULTY_SERVER, server_env={"CODELLAMA_TEST_LOAD_DELAY": "4", "CODELLAMA_TEST_OOM_ONCE": "1"}
    )
)
async def faulty(lsp_client: LanguageClient, known_model):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(known_model))
    )
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


async def test_requests_while_loading_then_out_of_memory_once(faulty: LanguageClient):
    client = faulty
    # ghost text asked for while the model loads waits for it, then meets the simulated out-of-memory
    with pytest.raises(Exception, match="ran out of memory") as info:
        await client.text_document_inline_completion_async(inline_params())
    assert info.value.code == -32803
    assert sum("ran out of memory" in m.message for m in client.messages) == 1
    # the engine survived: the next requests succeed
    assert [i.insert_text for i in (await client.text_document_inline_completion_async(inline_params())).items] == [
        KNOWN_ANSWER
    ]
    assert (await explain(client))["text"] == KNOWN_ANSWER


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def broken(lsp_client: LanguageClient, tmp_path_factory):
    missing = tmp_path_factory.mktemp("empty") / "no-model-here"
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(missing))
    )
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


async def test_failed_model_load_is_reported_once(broken: LanguageClient):
    client = broken
    for _ in range(3):
        assert list((await client.text_document_inline_completion_async(inline_params())).items) == []
    with pytest.raises(Exception, match="not loaded") as info:
        await explain(client)
    assert info.value.code == -32803
    failures = [m for m in client.messages if "could not load" in m.message]
    assert len(failures) == 1 and failures[0].type == lsp.MessageType.Error
    assert "no such folder" in failures[0].message


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def endless(lsp_client: LanguageClient, endless_model):
    options = settings(endless_model, contextTokens=16384, actions={"maxNewTokens": 8000, "temperature": 0})
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=options))
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


def begun(client: LanguageClient, title: str) -> list[str]:
    return [
        token
        for token, values in client.progress_reports.items()
        if any(isinstance(v, lsp.WorkDoneProgressBegin) and v.title == title for v in values)
    ]


async def test_cancel_request_mid_generation(endless: LanguageClient):
    client = endless
    request = asyncio.ensure_future(explain(client, msg_id="long-explain"))
    await wait_until(lambda: begun(client, "Code Llama: Explain this code"), what="generation to start")
    await asyncio.sleep(0.3)
    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="long-explain"))
    with pytest.raises(Exception) as info:
        await request
    assert getattr(info.value, "code", None) == -32800  # RequestCancelled
    (token,) = begun(client, "Code Llama: Explain this code")
    await wait_until(
        lambda: isinstance(client.progress_reports[token][-1], lsp.WorkDoneProgressEnd), what="progress end"
    )
    # the server goes on answering (the endless model's ghost text is long, but it comes)
    result = await client.text_document_inline_completion_async(inline_params())
    endless = " ".join([KNOWN_ANSWER] * 32)  # the answer repeats until the inline maxNewTokens (128: 4 a time)
    assert [item.insert_text for item in result.items] == [endless]


async def test_cancel_from_the_progress_bar(endless: LanguageClient):
    client = endless
    request = asyncio.ensure_future(explain(client))
    await wait_until(lambda: begun(client, "Code Llama: Explain this code"), what="generation to start")
    (token,) = begun(client, "Code Llama: Explain this code")
    client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(Exception) as info:
        await request
    assert getattr(info.value, "code", None) == -32800
    assert any(isinstance(v, lsp.WorkDoneProgressEnd) for v in progress_values(client))
