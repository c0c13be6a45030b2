"""`engine: "shared"`: one engine per user and model, started on demand, shared by every window, gone when idle."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types as lsp

from codellama_lsp.server.option_parsing import parse_options
from codellama_lsp.server.shared_engine import SharedEngineError, check_owner, runtime_dir, socket_path
from tests.server.conftest import KNOWN_ANSWER, open_document, pos
from tests.server.engine_servers import lsp_client

SOURCE = "def add(a, b):\n    \n"
URI = "file:///ws/add.py"
IDLE_MINUTES = 0.05  # 3 s


@pytest.fixture
def run_dir(monkeypatch) -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR with a short path (unix socket paths hold 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="cl-run-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def engine_processes(run_dir: Path) -> list[int]:
    """Pids of `codellama-lsp serve` processes listening under `run_dir`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and any(str(run_dir).encode() in part for part in command):
            found.append(int(entry.name))
    return found


async def ghost_text(client) -> list[str]:
    open_document(client, URI, SOURCE)
    result = await client.text_document_inline_completion_async(
        lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI),
            position=pos(1, 4),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
    )
    return [item.insert_text for item in result.items]


async def status(client) -> dict:
    return await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="codellama.status"))


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (our child in a test run) has exited too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


async def wait_gone(pid: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        assert time.monotonic() < deadline, f"engine {pid} is still running"
        await asyncio.sleep(0.2)


async def test_two_windows_started_together_share_one_engine_which_exits_when_idle(known_model, run_dir):
    env = {"XDG_RUNTIME_DIR": str(run_dir)}
    options = {"engine": "shared", "engineIdleMinutes": IDLE_MINUTES}
    first, second = await asyncio.gather(
        lsp_client(known_model, env=env, **options), lsp_client(known_model, env=env, **options)
    )
    try:
        assert await ghost_text(first) == [KNOWN_ANSWER]
        assert await ghost_text(second) == [KNOWN_ANSWER]
        (engine,) = engine_processes(run_dir)  # exactly one engine
        for client in (first, second):
            reply = await status(client)
            assert (reply["state"], reply["placement"], reply["device"]) == ("ready", "shared", "cpu")
            assert reply["engine"]["pid"] == engine and reply["engine"]["reachable"] is True
            assert reply["engine"]["url"].startswith(f"unix:{run_dir}")
        assert any(
            "shared engine" in (v.message or "") for v in first.progress_reports[next(iter(first.progress_reports))]
        )
    finally:
        await asyncio.gather(first.shutdown_session(), second.shutdown_session())
    await wait_gone(engine)  # nobody attached: it exits once idle
    assert not list(run_dir.glob("codellama-lsp/*.sock"))


async def test_a_killed_engine_is_started_again(known_model, run_dir):
    client = await lsp_client(
        known_model, env={"XDG_RUNTIME_DIR": str(run_dir)}, engine="shared", engineIdleMinutes=IDLE_MINUTES
    )
    try:
        assert await ghost_text(client) == [KNOWN_ANSWER]
        killed = (await status(client))["engine"]["pid"]
        os.kill(killed, signal.SIGKILL)
        await wait_gone(killed)
        deadline = time.monotonic() + 90
        while (await status(client))["engine"].get("pid") in (killed, None) or await ghost_text(client) != [
            KNOWN_ANSWER
        ]:
            assert time.monotonic() < deadline, "the engine was not started again"
            await asyncio.sleep(0.5)
        (engine,) = engine_processes(run_dir)
        assert engine != killed
    finally:
        await client.shutdown_session()
    await wait_gone(engine)


async def test_a_stale_socket_is_replaced(known_model, run_dir):
    options, _ = parse_options({"model": str(known_model), "device": "cpu", "engine": "shared"})
    path = socket_path(options, runtime_dir())
    with socket.socket(socket.AF_UNIX) as dead:  # bound, never listening: what a killed engine leaves
        dead.bind(str(path))
    client = await lsp_client(
        known_model, env={"XDG_RUNTIME_DIR": str(run_dir)}, engine="shared", engineIdleMinutes=IDLE_MINUTES
    )
    try:
        assert await ghost_text(client) == [KNOWN_ANSWER]
        engine = (await status(client))["engine"]["pid"]
    finally:
        await client.shutdown_session()
    await wait_gone(engine)


def test_a_socket_owned_by_another_user_is_refused(tmp_path):
    path = tmp_path / "engine.sock"
    path.touch()
    check_owner(path)  # ours
    with pytest.raises(SharedEngineError, match="belongs to user .* not to you"):
        check_owner(path, uid=os.getuid() + 4242)
    if os.getuid() == 0:  # as root, make it really someone else's
        os.chown(path, 4242, -1)
        with pytest.raises(SharedEngineError, match="belongs to user 4242"):
            check_owner(path)


def test_the_runtime_folder_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    folder = runtime_dir()
    assert folder == tmp_path / "codellama-lsp" and (folder.stat().st_mode & 0o777) == 0o700
    folder.chmod(0o755)
    with pytest.raises(SharedEngineError, match="open to other users"):
        runtime_dir()
