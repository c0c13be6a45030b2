"""bench/gpu.py's split run works where it can run here: two segments on the CPU, cut down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[1] / "bench" / "gpu.py"


def test_the_split_benchmark_runs_cut_down_on_the_cpu():
    args = ["--layers", "2", "--devices", "cpu,cpu", "--variants", "4:-1", "--decode-tokens", "2"]
    args += ["--contexts", "32,64"]
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    placement = next(line for line in done.stdout.splitlines() if line.startswith("| placement"))
    assert "cpu: embedding, layer 0" in placement and "cpu: layer 1, lm_head" in placement
