"""One engine per user for every editor window, started on demand (gopls' `-remote=auto`).

The engine is `codellama-lsp serve --socket PATH`, detached, with PATH under $XDG_RUNTIME_DIR
(else the temp dir) named by the model, revision, device and KV budget, so windows asking for
the same model share one. A lock file makes windows started together start one engine; a
socket nobody listens on (a killed engine's) is replaced; a socket or folder owned by another
user is refused. Each language server stays attached (`GET /codellama/attach`) while it lives;
the engine exits after `engineIdleMinutes` with nobody attached and nothing to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import httpx

from codellama_lsp.engine import EngineError

from .options import Options

log = logging.getLogger(__name__)

Progress = Callable[[str, float | None], None]
MAX_SOCKET_PATH = 107  # bytes in sockaddr_un.sun_path, less its NUL
MAX_RESTARTS = 3  # an engine that stops again before it is ready, more often than this, is given up
START_TIMEOUT = 120.0  # seconds for a new engine to listen (imports torch; the model loads after)
HEARTBEAT_TIMEOUT = httpx.Timeout(connect=5.0, read=15.0, write=5.0, pool=5.0)  # the engine beats every ≤ 2 s


class SharedEngineError(EngineError):
    """The shared engine could not be used; the message says why and what to do."""


def runtime_dir() -> Path:
    """This user's private folder for engine sockets: created 0700, refused if anyone else owns it."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "codellama-lsp" if base else Path(tempfile.gettempdir()) / f"codellama-lsp-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_owner(folder)
    if stat.S_IMODE(folder.lstat().st_mode) & 0o077:
        raise SharedEngineError(f"{folder} is open to other users; run `chmod 700 {folder}`")
    return folder


def check_owner(path: Path, uid: int | None = None) -> None:
    """Refuse a socket or folder that another user owns (they could answer in our engine's place)."""
    uid = os.getuid() if uid is None else uid
    owner = path.lstat().st_uid
    if owner != uid:
        raise SharedEngineError(
            f"{path} belongs to user {owner}, not to you (user {uid}); refusing to use it. "
            "Remove it, or point XDG_RUNTIME_DIR at a folder of your own."
        )


def engine_key(options: Options) -> dict:
    """What makes two windows' engines the same one."""
    model = options.model
    if Path(model).expanduser().is_dir():
        model = str(Path(model).expanduser().resolve())
    key = {"model": model, "revision": options.revision, "device": options.device, "kv": options.kv_cache_bytes}
    return key | ({"gpuSplit": options.gpu_split} if options.gpu_split else {})


def socket_path(options: Options, folder: Path | None = None) -> Path:
    digest = hashlib.sha256(json.dumps(engine_key(options), sort_keys=True).encode()).hexdigest()[:16]
    path = (folder or runtime_dir()) / f"engine-{digest}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise SharedEngineError(f"{path} is too long for a unix socket; point XDG_RUNTIME_DIR at a shorter folder")
    return path


def listening(path: Path) -> bool:
    """Whether something accepts connections on the unix socket at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(str(path))
            return True
        except OSError:
            return False


@contextmanager
def _locked(path: Path):
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another window starting the same engine waits here
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _serve_command(options: Options, path: Path, log_file: Path) -> list[str]:
    key = engine_key(options)
    command = [sys.executable, "-m", "codellama_lsp.server", "serve", "--socket", str(path), "--model", key["model"]]
    if options.revision:
        command += ["--revision", options.revision]
    command += ["--device", options.device, "--kv-cache-bytes", str(options.kv_cache_bytes)]
    command += ["--gpu-split", options.gpu_split] if options.gpu_split else []
    return [*command, "--idle-minutes", str(options.engine_idle_minutes), "--log-file", str(log_file)]


def ensure_engine(options: Options) -> Path:
    """The socket of this user's engine for `options`, started (detached) if none listens."""
    path = socket_path(options)
    with _locked(path.with_suffix(".lock")):
        if path.exists() or path.is_symlink():
            check_owner(path)
            if listening(path):
                return path
            log.info("removing the stale engine socket %s", path)
            path.unlink()
        log_file = path.with_suffix(".log")
        command = _serve_command(options, path, log_file)
        log.info("starting the shared engine: %s", " ".join(command))
        with open(log_file, "ab") as errors:  # what it prints before its log is set up
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                start_new_session=True,  # outlives this window
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(path):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_file.read_text(errors="replace")[-1500:] if log_file.exists() else ""
                raise SharedEngineError(f"the shared engine did not start (see {log_file}):\n{tail}")
            time.sleep(0.1)
        return path


class Attachment:
    """This window's attachment to the shared engine, and the engine's latest status.

    A thread holds `GET /codellama/attach` open (the engine counts attached clients); when the
    engine goes away, it starts a new one and attaches again.
    """

    def __init__(self, options: Options, path: Path):
        self.options, self.path = options, path
        self.status: dict | None = None
        self.closed = False
        self._changed = threading.Condition()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="codellama-attach", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        restarts = 0  # since the engine was last ready
        while not self.closed:
            try:
                self._listen()
            except (httpx.HTTPError, OSError, ValueError) as e:
                log.warning("lost the shared engine at %s: %s", self.path, e)
            if self.closed:
                return
            restarts = 0 if (self.status or {}).get("state") == "ready" else restarts + 1
            if restarts > MAX_RESTARTS:
                log_file = self.path.with_suffix(".log")
                self._update({"state": "error", "message": f"the shared engine keeps stopping; see {log_file}"})
                return
            self._update({"state": "error", "message": "the shared engine went away; starting it again"}, lost=True)
            time.sleep(1.0)
            try:
                ensure_engine(self.options)
            except (EngineError, OSError) as e:
                log.error("could not start the shared engine again: %s", e)

    def _listen(self) -> None:
        transport = httpx.HTTPTransport(uds=str(self.path))
        with httpx.Client(transport=transport, timeout=HEARTBEAT_TIMEOUT) as client:
            with client.stream("GET", "http://engine/codellama/attach") as response:
                self._response = response
                response.raise_for_status()
                for line in response.iter_lines():
                    if self.closed:
                        return
                    if line.startswith("data:"):
                        self._update(json.loads(line[5:]))

    def _update(self, status: dict, lost: bool = False) -> None:
        with self._changed:
            if lost and self.status is None:
                return  # not attached yet: nothing was lost
            self.status = {**status, "lost": True} if lost else status
            self._changed.notify_all()

    def wait_ready(self, progress: Progress) -> dict:
        """Block until the engine is ready (its status), reporting its load; raise if its load failed."""
        with self._changed:
            while True:
                status = self.status or {"state": "loading", "message": "starting the shared engine"}
                if status["state"] == "ready":
                    return status
                if status["state"] == "error" and not status.get("lost"):
                    self.stop_engine(status)
                    raise SharedEngineError(f"the shared engine failed to load the model: {status.get('message')}")
                percentage = status.get("percentage")
                progress(f"shared engine: {status.get('message') or 'starting'}",
                         None if percentage is None else percentage / 100)  # fmt: skip
                self._changed.wait(timeout=1.0)

    def stop_engine(self, status: dict) -> None:
        """A failed engine is stopped, so that the next attempt starts a fresh one."""
        pid = status.get("pid")
        if isinstance(pid, int) and pid > 0:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def close(self) -> None:
        self.closed = True
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # closing from another thread may race the reader; it stops at its next line
                pass
