"""luacheck (Debian: `apt-get install lua-check`) over the Neovim plugin and the Lua of these tests,
with the repository's `.luacheckrc`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / ".luacheckrc"
LUA_FILES = sorted([*(ROOT / "editors" / "nvim").rglob("*.lua"), *Path(__file__).parent.glob("*.lua")])


@pytest.fixture(scope="module")
def luacheck() -> str:
    binary = shutil.which("luacheck")
    if binary is None:
        pytest.skip("luacheck is not installed (apt-get install lua-check, or luarocks install luacheck)")
    return binary


def lint(luacheck: str, *args: str, source: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [luacheck, "--config", str(CONFIG), "--formatter", "plain", "--codes", *args],
        cwd=ROOT,
        input=source,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_lua_has_no_warnings(luacheck):
    assert len(LUA_FILES) >= 10  # the plugin's modules and the test scripts
    run = lint(luacheck, *(str(path.relative_to(ROOT)) for path in LUA_FILES))
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_the_config_reports_what_it_should(luacheck):
    source = "local M = {}\nlocal unused = 1\nundefined_global = vim.fn.getpid()\nreturn M -- " + "x" * 120 + "\n"
    run = lint(luacheck, "--filename", "bad.lua", "-", source=source)
    codes = sorted(line.split("(", 1)[1].split(")", 1)[0] for line in run.stdout.splitlines())
    assert run.returncode == 1 and codes == ["W111", "W211", "W631"], run.stdout + run.stderr
