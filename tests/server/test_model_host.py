"""The model host: a model that settings replace (or whose load fails) is closed, freeing its memory."""

from __future__ import annotations

import asyncio

from codellama_lsp.server.model_host import ModelHost
from codellama_lsp.server.option_parsing import parse_options


class Loaded:
    def __init__(self, name: str):
        self.name, self.closed = name, False

    def close(self) -> None:
        self.closed = True


async def test_a_replaced_model_is_closed_and_so_is_one_a_failed_load_replaces():
    def loader(source, **_):
        if source == "broken":
            raise OSError("no such checkpoint")
        return Loaded(source)

    host, settled = ModelHost(loader), []
    for model in ("first", "second", "broken"):
        options, _ = parse_options({"model": model, "device": "cpu"})
        await host.start(options, lambda *_: None, lambda m, e: settled.append((m, e)))
        await asyncio.sleep(0)
    first, second = settled[0][0], settled[1][0]
    assert (first.name, second.name, settled[2]) == ("first", "second", (None, "OSError: no such checkpoint"))
    assert first.closed and second.closed and host.model is None
