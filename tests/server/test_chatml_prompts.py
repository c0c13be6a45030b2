"""Prompts and post-processing with a ChatML checkpoint (SmolLM2's template, a byte-level BPE vocabulary).

The tokenizer is built here: a small byte-level BPE trained on the test's own text, with
SmolLM2-135M-Instruct's chat template.
"""

from __future__ import annotations

import pytest

from codellama_lsp.engine.text_stream import TextStream
from codellama_lsp.engine.tokenizer import encode_chat, render_chat
from codellama_lsp.server.languages import language_for
from codellama_lsp.server.postprocess import clean_inline, clean_replacement, without_turn_space
from codellama_lsp.server.prompts import action_messages, fit_prompt, inline_messages
from tests.conftest import TOKENIZER_DIR

pytest.importorskip("transformers")

SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PY = language_for("python")
FILE = (
    'import math\n\n\ndef add(a, b):\n    \n\n\ndef area(r):\n    """The area of a circle."""\n'
    "    return math.pi * r * r\n"
)
CURSOR_AT = (4, 4)  # in add's body
CORPUS = [FILE, "Here is the code you asked for, in one fenced block:\n```python\nreturn a + b\n```\n"] * 20


@pytest.fixture(scope="module")
def chatml():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    bpe.train_from_iterator(
        CORPUS, trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL, initial_alphabet=alphabet)
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = SMOLLM2_TEMPLATE
    return tokenizer


def count_tokens(tokenizer):
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def encoder(tokenizer):
    return lambda messages: encode_chat(tokenizer, messages)


def fitted_inline(tokenizer, window: int = 2048):
    def framing(ctx, excerpts):
        return inline_messages(ctx, PY, "geometry.py", excerpts)

    return fit_prompt(framing, FILE, CURSOR_AT, None, encoder(tokenizer), count_tokens(tokenizer), window, 128)


def streamed(tokenizer, prompt: list[int], answer: str) -> str:
    """The answer as the server receives it: the model's tokens decoded by the engine's stream."""
    stream = TextStream(tokenizer, prompt)
    ids = tokenizer.encode(answer, add_special_tokens=False) + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    return "".join(stream.push(token) for token in ids) + stream.finish()


def test_inline_prompt_renders_in_chatml(chatml):
    fitted = fitted_inline(chatml)
    text = render_chat(chatml, fitted.messages)
    system, user = (m["content"] for m in fitted.messages)
    assert (
        text == f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "```python\nimport math\n\n\ndef add(a, b):\n    <CURSOR>\n```" in user
    assert fitted.ids == chatml.encode(text, add_special_tokens=False)
    assert chatml.decode(fitted.ids) == text  # byte-level BPE: the prompt's text comes back exactly
    assert fitted.context.prefix + fitted.context.suffix == FILE  # the whole file fits the window


def test_a_small_chatml_window_cuts_the_code_and_stays_inside(chatml):
    fitted = fitted_inline(chatml, window=len(fitted_inline(chatml).ids) + 128 - 40)
    assert fitted.prompt_tokens <= fitted.budget.prompt_tokens
    assert fitted.context.truncated_after and fitted.context.prefix.endswith("def add(a, b):\n    ")


@pytest.mark.parametrize(
    "answer",
    [
        "```python\nreturn a + b\n```",
        "Sure! Here's the code:\n```python\ndef add(a, b):\n    return a + b\n```\nThis adds the numbers.",
        "    return a + b",  # unfenced, indented: the reply's own spaces, not the template's
        "```python\n    return a + b\n\n\ndef area(r):\n    return math.pi * r * r\n```",
    ],
)
def test_chatml_answers_become_the_ghost_text(chatml, answer):
    fitted = fitted_inline(chatml)
    reply = without_turn_space(streamed(chatml, fitted.ids, answer), chatml, fitted.ids)
    assert reply == answer
    assert clean_inline(reply, fitted.context.prefix, fitted.context.suffix) == "return a + b"


def test_an_unfenced_chatml_answer_keeps_its_indentation(chatml):
    fitted = fitted_inline(chatml)
    answer = "    total = a + b\n    return total"
    reply = without_turn_space(streamed(chatml, fitted.ids, answer), chatml, fitted.ids)
    assert clean_inline(reply, fitted.context.prefix, fitted.context.suffix) == "total = a + b\n    return total"


def test_chatml_doc_action_keeps_the_function(chatml):
    def framing(ctx, excerpts):
        return action_messages("doc", ctx, PY, "geometry.py", excerpts=excerpts)

    fitted = fit_prompt(framing, FILE, (7, 0), (10, 0), encoder(chatml), count_tokens(chatml), 2048, 256)
    user = fitted.messages[1]["content"]
    assert '<SELECTION>def area(r):\n    """The area of a circle."""\n    return math.pi * r * r\n</SELECTION>' in user
    assert render_chat(chatml, fitted.messages).endswith("<|im_end|>\n<|im_start|>assistant\n")
    answer = (
        '```python\ndef area(r):\n    """The area of a circle of radius r.\n\n    Args:\n        r: the radius.\n'
        '    """\n    return math.pi * r * r\n```'
    )
    reply = without_turn_space(streamed(chatml, fitted.ids, answer), chatml, fitted.ids)
    assert clean_replacement(reply, fitted.context.selection, PY) == answer.removeprefix("```python\n")[:-3]


def test_only_a_template_ending_in_a_space_gives_its_space_to_the_reply(chatml):
    from codellama_lsp.engine.tokenizer import load_tokenizer

    messages = [{"role": "user", "content": "Add two numbers."}]
    chatml_ids = encode_chat(chatml, messages)
    assert without_turn_space(" ```python\nx\n```", chatml, chatml_ids) == " ```python\nx\n```"
    if not (TOKENIZER_DIR / "tokenizer.json").exists():
        pytest.skip("the CodeLlama tokenizer fixture is missing")
    codellama = load_tokenizer(TOKENIZER_DIR)
    codellama_ids = encode_chat(codellama, messages)  # ends "Destination: user\n\n "
    assert without_turn_space(" ```python\nx\n```", codellama, codellama_ids) == "```python\nx\n```"
    assert without_turn_space("```python\nx\n```", codellama, codellama_ids) == "```python\nx\n```"
