"""llama.cpp (llama-cpp-python's OpenAI-compatible server) as the language server's engine.

The known-answer model, written as GGUF, is served by llama.cpp in a subprocess; the
language server reaches it through `engine: <url>`, sending the prompt as text.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from codellama_lsp.engine.demo import tokenizer_files
from codellama_lsp.engine.tokenizer import load_tokenizer
from tests.fixtures.known_answer_gguf import write_known_answer_gguf
from tests.server.conftest import (
    CAPABILITIES,
    KNOWN_ANSWER,
    SERVER,
    open_document,
    pos,
    rng,
    settings,
    wait_for_model,
    wait_until,
)

pytest.importorskip(
    "llama_cpp.server.app",
    reason='llama.cpp\'s server is not installed (pip install "llama-cpp-python[server]==0.3.36")',
)

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"
STARTUP_SECONDS = 120.0
DISCONNECTED = "Disconnected from client"
ENDLESS_CONTEXT = 16384  # room for a long generation, so it is still running when cancelled
ENDLESS_TOKENS = 8192  # the most `maxNewTokens` allows
TOKENIZER = load_tokenizer(tokenizer_files())
STEP = TOKENIZER.convert_tokens_to_ids("<step>")
SPACE = TOKENIZER.convert_tokens_to_ids("\u2581")


@dataclass
class LlamaCppServer:
    base: str  # http://127.0.0.1:PORT
    log: Path  # its stdout and stderr

    @property
    def url(self) -> str:
        """The OpenAI-compatible API, as the `engine` setting names it."""
        return f"{self.base}/v1"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(gguf: Path, n_ctx: int) -> Iterator[LlamaCppServer]:
    """Run `python -m llama_cpp.server` on the file until the module's tests are done."""
    port = free_port()
    log = gguf.with_suffix(".log")
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", "2", "--n_threads_batch", "2",
    ]  # fmt: skip
    env = os.environ | {"PYTHONUNBUFFERED": "1"}  # its "Disconnected" lines reach the log at once
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LlamaCppServer(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise AssertionError(f"llama.cpp's server exited ({process.returncode}):\n{server.log_text()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(f"llama.cpp's server did not start:\n{server.log_text()[-3000:]}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def known_gguf(tmp_path_factory) -> Iterator[LlamaCppServer]:
    path = tmp_path_factory.mktemp("gguf") / "known-answer.gguf"
    write_known_answer_gguf(path, KNOWN_ANSWER)
    yield from serve(path, 2048)


@pytest.fixture(scope="module")
def endless_gguf(tmp_path_factory) -> Iterator[LlamaCppServer]:
    path = tmp_path_factory.mktemp("gguf") / "endless.gguf"
    write_known_answer_gguf(path, KNOWN_ANSWER, endless=True)
    yield from serve(path, ENDLESS_CONTEXT)


def chat_prompt_text() -> str:
    """A chat prompt as the template renders it, without the BOS that the server adds itself."""
    messages = [{"role": "user", "content": "Complete the function.\n\ndef add(a, b):\n    "}]
    text = TOKENIZER.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text.removeprefix(TOKENIZER.bos_token)


def llama_cpp_ids(server: LlamaCppServer, text: str) -> list[int]:
    """llama.cpp's ids for a text prompt, as its completions see it (BOS added, special tokens parsed)."""
    response = httpx.post(f"{server.base}/extras/tokenize", json={"input": text}, timeout=60)
    response.raise_for_status()
    return response.json()["tokens"]


def test_llama_cpp_ids_of_the_prompt_differ_only_around_step(known_gguf: LlamaCppServer):
    text = chat_prompt_text()
    expected = TOKENIZER.encode(TOKENIZER.bos_token + text, add_special_tokens=False)
    step = expected.index(STEP)
    # `<step>` takes in the spaces around it in transformers (lstrip/rstrip); GGUF cannot say so,
    # and llama.cpp keeps each as a "▁". The prompt's end, all the known-answer model reads, is the same.
    assert llama_cpp_ids(known_gguf, text) == [*expected[:step], SPACE, STEP, SPACE, *expected[step + 1 :]]
    # Without those spaces in the text, the ids are identical.
    assert llama_cpp_ids(known_gguf, re.sub(r"\s*<step>\s*", "<step>", text)) == expected


def test_streamed_completion_of_a_text_prompt_is_the_known_answer(known_gguf: LlamaCppServer):
    body = {"prompt": chat_prompt_text(), "max_tokens": 32, "temperature": 0, "stream": True}
    text, finish = "", None
    with httpx.stream("POST", f"{known_gguf.url}/completions", json=body, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            data = line.removeprefix("data:").strip()
            if not line.startswith("data:") or data == "[DONE]":
                continue
            choice = json.loads(data)["choices"][0]
            text += choice["text"]
            finish = choice["finish_reason"] or finish
    assert text == " " + KNOWN_ANSWER  # "▁return": its space follows the prompt's last "▁"
    assert finish == "stop"  # it ended with EOS, not at max_tokens


def inline_params() -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI),
        position=pos(1, 4),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, known_model: Path, known_gguf: LlamaCppServer):
    options = settings(known_model, engine=known_gguf.url)  # the folder holds the tokenizer
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=options))
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


async def test_ghost_text_through_llama_cpp_is_the_known_answer(client: LanguageClient):
    result = await client.text_document_inline_completion_async(inline_params())
    assert [item.insert_text for item in result.items] == [KNOWN_ANSWER]
    assert result.items[0].range == rng((1, 4), (1, 4))


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def endless(lsp_client: LanguageClient, known_model: Path, endless_gguf: LlamaCppServer):
    inline = {"maxNewTokens": ENDLESS_TOKENS, "temperature": 0}
    options = settings(known_model, engine=endless_gguf.url, inline=inline)
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=CAPABILITIES, initialization_options=options))
    await wait_for_model(lsp_client)
    open_document(lsp_client, URI, SOURCE)
    yield
    await lsp_client.shutdown_session()


def streaming_completions(server: LlamaCppServer) -> int:
    """How many `/v1/completions` answers llama.cpp has begun to stream (uvicorn logs each as it starts)."""
    return server.log_text().count('/v1/completions HTTP/1.1" 200')


async def test_cancelling_the_request_stops_the_generation_in_llama_cpp(
    endless: LanguageClient, endless_gguf: LlamaCppServer
):
    client = endless
    before = streaming_completions(endless_gguf)
    disconnects = endless_gguf.log_text().count(DISCONNECTED)
    request = asyncio.ensure_future(
        client.protocol.send_request_async(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, inline_params(), msg_id="long-ghost")
    )
    await wait_until(
        lambda: streaming_completions(endless_gguf) > before or request.done(), what="llama.cpp to stream the answer"
    )
    assert not request.done(), "the request ended before it was cancelled"  # the endless answer runs long
    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="long-ghost"))
    with pytest.raises(Exception) as info:
        await request
    assert getattr(info.value, "code", None) == -32800  # RequestCancelled
    await wait_until(
        lambda: endless_gguf.log_text().count(DISCONNECTED) > disconnects,
        timeout=60,
        what="llama.cpp to stop generating for the closed connection",
    )
