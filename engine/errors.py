"""Errors the engine raises for bad checkpoints and failed requests."""

from __future__ import annotations


class EngineError(RuntimeError):
    """Base class: every error the engine raises on purpose."""


class CheckpointError(EngineError, ValueError):
    """A checkpoint is missing, partial, corrupt or of an unsupported kind.

    The message always names the file (and tensor) at fault and says what to do.
    """

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class TokenizerMissingError(EngineError):
    """Text was given to a model whose checkpoint has no tokenizer files."""


class EngineBusyError(EngineError):
    """Too many requests are waiting; this one was not queued."""


class EngineClosedError(EngineError):
    """The model was closed: its requests end with this, and new ones are refused."""
