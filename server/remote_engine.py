"""An OpenAI-compatible server as the engine: this project's `serve`, vLLM, TGI or llama.cpp.

The prompt is rendered and fitted here, with the model's own tokenizer, and sent to
`/completions`, so every engine sees the same prompt. It goes as token ids where the server
takes them (vLLM, `serve`), else as the rendered text without its BOS (the server adds one).
`priority` goes with ghost text until the server refuses it. Answers stream in; cancelling
closes the connection, which stops the generation there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from weakref import WeakKeyDictionary

import httpx

from codellama_lsp.engine import EngineBusyError, SamplingParams
from codellama_lsp.engine.tokenizer import Messages, render_chat

log = logging.getLogger(__name__)

INLINE_PRIORITY = -1  # vLLM's meaning: lower is served first; requests without one count as 0
TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=30.0)


class RemoteEngineError(Exception):
    """The engine could not be reached or refused a request. `kind` groups messages shown once."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


def _detail(response: httpx.Response) -> str:
    """The server's own words: OpenAI's `{"error": {"message"}}`, FastAPI's `{"detail"}`, or the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300]
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:300]
    return str(body)[:300]


def absorbed_spaces(tokenizer) -> list[re.Pattern]:
    """Patterns for the spaces that special tokens with lstrip/rstrip (CodeLlama-70B's `<step>`) take in.

    The tokenizer drops them; a server's tokenizer that knows no such flag (llama.cpp's) would
    tokenize them, so the text sent leaves them out and gets the same ids.
    """
    patterns = []
    for token in getattr(tokenizer, "added_tokens_decoder", {}).values():
        if getattr(token, "special", False) and (token.lstrip or token.rstrip):
            left, right = (r"\s*" if token.lstrip else ""), (r"\s*" if token.rstrip else "")
            patterns.append(re.compile(f"{left}({re.escape(token.content)}){right}"))
    return patterns


class RemoteEngine:
    """The engine interface (encode_chat, stream, stats, close) over HTTP to `{base_url}/completions`."""

    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer,
        api_key_env: str = "CODELLAMA_API_KEY",
        uds: str | None = None,
        where: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.where = where or self.base_url  # what messages and the status call it
        self.model_name = model  # the `model` field sent; replaced when the server serves one other model
        self.tokenizer = tokenizer
        self.api_key_env = api_key_env
        self.uds = uds  # a unix socket to connect through instead of TCP
        self._clients: WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = WeakKeyDictionary()
        self.sends_ids, self.sends_priority = True, True  # until the server refuses them
        self.reachable: bool | None = None
        self.failure: RemoteEngineError | None = None  # the last request's, until one succeeds
        self.served_models: list[str] | None = None
        self.requests = 0
        self.closed = False
        self._texts: OrderedDict[tuple[int, ...], str] = OrderedDict()  # rendered prompts by their ids
        self._absorbed_spaces = absorbed_spaces(tokenizer)

    @property
    def device(self) -> str | None:
        """Where the model runs, when the server says (a URL engine does not)."""
        return None

    # --- the prompt --------------------------------------------------------------------------
    def encode_chat(self, messages: Messages) -> list[int]:
        """The prompt's ids, as the in-process engine makes them; the text they came from is kept for sending."""
        text = render_chat(self.tokenizer, messages)
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        self._texts[tuple(ids)] = text
        self._texts.move_to_end(tuple(ids))
        if len(self._texts) > 32:
            self._texts.popitem(last=False)
        return ids

    def _prompt_text(self, ids: list[int]) -> str:
        text = self._texts.get(tuple(ids))
        if text is None:
            text = self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        bos = self.tokenizer.bos_token
        text = text[len(bos) :] if bos and text.startswith(bos) else text
        for pattern in self._absorbed_spaces:
            text = pattern.sub(lambda m: m.group(1), text)
        return text

    # --- HTTP ------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _client(self) -> httpx.AsyncClient:
        """One client per event loop (its connections belong to that loop)."""
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            transport = httpx.AsyncHTTPTransport(uds=self.uds) if self.uds else None
            self._clients[loop] = httpx.AsyncClient(timeout=TIMEOUT, transport=transport)
        return self._clients[loop]

    def _unreachable(self, error: Exception) -> RemoteEngineError:
        if isinstance(error, httpx.TimeoutException):
            return RemoteEngineError("timeout", f"{self.where} did not answer in time ({type(error).__name__}).")
        return RemoteEngineError(
            "connect",
            f"cannot reach {self.where} ({error or type(error).__name__}). Start the server there, or correct "
            "codellama.engine.",
        )

    def _refusal(self, response: httpx.Response) -> RemoteEngineError:
        status, detail = response.status_code, _detail(response)
        if status in (401, 403):
            return RemoteEngineError(
                "auth",
                f"{self.where} refused the API key (HTTP {status}: {detail}). Put the key in the environment "
                f"variable {self.api_key_env} of the editor (codellama.apiKeyEnv names it).",
            )
        if status == 404:
            served = f" It serves: {', '.join(self.served_models)}." if self.served_models else ""
            return RemoteEngineError(
                "not-found",
                f"{self.where} answered 404 for model {self.model_name!r} ({detail}).{served} Set codellama.model "
                "to a model it serves, and check that codellama.engine ends in /v1.",
            )
        if status >= 500:
            return RemoteEngineError("server", f"{self.where} failed (HTTP {status}: {detail}). See the server's log.")
        return RemoteEngineError("refused", f"{self.where} refused the request (HTTP {status}: {detail}).")

    def probe(self) -> None:
        """Ask `/models` what the server serves; adopt its one model if it doesn't know ours. Blocking."""
        transport = httpx.HTTPTransport(uds=self.uds) if self.uds else None
        try:
            with httpx.Client(timeout=TIMEOUT, transport=transport) as client:
                response = client.get(f"{self.base_url}/models", headers=self._headers())
        except httpx.HTTPError as e:
            raise self._note(self._unreachable(e)) from None
        if response.status_code != 200:
            raise self._note(self._refusal(response))
        self._ok()
        data = response.json().get("data") or []
        self.served_models = [m.get("id") for m in data if isinstance(m, dict) and m.get("id")]
        if self.model_name not in self.served_models and len(self.served_models) == 1:
            log.warning("%s does not serve %r; using the one model it serves, %r", self.where, self.model_name,
                        self.served_models[0])  # fmt: skip
            self.model_name = self.served_models[0]

    def _note(self, error: RemoteEngineError) -> RemoteEngineError:
        self.reachable = error.kind not in ("connect", "timeout")
        self.failure = error
        return error

    def _ok(self) -> None:
        self.reachable, self.failure = True, None

    # --- the engine interface ----------------------------------------------------------------
    def _body(self, ids: list[int], params: SamplingParams, priority: str) -> dict:
        body = {
            "model": self.model_name,
            "prompt": ids if self.sends_ids else self._prompt_text(ids),
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
        }
        if params.top_k:
            body["top_k"] = params.top_k
        if params.repetition_penalty != 1.0:
            body["repetition_penalty"] = params.repetition_penalty
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if priority == "inline" and self.sends_priority:
            body["priority"] = INLINE_PRIORITY
        return body

    def _adapt(self, response: httpx.Response, body: dict) -> bool:
        """After a 400/422, drop what the server does not take (priority, then token ids); True to retry.

        llama-cpp-python answers a token-id prompt with a 500 that names `prompt`: that counts too.
        """
        detail = _detail(response).lower()
        if response.status_code == 500 and isinstance(body["prompt"], list) and "prompt" in detail:
            log.info("%s refuses token-id prompts (%s); sending text", self.where, detail[:200])
            self.sends_ids = False
            return True
        if response.status_code not in (400, 422):
            return False
        if "priority" in body and ("priority" in detail or not (isinstance(body["prompt"], list))):
            log.info("%s refuses `priority` (%s); not sending it any more", self.where, detail)
            self.sends_priority = False
            return True
        if isinstance(body["prompt"], list):
            log.info("%s refuses token-id prompts (%s); sending text", self.where, detail)
            self.sends_ids = False
            return True
        return False

    async def stream(self, ids: list[int], params: SamplingParams, priority: str = "action") -> AsyncIterator[str]:
        """Text deltas as the server streams them; closing the iterator closes the connection."""
        self.requests += 1
        try:
            for _ in range(3):  # at most two adaptations
                body = self._body(list(ids), params, priority)
                try:
                    async with self._client().stream(
                        "POST", f"{self.base_url}/completions", json=body, headers=self._headers()
                    ) as response:
                        if response.status_code == 200:
                            self._ok()
                            async for delta in self._deltas(response):
                                yield delta
                            return
                        await response.aread()
                        if response.status_code == 429:
                            raise EngineBusyError(f"{self.where} is busy: {_detail(response)}")
                        if not self._adapt(response, body):
                            raise self._note(self._refusal(response))
                except httpx.HTTPError as e:
                    raise self._note(self._unreachable(e)) from None
            raise self._note(RemoteEngineError("refused", f"{self.where} refused every form of the request."))
        finally:
            self.requests -= 1

    async def _deltas(self, response: httpx.Response) -> AsyncIterator[str]:
        """The `choices[0].text` of each server-sent event until `[DONE]`."""
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            event = json.loads(data)
            if "error" in event:
                raise RemoteEngineError("server", f"{self.where} failed mid-answer: {event['error']}")
            choices = event.get("choices") or []
            text = choices[0].get("text") if choices else None
            if text:
                yield text

    def stats(self) -> dict:
        return {
            "url": self.where,
            "reachable": self.reachable,
            "servedModel": self.model_name if self.reachable else None,
            "lastError": None if self.failure is None else str(self.failure),
            "requests": self.requests,
            "promptAs": "ids" if self.sends_ids else "text",
            "sendsPriority": self.sends_priority,
        }

    def close(self) -> None:
        """Stop using the server (its connections close with the event loop or the process)."""
        self.closed = True
        self._clients.clear()
