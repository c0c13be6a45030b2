"""What every HTTP request of `codellama-lsp serve` passes: the API key check, and counting (in flight, by status)."""

from __future__ import annotations

import hmac
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import Metrics
from .openai_responses import error_body


def bearer_token(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else None
    return None


class Gate:
    """ASGI middleware: refuses requests without the key (when one is set); keeps the idle clock's figures."""

    def __init__(self, app: ASGIApp, api_key: str | None, metrics: Metrics):
        self.app, self.metrics = app, metrics
        self.api_key = api_key.encode() if api_key else None
        self.in_flight = 0
        self.last_active = time.monotonic()  # when the last request ended

    def authorized(self, scope: Scope) -> bool:
        if self.api_key is None:
            return True
        token = bearer_token(scope)
        return token is not None and hmac.compare_digest(token, self.api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.in_flight += 1
        try:
            if self.authorized(scope):
                await self.app(scope, receive, counting_send)
            else:
                body = error_body("a valid API key is required: Authorization: Bearer <key>", code="invalid_api_key")
                refusal = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await refusal(scope, receive, counting_send)
        finally:
            self.in_flight -= 1
            self.last_active = time.monotonic()
            self.metrics.count_request(scope["path"], status)
