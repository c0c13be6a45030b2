"""Owns the model: loads it in the background, reloads it when the settings name another."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from codellama_lsp.engine import EngineError, Model, ServingConfig, load_model

from .options import Options

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float | None], None]


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class ModelHost:
    """The current model, or the reason there is none. Requests await `get()`."""

    def __init__(self, loader: Callable[..., Model] = load_model):
        self.loader = loader
        self.model: Model | None = None
        self.error: str | None = None  # why the last load failed
        self.key: tuple | None = None  # (model, revision, device) of the model being served
        self._task: asyncio.Task | None = None

    @property
    def loading(self) -> bool:
        return self._task is not None and not self._task.done()

    def wants_reload(self, options: Options) -> bool:
        return options.model_key() != self.key

    def start(
        self, options: Options, progress: ProgressCallback, done: Callable[[Model | None, str | None], None]
    ) -> asyncio.Task:
        """Load the model named by `options` in a worker thread; the old one serves until it is ready."""
        if self._task is not None and not self._task.done():
            self._task.cancel()  # a newer setting wins; the thread finishes and its model is dropped
        self.key = options.model_key()
        loop = asyncio.get_running_loop()

        def threadsafe_progress(message: str, fraction: float | None) -> None:
            loop.call_soon_threadsafe(progress, message, fraction)

        async def load() -> None:
            model, error = None, None
            try:
                model = await asyncio.to_thread(
                    self.loader,
                    options.model,
                    revision=options.revision,
                    device=resolve_device(options.device),
                    progress=threadsafe_progress,
                    serving=ServingConfig(kv_cache_bytes=options.kvCacheBytes),
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:  # every load failure is reported the same way: once, with the reason
                log.exception("loading %s failed", options.model)
                error = str(e) if isinstance(e, EngineError) else f"{type(e).__name__}: {e}"
            self.model, self.error = model, error
            done(model, error)

        self._task = asyncio.create_task(load())
        return self._task

    async def get(self) -> Model | None:
        """The model once the current load settles (None if it failed)."""
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.cancelled():  # replaced by a newer load: wait for that one
                    return await self.get()
                raise
        return self.model
