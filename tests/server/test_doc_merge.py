""" "Add documentation" keeps the code as it was: the model's documentation, the original's code.

The answers below are real ones (SmolLM2-135M-Instruct, greedy), or shaped like them.
"""

from __future__ import annotations

from codellama_lsp.server.action_prefill import action_answer_start, docstring_opening
from codellama_lsp.server.context import CodeContext
from codellama_lsp.server.doc_merge import doc_lines, documented
from codellama_lsp.server.languages import language_for

PY = language_for("python", "geometry.py")
TS = language_for("typescript", "geometry.ts")

AREA = "def circle_area(radius):\n    return math.pi * radius ** 2\n"


def test_a_docstring_is_added_and_the_code_the_model_changed_stays_as_it_was():
    answer = (
        "def circle_area(radius):\n"
        '    """Returns the area of a circle."""\n'
        "    return math.pi * (radius**2)\n"
        "\n"
        "# Example usage:\n"
        'print("Circle Area:", circle_area(6)) # Output: Circle Area: 48.0\n'
    )
    assert documented(AREA, answer, PY) == (
        'def circle_area(radius):\n    """Returns the area of a circle."""\n    return math.pi * radius ** 2\n'
    )


def test_code_the_model_added_is_dropped_and_its_docstring_kept():
    answer = (
        "def circle_area(radius):\n"
        '    """\n'
        "    Calculate the area of a circle.\n"
        '    """\n'
        "    if radius <= 0:\n"
        '        raise ValueError("radius must be positive")\n'
        "    return math.pi * radius ** 2\n"
    )
    expected = (
        'def circle_area(radius):\n    """\n    Calculate the area of a circle.\n    """\n' + AREA.split("\n", 1)[1]
    )
    assert documented(AREA, answer, PY) == expected


def test_comments_about_the_original_code_are_kept_comments_about_new_code_are_not():
    original = "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"
    answer = (
        "def total(xs):\n"
        "    # running sum\n"
        "    s = 0\n"
        "    # log the input\n"
        "    print(xs)\n"
        "    for x in xs:\n"
        "        s += x\n"
        "    return s\n"
    )
    assert documented(original, answer, PY) == (
        "def total(xs):\n    # running sum\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"
    )


def test_a_rewritten_docstring_replaces_the_old_one():
    original = 'def f(x):\n    """Old."""\n    return x\n'
    answer = 'def f(x):\n    """Return `x` unchanged."""\n    return x\n'
    assert documented(original, answer, PY) == answer


def test_an_unfinished_docstring_changes_nothing():
    answer = 'def circle_area(radius):\n    """ return a + b\n    return math.pi * radius ** 2\n'
    assert documented(AREA, answer, PY) is None


def test_block_doc_comments_of_other_languages_and_crlf():
    original = "function area(r) {\r\n  return Math.PI * r * r;\r\n}\r\n"
    answer = "/**\n * The area of a circle.\n */\nfunction area(radius) {\n  return Math.PI * radius ** 2;\n}\n"
    assert documented(original, answer, TS) == (
        "/**\r\n * The area of a circle.\r\n */\r\nfunction area(r) {\r\n  return Math.PI * r * r;\r\n}\r\n"
    )


def test_doc_lines_follow_strings_and_comments():
    lines = ["def f():", '    r"""One', '    two."""', "    x = 1  # not a doc line", "    # a comment", "    return x"]
    assert doc_lines(lines, PY) == [False, True, True, False, True, False]


def test_the_doc_answer_begins_where_the_docstring_goes():
    assert docstring_opening(AREA, PY) == 'def circle_area(radius):\n    """'
    method = "    @staticmethod\n    def area(\n        r,\n    ) -> float:\n        return r * r\n"
    assert docstring_opening(method, PY) == '    @staticmethod\n    def area(\n        r,\n    ) -> float:\n        """'
    assert docstring_opening('def f():\n    """Has one."""\n', PY) == ""
    assert docstring_opening("x = 1\n", PY) == ""
    assert docstring_opening("function f() {}\n", TS) == ""


def test_every_code_action_answer_starts_with_a_fence_an_explanation_with_nothing():
    ctx = CodeContext("import math\n\n", AREA, "", 0, 3, False, False)
    assert action_answer_start("explain", ctx, PY) == ""
    assert action_answer_start("fix", ctx, PY) == "```python\n"
    assert action_answer_start("doc", ctx, PY) == '```python\ndef circle_area(radius):\n    """'
    assert action_answer_start("doc", CodeContext("", "s = '```'\n", "", 0, 1, False, False), PY) == "````python\n"
