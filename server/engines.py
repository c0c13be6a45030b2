"""Where the engine runs (the `engine` setting), behind one interface the server uses.

The interface is what `Model` offers: `tokenizer`, `encode_chat(messages)`, `stream(ids,
params, priority)`, `stats()`, `close()` and `device`. In-process it is the `Model` itself;
"shared" and a URL reach an OpenAI-compatible server (`RemoteEngine`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from codellama_lsp.engine import SamplingParams
from codellama_lsp.engine.tokenizer import Messages, load_tokenizer_only

from .options import Options
from .remote_engine import RemoteEngine, RemoteEngineError
from .shared_engine import Attachment, SharedEngineError, engine_key, ensure_engine

log = logging.getLogger(__name__)

Progress = Callable[[str, float | None], None]


class Engine(Protocol):
    tokenizer: object

    @property
    def device(self) -> object: ...

    def encode_chat(self, messages: Messages) -> list[int]: ...

    def stream(self, prompt: list[int], params: SamplingParams, priority: str = "action") -> AsyncIterator[str]: ...

    def stats(self) -> dict: ...

    def close(self) -> None: ...


class SharedEngine(RemoteEngine):
    """This user's engine for the model, over its unix socket, with this window attached to it."""

    def __init__(self, options: Options, path: Path, tokenizer, attachment: Attachment):
        super().__init__(
            "http://engine/v1", engine_key(options)["model"], tokenizer, uds=str(path), where=f"unix:{path}"
        )
        self.attachment = attachment

    @property
    def device(self) -> str | None:
        return (self.attachment.status or {}).get("device")

    def stats(self) -> dict:
        status = self.attachment.status or {}
        return {**(status.get("engine") or {}), **super().stats(), "pid": status.get("pid")}

    def close(self) -> None:
        self.attachment.close()
        super().close()


def connect_engine(options: Options, progress: Progress) -> RemoteEngine:
    """The engine named by `options.engine` ("shared" or a URL), with the model's tokenizer. Blocking."""
    progress(f"Loading the tokenizer of {options.model}", None)
    tokenizer = load_tokenizer_only(options.model, options.revision, progress)
    if options.placement == "shared":
        progress("Starting the shared engine", None)
        path = ensure_engine(options)
        attachment = Attachment(options, path)
        try:
            attachment.wait_ready(progress)
        except BaseException:
            attachment.close()
            raise
        return SharedEngine(options, path, tokenizer, attachment)
    engine = RemoteEngine(options.engine, options.model, tokenizer, options.api_key_env)
    progress(f"Connecting to {options.engine}", None)
    try:
        engine.probe()
    except RemoteEngineError as e:  # not fatal: each request tries again
        log.warning("%s", e)
    return engine


__all__ = ["Engine", "RemoteEngineError", "SharedEngineError", "connect_engine"]
