"""`engine` set to a URL: the language server fits and renders prompts itself, and a `serve` answers them."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from lsprotocol import types as lsp

from codellama_lsp.engine import SamplingParams
from codellama_lsp.server.remote_engine import INLINE_PRIORITY, RemoteEngine
from tests.server.conftest import KNOWN_ANSWER, open_document, pos, rng, wait_until
from tests.server.engine_servers import lsp_client, serve, served_metric
from tests.server.serve_process import free_port
from tests.server.test_lsp_features import SOURCE, list_and_resolve, only_edit

URI = "file:///ws/calc.py"
REFACTOR = "Code Llama: Refactor / simplify"


@pytest.fixture(scope="module")
def known_url(known_model, tmp_path_factory):
    with serve(known_model, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def endless_url(endless_model, tmp_path_factory):
    with serve(endless_model, tmp_path_factory.mktemp("serve") / "serve.log") as url:
        yield url


def inline_params(line: int = 4, character: int = 4) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI),
        position=pos(line, character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


async def ghost_and_edit(client) -> tuple[list[str], lsp.TextEdit]:
    open_document(client, URI, SOURCE, version=3)
    result = await client.text_document_inline_completion_async(inline_params())
    resolved = await list_and_resolve(client, URI, rng((8, 8), (8, 8)), REFACTOR)
    return [item.insert_text for item in result.items], only_edit(resolved, URI, 3)


async def test_the_same_ghost_text_and_edits_as_in_process(known_model, known_url):
    local = await lsp_client(known_model)
    remote = await lsp_client(known_model, engine=known_url)
    try:
        ghost, edit = await ghost_and_edit(remote)
        assert ghost == [KNOWN_ANSWER]
        assert (ghost, edit) == await ghost_and_edit(local)
        status = await remote.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.status"))
        assert (status["state"], status["placement"], status["device"]) == ("ready", known_url, None)
        engine = status["engine"]
        assert (engine["url"], engine["reachable"], engine["servedModel"]) == (known_url, True, str(known_model))
        assert engine["promptAs"] == "ids" and engine["sendsPriority"]  # `serve` takes both
        assert served_metric(known_url, "codellama_prompt_tokens_total") > 0
    finally:
        await asyncio.gather(local.shutdown_session(), remote.shutdown_session())


async def test_cancelling_a_code_action_frees_the_remote_kv(endless_model, endless_url):
    client = await lsp_client(endless_model, engine=endless_url, actions={"maxNewTokens": 4000})
    try:
        open_document(client, URI, SOURCE)
        actions = await client.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=URI),
                range=rng((8, 8), (8, 8)),
                context=lsp.CodeActionContext(diagnostics=[]),
            )
        )
        (action,) = [a for a in actions if a.title == REFACTOR]
        resolving = asyncio.ensure_future(
            client.protocol.send_request_async(lsp.CODE_ACTION_RESOLVE, action, msg_id="resolve")
        )
        await wait_until(
            lambda: served_metric(endless_url, "codellama_kv_blocks_in_use") > 0, what="the remote generation"
        )
        client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="resolve"))
        with pytest.raises(Exception, match="cancel"):
            await resolving
        await wait_until(
            lambda: served_metric(endless_url, "codellama_kv_blocks_in_use") == 0, what="the KV to be freed"
        )
        assert served_metric(endless_url, "codellama_requests_running") == 0
    finally:
        await client.shutdown_session()


async def test_an_unreachable_engine_is_shown_once_and_retried(known_model, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    client = await lsp_client(known_model, engine=url)
    try:
        open_document(client, URI, SOURCE)
        for _ in range(2):
            assert not (await client.text_document_inline_completion_async(inline_params())).items
        shown = [m.message for m in client.messages if url in m.message]
        assert len(shown) == 1 and "cannot reach" in shown[0] and "codellama.engine" in shown[0]
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.status"))
        assert status["state"] == "error" and status["engine"]["reachable"] is False

        with serve(known_model, tmp_path / "serve.log", port=port):
            result = await client.text_document_inline_completion_async(inline_params())
            assert [item.insert_text for item in result.items] == [KNOWN_ANSWER]  # retried, and answered
            await wait_until(lambda: client.statuses[-1]["state"] == "ready", what="the status to recover")
    finally:
        await client.shutdown_session()


async def test_the_api_key_comes_from_the_named_variable_and_the_served_name_is_adopted(known_model, tmp_path):
    key = {"SERVE_KEY": "s3cret"}
    args = ("--api-key-env", "SERVE_KEY", "--served-model-name", "llama")
    with serve(known_model, tmp_path / "serve.log", *args, env=key, key="s3cret") as url:
        with_key = await lsp_client(known_model, env={"MY_KEY": "s3cret"}, engine=url, apiKeyEnv="MY_KEY")
        without = await lsp_client(known_model, engine=url, apiKeyEnv="MY_KEY")
        try:
            open_document(with_key, URI, SOURCE)
            result = await with_key.text_document_inline_completion_async(inline_params())
            assert [item.insert_text for item in result.items] == [KNOWN_ANSWER]
            status = await with_key.workspace_execute_command_async(
                lsp.ExecuteCommandParams(command="codellama.status")
            )
            assert status["engine"]["servedModel"] == "llama"  # the one model it serves, not the folder's name

            open_document(without, URI, SOURCE)
            assert not (await without.text_document_inline_completion_async(inline_params())).items
            (shown,) = [m.message for m in without.messages if url in m.message]
            assert "401" in shown and "MY_KEY" in shown
        finally:
            await asyncio.gather(with_key.shutdown_session(), without.shutdown_session())


class PickyServer:
    """An OpenAI-compatible server like vLLM without `--scheduling-policy priority` (400 on `priority`) that,
    like TGI or llama.cpp, takes only text prompts (422 on token ids)."""

    def __init__(self):
        self.bodies: list[dict] = []

    async def __call__(self, scope, receive, send):
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response

        body = await Request(scope, receive).json()
        self.bodies.append(body)
        if "priority" in body:
            response = JSONResponse({"error": {"message": "priority: not enabled by the scheduler"}}, 400)
        elif not isinstance(body["prompt"], str):
            response = JSONResponse({"detail": [{"loc": ["body", "prompt"], "msg": "str type expected"}]}, 422)
        else:
            events = [{"choices": [{"text": t}]} for t in ("ret", "urn x")]
            sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            response = Response(sse, media_type="text/event-stream")
        await response(scope, receive, send)


async def test_priority_then_token_ids_are_dropped_once_the_server_refuses_them():
    from codellama_lsp.engine.demo import tokenizer_files
    from codellama_lsp.engine.tokenizer import load_tokenizer

    app, tokenizer = PickyServer(), load_tokenizer(tokenizer_files())
    engine = RemoteEngine("http://picky/v1", "m", tokenizer)
    engine._client = lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    ids = engine.encode_chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "add(a, b):\n "}])
    params = SamplingParams(max_new_tokens=8)
    assert "".join([d async for d in engine.stream(ids, params, "inline")]) == "return x"
    first, second, third = app.bodies
    assert (first["priority"], first["prompt"]) == (INLINE_PRIORITY, ids)
    assert "priority" not in second and second["prompt"] == ids
    assert third["prompt"].startswith("Source: system") and "<s>" not in third["prompt"]  # the server adds BOS
    assert tokenizer.encode(third["prompt"]) == ids  # the same prompt, whoever tokenizes it
    assert " <step>" not in third["prompt"]  # the spaces `<step>` takes in are left out, for llama.cpp
    assert "".join([d async for d in engine.stream(ids, params, "inline")]) == "return x"
    assert len(app.bodies) == 4  # settled: text, no priority
    assert engine.stats()["promptAs"] == "text" and not engine.stats()["sendsPriority"]
