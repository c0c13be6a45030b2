"""In-process GPTQ engine for Llama / CodeLlama checkpoints."""

from .config import ModelArgs, QuantConfig
from .engine import Model
from .errors import CheckpointError, EngineError, TokenizerMissingError
from .loader import load_model
from .sampler import SamplingParams

__all__ = [
    "CheckpointError",
    "EngineError",
    "Model",
    "ModelArgs",
    "QuantConfig",
    "SamplingParams",
    "TokenizerMissingError",
    "load_model",
]
