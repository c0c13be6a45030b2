"""GPTQ linear kernels beyond the torch reference, and the choice between them.

Importing this package never imports Triton: on the CPU the Triton kernels run under its
interpreter, which has to be switched on before they are defined (see `select`).
"""

from .select import KERNEL_CHOICES, check_or_fall_back, kernel_factory, resolve_kernel

__all__ = ["KERNEL_CHOICES", "check_or_fall_back", "kernel_factory", "resolve_kernel"]
