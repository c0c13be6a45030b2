"""Which GPTQ kernel a model runs: "torch" (reference), "triton", or "auto".

auto = Triton on CUDA when it imports, the torch reference elsewhere. "triton" on the CPU runs
the same kernels under Triton's interpreter (slow; for tests). The interpreter is chosen when
a kernel is defined, so on the CPU this module sets TRITON_INTERPRET=1 (for the rest of the
process: Triton reads it again later) before defining the kernels; a process that already has
them compiled gets a clear error, and so does CUDA with TRITON_INTERPRET=1 set. The kernels
avoid Triton's library functions, which are fixed when Triton itself is imported, so it does
not matter that torch may have imported Triton already.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable

import torch

from ..errors import EngineError
from ..quant import GPTQKernel, TorchKernel

log = logging.getLogger(__name__)

KERNEL_CHOICES = ("auto", "triton", "torch")
_MODULE = __package__ + ".triton_kernel"


def load_triton(device: torch.device) -> type:
    """The TritonKernel class, compiled for CUDA or interpreted for the CPU; EngineError if impossible."""
    if importlib.util.find_spec("triton") is None:
        raise EngineError("kernel='triton' needs the triton package: pip install 'codellama-lsp[gpu]'")
    want = device.type != "cuda"
    if want and _MODULE not in sys.modules:
        os.environ["TRITON_INTERPRET"] = "1"  # read as the kernels are defined; kept: Triton reads it later too
    elif not want and os.environ.get("TRITON_INTERPRET") == "1" and _MODULE not in sys.modules:
        raise EngineError(f"TRITON_INTERPRET=1 is set, so the Triton kernels would not compile for {device}; unset it")
    try:
        module = importlib.import_module(_MODULE)
    except Exception as e:  # a broken Triton install fails in many ways
        raise EngineError(f"the Triton kernels failed to import ({type(e).__name__}: {e})") from e
    if module.INTERPRETED != want:
        how = "for Triton's CPU interpreter" if module.INTERPRETED else "for the GPU"
        raise EngineError(
            f"the Triton kernels were already defined {how} in this process, so kernel='triton' cannot run on "
            f"{device}; use kernel='torch' here, or a new process"
        )
    return module.TritonKernel


def resolve_kernel(choice: str, device: torch.device) -> str:
    """'auto' -> 'triton' or 'torch' for this device; checks the name."""
    if choice not in KERNEL_CHOICES:
        raise EngineError(f"unknown kernel {choice!r}; use one of {', '.join(KERNEL_CHOICES)}")
    if choice != "auto":
        return choice
    if device.type != "cuda" or importlib.util.find_spec("triton") is None:
        return "torch"
    try:
        load_triton(device)
    except EngineError as e:
        log.warning("%s; using the torch reference kernel", e)
        return "torch"
    return "triton"


def kernel_factory(choice: str, device: torch.device) -> Callable[[bool], GPTQKernel]:
    """cache -> the kernel for one layer (`cache`: whether the torch reference may keep W dequantized).

    Resolved now, before the model is built; one TritonKernel serves all layers, sharing its
    buffers and act-order permutations.
    """
    if resolve_kernel(choice, device) == "torch":
        return lambda cache: TorchKernel(cache=cache)
    shared = load_triton(device)()
    return lambda cache: shared


def check_or_fall_back(model: torch.nn.Module, choice: str) -> None:
    """With kernel="auto": run the first GPTQ layer's Triton kernel against the reference once,
    at decode and prefill row counts; if it fails or disagrees on this GPU, every layer goes
    back to the torch reference, with a warning, rather than serving wrong or no answers."""
    from ..quant import QuantLinear

    layers = [m for m in model.modules() if isinstance(m, QuantLinear)]
    if choice != "auto" or not layers or layers[0].kernel.name != "triton":
        return
    layer = layers[0]
    device = layer.qweight.device
    try:
        weight = layer.dequantize()  # [K, N]
        for rows in (1, 5, 64):
            x = torch.randn(rows, layer.in_features, device=weight.device, dtype=weight.dtype)
            want = x.float() @ weight.float()
            error = float((layer.kernel.forward(layer, x).float() - want).norm() / want.norm())
            if not error <= 2e-2:  # also catches NaN
                raise EngineError(f"relative error {error:.2g} at {rows} rows")
    except Exception as e:
        log.warning(
            "the Triton GPTQ kernels failed their check on %s (%s); using the torch reference kernel", device, e
        )
        for m in layers:
            m.kernel = TorchKernel(cache=False)
            m.kernel.prepare(m)
