"""Triton's interpreter, switched on only while kernels for a non-CUDA device are defined.

`triton.jit` reads TRITON_INTERPRET as a kernel is defined (interpreted or compiled), and a
compiled kernel reads it again as it builds at its first launch; an interpreted one never
does. So the variable is set around the definitions and put back: interpreted and compiled
kernels can share a process, and nothing compiled later (ours for CUDA, or torch's) sees it.
CUDA with TRITON_INTERPRET=1 already set is refused. Triton itself is imported before the
switch, so its library functions stay as the environment had them; torch may have imported
it earlier anyway, which is why the kernels use none of them (tl.sum, tl.cdiv ...).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..errors import EngineError

VARIABLE = "TRITON_INTERPRET"


@contextmanager
def defining_for(device: torch.device) -> Iterator[None]:
    """Triton kernels defined inside run on `device`: compiled for CUDA, interpreted elsewhere."""
    importlib.import_module("triton")
    before = os.environ.get(VARIABLE)
    if device.type == "cuda":
        if before == "1":
            raise EngineError(f"{VARIABLE}=1 is set, so the Triton kernels would not compile for {device}; unset it")
        yield
        return
    os.environ[VARIABLE] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = before


def interpreted(kernel: Any) -> bool:
    """Whether a `triton.jit` kernel runs under the interpreter."""
    return type(kernel).__name__ == "InterpretedFunction"
