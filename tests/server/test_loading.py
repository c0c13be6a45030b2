"""Requests while the model loads wait for it; the status notification tells the editors every state."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from codellama_lsp.server.status import State
from tests.server.conftest import (
    CAPABILITIES,
    FAULTY_SERVER,
    KNOWN_ANSWER,
    open_document,
    pos,
    settings,
    wait_until,
    watch_status,
)

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"
OTHER_URI = "file:///ws/other.py"


def inline(trigger=lsp.InlineCompletionTriggerKind.Invoked) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI),
        position=pos(1, 4),
        context=lsp.InlineCompletionContext(trigger_kind=trigger),
    )


async def start(client: LanguageClient, model) -> list[dict]:
    statuses = watch_status(client)
    await client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(model))
    )
    open_document(client, URI, SOURCE)
    return statuses


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=FAULTY_SERVER, server_env={"CODELLAMA_TEST_LOAD_DELAY": "3"})
)
async def slow(lsp_client: LanguageClient, known_model):
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_requests_made_during_the_load_wait_for_it_and_get_their_answer(slow: LanguageClient, known_model):
    statuses = await start(slow, known_model)
    open_document(slow, OTHER_URI, SOURCE)  # one request per document: a newer one replaces the older
    ghost = asyncio.ensure_future(slow.text_document_inline_completion_async(inline()))
    completion = asyncio.ensure_future(
        slow.text_document_completion_async(
            lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=OTHER_URI), position=pos(1, 4))
        )
    )
    await wait_until(lambda: any(s["state"] == "loading" for s in statuses), what="the load to start")
    assert not ghost.done() and not completion.done()  # waiting, not answered empty
    assert [item.insert_text for item in (await ghost).items] == [KNOWN_ANSWER]
    assert [item.text_edit.new_text for item in (await completion).items] == [KNOWN_ANSWER]
    states = [s["state"] for s in statuses]
    assert states[0] == State.LOADING and states[-1] == State.READY and State.ERROR not in states
    loading = [s for s in statuses if s["state"] == "loading"]
    assert [s["percentage"] for s in loading] == sorted(s["percentage"] for s in loading)  # only grows
    assert loading[-1]["percentage"] == 100 and loading[-1]["message"].startswith("Loading layer")
    assert statuses[-1] == {
        "state": "ready",
        "model": str(known_model),
        "revision": "main",
        "device": "cpu",
        "message": "",
        "percentage": None,
        "busy": 0,
        "placement": "in-process",
    }


async def test_a_superseded_request_answers_empty_and_a_cancelled_one_cancelled(slow: LanguageClient, known_model):
    await start(slow, known_model)
    older = asyncio.ensure_future(slow.text_document_inline_completion_async(inline()))
    cancelled = asyncio.ensure_future(
        slow.protocol.send_request_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline(), msg_id="cancelled")
    )
    await asyncio.sleep(0.2)
    slow.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="cancelled"))
    newer = asyncio.ensure_future(slow.text_document_inline_completion_async(inline()))
    with pytest.raises(Exception) as info:
        await cancelled
    assert getattr(info.value, "code", None) == -32800  # RequestCancelled
    assert list((await older).items) == []
    assert [item.insert_text for item in (await newer).items] == [KNOWN_ANSWER]


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=FAULTY_SERVER, server_env={"CODELLAMA_TEST_LOAD_DELAY": "1"})
)
async def failing(lsp_client: LanguageClient, tmp_path_factory):
    yield lsp_client
    await lsp_client.shutdown_session()


async def test_a_failed_load_ends_the_wait_with_an_empty_answer_shown_once(failing: LanguageClient, tmp_path):
    statuses = await start(failing, tmp_path / "no-model-here")
    during = await failing.text_document_inline_completion_async(inline())  # made while the load ran
    answers = [during, await failing.text_document_inline_completion_async(inline())]
    assert [list(a.items) for a in answers] == [[], []]
    failures = [m for m in failing.messages if "could not load" in m.message]
    assert len(failures) == 1 and failures[0].type == lsp.MessageType.Error
    assert statuses[-1]["state"] == "error" and "no such folder" in statuses[-1]["message"]


def lsp_message(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.mark.parametrize("shutdown_first", [True, False], ids=["shutdown-exit", "exit-only"])
def test_exiting_during_a_load_stops_the_load_and_exits_cleanly(known_model, tmp_path, shutdown_first):
    log = tmp_path / "loads.txt"
    env = {"CODELLAMA_TEST_LOAD_DELAY": "600", "CODELLAMA_TEST_LOAD_LOG": str(log)}
    server = subprocess.Popen(
        FAULTY_SERVER,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
    )
    init = {"processId": None, "capabilities": {}, "initializationOptions": settings(known_model)}
    server.stdin.write(lsp_message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}))
    server.stdin.write(lsp_message({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    server.stdin.flush()
    for _ in range(600):  # until the load runs
        if log.exists() and "started" in log.read_text():
            break
        time.sleep(0.1)
    if shutdown_first:
        server.stdin.write(lsp_message({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None}))
    server.stdin.write(lsp_message({"jsonrpc": "2.0", "method": "exit", "params": None}))
    server.stdin.flush()
    _, stderr = server.communicate(timeout=120)
    assert log.read_text().split() == ["started", "stopped"]  # abandoned at its next progress step
    assert "terminate called" not in stderr.decode()
    assert server.returncode == (0 if shutdown_first else 1)  # LSP: exit without shutdown is an error exit
