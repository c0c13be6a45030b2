"""The VS Code extension's own checks, as `editors/vscode/ci.sh` runs them: install from the
lockfile, lint, unit tests, and the .vsix package. Needs `node` and `npm` on PATH (skipped
without them). The end-to-end test in a real VS Code is `editors/vscode/e2e.sh`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

EXTENSION = Path(__file__).parents[2] / "editors" / "vscode"
VSIX = EXTENSION / "codellama-lsp.vsix"

pytestmark = pytest.mark.slow


def npm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["npm", *args],
        cwd=EXTENSION,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def output(run: subprocess.CompletedProcess) -> str:
    return f"exit {run.returncode}\n{run.stdout[-6000:]}\n{run.stderr[-6000:]}"


@pytest.fixture(scope="module")
def installed() -> None:
    """`npm ci`: node_modules exactly as package-lock.json says (it is not in the repository)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the VS Code extension (Node.js >= 20)")
    run = npm("ci", "--no-audit", "--no-fund", timeout=900)
    assert run.returncode == 0, output(run)
    assert (EXTENSION / "node_modules" / "vscode-languageclient").is_dir()


def test_lint(installed):
    run = npm("run", "lint")  # tsc --noEmit (strict), then eslint
    assert run.returncode == 0, output(run)


def test_unit_tests(installed):
    run = npm("test")
    assert run.returncode == 0, output(run)
    summary = dict(re.findall(r"^# (tests|pass|fail|cancelled) (\d+)$", run.stdout, re.MULTILINE))
    assert int(summary.get("tests", 0)) >= 40, output(run)  # every test file ran
    assert summary["pass"] == summary["tests"] and summary["fail"] == summary["cancelled"] == "0", output(run)


def test_package_builds_the_vsix(installed):
    VSIX.unlink(missing_ok=True)
    run = npm("run", "package")  # esbuild bundle, then vsce package
    assert run.returncode == 0, output(run)
    assert VSIX.is_file(), output(run)
    manifest = json.loads((EXTENSION / "package.json").read_text())
    with zipfile.ZipFile(VSIX) as vsix:
        assert vsix.testzip() is None
        names = set(vsix.namelist())
        packaged = json.loads(vsix.read("extension/package.json"))
        bundle = vsix.read("extension/dist/extension.js").decode()
        readme = vsix.read("extension/readme.md").decode()
    assert {"extension.vsixmanifest", "[Content_Types].xml", "extension/readme.md"} <= names, names
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert images and all(f"extension/{image}" in names for image in images), (
        images,
        names,
    )  # the README's pictures travel with it
    assert (packaged["name"], packaged["version"], packaged["main"]) == (
        manifest["name"],
        manifest["version"],
        "./dist/extension.js",
    )
    assert "codellama.askSelection" in bundle  # the commands are registered by the bundled code
    assert not any(
        name.startswith(("extension/node_modules/", "extension/src/", "extension/test/")) for name in names
    ), names
