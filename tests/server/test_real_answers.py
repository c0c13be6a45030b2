"""Ghost text from answers shaped like real models' (SmolLM2-135M-Instruct, CodeLlama): restated code
with small changes, and rambling past the cursor's block."""

from __future__ import annotations

import pytest

from codellama_lsp.server.postprocess import clean_inline, duplicates_existing

VOWELS_PREFIX = 'def count_vowels(text):\n    """Count the vowels in text."""\n    '
VOWELS_SUFFIX = '\n\n\nprint(count_vowels("hello world"))\n'
VOWELS_BODY = (
    '    vowels = "aeiouAEIOU"\n    count = 0\n    for char in text:\n        if char in vowels:\n'
    "            count += 1\n    return count\n"
)
VOWELS_GHOST = (
    'vowels = "aeiouAEIOU"\n    count = 0\n    for char in text:\n        if char in vowels:\n'
    "            count += 1\n    return count"
)
# SmolLM2 (4-bit) restated the header and the docstring without its final period, then wrote the body.
SMOLLM2_ANSWER = (
    "Here is the completed function:\n\n```python\ndef count_vowels(text):\n"
    '    """Count the vowels in text"""\n' + VOWELS_BODY + "```\n\n"
    "This function counts the vowels in the given text by checking each character."
)
ADD_PREFIX, ADD_SUFFIX = "def add(a, b):\n    ", "\n"
MADE_UP = (
    "def add_without_c_print(x):\n    print(x)\n    return x\n\n"
    "def add_with_c(a, b, c):\n    return a + b + c\n\n"
    "def add_with_c_print(a, b, c):\n    print(a + b + c)\n    return a + b + c\n\n"
    "def add_two(x):\n    return x + 2\n\n"
    "def add_three(x):\n    return x + 3\n"
)


def test_a_restatement_without_the_docstrings_period_keeps_only_the_body():
    text = clean_inline(SMOLLM2_ANSWER, VOWELS_PREFIX, VOWELS_SUFFIX)
    assert text == VOWELS_GHOST  # not a second `def count_vowels` nested in the first
    assert not duplicates_existing(text, VOWELS_PREFIX, VOWELS_SUFFIX)


@pytest.mark.parametrize(
    "restated",
    [
        'def count_vowels(text):\n    """Counts the vowels in a string."""\n',  # the docstring reworded
        "def count_vowels(text):\n",  # the docstring left out
        'def count_vowels( text ) :\n    """Count the vowels in text."""\n\n',  # spacing, a blank line
        "def count_vowels(text: str) -> int:\n    '''Count the vowels in text.'''\n",  # a changed header, quotes
    ],
)
def test_restatements_with_small_changes_are_dropped(restated):
    answer = "```python\n" + restated + VOWELS_BODY + "```"
    assert clean_inline(answer, VOWELS_PREFIX, VOWELS_SUFFIX) == VOWELS_GHOST


@pytest.mark.parametrize(
    "answer",
    [
        "```python\nreturn a + b\n\n" + MADE_UP + "```",  # CodeLlama fp16, the demo's file
        "```python\ndef add(a, b):\n    return a + b\n\n" + MADE_UP + "```",  # the same after a restated header
        "return a + b\n" + MADE_UP.replace("\n\n", "\n"),  # unfenced, no blank lines
        "```python\n    return a + b\n\n\n" + MADE_UP + "\n\nprint(add(1, 2))\n```",
    ],
)
def test_made_up_functions_after_the_answer_are_cut(answer):
    assert clean_inline(answer, ADD_PREFIX, ADD_SUFFIX) == "return a + b"


def test_code_after_a_return_in_its_block_is_cut():
    # unfenced and unindented: its lines are indented like the cursor's, so only the `return` ends them
    assert clean_inline("return a + b\n\nprint(add(2, 3))", ADD_PREFIX, ADD_SUFFIX) == "return a + b"
    answer = "```python\nif b == 0:\n    return a\nreturn a + b\n\nprint(add(1, 2))\n```"
    assert clean_inline(answer, ADD_PREFIX, ADD_SUFFIX) == "if b == 0:\n        return a\n    return a + b"
    answer = "```js\n  return {\n    a: 1,\n  };\n}\nf();\n```"  # the statement goes on to its end
    assert clean_inline(answer, "function f() {\n  ", "") == "return {\n    a: 1,\n  };\n}"


def test_one_line_functions_after_the_answer_are_cut():
    answer = "return a + b\ndef add_without_c_print(x): print(x)\ndef add_two(x): return x + 2"
    assert clean_inline(answer, ADD_PREFIX, ADD_SUFFIX) == "return a + b"


def test_at_the_top_level_the_completion_stops_before_the_next_definition():
    answer = (
        "```python\n@app.route('/')\ndef index():\n    return 'home'\n\n\n@app.route('/about')\ndef about():\n"
        "    return 'about'\n\n\nif __name__ == '__main__':\n    app.run()\n```"
    )
    assert clean_inline(answer, "app = Flask(__name__)\n\n\n", "") == "@app.route('/')\ndef index():\n    return 'home'"
    script = "```python\ndef main():\n    print('hi')\n\n\nif __name__ == '__main__':\n    main()\n```"
    assert clean_inline(script, "import sys\n\n", "") == "def main():\n    print('hi')"


def test_in_a_class_body_one_method_at_a_time():
    answer = (
        "```python\ndef area(self):\n    return self.w * self.h\n\n"
        "def perimeter(self):\n    return 2 * (self.w + self.h)\n```"
    )
    prefix = "class Rect:\n    def __init__(self, w, h):\n        self.w, self.h = w, h\n\n    "
    assert clean_inline(answer, prefix, "\n") == "def area(self):\n        return self.w * self.h"


def test_a_line_that_opens_a_block_gets_its_block_only():
    answer = "```python\n        total += x\n    return total\n\n\nprint(f([1, 2]))\n```"
    assert clean_inline(answer, "def f(xs):\n    total = 0\n    for x in xs:", "\n") == "\n        total += x"
    answer = "```python\n        return n\n    else:\n        return n * f(n - 1)\n    print(n)\n```"
    text = clean_inline(answer, "def f(n):\n    if n < 2:", "\n")
    assert text == "\n        return n\n    else:\n        return n * f(n - 1)"  # `else:` continues the block


def test_brace_blocks_end_with_their_closing_lines():
    answer = (
        "```js\n  let sum = 0;\n  for (const item of items) {\n    sum += item.price;\n  }\n  return sum;\n}\n\n"
        "function count(items) {\n  return items.length;\n}\n```"
    )
    text = clean_inline(answer, "function total(items) {\n  ", "")
    assert text == "let sum = 0;\n  for (const item of items) {\n    sum += item.price;\n  }\n  return sum;\n}"
    answer = "```js\n    return 1;\n  } else {\n    return 2;\n  }\n  console.log('done');\n}\n```"
    text = clean_inline(answer, "function f(x) {\n  if (x) {", "")
    assert text == "\n    return 1;\n  } else {\n    return 2;\n  }"
    answer = "```ruby\n    @items.sum(&:price)\n  end\n\n  def count\n    @items.size\n  end\nend\n```"
    assert clean_inline(answer, "class Cart\n  def total\n    ", "") == "@items.sum(&:price)\n  end"


def test_a_statement_ends_with_its_closing_bracket():
    answer = "```python\n\n        a,\n        b,\n    )\n    return result\n```"
    assert clean_inline(answer, "def f(a, b):\n    result = compute(", "\n") == "\n        a,\n        b,\n    )"


def test_the_completion_stops_where_it_reaches_the_code_after_the_cursor():
    answer = "```python\nresult = compute(a, b)\nreturn result\nprint(result)\n```"
    assert clean_inline(answer, "def f(a, b):\n    ", "\n    return result\n") == "result = compute(a, b)"
    answer = '```python\ntotal = sum(xs)\n    print(f"Total: {total}")\n```'  # the file's line ends with a period
    assert clean_inline(answer, "def f(xs):\n    ", '\n    print(f"Total: {total}.")\n') == "total = sum(xs)"


def test_the_cursor_lines_start_restated_with_other_spacing():
    assert clean_inline("```python\ntotal = compute_sum(values)\n```", "    total=compute_su", "\n") == "m(values)"
    assert clean_inline("```python\nx=[1, 2]\n```", "x = [", "\n") == "1, 2]"


def test_a_restated_line_that_only_looks_alike_is_kept():
    prefix = "def f(xs):\n    total = 0\n    "
    assert clean_inline("```python\ntotal = 10\nreturn total\n```", prefix, "\n") == "total = 10\n    return total"


# --- duplicates_existing -------------------------------------------------------------------------


def test_duplicates_existing_finds_the_nested_restatement():
    nested = 'def count_vowels(text):\n        """Count the vowels in text"""\n        vowels = "aeiou"'
    assert duplicates_existing(nested, VOWELS_PREFIX, VOWELS_SUFFIX)
    assert not duplicates_existing(VOWELS_GHOST, VOWELS_PREFIX, VOWELS_SUFFIX)


@pytest.mark.parametrize(
    ("suggestion", "prefix", "suffix", "duplicate"),
    [
        ("return a + b", ADD_PREFIX, ADD_SUFFIX, False),
        ("", ADD_PREFIX, ADD_SUFFIX, False),
        ("return total", "def f(xs):\n    total = sum(xs)\n    ", "\n    return total\n", True),  # the next line
        ("urn total", "def f(xs):\n    total = sum(xs)\n    ret", "\n    return total\n", True),
        ("x = load()\n    y = x + 1", "def f():\n    x = load()\n    y = x + 1\n    ", "\n", True),  # two lines
        ("def g(x):\n    return x", "def f(x):\n    return x\n\n\n", "\n\ndef g(x) :\n    return x\n", True),
        ("def helper():\n    return 2", "def main():\n    return 1\n\n\n", "\n", False),
        ("\n    print(x)", "def f(x):\n    print(x)\n\n\ndef g(x):\n    print(x)", "\n", False),
    ],
)
def test_duplicates_existing(suggestion, prefix, suffix, duplicate):
    assert duplicates_existing(suggestion, prefix, suffix) is duplicate
