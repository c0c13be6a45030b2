"""`codellama-lsp serve` as the language server's engine, and language servers pointed at engines."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import httpx
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig

from tests.server.conftest import CAPABILITIES, SERVER, settings, wait_for_model, watch_status
from tests.server.serve_process import ServeProcess, metric


@contextmanager
def serve(model: Path, log: Path, *extra: str, env: dict | None = None, port: int | None = None, key: str = ""):
    """`codellama-lsp serve` on `port` (else a free one), its model loaded; yields its `/v1` URL."""
    process = ServeProcess(model, log, *extra, env=env, port=port).start()
    try:
        process.wait_ready({"Authorization": f"Bearer {key}"} if key else None)
        yield f"{process.url}/v1"
    finally:
        process.stop()


def served_metric(url: str, name: str) -> float:
    """One sample of a Prometheus metric of the `serve` at `url`."""
    with httpx.Client(base_url=url.removesuffix("/v1"), timeout=10) as client:
        return metric(client, name)


async def lsp_client(model: Path | str, env: dict | None = None, **options):
    """A language server started with these settings, initialized and done loading (or connecting)."""
    client = await ClientServerConfig(server_command=SERVER, server_env={**os.environ, **(env or {})}).start()
    client.statuses = watch_status(client)
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=CAPABILITIES, process_id=os.getpid(), initialization_options=settings(model, **options)
        )
    )
    await wait_for_model(client)
    return client
