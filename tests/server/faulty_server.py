"""The real server with faults injected from outside, for the fault tests.

CODELLAMA_TEST_LOAD_DELAY=SECONDS  the model takes this long to load
CODELLAMA_TEST_OOM_ONCE=1          the first generation step raises torch.OutOfMemoryError
"""

import logging
import os
import sys
import time

import torch

from codellama_lsp.engine import load_model, model_runner
from codellama_lsp.server.handlers import build_server

delay = float(os.environ.get("CODELLAMA_TEST_LOAD_DELAY", "0"))
oom_once = [os.environ.get("CODELLAMA_TEST_OOM_ONCE") == "1"]


def slow_load(*args, **kwargs):
    time.sleep(delay)
    return load_model(*args, **kwargs)


original_forward = model_runner.ModelRunner.forward


def faulty_forward(self, *args):
    if oom_once[0]:
        oom_once[0] = False
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
    return original_forward(self, *args)


model_runner.ModelRunner.forward = faulty_forward
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
build_server(slow_load).start_io()
