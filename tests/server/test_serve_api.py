"""`codellama-lsp serve` over HTTP: OpenAI's completions and chat (whole and streamed), the official client,
usage counts, refusals that name the field, and generations freed when their client goes away."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import openai
import pytest

from codellama_lsp.engine.tokenizer import encode_chat, load_tokenizer
from tests.fixtures.known_answer import answer_token_ids
from tests.server.conftest import KNOWN_ANSWER
from tests.server.serve_process import ServeProcess, metric, wait_for_metric

NAME = "codellama-test"
MESSAGES = [{"role": "system", "content": "You write Python."}, {"role": "user", "content": "Add a and b."}]
# The answer's first token is "▁return" right after the prompt's "▁": decoded in context, it keeps its space,
# as the in-process `Model.stream` gives it (the language server trims it).
ANSWER = " " + KNOWN_ANSWER
GREEDY = {"temperature": 0}


@pytest.fixture(scope="module")
def known(known_model, tmp_path_factory):
    server = ServeProcess(known_model, tmp_path_factory.mktemp("serve") / "serve.log", "--served-model-name", NAME)
    yield server.start().wait_ready()
    server.stop()


@pytest.fixture(scope="module")
def endless(endless_model, tmp_path_factory):
    server = ServeProcess(endless_model, tmp_path_factory.mktemp("serve") / "serve.log", "--max-queue", "1")
    yield server.start().wait_ready()
    server.stop()


@pytest.fixture(scope="module")
def prompt(known_model) -> dict:
    """The chat prompt as the server's tokenizer renders it: text (without BOS: the server adds it) and ids."""
    tokenizer = load_tokenizer(known_model)
    text = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    answer = answer_token_ids(tokenizer, KNOWN_ANSWER)
    return {"text": text.removeprefix(tokenizer.bos_token), "ids": encode_chat(tokenizer, MESSAGES), "answer": answer}


def events(response: httpx.Response) -> list:
    """The JSON of each server-sent event, then "[DONE]"."""
    found = [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]
    return [json.loads(data) for data in found[:-1]] + [found[-1]]


@pytest.mark.parametrize("form", ["text", "ids", "one-element list"])
def test_completions_answer_the_chat_prompt(known, prompt, form):
    sent = {"text": prompt["text"], "ids": prompt["ids"], "one-element list": [prompt["ids"]]}[form]
    with known.client() as client:
        body = client.post("/v1/completions", json={"model": NAME, "prompt": sent, **GREEDY}).json()
    assert body["object"] == "text_completion" and body["model"] == NAME and body["id"].startswith("cmpl-")
    assert body["choices"] == [{"index": 0, "text": ANSWER, "logprobs": None, "finish_reason": "stop"}]
    n, m = len(prompt["ids"]), len(prompt["answer"])
    assert body["usage"] == {"prompt_tokens": n, "completion_tokens": m, "total_tokens": n + m}


def test_chat_answers_with_usage(known, prompt):
    with known.client() as client:
        body = client.post("/v1/chat/completions", json={"messages": MESSAGES, **GREEDY}).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": ANSWER}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == len(prompt["ids"])
    assert body["usage"]["completion_tokens"] == len(prompt["answer"])


def test_streams_end_with_usage_and_done(known, prompt):
    usage = {"prompt_tokens": len(prompt["ids"]), "completion_tokens": len(prompt["answer"])}
    usage["total_tokens"] = sum(usage.values())
    stream = {"stream": True, "stream_options": {"include_usage": True}, **GREEDY}
    with known.client() as client:
        with client.stream("POST", "/v1/completions", json={"prompt": prompt["ids"], **stream}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            completion = events(response)
        with client.stream("POST", "/v1/chat/completions", json={"messages": MESSAGES, **stream}) as response:
            chat = events(response)
    assert completion[-1] == chat[-1] == "[DONE]"
    assert completion[-2]["choices"] == [] and completion[-2]["usage"] == usage
    assert chat[-2]["choices"] == [] and chat[-2]["usage"] == usage
    assert "".join(e["choices"][0]["text"] for e in completion[:-2]) == ANSWER
    assert completion[-3]["choices"][0]["finish_reason"] == "stop"
    assert {e["object"] for e in chat[:-1]} == {"chat.completion.chunk"}
    assert chat[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in chat[:-2]) == ANSWER
    assert chat[-3]["choices"][0]["finish_reason"] == "stop"


def test_a_short_max_tokens_ends_with_length(known, prompt):
    with known.client() as client:
        body = client.post("/v1/completions", json={"prompt": prompt["ids"], "max_tokens": 2, **GREEDY}).json()
    assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 2
    assert ANSWER.startswith(body["choices"][0]["text"]) and body["choices"][0]["text"]


def test_an_answer_that_would_overflow_the_context_window_is_cut_short(known, prompt):
    with known.client() as client:
        window = client.get("/v1/models").json()["data"][0]["max_model_len"]
        filler = [1] + [29889] * (window - 3 - len(prompt["ids"]))  # the answer needs only the prompt's end
        ids = filler + prompt["ids"][1:]
        body = client.post("/v1/completions", json={"prompt": ids, "max_tokens": 10, **GREEDY}).json()
    assert body["usage"] == {"prompt_tokens": window - 3, "completion_tokens": 3, "total_tokens": window}
    assert body["choices"][0]["finish_reason"] == "length" and ANSWER.startswith(body["choices"][0]["text"])


def test_the_official_openai_client_works_unchanged(known, prompt):
    client = openai.OpenAI(base_url=known.url + "/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == [NAME]
    completion = client.completions.create(model=NAME, prompt=prompt["text"], temperature=0, max_tokens=32)
    assert completion.choices[0].text == ANSWER and completion.usage.completion_tokens == len(prompt["answer"])
    chat = client.chat.completions.create(model=NAME, messages=MESSAGES, temperature=0)
    assert chat.choices[0].message.content == ANSWER and chat.choices[0].finish_reason == "stop"
    parts = client.completions.create(model=NAME, prompt=prompt["ids"], temperature=0, stream=True)
    assert "".join(p.choices[0].text for p in parts) == ANSWER
    chunks = list(
        client.chat.completions.create(
            model=NAME, messages=MESSAGES, temperature=0, stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert chunks[-1].usage.total_tokens == len(prompt["ids"]) + len(prompt["answer"])


def test_models_health_and_metrics(known):
    with known.client() as client:
        (card,) = client.get("/v1/models").json()["data"]
        health = client.get("/health")
        text = client.get("/metrics").text
    assert (card["id"], card["object"], card["owned_by"]) == (NAME, "model", "codellama-lsp")
    assert card["max_model_len"] > 0
    status = health.json()
    assert health.status_code == 200 and status["state"] == "ready" and status["engine"]["kvBlocks"] > 0
    assert set(status) == {"state", "message", "percentage", "model", "revision", "device", "pid", "engine"}
    for name in (
        "codellama_requests_running",
        "codellama_requests_waiting",
        "codellama_kv_blocks_in_use",
        "codellama_kv_blocks_cached",
        "codellama_kv_blocks_total",
        "codellama_prompt_tokens_total",
        "codellama_prefix_cache_hit_tokens_total",
        "codellama_draft_tokens_total",
        "codellama_draft_accepted_tokens_total",
        "codellama_draft_acceptance_rate",
        "codellama_generation_tokens_total",
        "codellama_http_requests_total",
    ):
        assert f"\n{name}" in text, name


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_k": -2}, "top_k"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 10**7}, "max_tokens"),
        ({"stop": 5}, "stop"),
        ({"seed": 1.5}, "seed"),
        ({"priority": "high"}, "priority"),
        ({"n": 2}, "n"),
        ({"logprobs": 1}, "logprobs"),
        ({"echo": True}, "echo"),
        ({"best_of": 3}, "best_of"),
        ({"suffix": "x"}, "suffix"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"prompt": None}, "prompt"),
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": [1, 99999]}, "prompt"),
        ({"prompt": [1] * 20000}, "prompt"),
    ],
)
def test_bad_fields_are_refused_by_name(known, change, param):
    with known.client() as client:
        response = client.post("/v1/completions", json={"prompt": "def add(a, b):", "max_tokens": 4, **change})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and param in error["message"] and error["type"] == "invalid_request_error"


def test_bad_chat_messages_and_bodies_are_refused(known):
    with known.client() as client:
        for messages in ([], [{"role": "robot", "content": "hi"}], [{"role": "user", "content": 3}]):
            response = client.post("/v1/chat/completions", json={"messages": messages})
            assert response.status_code == 400 and response.json()["error"]["param"] == "messages"
        assert client.post("/v1/completions", content=b"{not json").status_code == 400
        assert client.post("/v1/completions", json=["a list"]).status_code == 400
        assert client.post("/v1/completions", content=b" " * (1 << 21)).status_code == 413
        wrong = client.post("/v1/completions", json={"model": "gpt-4", "prompt": "x"})
    assert wrong.status_code == 404 and wrong.json()["error"]["param"] == "model"


def cut_short(client: httpx.Client, cached_before: float) -> bool:
    """Whether the answer just freed was stopped early: its blocks went to the prefix cache (a prompt of its
    own, so none were there before), and a whole endless answer fills the context window."""
    window_blocks = client.get("/v1/models").json()["data"][0]["max_model_len"] // 16
    return metric(client, "codellama_kv_blocks_cached") - cached_before < window_blocks / 2


def test_a_stream_whose_client_goes_away_frees_its_blocks(endless):
    with endless.client() as client:
        cached = metric(client, "codellama_kv_blocks_cached")
        body = {"messages": [{"role": "user", "content": "Stream, then hang up."}], "stream": True, **GREEDY}
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            data = (line for line in response.iter_lines() if line.startswith("data: "))
            next(data), next(data)  # the role, then the first text: the answer never ends by itself
            assert metric(client, "codellama_kv_blocks_in_use") > 0
        wait_for_metric(client, "codellama_kv_blocks_in_use", lambda v: v == 0)
        assert metric(client, "codellama_requests_running") == 0
        assert cut_short(client, cached)


def test_a_whole_answer_whose_client_goes_away_frees_its_blocks(endless):
    body = json.dumps({"messages": [{"role": "user", "content": "Hang up before the end."}], **GREEDY}).encode()
    with endless.client() as client:
        cached = metric(client, "codellama_kv_blocks_cached")
        with socket.create_connection(("127.0.0.1", endless.port)) as raw:
            raw.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: engine\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            wait_for_metric(client, "codellama_kv_blocks_in_use", lambda v: v > 0)
        wait_for_metric(client, "codellama_kv_blocks_in_use", lambda v: v == 0)
        assert metric(client, "codellama_requests_running") == 0
        assert cut_short(client, cached)


async def test_requests_past_the_queue_get_429_with_retry_after(endless):
    """`--max-queue 1`: with the batch full of endless answers, one more waits and the rest are refused."""
    statuses: list[int] = []
    retry_after: list[str | None] = []
    release = asyncio.Event()

    async def one(client: httpx.AsyncClient) -> None:
        body = {"messages": MESSAGES, "stream": True, **GREEDY}
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            statuses.append(response.status_code)
            retry_after.append(response.headers.get("retry-after"))
            await release.wait()

    async with endless.async_client() as client:
        tasks = [asyncio.create_task(one(client)) for _ in range(24)]  # the engine runs 16 at once
        try:
            while 429 not in statuses:
                await asyncio.sleep(0.05)
        finally:
            release.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert retry_after[statuses.index(429)] is not None
    with endless.client() as client:
        wait_for_metric(client, "codellama_kv_blocks_in_use", lambda v: v == 0)
