"""Triton kernels beyond the torch reference (GPTQ matmuls, paged decode attention), and the choice between them.

Importing this package never imports Triton: its kernel modules are loaded by `select`, with
Triton's interpreter switched on while they are defined for the CPU (see `interpreter`).
"""

from .select import GPTQ, KERNEL_CHOICES, PAGED_DECODE, check_or_fall_back, kernel_factory, load_module, resolve_kernel

__all__ = [
    "GPTQ",
    "KERNEL_CHOICES",
    "PAGED_DECODE",
    "check_or_fall_back",
    "kernel_factory",
    "load_module",
    "resolve_kernel",
]
