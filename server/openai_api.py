"""The Starlette app of `codellama-lsp serve`: OpenAI's /v1 endpoints, /health, /metrics and /codellama/attach.

A client that goes away mid-answer ends its generation at once (its KV blocks are freed): a stream
when its response is cancelled, a whole answer by racing it against the client's disconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from codellama_lsp.engine import EngineBusyError, EngineClosedError, Model
from codellama_lsp.engine.text_stream import Chunk

from .engine_state import EngineState
from .metrics import CONTENT_TYPE, Metrics
from .openai_requests import GenerationRequest, RequestError, context_window, fit, parse_chat, parse_completion
from .openai_responses import AnswerShape, error_body, sse, usage

log = logging.getLogger(__name__)
T = TypeVar("T")
HEARTBEAT_SECONDS = 2.0  # the longest an attach stream stays silent
BYTES_PER_CONTEXT_TOKEN = 64  # body size limit: this much per token of the context window, and at least MIN_BODY
MIN_BODY = 1 << 20
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


class EventStream(StreamingResponse):
    """Server-sent events; the generator is closed however the response ends (a disconnect cancels it)."""

    media_type = "text/event-stream"

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def failure(e: BaseException) -> tuple[int, dict, dict[str, str]]:
    """(HTTP status, OpenAI error body, headers) for an exception raised while answering."""
    if isinstance(e, RequestError):
        kind = "server_error" if e.status >= 500 else "invalid_request_error"
        return e.status, error_body(e.message, e.param, kind, e.code), {}
    if isinstance(e, EngineBusyError):
        return 429, error_body(str(e), kind="rate_limit_error"), {"Retry-After": "1"}
    if isinstance(e, torch.OutOfMemoryError):
        return 503, error_body(f"the device ran out of memory for this request: {e}", kind="server_error"), {}
    if isinstance(e, EngineClosedError):
        return 503, error_body("the server is shutting down", kind="server_error"), {}
    if isinstance(e, ValueError):  # the engine's refusals: e.g. more KV cache than it has
        return 400, error_body(str(e)), {}
    log.error("request failed", exc_info=e)
    return 500, error_body(f"internal error: {type(e).__name__}: {e}", kind="server_error"), {}


async def _disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`work`'s result, or ClientGone (and `work` cancelled) if the client disconnects first."""
    task, watcher = asyncio.ensure_future(work), asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise ClientGone
    return task.result()


async def read_json(request: Request, limit: int) -> Any:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise RequestError(f"the request body is over {limit} bytes", status=413)
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise RequestError(f"the request body is over {limit} bytes", status=413)
    try:
        return json.loads(body)
    except ValueError:
        raise RequestError("the request body is not valid JSON") from None


class OpenAIRoutes:
    def __init__(self, state: EngineState, served_name: str, metrics: Metrics):
        self.state, self.served_name, self.metrics = state, served_name, metrics
        self.created = int(time.time())

    async def _model(self) -> Model:
        model = await self.state.ready_model()
        if self.state.stopping:
            raise RequestError("the server is shutting down", status=503)
        if model is None:
            raise RequestError(f"the model is not available: {self.state.message}", status=503)
        return model

    async def completions(self, request: Request) -> Response:
        return await self._answer(request, parse_completion)

    async def chat_completions(self, request: Request) -> Response:
        return await self._answer(request, parse_chat)

    async def _answer(self, request: Request, parse: Callable[[Any], GenerationRequest]) -> Response:
        started = time.perf_counter()
        try:
            model = await self._model()
            req = parse(await read_json(request, max(MIN_BODY, context_window(model) * BYTES_PER_CONTEXT_TOKEN)))
            if req.model is not None and req.model != self.served_name:
                raise RequestError(f"the model `{req.model}` does not exist", "model", 404, "model_not_found")
            ids, params = fit(req, model)
            shape = AnswerShape(req.chat, self.served_name)
            chunks = model.stream_chunks(ids, params, req.priority)
            if req.stream:
                first = await until_disconnected(request, anext(chunks))  # errors before the stream starts
                self.metrics.first_token_seconds.observe(time.perf_counter() - started)
                return EventStream(self._events(shape, req, len(ids), first, chunks), headers=SSE_HEADERS)
            text, last = await until_disconnected(request, self._whole(chunks, started))
            return JSONResponse(shape.whole(text, last.finish_reason, usage(len(ids), last.tokens)))
        except ClientGone:
            return Response(status_code=499)  # nginx's "client closed request"; nobody reads it
        except Exception as e:
            status, body, headers = failure(e)
            return JSONResponse(body, status_code=status, headers=headers)

    async def _whole(self, chunks: AsyncIterator[Chunk], started: float) -> tuple[str, Chunk]:
        parts, last = [], Chunk("", 0)
        try:
            async for last in chunks:
                if not parts:
                    self.metrics.first_token_seconds.observe(time.perf_counter() - started)
                parts.append(last.text)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
            self.metrics.generated_tokens.inc(last.tokens)
        return "".join(parts), last

    async def _events(
        self, shape: AnswerShape, req: GenerationRequest, prompt_tokens: int, chunk: Chunk, chunks: AsyncIterator[Chunk]
    ) -> AsyncIterator[bytes]:
        try:
            if shape.chat:
                yield sse(shape.chunk("", role=True))
            while True:
                if chunk.text or chunk.finish_reason:
                    yield sse(shape.chunk(chunk.text, chunk.finish_reason))
                if chunk.finish_reason:
                    break
                chunk = await anext(chunks)
            if req.include_usage:
                yield sse(shape.usage_chunk(usage(prompt_tokens, chunk.tokens)))
        except Exception as e:  # the status line is sent already: the error goes as an event
            yield sse(failure(e)[1])
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
            self.metrics.generated_tokens.inc(chunk.tokens)
        yield sse("[DONE]")

    async def models(self, request: Request) -> Response:
        model = self.state.model
        card = {
            "id": self.served_name,
            "object": "model",
            "created": self.created,
            "owned_by": "codellama-lsp",
            "root": self.state.source,
            "max_model_len": context_window(model) if model is not None else None,
        }
        return JSONResponse({"object": "list", "data": [card]})

    async def health(self, request: Request) -> Response:
        status = self.state.status()
        return JSONResponse(status, status_code=200 if status["state"] == "ready" else 503)

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def attach(self, request: Request) -> Response:
        """The status as server-sent events: at once, on each change, and every HEARTBEAT_SECONDS."""

        async def events() -> AsyncIterator[bytes]:
            self.state.attached += 1
            try:
                async for status in self.state.watch(HEARTBEAT_SECONDS):
                    yield sse(status)
            finally:
                self.state.attached -= 1

        return EventStream(events(), headers=SSE_HEADERS)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse(error_body(exc.detail), status_code=exc.status_code, headers=exc.headers)


def build_app(state: EngineState, served_name: str, metrics: Metrics) -> Starlette:
    routes = OpenAIRoutes(state, served_name, metrics)
    return Starlette(
        routes=[
            Route("/v1/completions", routes.completions, methods=["POST"]),
            Route("/v1/chat/completions", routes.chat_completions, methods=["POST"]),
            Route("/v1/models", routes.models, methods=["GET"]),
            Route("/health", routes.health, methods=["GET"]),
            Route("/metrics", routes.metrics_text, methods=["GET"]),
            Route("/codellama/attach", routes.attach, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
    )
