"""Model answers -> insertions and replacements, on answers shaped like the instruct model's."""

from __future__ import annotations

import pytest

from codellama_lsp.server.comments import comment_block
from codellama_lsp.server.languages import language_for
from codellama_lsp.server.postprocess import (
    CodeBlock,
    clean_inline,
    clean_replacement,
    code_blocks,
    extract_code,
    looks_like_prose,
)

PY = language_for("python")

# --- extract_code ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (
            "Here is the completed code:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
            "This function adds a and b.",
            "def add(a, b):\n    return a + b",
        ),
        ("```\nx = 1\n```", "x = 1"),
        ("~~~js\nconst a = 1;\n~~~", "const a = 1;"),
        ("```python\ndef f():\n    return [\n", "def f():\n    return ["),  # generation stopped inside the block
        ("Sure:\r\n```python\r\nx = 1\r\ny = 2\r\n```\r\n", "x = 1\ny = 2"),
        (
            '```js\nconst fence = "```";\nconst more = `${fence}`;\n```',
            'const fence = "```";\nconst more = `${fence}`;',
        ),
        ("````markdown\n```python\nx = 1\n```\n````", "```python\nx = 1\n```"),  # a longer fence holds a shorter one
        ("1. Replace the loop:\n   ```python\n   for x in xs:\n       print(x)\n   ```", "for x in xs:\n    print(x)"),
        ("```python\n```", ""),
    ],
)
def test_extract_code_takes_the_first_fenced_block(answer, code):
    assert extract_code(answer) == code


def test_extract_code_prefers_a_block_tagged_with_the_language():
    answer = "Run it with:\n```bash\npython main.py\n```\nCode:\n```py\nprint('hi')\n```"
    assert extract_code(answer) == "python main.py"
    assert extract_code(answer, PY.tags) == "print('hi')"


def test_code_blocks_lists_every_block_and_whether_it_closed():
    answer = "```Python\na\n```\ntext\n~~~\nb"
    assert code_blocks(answer) == [CodeBlock("python", "a", True), CodeBlock("", "b", False)]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("def add(a, b):\n    return a + b\n", "def add(a, b):\n    return a + b"),
        ("Here is the function you asked for:\ndef add(a, b):\n    return a + b", "def add(a, b):\n    return a + b"),
        (
            "import numpy as np\nSELECT name FROM users WHERE id = 1",
            "import numpy as np\nSELECT name FROM users WHERE id = 1",
        ),
        ("x = 1\nThis sets x to one, which the rest of the module reads.", "x = 1"),
    ],
)
def test_extract_code_without_a_fence_keeps_code_and_drops_sentences_around_it(answer, code):
    assert extract_code(answer) == code


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I cannot help with that request.",
        "I cannot complete this code without more context.",
        "This function computes the average of the list.\nIt returns None when the list is empty.",
        "",
        "   \n\n",
    ],
)
def test_extract_code_finds_nothing_in_prose(answer):
    assert extract_code(answer) is None


def test_looks_like_prose_reads_sentences_with_inline_code_as_prose():
    assert looks_like_prose("The `add` function returns `a + b` for two numbers.")
    assert not looks_like_prose("return a + b  # the sum of the two numbers")


# --- clean_inline --------------------------------------------------------------------------


def test_inline_drops_prose_and_the_echoed_function_header():
    answer = (
        "Sure! Here's the completed function:\n\n```python\ndef fibonacci(n):\n    if n < 2:\n        return n\n"
        "    return fibonacci(n - 1) + fibonacci(n - 2)\n```\n\n"
        "This function uses recursion to compute the n-th number."
    )
    text = clean_inline(answer, "def fibonacci(n):\n    ", "\n\n\nprint(fibonacci(10))\n")
    assert text == "if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)"


def test_inline_removes_the_repeated_start_of_the_current_line():
    prefix = "def area(r):\n    ret"
    assert clean_inline("```python\n    return 3.14159 * r * r\n```", prefix, "\n") == "urn 3.14159 * r * r"
    assert clean_inline("```python\nreturn 3.14159 * r * r\n```", prefix, "\n") == "urn 3.14159 * r * r"


def test_inline_from_a_whole_function_echo_keeps_only_the_missing_line():
    answer = (
        "Here you go:\n```python\ndef f(xs):\n    total = 0\n    for x in xs:\n        total += x\n"
        "    return total\n```"
    )
    prefix = "def f(xs):\n    total = 0\n    for x in xs:\n        "
    assert clean_inline(answer, prefix, "\n    return total\n") == "total += x"


def test_inline_removes_an_echoed_line_start_that_ends_in_an_operator():
    answer = "```rust\nlet total: u32 = items.iter().map(|i| i.price).sum();\n```"
    prefix = "fn total(items: &[Item]) -> u32 {\n    let total: u32 = "
    assert clean_inline(answer, prefix, "\n    total\n}\n") == "items.iter().map(|i| i.price).sum();"


def test_inline_removes_a_restarted_word():
    text = clean_inline("```python\ncompute_sum(values)\n```", "    total = compute_su", "\n")
    assert text == "m(values)"


def test_inline_moves_a_dedented_block_under_the_cursor_line():
    answer = "```javascript\nconst total = items.reduce((sum, item) => sum + item.price, 0);\nreturn total;\n}\n```"
    text = clean_inline(answer, "function total(items) {\n  const total = items.re", "\n}\n")
    assert text == "duce((sum, item) => sum + item.price, 0);\n  return total;"  # the function's "}" is already there


def test_inline_keeps_a_callback_body_indented_after_an_echoed_line():
    answer = "```javascript\nitems.forEach((x) => {\n  console.log(x);\n});\n```"
    text = clean_inline(answer, "function f(items) {\n  items.forEach((x) => {", "\n}\n")
    assert text == "\n    console.log(x);\n  });"


def test_inline_after_indentation_does_not_indent_the_first_line_again():
    answer = "```python\nresult = a + b\nreturn result\n```"
    assert clean_inline(answer, "def f(a, b):\n    ", "\n") == "result = a + b\n    return result"
    already_indented = "```python\n    result = a + b\n    return result\n```"
    assert clean_inline(already_indented, "def f(a, b):\n    ", "\n") == "result = a + b\n    return result"


def test_inline_with_tabs():
    answer = "```go\nif err != nil {\n\treturn err\n}\nreturn nil\n```"
    text = clean_inline(answer, "func run() error {\n\terr := step()\n\t", "\n}\n")
    assert text == "if err != nil {\n\t\treturn err\n\t}\n\treturn nil"


def test_inline_at_column_zero_keeps_the_model_indentation():
    answer = "```python\n    return a * b\n```"
    assert clean_inline(answer, "def mul(a, b):\n", "\n") == "    return a * b"


def test_inline_at_the_end_of_a_finished_line_starts_a_new_line():
    assert clean_inline("```python\n    return 1\n```", "def one():", "\n") == "\n    return 1"


def test_inline_cuts_closing_brackets_that_follow_the_cursor():
    assert clean_inline("```python\nfoo(a, b)\n```", "x = foo(", ")\n") == "a, b"
    assert clean_inline("```python\na, b):\n    pass\n```", "def foo(", "):\n    pass\n") == "a, b"


def test_inline_keeps_brackets_the_completion_needs():
    assert clean_inline("```python\nlen(items) + 1\n```", "total = max(", ")\n") == "len(items) + 1"
    assert clean_inline("```python\nf(c)\n```", "call(\n    a,\n    ", ")\n") == "f(c)"


def test_inline_cuts_the_echoed_rest_of_the_line():
    assert clean_inline("```python\nx * 2 for x in xs]\n```", "doubled = [", "for x in xs]\n") == "x * 2 "
    assert (
        clean_inline("```python\nitem.name for item in items]\n```", "names = [", "item.name for item in items]\n")
        == ""
    )


def test_inline_cuts_repeated_following_lines():
    answer = '```python\nvalue = load()\nprint(value)\n\nif __name__ == "__main__":\n    main()\n```'
    prefix = "def main():\n    "
    suffix = '\n\n\nif __name__ == "__main__":\n    main()\n'
    assert clean_inline(answer, prefix, suffix) == "value = load()\n    print(value)"


def test_inline_keeps_a_closing_brace_that_is_not_the_next_line():
    answer = "```js\n  return 1;\n  }\n```"
    prefix = "class A {\n  f() {\n    "
    assert clean_inline(answer, prefix, "\n}\n") == "return 1;\n  }"


def test_inline_crlf_documents_get_crlf():
    answer = "```python\r\nresult = compute(a, b)\r\nprint(result)\r\n```"
    text = clean_inline(answer, "def main():\r\n    ", "\r\n\r\nmain()\r\n")
    assert text == "result = compute(a, b)\r\n    print(result)"


def test_inline_nested_backticks_in_strings():
    answer = '```python\nfence = "```"\nprint(f"{fence}python")\n```'
    assert clean_inline(answer, "def show():\n    ", "\n") == 'fence = "```"\n    print(f"{fence}python")'


def test_inline_from_an_unterminated_block():
    answer = "```python\nfor row in rows:\n    total += row.amount\n    "
    assert clean_inline(answer, "total = 0\n", "") == "for row in rows:\n    total += row.amount"


def test_inline_echo_of_the_marked_file_keeps_only_the_new_code():
    answer = "```python\ndef add(a, b):\n    return a + b<CURSOR>\n\nprint(add(1, 2))\n```"
    assert clean_inline(answer, "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n") == "return a + b"


@pytest.mark.parametrize(
    ("answer", "prefix", "suffix"),
    [
        ("```python\n\n   \n```", "x = ", "\n"),  # only whitespace
        ("```python\ndef add(a, b):\n    \n```", "def add(a, b):\n    ", "\n"),  # only the prefix echoed
        ("```python\nfor item in items:\n    print(item)\n```", "for item in items:\n    print(item)\n", ""),
        ("```python\ndef f(n):\n    if n < 2:\n```", "def f(n):\n    if n", " < 2:\n        return n\n"),
        ("I cannot complete this code because the context is insufficient.", "x = ", ""),
        ("The function is already complete; nothing needs to be added here.", "def f():\n    return 1\n", ""),
        ("```python\nprint(fibonacci(10))\n```", "", "\nprint(fibonacci(10))\n"),  # only the suffix repeated
    ],
)
def test_inline_useless_answers_give_nothing(answer, prefix, suffix):
    assert clean_inline(answer, prefix, suffix) == ""


# --- clean_replacement ---------------------------------------------------------------------

METHOD = "    def total(self):\n        return sum(self.items)\n"


def test_replacement_reindents_a_dedented_answer_and_keeps_the_final_newline():
    answer = (
        "Here is the documented method:\n\n```python\ndef total(self):\n"
        '    """The sum of the items."""\n    return sum(self.items)\n```\n\nI added a docstring.'
    )
    assert clean_replacement(answer, METHOD, PY) == (
        '    def total(self):\n        """The sum of the items."""\n        return sum(self.items)\n'
    )


def test_replacement_keeps_leading_blank_lines_and_crlf():
    selection = "\r\n\tif x:\r\n\t\ty()\r\n\r\n"
    answer = "```python\nif x is not None:\n    y()\n```"
    assert clean_replacement(answer, selection, PY) == "\r\n\tif x is not None:\r\n\t    y()\r\n\r\n"


def test_replacement_of_a_selection_without_a_final_newline():
    assert clean_replacement("```python\nb = a + 1\n```", "b = a+1", PY) == "b = a + 1"
    assert clean_replacement("```python\nb = a + 1\nc = b\n```", "b = a+1", PY, newline="\r\n") == "b = a + 1\r\nc = b"


def test_replacement_drops_selection_markers_and_over_indentation():
    answer = "```python\n<SELECTION>\n        def total(self):\n            return sum(self.items)\n</SELECTION>\n```"
    assert clean_replacement(answer, METHOD, PY) == METHOD


def test_replacement_prefers_the_block_in_the_file_language():
    answer = "Usage:\n```sh\npytest -q\n```\nCode:\n```python\ndef total(self):\n    return 0\n```"
    assert clean_replacement(answer, METHOD, PY) == "    def total(self):\n        return 0\n"


@pytest.mark.parametrize("answer", ["I'm sorry, I can't refactor this code.", "```python\n\n\n```", ""])
def test_replacement_without_code_is_none(answer):
    assert clean_replacement(answer, METHOD, PY) is None


# --- comment_block -------------------------------------------------------------------------

EXPLANATION = (
    "This method adds up the **price** of every item in the cart and applies the discount code, if there is one, "
    "before returning the total.\n\n"
    "It has two risks:\n- a negative discount raises the total instead of lowering it\n- prices are floats, so "
    "sums can be off by a cent"
)


def test_comment_block_wraps_line_comments_at_88_columns():
    assert comment_block(EXPLANATION, PY, "    ") == (
        "    # This method adds up the price of every item in the cart and applies the discount\n"
        "    # code, if there is one, before returning the total.\n"
        "    #\n"
        "    # It has two risks:\n"
        "    # - a negative discount raises the total instead of lowering it\n"
        "    # - prices are floats, so sums can be off by a cent\n"
    )
    assert all(len(line) <= 88 for line in comment_block(EXPLANATION, PY, "    ").splitlines())


def test_comment_block_in_other_languages():
    assert comment_block("Returns the sum.", language_for("rust"), "\t", newline="\r\n") == "\t// Returns the sum.\r\n"
    assert comment_block("Returns the sum.", language_for("lua")) == "-- Returns the sum.\n"
    assert (
        comment_block("Lays out */ the header.", language_for("css"), "  ")
        == "  /*\n    Lays out * / the header.\n  */\n"
    )
    assert comment_block("The nav bar.", language_for("html")) == "<!--\n  The nav bar.\n-->\n"
    assert comment_block("Plain words.", language_for("plaintext")) == "Plain words.\n"


def test_comment_block_hangs_long_list_items_and_keeps_code_lines():
    text = "Steps:\n1. " + "word " * 20 + "\n```python\nx = f(y)\n```"
    assert comment_block(text, PY, width=40) == (
        "# Steps:\n"
        "# 1. word word word word word word word\n"
        "#    word word word word word word word\n"
        "#    word word word word word word\n"
        "#     x = f(y)\n"
    )
