"""The checkpoint's tokenizer and chat template (CodeLlama-70B's when the tokenizer has none)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import CheckpointError, TokenizerMissingError

log = logging.getLogger(__name__)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
Messages = Sequence[dict[str, Any]]


def codellama_70b_chat_template() -> str:
    """The chat template of CodeLlama-70B-Instruct (model card, 'Chat prompt')."""
    return resources.files(__package__).joinpath("codellama_70b_chat.jinja").read_text(encoding="utf-8")


def load_tokenizer(folder: Path):
    """A transformers tokenizer from the folder, or None if the checkpoint ships none."""
    if not any((folder / name).exists() for name in TOKENIZER_FILES):
        log.warning("%s has no tokenizer files; only token ids can be used", folder)
        return None
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
    except Exception as e:  # transformers raises many kinds; all mean the same to the user
        raise CheckpointError(f"cannot load the tokenizer ({type(e).__name__}: {e})", str(folder)) from None
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = codellama_70b_chat_template()
    restore_sentencepiece_prefix(tokenizer)
    return tokenizer


def load_tokenizer_only(source: str, revision: str | None = None, progress=None):
    """The tokenizer of a checkpoint without its weights: a local folder, "demo", or a hub id (a few MB)."""
    from .hub import TOKENIZER_PATTERNS, resolve_source

    folder = resolve_source(source, revision, progress, patterns=TOKENIZER_PATTERNS)
    tokenizer = load_tokenizer(folder)
    if tokenizer is None:
        raise CheckpointError("has no tokenizer files (tokenizer.json or tokenizer.model)", str(folder))
    return tokenizer


def restore_sentencepiece_prefix(tokenizer) -> None:
    """CodeLlama-70B saw a "▁" before every stretch of text, also right after `<s>` and `<step>`.

    transformers 5 rebuilds a Llama tokenizer declared `legacy: false` with
    `Metaspace(prepend_scheme="first")`, which drops that "▁" after special tokens
    (`<s>Source` -> 4435 instead of the model card's 7562). For tokenizers of this model
    (those with `<step>`), put back the SentencePiece behaviour: a normalizer per text stretch.
    """
    from tokenizers import normalizers, pre_tokenizers

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or "<step>" not in tokenizer.get_vocab():
        return
    pre = backend.pre_tokenizer
    if isinstance(pre, pre_tokenizers.Metaspace) and pre.prepend_scheme != "always":
        log.info("restoring SentencePiece's dummy prefix after special tokens")
        backend.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
        backend.pre_tokenizer = None


def is_messages(prompt: Any) -> bool:
    return isinstance(prompt, (list, tuple)) and bool(prompt) and all(isinstance(m, dict) for m in prompt)


def require(tokenizer, what: str):
    if tokenizer is None:
        raise TokenizerMissingError(f"{what} needs a tokenizer, and this checkpoint has none; pass token ids")
    return tokenizer


def render_chat(tokenizer, messages: Messages) -> str:
    """The chat as the template renders it, ending with the assistant's turn (BOS included as text).

    A final assistant message is a prefilled answer: the turn opens as for a new answer and the
    text ends with the message's content as it is, for the model to continue as if it had written it.
    """
    messages = list(messages)
    template = require(tokenizer, "encode_chat").apply_chat_template
    if messages and messages[-1].get("role") == "assistant":
        return template(messages[:-1], tokenize=False, add_generation_prompt=True) + messages[-1]["content"]
    return template(messages, tokenize=False, add_generation_prompt=True)


def encode_chat(tokenizer, messages: Messages) -> list[int]:
    """Token ids of the chat, ending with the assistant's turn, exactly as the template renders it."""
    text = render_chat(tokenizer, messages)  # refuses a missing tokenizer
    return tokenizer.encode(text, add_special_tokens=False)


def encode_prompt(tokenizer, prompt: str | Sequence[int] | Messages) -> list[int]:
    """A prompt given as text (BOS added), token ids, or chat messages -> token ids."""
    if isinstance(prompt, str):
        return require(tokenizer, "a text prompt").encode(prompt, add_special_tokens=True)
    if is_messages(prompt):
        return encode_chat(tokenizer, prompt)
    ids = [int(t) for t in prompt]
    if not ids:
        raise ValueError("the prompt is empty")
    return ids
