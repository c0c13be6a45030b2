"""Work-done progress ($/progress) that the editor can show and cancel."""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


class ProgressBar:
    """A server-created progress token; `cancelled` fires when the editor cancels it."""

    def __init__(self, server: LanguageServer, title: str, cancellable: bool = False):
        self.server, self.title, self.cancellable = server, title, cancellable
        self.token = f"codellama-{uuid.uuid4().hex[:12]}"
        self.active = False

    @property
    def supported(self) -> bool:
        window = self.server.client_capabilities.window
        return bool(window and window.work_done_progress)

    async def begin(self, message: str | None = None, on_cancel=None) -> None:
        if not self.supported:
            return
        try:
            await self.server.work_done_progress.create_async(self.token)
        except Exception as e:  # the editor refused the token: run without a progress bar
            log.info("progress not created: %s", e)
            return
        self.active = True
        cancel_future = self.server.work_done_progress.tokens.get(self.token)
        if on_cancel is not None and cancel_future is not None:
            loop = asyncio.get_running_loop()
            cancel_future.add_done_callback(lambda f: f.cancelled() and loop.call_soon_threadsafe(on_cancel))
        self.server.work_done_progress.begin(
            self.token,
            lsp.WorkDoneProgressBegin(title=self.title, message=message, cancellable=self.cancellable, percentage=0),
        )

    def report(self, message: str | None = None, fraction: float | None = None) -> None:
        if self.active:
            percentage = None if fraction is None else int(max(0.0, min(fraction, 1.0)) * 100)
            self.server.work_done_progress.report(
                self.token, lsp.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str | None = None) -> None:
        if self.active:
            self.active = False
            self.server.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(self.token, None)
