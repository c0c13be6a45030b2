"""Owns the engine: loads the model (or connects to its engine) in the background, again when the settings
name another."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from codellama_lsp.engine import EngineError, Model, ServingConfig, load_model

from .engines import Engine, connect_engine
from .options import Options

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, float | None], None]


class LoadAbandoned(Exception):
    """Raised inside a load's progress callback to stop a load nobody waits for any more."""


def resolve_device(device: str) -> str:
    """ "auto" stays for the engine to plan when a GPU is visible; without one it is the CPU."""
    if device != "auto":
        return device
    import torch

    return "auto" if torch.cuda.is_available() else "cpu"


class ModelHost:
    """The current engine (the model in-process, or a client of its server), or the reason there is none.
    Requests await `get()`."""

    def __init__(self, loader: Callable[..., Model] = load_model):
        self.loader = loader
        self.model: Engine | None = None
        self.error: str | None = None  # why the last load failed
        self.key: tuple | None = None  # Options.model_key() of the model being served
        self._task: asyncio.Task | None = None
        self._load = (threading.Event(), threading.Event())  # (abandoned, finished) of the last load
        self._load[1].set()
        self._first_load = asyncio.Event()  # requests made before any load was asked for wait for it

    @property
    def loading(self) -> bool:
        return self._task is not None and not self._task.done()

    def wants_reload(self, options: Options) -> bool:
        return options.model_key() != self.key

    def start(
        self, options: Options, progress: ProgressCallback, done: Callable[[Engine | None, str | None], None]
    ) -> asyncio.Task:
        """Load the model named by `options` in a worker thread; the old one serves until it is ready.

        A load still running is abandoned: its thread stops at its next progress step.
        """
        self._abandon_load()
        self.key = options.model_key()
        loop = asyncio.get_running_loop()
        abandoned, finished = threading.Event(), threading.Event()

        def threadsafe_progress(message: str, fraction: float | None) -> None:
            if abandoned.is_set():
                raise LoadAbandoned(options.model)
            loop.call_soon_threadsafe(progress, message, fraction)

        def load() -> Engine:
            try:
                if options.placement != "in-process":
                    return connect_engine(options, threadsafe_progress)
                return self.loader(
                    options.model,
                    revision=options.revision,
                    device=resolve_device(options.device),
                    gpu_split=options.gpu_split_gb,
                    context_tokens=options.context_tokens,
                    progress=threadsafe_progress,
                    serving=ServingConfig(
                        kv_cache_bytes=options.kv_cache_bytes, speculative="ngram" if options.speculative else None
                    ),
                )
            finally:
                finished.set()

        async def settle() -> None:
            model, error = None, None
            try:
                model = await asyncio.to_thread(load)
            except LoadAbandoned:
                raise asyncio.CancelledError from None
            except asyncio.CancelledError:
                raise
            except Exception as e:  # every load failure is reported the same way: once, with the reason
                log.exception("loading %s failed", options.model)
                error = str(e) if isinstance(e, EngineError) else f"{type(e).__name__}: {e}"
            replaced, self.model, self.error = self.model, model, error
            done(model, error)
            if replaced is not None:  # its memory (or its shared engine's attachment) goes now
                await asyncio.to_thread(replaced.close)

        self._load = (abandoned, finished)
        self._task = asyncio.create_task(settle())
        self._first_load.set()
        return self._task

    def _abandon_load(self) -> None:
        if self._task is not None and not self._task.done():
            self._load[0].set()  # the thread stops at its next progress step
            self._task.cancel()  # a newer setting, or closing, wins

    async def close(self, timeout: float = 60.0) -> None:
        """Abandon a load in progress and wait for its thread; close the model (joins its step thread)."""
        self._abandon_load()
        self._first_load.set()  # nobody waits for a load that will not come
        await asyncio.to_thread(self.close_now, timeout)

    def close_now(self, timeout: float = 60.0) -> None:
        """`close()` for a caller that is about to exit and cannot await."""
        self._load[0].set()
        if not self._load[1].wait(timeout):
            log.error("the model load did not stop within %.0f s", timeout)
        model, self.model = self.model, None
        if model is not None:
            model.close()

    async def get(self) -> Engine | None:
        """The model once the current load settles (None if it failed)."""
        await self._first_load.wait()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.cancelled():  # replaced by a newer load: wait for that one
                    return await self.get()
                raise
        return self.model
