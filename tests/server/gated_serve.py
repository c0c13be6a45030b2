"""`codellama-lsp serve` whose model load waits for a file, so a test sees the "loading" state for sure.

CODELLAMA_TEST_LOAD_GATE=FILE  the load reports "Waiting for the gate" (0 %) until FILE exists, then loads
"""

import os
import sys
import time
from pathlib import Path

from codellama_lsp.engine import load_model
from codellama_lsp.server import engine_server
from codellama_lsp.server.cli import main

gate = Path(os.environ["CODELLAMA_TEST_LOAD_GATE"])


def gated_load(*args, progress=None, **kwargs):
    while not gate.exists():
        if progress:
            progress("Waiting for the gate", 0.0)  # may raise: the server stops the load at its next step
        time.sleep(0.05)
    return load_model(*args, progress=progress, **kwargs)


engine_server.load_model = gated_load
sys.exit(main(sys.argv[1:]))
