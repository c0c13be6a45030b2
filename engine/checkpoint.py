"""The weight files of a checkpoint folder: safetensors only, single or sharded."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from .errors import CheckpointError

INDEX_FILE = "model.safetensors.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class Checkpoint:
    """Tensor name -> file, opened lazily; every failure names the file at fault."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files = self._weight_files()
        self._handles: dict[Path, object] = {}
        self.tensor_file: dict[str, Path] = {}
        for path in sorted(set(self.files)):
            for name in self._open(path).keys():
                self.tensor_file[name] = path

    def _weight_files(self) -> list[Path]:
        index = self.folder / INDEX_FILE
        if index.exists():
            try:
                weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise CheckpointError(f"unreadable shard index ({e})", str(index)) from None
            files = [self.folder / name for name in sorted(set(weight_map.values()))]
            for path in files:
                if not path.exists():
                    raise CheckpointError(f"shard listed in {INDEX_FILE} is missing (partial download?)", str(path))
            return files
        files = sorted(self.folder.glob("*.safetensors"))
        if files:
            return files
        pickles = [p.name for p in self.folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
        if pickles:
            raise CheckpointError(
                f"only pickle weights ({', '.join(sorted(pickles))}); they are never loaded because unpickling "
                "can run code. Use a safetensors checkpoint",
                str(self.folder),
            )
        raise CheckpointError("no *.safetensors weight files", str(self.folder))

    def _open(self, path: Path):
        if path not in self._handles:
            try:
                self._handles[path] = safe_open(str(path), framework="pt", device="cpu")
            except (SafetensorError, OSError, ValueError) as e:
                raise CheckpointError(f"corrupt or truncated safetensors file ({e})", str(path)) from None
        return self._handles[path]

    def has(self, name: str) -> bool:
        return name in self.tensor_file

    def get(self, name: str, device: torch.device | str = "cpu") -> torch.Tensor:
        path = self.tensor_file.get(name)
        if path is None:
            raise CheckpointError(f"tensor {name!r} is missing", str(self.folder))
        try:
            tensor = self._open(path).get_tensor(name)
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"cannot read tensor {name!r} ({e})", str(path)) from None
        return tensor.to(device)

    def expect(self, name: str, shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
        tensor = self.get(name, device)
        if tuple(tensor.shape) != tuple(shape):
            raise CheckpointError(
                f"tensor {name!r} has shape {list(tensor.shape)}, expected {list(shape)} from config.json",
                str(self.tensor_file[name]),
            )
        return tensor

    def close(self) -> None:
        self._handles.clear()
