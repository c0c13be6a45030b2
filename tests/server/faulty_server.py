"""The real server with faults injected from outside, for the fault tests.

CODELLAMA_TEST_LOAD_DELAY=SECONDS  the model takes this long to load, reporting progress every 0.1 s as a
                                   real load does per layer (its progress callback may stop it)
CODELLAMA_TEST_LOAD_LOG=FILE       each load appends "started" and then "finished" or "stopped" here
CODELLAMA_TEST_OOM_ONCE=1          the first generation step raises torch.OutOfMemoryError, from
                                   ModelRunner.forward: every step passes there, eager or from graphs
"""

import logging
import os
import sys
import time

import torch

from codellama_lsp.engine import load_model, model_runner
from codellama_lsp.server.cli import serve_lsp
from codellama_lsp.server.handlers import build_server

delay = float(os.environ.get("CODELLAMA_TEST_LOAD_DELAY", "0"))
oom_once = [os.environ.get("CODELLAMA_TEST_OOM_ONCE") == "1"]


def slow_load(*args, progress=None, **kwargs):
    record("started")
    try:
        for tick in range(round(delay * 10)):
            if progress:
                progress(f"Waiting {tick + 1}/{round(delay * 10)}", (tick + 1) / (delay * 10))
            time.sleep(0.1)
    except BaseException:
        record("stopped")
        raise
    record("finished")
    return load_model(*args, progress=progress, **kwargs)


def record(event: str) -> None:
    if os.environ.get("CODELLAMA_TEST_LOAD_LOG"):
        with open(os.environ["CODELLAMA_TEST_LOAD_LOG"], "a") as log:
            log.write(event + "\n")


original_forward = model_runner.ModelRunner.forward


def faulty_forward(self, *args):
    if oom_once[0]:
        oom_once[0] = False
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
    return original_forward(self, *args)


model_runner.ModelRunner.forward = faulty_forward
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
sys.exit(serve_lsp(build_server(slow_load)))
