"""Engines the language server can be pointed at: `codellama-lsp serve` processes, and LSP clients for them."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig

from tests.server.conftest import CAPABILITIES, SERVER, settings, wait_for_model, watch_status

SERVE = [sys.executable, "-m", "codellama_lsp.server", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(model: Path, log: Path, *extra: str, env: dict | None = None, port: int | None = None, key: str = ""):
    """`codellama-lsp serve` on `port` (else a free one), ready; yields its `/v1` URL. `key`: its API key."""
    port = port or free_port()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    command = [*SERVE, "--model", str(model), "--device", "cpu", "--port", str(port), *extra]
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def metric(url: str, name: str) -> float:
    """One sample of a Prometheus metric from `serve`'s /metrics."""
    text = httpx.get(url.removesuffix("/v1") + "/metrics", timeout=5).text
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


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
