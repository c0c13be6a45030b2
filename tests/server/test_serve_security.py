"""`codellama-lsp serve` keeps the model to its user: loopback unless keyed, the key on every path, a private
unix socket (stale ones replaced, live ones kept); attached clients see its status, and it exits when idle."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server.conftest import KNOWN_ANSWER
from tests.server.serve_process import GATED_SERVE, SERVE, ServeProcess, metric, wait_for_metric

KEY_ENV = "CODELLAMA_TEST_API_KEY"
KEY = "s3cret-for-the-test"
CHAT = {"messages": [{"role": "user", "content": "Add a and b."}], "temperature": 0}


def refused(*args: str, env: dict | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [*SERVE, "--model", "unused", *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    return done.returncode, done.stderr


def test_a_non_loopback_address_needs_an_api_key():
    code, message = refused("--host", "0.0.0.0", "--port", "1")
    assert code == 2
    assert "without an API key" in message and "--api-key-env CODELLAMA_API_KEY" in message
    assert "openssl rand -hex 32" in message


def test_an_api_key_variable_that_is_unset_is_refused():
    code, message = refused("--api-key-env", "CODELLAMA_TEST_UNSET_KEY", env={"CODELLAMA_TEST_UNSET_KEY": ""})
    assert code == 2 and "CODELLAMA_TEST_UNSET_KEY" in message and "unset or empty" in message


@pytest.fixture(scope="module")
def keyed(known_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("keyed") / "serve.log"
    server = ServeProcess(known_model, log, "--api-key-env", KEY_ENV, env={KEY_ENV: KEY}).start()
    yield server.wait_ready(headers={"Authorization": f"Bearer {KEY}"})
    server.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health"), ("GET", "/v1/models"), ("GET", "/metrics"), ("POST", "/v1/chat/completions")],
)
def test_every_path_needs_the_key(keyed, method, path):
    with keyed.client() as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            response = client.request(method, path, headers=headers, json=CHAT)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "invalid_api_key"
        response = client.request(method, path, headers={"Authorization": f"Bearer {KEY}"}, json=CHAT)
    assert response.status_code == 200


def stale_socket(path) -> None:
    """A socket file whose server is gone, as a killed engine leaves it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))


def test_a_unix_socket_is_private_and_replaces_a_stale_one(known_model, tmp_path):
    path = tmp_path / "engine.sock"
    stale_socket(path)
    server = ServeProcess(known_model, tmp_path / "serve.log", sock=path).start()
    try:
        server.wait_ready()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with server.client() as client:  # httpx over the socket: HTTPTransport(uds=path)
            answer = client.post("/v1/chat/completions", json=CHAT).json()
        assert answer["choices"][0]["message"]["content"].strip() == KNOWN_ANSWER
        code, message = refused("--socket", str(path))  # a live one is kept
        assert code == 2 and f"an engine already listens on {path}" in message
    finally:
        server.process.terminate()
    assert server.wait_exit()[0] == 0
    assert not path.exists()  # removed at exit


def test_a_socket_folder_open_to_others_is_refused(tmp_path):
    (tmp_path / "open").mkdir(mode=0o755)
    os.chmod(tmp_path / "open", 0o755)
    code, message = refused("--socket", str(tmp_path / "open" / "engine.sock"))
    assert code == 2 and "chmod 700" in message


def ask(server: ServeProcess) -> dict:
    with server.client() as client:
        return client.post("/v1/chat/completions", json=CHAT).json()


def test_attach_streams_the_status_and_the_idle_exit_follows(known_model, tmp_path):
    gate, path = tmp_path / "gate", tmp_path / "run" / "engine.sock"
    env = {"CODELLAMA_TEST_LOAD_GATE": str(gate)}
    server = ServeProcess(
        known_model, tmp_path / "serve.log", "--idle-minutes", "0.02", sock=path, env=env, command=GATED_SERVE
    ).start()
    try:
        server.wait_listening()
        seen: list[dict] = []
        with (
            ThreadPoolExecutor(1) as pool,
            server.client() as client,
            client.stream("GET", "/codellama/attach") as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                seen.append(status := json.loads(line[len("data: ") :]))
                if status["message"] == "Waiting for the gate" and not gate.exists():
                    assert metric(client, "codellama_attached_clients") == 1
                    early = pool.submit(ask, server)  # waits for the load
                    gate.touch()  # the load goes on
                if len(seen) > 1 and seen[-1]["state"] == seen[-2]["state"] == "ready":
                    break  # a heartbeat after the change
            states = [s["state"] for s in seen]
            answer = early.result()
        with server.client() as client:
            wait_for_metric(client, "codellama_attached_clients", lambda v: v == 0)
    except BaseException:
        server.stop()
        raise
    assert states[0] == "loading" and set(states) == {"loading", "ready"} and states.index("ready") > 0
    assert {"state": "loading", "message": "Waiting for the gate", "percentage": 0, "engine": None}.items() <= next(
        s for s in seen if s["message"] == "Waiting for the gate"
    ).items()
    assert answer["choices"][0]["message"]["content"].strip() == KNOWN_ANSWER  # asked while loading
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700  # the folder the server made
    first, last = seen[0], seen[-1]
    assert first["pid"] == server.process.pid and first["model"] == str(known_model)
    assert (last["state"], last["device"]) == ("ready", "cpu") and last["engine"]["kvBlocks"] > 0
    code, _ = server.wait_exit()  # nobody attached and nothing asked: the idle exit
    assert code == 0 and not path.exists()
    assert "exiting: no client attached and no request" in server.log_text()
