"""The language server on the serving engine: `codellama.status`, and a newer ghost-text
request aborting the older one, whose KV blocks are freed while its prompt stays cached."""

from __future__ import annotations

import asyncio

import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.server.conftest import CAPABILITIES, KNOWN_ANSWER, SERVER, open_document, pos, settings, wait_for_model

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"
INLINE_TOKENS = 600
KV_BYTES = 6_000_000


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def endless(lsp_client: LanguageClient, endless_model):
    options = settings(endless_model, inline={"maxNewTokens": INLINE_TOKENS, "temperature": 0}, kvCacheBytes=KV_BYTES)
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=options))
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


async def status(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.status"))


async def engine_when(client: LanguageClient, predicate, what: str) -> dict:
    for _ in range(600):
        engine = (await status(client))["engine"]
        if predicate(engine):
            return engine
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}: {engine}")


def inline(client: LanguageClient) -> asyncio.Future:
    params = lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI), position=pos(1, 4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )  # fmt: skip
    return asyncio.ensure_future(client.text_document_inline_completion_async(params))


async def test_status_reports_the_model_and_an_idle_engine(endless: LanguageClient):
    s = await status(endless)
    assert s["state"] == "ready" and s["device"] == "cpu" and s["error"] is None
    engine = s["engine"]
    assert engine["running"] == engine["waiting"] == engine["kvBlocksUsed"] == 0
    assert engine["kvBlocks"] > 0 and engine["blockSize"] == 16
    block_bytes = engine["kvCacheBytes"] // engine["kvBlocks"]
    assert KV_BYTES - block_bytes < engine["kvCacheBytes"] <= KV_BYTES  # the configured budget, in whole blocks


async def test_a_newer_inline_request_aborts_the_older_and_frees_its_kv(endless: LanguageClient):
    client = endless
    first = inline(client)
    decoding = lambda e: e["running"] == 1 and e["kvBlocksUsed"] * e["blockSize"] > e["promptTokens"] + e["blockSize"]  # noqa: E731
    busy = await engine_when(client, decoding, "the first request to decode past its prompt")
    second = inline(client)  # same document: the first one is cancelled in the engine
    try:
        await first
    except Exception as e:  # a superseded request may answer empty or as cancelled
        assert getattr(e, "code", None) == -32800
    engine = await engine_when(
        client, lambda e: e["running"] == 1 and e["promptTokens"] > busy["promptTokens"], "the second request alone"
    )
    prompt = engine["promptTokens"] // 2  # the same prompt twice
    assert engine["reusedTokens"] >= prompt - engine["blockSize"]  # the second prefilled only its last block
    assert engine["kvBlocksUsed"] <= -(
        -(prompt + INLINE_TOKENS) // engine["blockSize"]
    )  # one sequence's worth: the first's are free
    result = await second
    assert result.items and result.items[0].insert_text.startswith(KNOWN_ANSWER)
    idle = (await status(client))["engine"]
    assert idle["running"] == idle["waiting"] == idle["kvBlocksUsed"] == 0
    assert idle["kvBlocksCached"] > 0  # the prompt's blocks stay for the next request
