"""The bundled CodeLlama-70B-Instruct tokenizer: the model card's ids, Llama's ids, its chat template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from tests.conftest import TOKENIZER_DIR
from tests.fixtures.card_dialog import CARD_CHAT, CARD_PROMPT, CARD_REFERENCE_TOKENS

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "engine" / "codellama_70b_chat.jinja"
REPLY_PROMPT = "Source: assistant\nDestination: user\n\n "


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR), local_files_only=True)


def ids_of(encoded) -> list[int]:
    """apply_chat_template's ids, whether it returns a list or (transformers 5) a BatchEncoding."""
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


# The model card's dialog


def test_card_dialog_renders_the_card_string(tokenizer):
    assert tokenizer.apply_chat_template(CARD_CHAT, tokenize=False) == CARD_PROMPT


def test_card_dialog_tokenizes_to_the_reference(tokenizer):
    assert ids_of(tokenizer.apply_chat_template(CARD_CHAT)) == CARD_REFERENCE_TOKENS


def test_card_string_encodes_to_the_reference(tokenizer):
    assert encode(tokenizer, CARD_PROMPT) == CARD_REFERENCE_TOKENS


def test_turn_header_after_a_special_token_gets_the_dummy_prefix(tokenizer):
    # "<s>Source" and "<step> Source" start with ▁Source (7562), not Source (4435).
    assert tokenizer.convert_ids_to_tokens([7562, 4435]) == ["\u2581Source", "Source"]
    assert encode(tokenizer, "<s>Source:") == [1, 7562, 29901]
    assert encode(tokenizer, "query <step> Source:") == [2346, 32015, 7562, 29901]


# Vocabulary and special ids


def test_vocabulary_size_and_special_ids(tokenizer):
    assert len(tokenizer) == 32016
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (1, 2, 0)
    assert tokenizer.convert_tokens_to_ids("<step>") == 32015
    assert tokenizer.convert_ids_to_tokens(32015) == "<step>"


def test_placeholder_ids_are_reachable_by_id_only(tokenizer):
    assert tokenizer.convert_ids_to_tokens([32000, 32014]) == ["<unused0>", "<unused14>"]
    assert all(i < 32000 for i in encode(tokenizer, "x = '<unused3>'"))


# Ordinary text gets Llama's SentencePiece ids


def test_hello_world(tokenizer):
    assert tokenizer("Hello world").input_ids == [1, 15043, 3186]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Hello", [15043]),
        ("def", [822]),
        ("\n", [29871, 13]),  # lone dummy prefix, then the newline byte
        (" world", [29871, 3186]),  # a leading space is its own ▁
        ("def main():\n\treturn 0", [822, 1667, 7295, 13, 12, 2457, 29871, 29900]),
        ("🚀", [29871, 243, 162, 157, 131]),  # byte fallback: <0xF0> <0x9F> <0x9A> <0x80>
    ],
)
def test_llama_ids(tokenizer, text, ids):
    assert encode(tokenizer, text) == ids


@pytest.mark.parametrize(
    "text",
    [
        "The quick brown fox jumps over the lazy dog.",
        "def f(x):\n    if x:\n        return x * 2\n    return None\n",
        "line one\nline two\n\n\nline five",
        "a\tb\t\tc",
        "héllo 世界 🚀",
        "  two leading spaces",
        " one leading space",
        "trailing spaces   ",
        "x = {'k': [1, 2, 3]}  # comment",
    ],
)
def test_decode_round_trips(tokenizer, text):
    assert tokenizer.decode(encode(tokenizer, text)) == text


def test_decode_skips_special_tokens_on_request(tokenizer):
    ids = tokenizer("Hi there").input_ids + [32015]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Hi there"


# Chat template


def test_template_file_is_the_tokenizer_template(tokenizer):
    assert tokenizer.chat_template == TEMPLATE_FILE.read_text(encoding="utf-8")
    config = json.loads((TOKENIZER_DIR / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["chat_template"] == tokenizer.chat_template


def test_dialog_without_a_system_turn(tokenizer):
    chat = [{"role": "user", "content": "  Write hello world in C.\n"}]
    expected = "<s>Source: user\n\n Write hello world in C. <step> " + REPLY_PROMPT
    assert tokenizer.apply_chat_template(chat, tokenize=False) == expected
    assert tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == expected


def test_two_turn_dialog(tokenizer):
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sum a list?"}]
    text = tokenizer.apply_chat_template(chat, tokenize=False)
    assert text == "<s>Source: system\n\n Be brief. <step> Source: user\n\n Sum a list? <step> " + REPLY_PROMPT
    assert ids_of(tokenizer.apply_chat_template(chat)) == encode(tokenizer, text)
    assert encode(tokenizer, text).count(32015) == 2


@pytest.mark.parametrize(
    "roles",
    [("user", "user"), ("assistant",), ("system", "assistant"), ("user", "assistant", "assistant")],
)
def test_roles_must_alternate(tokenizer, roles):
    chat = [{"role": role, "content": "text"} for role in roles]
    with pytest.raises(Exception, match="alternate"):
        tokenizer.apply_chat_template(chat, tokenize=False)
