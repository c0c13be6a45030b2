"""The `device` option: one device ("cpu", "cuda", "cuda:N"), a list ("cuda:0,cuda:1"), or "auto".

A list, "auto" on several GPUs, or `gpu_split` goes to the placement planner; one device, or a
plan that keeps everything on one, loads exactly as before.
"""

from __future__ import annotations

import torch

from .errors import EngineError
from .kv_cache import available_memory
from .placement import DEFAULT_RESERVE, DeviceMemory, Footprint, Placement, plan_auto, plan_placement

FORMS = "'auto', 'cpu', 'cuda', 'cuda:N' or a list such as 'cuda:0,cuda:1'"


def parse_device(device: str | torch.device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise EngineError(f"unknown device {device!r}; use {FORMS}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise EngineError(f"device {device!r} requested but no CUDA GPU is visible to torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise EngineError(f"device {device!r} does not exist ({torch.cuda.device_count()} GPU(s) visible)")
    elif dev.type != "cpu":
        raise EngineError(f"device type {dev.type!r} is not supported; use {FORMS}")
    return dev


def parse_devices(device: str | torch.device) -> tuple[list[torch.device], bool]:
    """The devices named, and whether the plan may choose among them ("auto")."""
    if isinstance(device, torch.device):
        return [parse_device(device)], False
    if device.strip() == "auto":
        if not torch.cuda.is_available():
            return [torch.device("cpu")], True
        return [torch.device("cuda", i) for i in range(torch.cuda.device_count())], True
    names = [name.strip() for name in device.split(",")]
    if not all(names):
        raise EngineError(f"unknown device {device!r}; use {FORMS}")
    return [parse_device(name) for name in names], False


def free_memory(devices: list[torch.device]) -> list[DeviceMemory]:
    """Bytes free on each listed device; a device listed n times (host memory, or one GPU in segments)
    gives each entry an n-th."""
    return [DeviceMemory(str(d), available_memory(d) // devices.count(d)) for d in devices]


def place(
    device: str | torch.device,
    footprint: Footprint,
    context_tokens: int,
    block_size: int,
    gpu_split: list[float] | None = None,
    reserve: int = DEFAULT_RESERVE,
) -> tuple[torch.device, Placement | None]:
    """The one device to load on, or the first of a split and its plan (None: not split)."""
    devices, auto = parse_devices(device)
    if gpu_split is not None and len(gpu_split) != len(devices):
        raise EngineError(f"gpu_split has {len(gpu_split)} entries for {len(devices)} device(s) ({device})")
    if len(devices) == 1 and gpu_split is None:
        return devices[0], None
    memory = free_memory(devices)
    if auto and gpu_split is None:
        plan = plan_auto(footprint, memory, context_tokens, reserve, block_size)
    else:
        plan = plan_placement(footprint, memory, context_tokens, reserve, block_size, gpu_split, even=True)
    if len(plan.parts) == 1 and auto:
        return torch.device(plan.parts[0].device), None
    return torch.device(plan.parts[0].device), plan
