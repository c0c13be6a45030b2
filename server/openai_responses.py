"""The JSON shapes of OpenAI's answers: completions and chat, whole or as server-sent event chunks, and errors."""

from __future__ import annotations

import json
import time
import uuid


def error_body(
    message: str, param: str | None = None, kind: str = "invalid_request_error", code: str | None = None
) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def sse(data: dict | str) -> bytes:
    """One server-sent event: `data: ...` and a blank line."""
    return f"data: {data if isinstance(data, str) else json.dumps(data, separators=(',', ':'))}\n\n".encode()


class AnswerShape:
    """One answer's id, creation time and model; builds its whole body or its stream chunks."""

    def __init__(self, chat: bool, model: str):
        self.chat, self.model = chat, model
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _envelope(self, kind: str, choices: list[dict]) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model, "choices": choices}

    def whole(self, text: str, finish_reason: str | None, counts: dict) -> dict:
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None}
            body = self._envelope("chat.completion", [choice | {"finish_reason": finish_reason}])
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
            body = self._envelope("text_completion", [choice])
        return body | {"usage": counts}

    def chunk(self, text: str, finish_reason: str | None = None, role: bool = False) -> dict:
        """A stream chunk; `role` marks a chat answer's first chunk (the delta carries the role)."""
        if not self.chat:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
            return self._envelope("text_completion", [choice])
        delta = {"role": "assistant", "content": text} if role else ({"content": text} if text else {})
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope("chat.completion.chunk", [choice])

    def usage_chunk(self, counts: dict) -> dict:
        """The last chunk when `stream_options.include_usage` asks for it: no choices, the usage."""
        return self._envelope("chat.completion.chunk" if self.chat else "text_completion", []) | {"usage": counts}
