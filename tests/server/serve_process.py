"""A `codellama-lsp serve` process for the tests: on a free TCP port or a unix socket, its log in a file."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVE = [sys.executable, "-m", "codellama_lsp.server", "serve"]
GATED_SERVE = [sys.executable, str(Path(__file__).parent / "gated_serve.py"), "serve"]
STARTUP_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """Started with `start()`; `client()` speaks to it over TCP or its unix socket."""

    def __init__(
        self,
        model: Path,
        log: Path,
        *extra: str,
        sock: Path | None = None,
        env: dict | None = None,
        command: list[str] = SERVE,
        port: int | None = None,
    ):
        self.sock, self.log, self.port = sock, log, None if sock else port or free_port()
        where = ["--socket", str(sock)] if sock else ["--port", str(self.port)]
        self.args = [*command, "--model", str(model), "--device", "cpu", *where, *extra, "--log-file", str(log)]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return "http://engine" if self.sock else f"http://127.0.0.1:{self.port}"

    def transport(self, asynchronous: bool = False):
        if self.sock is None:
            return None
        kind = httpx.AsyncHTTPTransport if asynchronous else httpx.HTTPTransport
        return kind(uds=str(self.sock))

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, transport=self.transport(), timeout=60, **kwargs)

    def async_client(self, **kwargs) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, transport=self.transport(True), timeout=60, **kwargs)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> ServeProcess:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        return self

    def wait_listening(self) -> None:
        """Until it answers HTTP at all (its model may still be loading)."""
        self._wait(lambda response: True, "listen")

    def wait_ready(self, headers: dict | None = None) -> ServeProcess:
        self._wait(lambda response: response.status_code == 200, "load the model", headers)
        return self

    def _wait(self, done, what: str, headers: dict | None = None) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        with self.client() as client:
            while True:
                try:
                    if done(client.get("/health", headers=headers)):
                        return
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"serve did not {what}:\n{self.stderr()}{self.log_text()[-3000:]}")
                time.sleep(0.05)

    def stderr(self) -> str:
        if self.process.poll() is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")

    def wait_exit(self, timeout: float = STARTUP_SECONDS) -> tuple[int, str]:
        """(exit code, stderr) once it ends by itself."""
        _, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, err.decode(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.process.stderr.close()


def metric(client: httpx.Client, name: str) -> float:
    """One sample of a Prometheus metric from /metrics."""
    text = client.get("/metrics").text
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics:\n{text}"
    return float(match.group(1))


def wait_for_metric(client: httpx.Client, name: str, wanted, timeout: float = 120.0) -> float:
    """Poll /metrics until `wanted(value)`; fails with the last value after a generous deadline."""
    deadline = time.monotonic() + timeout
    while not wanted(value := metric(client, name)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} stayed at {value}")
        time.sleep(0.05)
    return value
