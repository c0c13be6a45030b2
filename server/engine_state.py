"""The served model of `codellama-lsp serve`: loaded in a worker thread, its status watched by attached clients.

The status is `{"state": "loading"|"ready"|"error", "message", "percentage", "model", "revision", "device",
"pid", "engine"}`, with `engine` the model's `stats()` once it is ready.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable

from codellama_lsp.engine import EngineError, Model, ServingConfig, load_model

from .model_host import resolve_device

log = logging.getLogger(__name__)


class LoadStopped(Exception):
    """Raised inside the load's progress callback when the server stops before the model is ready."""


class EngineState:
    """The model (once loaded), or why there is none; wakes status watchers whenever the status changes."""

    def __init__(
        self,
        source: str,
        revision: str | None,
        device: str,
        serving: ServingConfig,
        loader: Callable[..., Model] = load_model,
        gpu_split: list[float] | None = None,
    ):
        self.source, self.revision, self.serving, self.loader = source, revision, serving, loader
        self.gpu_split = gpu_split
        self.device = resolve_device(device)
        self.model: Model | None = None
        self.state, self.message, self.percentage = "loading", "Starting", None
        self.attached = 0  # open status streams: clients of this engine
        self.stopping = False
        self._stop_load = threading.Event()
        self._settled: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task | None = None

    def status(self) -> dict:
        return {
            "state": self.state,
            "message": self.message,
            "percentage": self.percentage,
            "model": self.source,
            "revision": self.revision,
            "device": self.device,
            "pid": os.getpid(),
            "engine": self.model.stats() if self.model is not None else None,
        }

    def _set(self, state: str, message: str, percentage: int | None = None) -> None:
        if (state, message, percentage) != (self.state, self.message, self.percentage):
            self.state, self.message, self.percentage = state, message, percentage
            self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    def start(self) -> asyncio.Task:
        """Begin loading in a worker thread; progress updates the status from the event loop."""
        loop = asyncio.get_running_loop()
        self._settled, self._changed = asyncio.Event(), asyncio.Event()

        def progress(message: str, fraction: float | None) -> None:
            if self._stop_load.is_set():
                raise LoadStopped(self.source)
            percentage = None if fraction is None else max(0, min(100, int(fraction * 100)))
            loop.call_soon_threadsafe(self._set, "loading", message, percentage)

        def load() -> Model:
            where = {"device": self.device} | ({"gpu_split": self.gpu_split} if self.gpu_split else {})
            return self.loader(self.source, revision=self.revision, progress=progress, serving=self.serving, **where)

        async def settle() -> None:
            try:
                model = await asyncio.to_thread(load)
            except LoadStopped:
                self._set("error", "stopped before the model was ready")
            except Exception as e:  # every load failure is reported the same way: with the reason
                log.exception("loading %s failed", self.source)
                self._set("error", str(e) if isinstance(e, EngineError) else f"{type(e).__name__}: {e}")
            else:
                if self.stopping:
                    model.close()
                    return
                self.model, self.device = model, getattr(model, "device_label", str(model.device))
                log.info("%s is ready on %s", self.source, self.device)
                self._set("ready", f"ready on {self.device}")
            finally:
                self._settled.set()

        self._task = asyncio.create_task(settle())
        return self._task

    async def ready_model(self) -> Model | None:
        """The model once the load settles; None if it failed (`message` says why) or the server stops."""
        assert self._settled is not None, "start() first"
        await self._settled.wait()
        return None if self.stopping else self.model

    async def watch(self, heartbeat: float) -> AsyncIterator[dict]:
        """The status now, then at each change and at least every `heartbeat` seconds, until the server stops."""
        while not self.stopping:
            changed = self._changed
            yield self.status()
            try:
                await asyncio.wait_for(changed.wait(), heartbeat)
            except asyncio.TimeoutError:
                pass

    def stop(self) -> None:
        """The server is stopping: a load in progress stops at its next step, status watchers end."""
        if not self.stopping:
            self.stopping = True
            self._stop_load.set()
            self._wake()

    async def close(self, timeout: float = 60.0) -> None:
        """`stop()`, wait for the load's thread, and close the model (joins its step thread)."""
        self.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                log.error("the model load did not stop within %.0f s", timeout)
        model, self.model = self.model, None
        if model is not None:
            await asyncio.to_thread(model.close)
