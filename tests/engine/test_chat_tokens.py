"""The test tokenizer and encode_chat reproduce the model card's reference token ids exactly."""

from __future__ import annotations

import shutil

import pytest
from transformers import AutoTokenizer

from codellama_lsp.engine import QuantConfig, TokenizerMissingError, load_model
from codellama_lsp.engine.tokenizer import codellama_70b_chat_template
from tests.conftest import CHAT_SPEC, TOKENIZER_DIR
from tests.fixtures.card_dialog import CARD_CHAT, CARD_PROMPT, CARD_REFERENCE_TOKENS


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


def token_ids(encoded) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def test_vocabulary_and_special_ids(tokenizer):
    assert len(tokenizer) == 32016
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (1, 2, 0)
    assert tokenizer.convert_tokens_to_ids("<step>") == 32015


def test_card_dialog_through_the_chat_template(tokenizer):
    assert tokenizer.apply_chat_template(CARD_CHAT, tokenize=False) == CARD_PROMPT
    assert token_ids(tokenizer.apply_chat_template(CARD_CHAT)) == CARD_REFERENCE_TOKENS


def test_card_string_encodes_to_the_reference(tokenizer):
    assert tokenizer.encode(CARD_PROMPT, add_special_tokens=False) == CARD_REFERENCE_TOKENS


def test_ordinary_text_gets_llama_ids(tokenizer):
    assert tokenizer("Hello world").input_ids == [1, 15043, 3186]
    assert tokenizer.encode("def", add_special_tokens=False) == [822]
    assert tokenizer.encode("\n", add_special_tokens=False)[-1] == 13


@pytest.mark.parametrize("text", ["def f(x):\n    return x * 2\n", "héllo 世界 🚀", "a\tb  c", "x = {'k': [1, 2]}"])
def test_decode_round_trips(tokenizer, text):
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_template_rules(tokenizer):
    no_system = tokenizer.apply_chat_template([{"role": "user", "content": " hi "}], tokenize=False)
    assert no_system == "<s>Source: user\n\n hi <step> Source: assistant\nDestination: user\n\n "
    with pytest.raises(Exception, match="alternate"):
        tokenizer.apply_chat_template([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])


def test_bundled_template_file_is_the_fixture_template(tokenizer):
    assert tokenizer.chat_template == codellama_70b_chat_template()


def test_model_encode_chat_gives_the_reference(chat_model):
    assert chat_model.encode_chat(CARD_CHAT) == CARD_REFERENCE_TOKENS


def test_fallback_template_when_the_tokenizer_has_none(checkpoint_factory, tmp_path):
    import json

    folder, _ = checkpoint_factory(CHAT_SPEC, QuantConfig(4, 32, True, True, "gptq"), seed=3, tokenizer=True)
    shutil.copytree(folder, tmp_path / "m")
    config_path = tmp_path / "m" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    del config["chat_template"]
    config_path.write_text(json.dumps(config))
    assert load_model(tmp_path / "m").encode_chat(CARD_CHAT) == CARD_REFERENCE_TOKENS


def test_text_needs_a_tokenizer(checkpoint_factory):
    folder, _ = checkpoint_factory(CHAT_SPEC, None, seed=4)
    model = load_model(folder)
    assert model.tokenizer is None
    assert model.logits([1, 2, 3]).shape == (3, CHAT_SPEC.vocab_size)
    with pytest.raises(TokenizerMissingError):
        model.encode_chat(CARD_CHAT)


def test_leading_space_is_its_own_token_as_in_sentencepiece(tokenizer):
    assert tokenizer.encode(" lead", add_special_tokens=False) == [29871, 3275]
    assert tokenizer.decode(tokenizer.encode("  two spaces", add_special_tokens=False)) == "  two spaces"


def test_a_rebuilt_llama_tokenizer_still_gives_the_reference(checkpoint_factory, tmp_path):
    """transformers rebuilds `LlamaTokenizer` with legacy=false so that "Source" after <s> loses its "▁"."""
    import json

    folder, _ = checkpoint_factory(CHAT_SPEC, QuantConfig(4, 32, True, True, "gptq"), seed=3, tokenizer=True)
    shutil.copytree(folder, tmp_path / "m")
    config_path = tmp_path / "m" / "tokenizer_config.json"
    config_path.write_text(
        json.dumps(json.loads(config_path.read_text()) | {"tokenizer_class": "LlamaTokenizer", "legacy": False})
    )
    rebuilt = AutoTokenizer.from_pretrained(str(tmp_path / "m"))
    assert rebuilt.encode("<s>Source", add_special_tokens=False) == [1, 4435]  # the problem, as transformers loads it
    model = load_model(tmp_path / "m")
    assert model.encode_chat(CARD_CHAT) == CARD_REFERENCE_TOKENS
    assert model.tokenizer("Hello world").input_ids == [1, 15043, 3186]
