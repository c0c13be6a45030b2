"""`codellama-lsp serve`: the engine behind an OpenAI-compatible HTTP API, on TCP or a unix socket.

Listening starts at once; the model loads in a worker thread meanwhile (requests wait for it).
With `idle_minutes`, the process exits once nothing has used it for that long: no attached
client, no HTTP request in flight, no engine request. Exits close the model and remove the socket.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn

from codellama_lsp.engine import ServingConfig, load_model

from .engine_state import EngineState
from .http_gate import Gate
from .listen_socket import api_key_from_env, check_exposure, remove_socket_file, tcp_socket, unix_socket
from .metrics import Metrics
from .openai_api import build_app

log = logging.getLogger(__name__)
GRACEFUL_SHUTDOWN_SECONDS = 10.0  # answers still streaming at exit get this long, then they are cancelled


@dataclass(frozen=True)
class ServeConfig:
    model: str
    revision: str | None = None
    device: str = "auto"
    gpu_split: str = ""  # GB of weights per listed device, "20,24"; empty: planned from free memory
    host: str = "127.0.0.1"
    port: int = 8000
    socket: Path | None = None
    api_key_env: str | None = None
    served_model_name: str | None = None
    kv_cache_bytes: int = 0
    max_queue: int | None = None  # None: the engine's default
    idle_minutes: float | None = None  # None: never exit for idleness

    @property
    def where(self) -> str:
        return f"unix:{self.socket}" if self.socket else f"http://{self.host}:{self.port}"


class StopSignals:
    """SIGINT/SIGTERM outside uvicorn's own handling: before it starts (noted, then it stops at once) and the
    re-raise it does at its end (ignored, so the model is still closed and the socket removed)."""

    def __init__(self) -> None:
        self.received = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._note)

    def _note(self, signum: int, frame) -> None:
        self.received = True


def _busy(gate: Gate, state: EngineState) -> bool:
    model = state.model
    return bool(gate.in_flight or state.attached or (model is not None and model.active_requests))


async def supervise(server: uvicorn.Server, gate: Gate, state: EngineState, idle: float | None, signals: StopSignals):
    """Ends the server when it has been idle for `idle` seconds; ends status streams when it stops."""
    tick = 0.5 if idle is None else min(0.5, idle / 4)
    quiet_since = time.monotonic()
    while not server.should_exit and not signals.received:
        await asyncio.sleep(tick)
        now = time.monotonic()
        if _busy(gate, state):
            quiet_since = now
            continue
        quiet_since = max(quiet_since, gate.last_active)
        if idle is not None and now - quiet_since >= idle:
            log.info("exiting: no client attached and no request for %.2f minutes (--idle-minutes)", idle / 60)
            break
    server.should_exit = True
    state.stop()  # status streams end, so uvicorn's graceful shutdown need not wait for them


async def _serve(config: ServeConfig, api_key: str | None, sock: socket.socket, signals: StopSignals) -> None:
    serving = ServingConfig(kv_cache_bytes=config.kv_cache_bytes)
    if config.max_queue is not None:
        serving = replace(serving, max_waiting=config.max_queue)
    split = [float(gb) for gb in config.gpu_split.split(",")] if config.gpu_split else None
    state = EngineState(config.model, config.revision, config.device, serving, loader=load_model, gpu_split=split)
    metrics = Metrics(lambda: state.model, lambda: state.attached)
    gate = Gate(build_app(state, config.served_model_name or config.model, metrics), api_key, metrics)
    server = uvicorn.Server(
        uvicorn.Config(
            gate,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_SECONDS),
        )
    )
    state.start()
    idle = None if config.idle_minutes is None else config.idle_minutes * 60
    supervisor = asyncio.create_task(supervise(server, gate, state, idle, signals))
    log.info("serving %s on %s", config.model, config.where)
    try:
        await server.serve(sockets=[sock])
    finally:
        supervisor.cancel()
        await state.close()
        log.info("stopped")


def run_server(config: ServeConfig) -> int:
    """Serve until a signal, or idleness; raises ListenRefused before listening when that would be unsafe."""
    api_key = api_key_from_env(config.api_key_env)
    if config.socket is None:
        check_exposure(config.host, api_key)
        sock, inode = tcp_socket(config.host, config.port), None
    else:
        sock = unix_socket(config.socket)
        inode = config.socket.lstat().st_ino
    signals = StopSignals()
    try:
        asyncio.run(_serve(config, api_key, sock, signals))
    finally:
        if config.socket is not None and inode is not None:
            remove_socket_file(config.socket, inode)
        sock.close()
    return 0
