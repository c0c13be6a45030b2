"""Which kernels a model runs, for the GPTQ matmuls and the paged decode attention alike:
"torch" (the reference), "triton", or "auto" = Triton on CUDA when it loads, torch elsewhere.

"triton" on the CPU runs the same kernels under Triton's interpreter (slow; for tests; see
`interpreter`). The GPTQ kernels are defined as their module is imported, so one process has
them compiled or interpreted, not both: asking for the other kind is a clear error.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from types import ModuleType

import torch

from ..errors import EngineError
from ..quant import GPTQKernel, TorchKernel
from .interpreter import defining_for

log = logging.getLogger(__name__)

KERNEL_CHOICES = ("auto", "triton", "torch")
GPTQ = "triton_kernel"  # the Triton modules, loaded on demand
PAGED_DECODE = "paged_decode"


def load_module(name: str, device: torch.device) -> ModuleType:
    """The Triton kernel module `name`, its kernels defined for `device`; EngineError if they cannot run there."""
    if importlib.util.find_spec("triton") is None:
        raise EngineError("kernel='triton' needs the triton package: pip install 'codellama-lsp[gpu]'")
    try:
        with defining_for(device):
            module = importlib.import_module(f"{__package__}.{name}")
    except EngineError:
        raise
    except Exception as e:  # a broken Triton install fails in many ways
        raise EngineError(f"the Triton kernels of {name}.py failed to import ({type(e).__name__}: {e})") from e
    interpret = device.type != "cuda"
    defined = getattr(module, "INTERPRETED", interpret)  # said by modules that define their kernels at import
    if defined != interpret:
        how = "for Triton's CPU interpreter" if defined else "for the GPU"
        raise EngineError(
            f"the Triton kernels were already defined {how} in this process, so kernel='triton' cannot run on "
            f"{device}; use kernel='torch' here, or a new process"
        )
    return module


def resolve_kernel(choice: str, device: torch.device, module: str) -> ModuleType | None:
    """The Triton module `choice` picks on `device` (GPTQ or PAGED_DECODE), or None for torch.

    "auto": Triton on CUDA when it is installed and loads, otherwise torch (with a warning if
    it failed to load); "triton": Triton or EngineError.
    """
    if choice not in KERNEL_CHOICES:
        raise EngineError(f"unknown kernel {choice!r}; use one of {', '.join(KERNEL_CHOICES)}")
    if choice == "torch":
        return None
    if choice == "auto" and (device.type != "cuda" or importlib.util.find_spec("triton") is None):
        return None
    try:
        return load_module(module, device)
    except EngineError as e:
        if choice == "triton":
            raise
        log.warning("%s; using torch instead", e)
        return None


def kernel_factory(choice: str, device: torch.device) -> Callable[[bool], GPTQKernel]:
    """cache -> the kernel for one layer (`cache`: whether the torch reference may keep W dequantized).

    Resolved now, before the model is built; one TritonKernel serves all layers, sharing its
    buffers and act-order permutations.
    """
    module = resolve_kernel(choice, device, GPTQ)
    if module is None:
        return lambda cache: TorchKernel(cache=cache)
    shared = module.TritonKernel()
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
