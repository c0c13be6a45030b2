"""`codellama-lsp complete` and `codellama-lsp action` on real files: the server's code path, from a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.conftest import KNOWN_ANSWER

CLI = [sys.executable, "-m", "codellama_lsp.server"]
SOURCE = "import math\n\n\ndef add(a, b):\n    \n\n\ndef area(r):\n    return math.pi * r * r\n"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args, "--log-level", "WARNING"], capture_output=True, text=True, timeout=300)


def test_complete_prints_the_ghost_text(known_model, tmp_path):
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    done = run("complete", f"{path}:5:5", "--model", str(known_model), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert done.stdout == KNOWN_ANSWER + "\n"


def test_action_prints_a_unified_diff(known_model, tmp_path):
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    done = run("action", "refactor", str(path), "--range", "9:5", "--model", str(known_model), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("--- a/calc.py\n+++ b/calc.py\n")
    assert "-def area(r):\n-    return math.pi * r * r\n+" + KNOWN_ANSWER + "\n" in done.stdout
    assert path.read_text() == SOURCE  # the file itself is never touched


def test_explain_prints_the_explanation(known_model, tmp_path):
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    done = run("action", "explain", str(path), "--range", "8:1-9:30", "--model", str(known_model), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert done.stdout == KNOWN_ANSWER + "\n"


def test_ask_needs_an_instruction_and_bad_ranges_are_reported(known_model, tmp_path):
    path = tmp_path / "calc.py"
    path.write_text(SOURCE)
    done = run("action", "ask", str(path), "--range", "4:1-5:1", "--model", str(known_model))
    assert done.returncode == 1 and "needs --instruction" in done.stderr
    done = run("action", "doc", str(path), "--range", "zero", "--model", str(known_model))
    assert done.returncode == 1 and "LINE:COL" in done.stderr and "Traceback" not in done.stderr


def test_the_readme_run_command_prints_a_sensible_completion():
    """`codellama-lsp complete tests/fixtures/example.py:3:5 --model demo`, from the repository root."""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [*CLI, "complete", "tests/fixtures/example.py:3:5", "--model", "demo", "--log-level", "WARNING"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    assert "SmolLM2-135M-Instruct" in done.stderr  # the demo model says what it is
    completion = done.stdout.strip()
    assert completion and "return" in completion  # a 135M model's body of fibonacci(n): code, not prose
