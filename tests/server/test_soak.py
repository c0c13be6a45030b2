"""Soak over LSP: a fast typist, code actions and invalid requests; everything answered, nothing left behind.

The long version, with its figures in bench/RESULTS.md, is `python bench/soak.py`.
"""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from bench.soak import soak
from tests.server.conftest import CAPABILITIES, SERVER, settings, wait_for_model

# Resident memory may grow this much over the soak after its warm-up. What can grow legitimately
# is bounded by the engine's fixed block count (prefix-cache metadata) and the one document; 500
# keystrokes measured 9 MiB here. Keeping one logits row per request (128 KiB at CodeLlama's
# 32,016-token vocabulary, 570 requests: 71 MiB), or any 64 KiB per keystroke, breaks it.
MAX_RSS_GROWTH = 32 << 20


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(known_model))
    )
    await wait_for_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_soak(client: LanguageClient):
    report = await soak(client, keystrokes=500, actions=50, invalid=20)
    assert report.requests == 570 and report.unexpected == []
    assert report.outcomes["unanswered"] == 0
    assert report.outcomes["result"] > 0 and report.outcomes["cancelled"] > 0 and report.outcomes["stale"] > 0
    assert report.outcomes["invalid params"] == 15  # three of every four invalid requests; the fourth is answered
    engine = report.after["engine"]
    assert engine["running"] == engine["waiting"] == engine["kvBlocksUsed"] == 0
    assert report.after["process"]["tasks"] == report.before["process"]["tasks"]  # no task left pending
    assert report.after["process"]["requests"] == 0  # nor a request, nor a notification's record of one
    assert report.rss_growth < MAX_RSS_GROWTH, f"resident memory grew by {report.rss_growth / 2**20:.0f} MiB"
