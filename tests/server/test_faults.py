"""Bad input and faults: each gets an LSP error or an empty answer, and the server keeps serving."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from bench.soak import request
from tests.server.conftest import (
    CAPABILITIES,
    KNOWN_ANSWER,
    SERVER,
    open_document,
    pos,
    raw_request,
    rng,
    settings,
    wait_for_model,
)

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(known_model))
    )
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()
    assert lsp_client._server.returncode == 0  # shutdown + exit is a clean exit


def inline(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=pos(line, character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def ghost(client: LanguageClient, uri: str = URI, line: int = 1, character: int = 4) -> list[str]:
    result = await client.text_document_inline_completion_async(inline(uri, line, character))
    return [item.insert_text for item in result.items]


async def test_positions_past_the_end_are_clamped(client: LanguageClient):
    assert await ghost(client, line=1, character=400) == [KNOWN_ANSWER]
    assert await ghost(client, line=99, character=0) == [KNOWN_ANSWER]


async def test_unknown_documents(client: LanguageClient):
    assert await ghost(client, uri="file:///nowhere.py") == []
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri="file:///nowhere.py"),
            range=rng((0, 0), (0, 0)),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert not actions
    with pytest.raises(Exception, match="Unknown document") as info:
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(
                command="codellama.explain",
                arguments=[
                    {
                        "textDocument": {"uri": "file:///nowhere.py"},
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                    }
                ],
            )
        )
    assert info.value.code == -32602
    assert await ghost(client) == [KNOWN_ANSWER]


async def test_reversed_range_means_the_same_lines(client: LanguageClient):
    forward = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 4}}
    backward = {"start": forward["end"], "end": forward["start"]}
    results = []
    for r in (forward, backward):
        results.append(
            await client.workspace_execute_command_async(
                lsp.ExecuteCommandParams(
                    command="codellama.explain", arguments=[{"textDocument": {"uri": URI}, "range": r}]
                )
            )
        )
    assert results[0] == results[1] == {"text": KNOWN_ANSWER}


async def test_huge_and_binary_files_get_no_model_call(client: LanguageClient):
    open_document(client, "file:///ws/huge.js", "x = 1;\n" * 1_500_000, language="javascript")  # 10.5 MB
    assert await ghost(client, uri="file:///ws/huge.js", line=10, character=0) == []
    open_document(client, "file:///ws/blob.bin", "abc\x00\x01\x02def\n")
    assert await ghost(client, uri="file:///ws/blob.bin", line=0, character=2) == []
    with pytest.raises(Exception, match="too large"):
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(
                command="codellama.explain",
                arguments=[
                    {
                        "textDocument": {"uri": "file:///ws/huge.js"},
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}},
                    }
                ],
            )
        )
    assert await ghost(client) == [KNOWN_ANSWER]


async def test_lone_utf16_surrogates_do_not_break_anything(client: LanguageClient):
    open_document(client, "file:///ws/bad.py", "s = '\ud800'\ndef add(a, b):\n    \n")
    assert await ghost(client, uri="file:///ws/bad.py", line=2, character=4) == [KNOWN_ANSWER]


async def test_malformed_params_get_invalid_params(client: LanguageClient):
    with pytest.raises(Exception) as info:
        await raw_request(client, "bad-1", lsp.TEXT_DOCUMENT_INLINE_COMPLETION, {"textDocument": 5, "position": "here"})
    assert getattr(info.value, "code", None) == -32602
    with pytest.raises(Exception) as info:
        await raw_request(
            client, "bad-2", lsp.CODE_ACTION_RESOLVE, {"title": "x", "data": {"uri": URI, "action": "nope"}}
        )
    assert getattr(info.value, "code", None) == -32602
    with pytest.raises(Exception) as info:
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="codellama.ask", arguments=[{"range": 3}])
        )
    assert info.value.code == -32602
    assert await ghost(client) == [KNOWN_ANSWER]


async def test_unknown_command(client: LanguageClient):
    with pytest.raises(Exception, match="Unknown command") as info:
        await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.nope", arguments=[]))
    assert info.value.code == -32602


async def test_twenty_concurrent_requests_all_answered(client: LanguageClient):
    for i in range(20):
        open_document(client, f"file:///ws/many{i}.py", SOURCE)
    results = await asyncio.gather(*(ghost(client, uri=f"file:///ws/many{i}.py") for i in range(20)))
    assert results == [[KNOWN_ANSWER]] * 20


async def test_cancel_storm(client: LanguageClient):
    """Typing fast: each new request supersedes the last, and the editor cancels every other one itself."""
    pending = []
    for i in range(30):
        pending.append(await request(client, lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline(URI, 1, 4), f"storm-{i}"))
        if i % 2 == 0 and i < 29:
            client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=f"storm-{i}"))
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    answers = [
        getattr(o, "code", o) if isinstance(o, Exception) else [item.insert_text for item in o.items] for o in outcomes
    ]
    assert answers[-1] == [KNOWN_ANSWER]
    for i, answer in enumerate(answers[:-1]):  # each one finished before it was replaced, or:
        assert answer in ([KNOWN_ANSWER], -32800 if i % 2 == 0 else [])  # cancelled, or superseded: empty
    assert answers.count(-32800) > 0 and answers.count([]) > 0
    assert await ghost(client) == [KNOWN_ANSWER]


def test_positions_stay_utf16_when_the_editor_offers_utf8_first():
    import json

    server = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        capabilities = {"general": {"positionEncodings": ["utf-8", "utf-16"]}}
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "capabilities": capabilities},
            }
        )
        server.stdin.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        server.stdin.flush()
        headers = {}
        while line := server.stdout.readline().strip():
            name, _, value = line.partition(b":")
            headers[name.lower()] = value.strip()
        length = int(headers[b"content-length"])
        answer = json.loads(server.stdout.read(length))
        assert answer["result"]["capabilities"]["positionEncoding"] == "utf-16"
    finally:
        server.kill()
        server.wait()


def test_server_exits_when_the_editor_process_dies(known_model, tmp_path):
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    server = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        import json

        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": editor.pid, "capabilities": {}, "rootUri": None},
            }
        )
        server.stdin.write(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        server.stdin.flush()
        server.stdout.readline()  # the answer's header: initialize was handled
        time.sleep(1.0)
        assert server.poll() is None
        editor.kill()
        editor.wait()
        server.wait(timeout=20)
        assert server.returncode == 0
    finally:
        for p in (editor, server):
            if p.poll() is None:
                p.kill()
