"""Several candidates per inline request, batched; and answers from the rest of the last suggestion."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from codellama_lsp.engine import load_model
from codellama_lsp.server.inline import complete_inline
from codellama_lsp.server.option_parsing import parse_options
from codellama_lsp.server.options import SAMPLED_TEMPERATURE, Options
from codellama_lsp.server.snapshot import Snapshot
from codellama_lsp.server.suggestions import Shown
from tests.fixtures.random_model import write_random_model
from tests.server.conftest import (
    CAPABILITIES,
    KNOWN_ANSWER,
    SERVER,
    change_document,
    open_document,
    pos,
    rng,
    settings,
    wait_for_model,
)

URI = "file:///ws/add.py"
SOURCE = "def add(a, b):\n    \n"


def with_inline(**changes) -> Options:
    return replace(Options(), inline=replace(Options().inline, **changes))


# --- the remainder -------------------------------------------------------------------------------
def test_typing_what_was_predicted_leaves_the_rest():
    shown = Shown("def f():\n    ", "\n", ("return 1", "return x"))
    assert shown.remainder("def f():\n    ret\n", 16) == ["urn 1", "urn x"]
    assert shown.remainder("def f():\n    return x\n", 23) == []  # typed in full: nothing left of either
    assert shown.remainder("def f():\n    return \n", 20) == ["1", "x"]
    assert shown.remainder("def f():\n    return 1\n", 21) == []
    assert shown.remainder("def f():\n    rex\n", 16) == []  # diverged
    assert shown.remainder("def g():\n    ret\n", 16) == []  # changed elsewhere
    assert shown.remainder("def f():\n    ret\n", 15) == []  # the cursor is not after the typed text


# --- candidates --------------------------------------------------------------------------------
def test_candidates_sample_after_a_greedy_first_and_are_bounded():
    greedy, *sampled = with_inline(candidates=3, temperature=0.0).inline.candidate_sampling()
    assert greedy.temperature == 0 and [s.temperature for s in sampled] == [SAMPLED_TEMPERATURE] * 2
    _, *sampled = with_inline(candidates=2, temperature=0.5).inline.candidate_sampling()
    assert [s.temperature for s in sampled] == [0.5]
    (only,) = Options().inline.candidate_sampling()  # one candidate: the settings as they are
    assert only.temperature == Options().inline.temperature
    assert parse_options({"inline": {"candidates": 6}})[1] == [
        "codellama.inline.candidates must be an integer from 1 to 5, got 6"
    ]


class RecordingEngine:
    """Wraps a model: records when each stream is submitted and when the first token of any is read."""

    def __init__(self, model):
        self.model, self.tokenizer, self.events = model, model.tokenizer, []

    def encode_chat(self, messages):
        return self.model.encode_chat(messages)

    async def stream(self, prompt, params, priority="action"):
        self.events.append(("submitted", params.temperature))
        async for delta in self.model.stream(prompt, params, priority):
            self.events.append(("token", params.temperature))
            yield delta


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    with load_model(write_random_model(tmp_path_factory.mktemp("random")), device="cpu") as model:
        yield model


async def test_three_candidates_are_three_distinct_items_from_one_batch(random_model):
    engine = RecordingEngine(random_model)
    options = with_inline(candidates=3, temperature=1.0, max_new_tokens=12)
    before = random_model.stats()
    completion = await complete_inline(engine, Snapshot(URI, SOURCE, 1, "python"), 1, 4, options)
    after = random_model.stats()
    asked, reused = (after[k] - before[k] for k in ("promptTokens", "reusedTokens"))
    prompt, block = asked // 3, random_model.blocks.block_size
    assert asked - reused <= prompt + 2 * block  # one prefill of the prompt; the others its last block only
    assert len(completion.texts) == 3 and len(set(completion.texts)) == 3, completion.texts
    kinds = [kind for kind, _ in engine.events]
    assert kinds[:3] == ["submitted"] * 3  # all submitted before any token was read: decoded in the same steps
    assert sorted(t for kind, t in engine.events if kind == "submitted") == [0.0, 1.0, 1.0]  # greedy first
    assert random_model.stats()["running"] == 0  # every candidate's request ended


async def test_duplicate_candidates_are_dropped(known_model):
    with load_model(known_model, device="cpu") as model:  # the known answer, however it samples
        options = with_inline(candidates=3)
        completion = await complete_inline(model, Snapshot(URI, SOURCE, 1, "python"), 1, 4, options)
    assert completion.texts == (KNOWN_ANSWER,)


# --- over LSP: the remainder runs no model ------------------------------------------------------
@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=settings(known_model))
    )
    await wait_for_model(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def ask(client: LanguageClient, line: int, character: int) -> list[str]:
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI),
            position=pos(line, character),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
        )
    )
    for item in result.items:
        assert item.command is None and item.range == rng((line, character), (line, character))
    return [item.insert_text for item in result.items]


async def figures(client: LanguageClient) -> dict:
    status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.status"))
    return status["inline"]


async def test_typing_the_suggestion_is_answered_from_its_rest_without_the_model(client: LanguageClient):
    open_document(client, URI, SOURCE)
    assert await ask(client, 1, 4) == [KNOWN_ANSWER]
    change_document(client, URI, 2, "return", rng((1, 4), (1, 4)))  # what a word accepted inserts
    assert await ask(client, 1, 10) == [" a + b"]
    change_document(client, URI, 3, " a", rng((1, 10), (1, 10)))
    assert await ask(client, 1, 12) == [" + b"]
    assert await figures(client) == {"requests": 3, "modelRuns": 1, "fromRemainder": 2}
    change_document(client, URI, 4, " -", rng((1, 12), (1, 12)))  # diverged: the model runs again
    await ask(client, 1, 14)
    assert (await figures(client))["modelRuns"] == 2


async def test_closing_the_document_forgets_its_suggestion(client: LanguageClient):
    open_document(client, URI, SOURCE)
    await ask(client, 1, 4)
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=URI)))
    open_document(client, URI, SOURCE)
    await asyncio.sleep(0)
    await ask(client, 1, 4)
    assert (await figures(client))["modelRuns"] == 2
