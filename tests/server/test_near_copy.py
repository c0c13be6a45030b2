"""Near-copies of code lines, and restatements of the code before the cursor."""

from __future__ import annotations

import pytest

from codellama_lsp.server.near_copy import after_head, restatements, same_code, similar_code


@pytest.mark.parametrize(
    ("a", "b", "same", "similar"),
    [
        ('    """Count the vowels in text."""', '"""Count the vowels in text"""', True, True),
        ("x=compute(a,b)", "x = compute(a, b)", True, True),
        ("print('hi')", 'print("hi");', True, True),
        ("total = 0", "total = 10", False, False),  # short lines: a small edit changes the meaning
        ("result = compute_total(items, tax)", "result = compute_total(items, tax_rate)", False, True),
        ("}", ")", False, False),
        ("'''", '"""', False, False),
    ],
)
def test_same_and_similar_code(a, b, same, similar):
    assert (same_code(a, b), similar_code(a, b)) == (same, similar)


@pytest.mark.parametrize(
    ("line", "head", "rest"),
    [
        ("    return a + b", "    ret", "urn a + b"),
        ("total=compute_sum(values)", "    total = compute_su", "m(values)"),
        ("x = [1, 2]", "x=[", "1, 2]"),
        ("    y = 2", "    ", "    y = 2"),  # a blank head: the whole line
        ("y = 2", "    x", None),
    ],
)
def test_after_head(line, head, rest):
    assert after_head(line, head) == rest


BEFORE = ["import math", "", "def area(r):", '    """The area of a circle."""', "    r = abs(r)"]


@pytest.mark.parametrize(
    ("lines", "counts"),
    [
        (["def area(r):", '    """The area of a circle"""', "    r = abs(r)", "    return r"], [3]),
        (["def area(r):", "", "    r = abs(r)", "    return r"], [3]),  # the docstring left out
        (["def area(r):", '    """Circle area."""', "    r = abs(r)", "    return r"], [3]),  # reworded
        (["def area(r: float):", '    """The area of a circle."""', "    r = abs(r)", "    return 1"], [3]),
        (["return math.pi * r * r"], []),
        (["    r = abs(r)", "    return r"], [1]),
    ],
)
def test_restatements(lines, counts):
    assert list(restatements(lines, BEFORE)) == counts
