"""The server's state as the editors show it, sent as one notification whenever it changes.

`codellama/didChangeStatus` carries `ServerStatus` (camelCase JSON). Both editor plugins render
their status from it alone; `$/progress` only drives the editors' progress bars.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import Enum

STATUS_NOTIFICATION = "codellama/didChangeStatus"


class State(str, Enum):
    IDLE = "idle"  # no model asked for yet (before `initialized`), or the server is shutting down
    LOADING = "loading"  # the model is being downloaded or loaded
    READY = "ready"  # the model answers requests
    ERROR = "error"  # the last load failed; `message` says why


@dataclass(frozen=True)
class ServerStatus:
    state: State
    model: str
    revision: str
    device: str | None = None  # where the model runs, once ready
    message: str = ""  # the load step while loading, the reason on error
    percentage: int | None = None  # of the load, while loading
    busy: int = 0  # code actions being generated now
    placement: str = "in-process"  # the `engine` setting: in-process, shared, or the URL of the server that answers

    def to_json(self) -> dict:
        fields = asdict(self)
        return {"state": self.state.value, **{k: v for k, v in fields.items() if k != "state"}}


class StatusBoard:
    """The current status; `update` notifies the editor only when something changed."""

    def __init__(self, notify: Callable[[str, dict], None], model: str, revision: str):
        self.notify = notify
        self.current = ServerStatus(State.IDLE, model, revision)

    def update(self, **changes) -> None:
        status = replace(self.current, **changes)
        if status != self.current:
            self.current = status
            self.notify(STATUS_NOTIFICATION, status.to_json())


def process_figures(requests_in_flight: int) -> dict:
    """The server process's own figures for `codellama.status`: requests being answered (besides the one
    asking), tasks on its event loop, resident memory."""
    rss = None
    try:
        with open("/proc/self/statm") as statm:  # Linux: pages, resident is the second field
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        pass
    return {"requests": requests_in_flight - 1, "tasks": len(asyncio.all_tasks()) - 1, "rssBytes": rss}
