"""In-process GPTQ engine for Llama / CodeLlama checkpoints."""

from .config import ModelArgs, QuantConfig, ServingConfig
from .engine import Model
from .errors import CheckpointError, EngineBusyError, EngineClosedError, EngineError, TokenizerMissingError
from .loader import load_model
from .sampler import SamplingParams

__all__ = [
    "CheckpointError",
    "EngineBusyError",
    "EngineClosedError",
    "EngineError",
    "Model",
    "ModelArgs",
    "QuantConfig",
    "SamplingParams",
    "ServingConfig",
    "TokenizerMissingError",
    "load_model",
]
