"""Inline prompt layouts: each renders through the model's chat template, and the prefilled one is continued."""

from __future__ import annotations

import copy

import pytest

from codellama_lsp.engine import load_model
from codellama_lsp.engine.tokenizer import load_tokenizer, render_chat
from codellama_lsp.server.context import CodeContext, Excerpt
from codellama_lsp.server.generation import answer
from codellama_lsp.server.inline import complete_inline
from codellama_lsp.server.inline_layouts import (
    DEFAULT_LAYOUT,
    LAYOUTS,
    prefilled_messages,
    prefix_first_messages,
)
from codellama_lsp.server.languages import language_for
from codellama_lsp.server.options import Options
from codellama_lsp.server.prompts import CURSOR, inline_messages, prefill_of
from codellama_lsp.server.snapshot import Snapshot
from tests.conftest import TOKENIZER_DIR

PY = language_for("python", "a.py")
CTX = CodeContext("def add(a, b):\n    return a", "", "\n\nprint(add(1, 2))\n", 0, 3, False, False)
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CODELLAMA_REPLY = "Source: assistant\nDestination: user\n\n "


@pytest.fixture(scope="module")
def codellama():
    return load_tokenizer(TOKENIZER_DIR)


@pytest.fixture(scope="module")
def chatml(codellama):
    tokenizer = copy.deepcopy(codellama)
    tokenizer.chat_template = CHATML
    return tokenizer


def test_the_default_is_a_layout_and_suffix_first_is_todays_prompt():
    assert DEFAULT_LAYOUT in LAYOUTS
    assert LAYOUTS["suffix-first"] is inline_messages


def test_prefix_first_shows_the_code_in_reading_order_then_asks(codellama):
    excerpts = [Excerpt("util.py", "X = 1\n", False)]
    system, user = prefix_first_messages(CTX, PY, "a.py", excerpts, "Be brief.")
    assert system["content"].startswith("Be brief.")
    content = user["content"]
    assert content.index("util.py") < content.index("def add") < content.index("print(add") < content.index("Write")
    assert f"    return a{CURSOR}\n\nprint(add(1, 2))\n```" in content
    assert content.rstrip().endswith("do not explain.")
    assert render_chat(codellama, [system, user]).endswith(CODELLAMA_REPLY)


@pytest.mark.parametrize("template", ["codellama", "chatml"])
def test_a_prefilled_answer_continues_where_a_new_answer_would_start(template, request):
    tokenizer = request.getfixturevalue(template)
    messages = prefilled_messages(CTX, PY, "a.py")
    turns, prefill = messages[:-1], prefill_of(messages)
    assert turns == inline_messages(CTX, PY, "a.py")
    assert prefill == "```python\n    return a"
    assert render_chat(tokenizer, messages) == render_chat(tokenizer, turns) + prefill


def test_the_prefill_ends_before_trailing_blanks_and_layouts_without_one_have_none():
    typed = CodeContext("x = 1\nif x ", "", "\n", 0, 1, False, False)
    assert prefill_of(prefilled_messages(typed, PY, "a.py")) == "```python\nif x"
    indented = CodeContext("def f():\n    ", "", "\n", 0, 1, False, False)
    assert prefill_of(prefilled_messages(indented, PY, "a.py")) == "```python\n"
    for name in ("suffix-first", "prefix-first"):
        assert prefill_of(LAYOUTS[name](typed, PY, "a.py", (), None)) == ""


def doc(text: str) -> Snapshot:
    return Snapshot("file:///w/calc.py", text, 1, "python")


@pytest.mark.parametrize("layout", ["suffix-first", "prefix-first"])
async def test_new_answer_layouts_give_the_known_answer(known_model, layout):
    model = load_model(known_model)
    completion = await complete_inline(model, doc("def add(a, b):\n    \n"), 1, 4, Options(), layout=layout)
    assert completion.text == "return a + b"


async def test_the_prefilled_layout_continues_the_line(known_model):
    """The known model continues "▁a" with "▁+ ▁b": the prefill ends in the answer's second token."""
    model = load_model(known_model)
    typed = doc("def add(a, b):\n    return a\n")
    completion = await complete_inline(model, typed, 1, 12, Options(), layout="prefilled")
    assert completion.reply == "```python\n    return a + b"  # the leading space of the reply kept
    assert completion.text == " + b"


class Scripted:
    """An engine that streams fixed deltas and records whether the stream was closed."""

    def __init__(self, deltas: list[str]):
        self.deltas, self.closed = deltas, False

    async def stream(self, prompt, params, priority="action"):
        try:
            for delta in self.deltas:
                yield delta
        finally:
            self.closed = True


async def test_a_continued_answer_stops_once_its_block_closes():
    model = Scripted([" + b\n", "```\n", "Explanation: it adds.\n"])
    whole = await answer(model, [1], Options().inline.sampling(), True, "inline", prefill="```python\n    return a")
    assert whole == "```python\n    return a + b\n```\n"
    assert model.closed
