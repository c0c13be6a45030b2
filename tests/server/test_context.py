"""Positions, the token-budgeted code context, other-file excerpts and the cursor's block."""

from __future__ import annotations

import pytest

from codellama_lsp.server.context import (
    CodeContext,
    ContextTooLarge,
    Excerpt,
    other_file_excerpts,
    surrounding_code,
)
from codellama_lsp.server.document import (
    clamp,
    index_to_utf16,
    newline_of,
    offset,
    position_of,
    split_lines,
    utf16_length,
    utf16_to_index,
)
from tests.conftest import TOKENIZER_DIR


def chars(text: str) -> int:
    """A tokenizer with one token per character: budgets read as character counts."""
    return len(text)


class CountingCounter:
    """One token per character, recording every text it was asked about."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> int:
        self.texts.append(text)
        return len(text)


NUMBERED = "".join(f"line{i:02}\n" for i in range(40))  # 40 lines of 7 characters


def numbered(first: int, last: int) -> str:
    return "".join(f"line{i:02}\n" for i in range(first, last + 1))


# --- document: UTF-16 positions and line handling ------------------------------------------


def test_split_lines_keeps_every_kind_of_line_ending():
    assert split_lines("a\nb\r\nc\rd") == ["a\n", "b\r\n", "c\r", "d"]
    assert split_lines("a\n") == ["a\n", ""]
    assert split_lines("") == [""]


def test_utf16_columns_count_astral_characters_twice():
    line = "s = '😀x'\n"
    assert utf16_length("😀") == 2
    assert utf16_to_index(line, 5) == 5  # before the emoji
    assert utf16_to_index(line, 7) == 6  # after it (two units)
    assert utf16_to_index(line, 6) == 6  # inside the surrogate pair: after the emoji
    assert utf16_to_index(line, 99) == 8  # clamped before the line break
    assert index_to_utf16(line, 6) == 7
    assert index_to_utf16(line, 8) == 9


def test_clamp_moves_positions_inside_the_text():
    lines = split_lines("ab\r\ncd")
    assert clamp(lines, 0, 10) == (0, 2)  # never between "\r" and "\n"
    assert clamp(lines, 5, 0) == (1, 2)  # past the last line: end of the text
    assert clamp(lines, -1, 3) == (0, 0)
    assert clamp(lines, 1, -4) == (1, 0)


def test_offsets_and_positions_round_trip():
    text = "a😀\r\nbc\nd"
    lines = split_lines(text)
    assert offset(lines, 1, 1) == text.index("c")
    assert position_of(lines, text.index("c")) == (1, 1)
    assert position_of(lines, text.index("\r")) == (0, 3)
    assert position_of(lines, text.index("\n")) == (0, 3)  # inside "\r\n": at the line's end
    assert position_of(lines, len(text)) == (2, 1)
    assert position_of(lines, 999) == (2, 1)


def test_newline_of_reads_the_first_line_break():
    assert newline_of("a\r\nb\n") == "\r\n"
    assert newline_of("a\nb\r\n") == "\n"
    assert newline_of("no break") == "\n"


# --- surrounding_code: the budget and how it is shared ------------------------------------


def test_a_small_file_fits_whole_and_splits_at_the_cursor():
    ctx = surrounding_code("def f():\n    return 1\n", (1, 7), None, 1000, chars)
    assert ctx == CodeContext("def f():\n    ret", "", "urn 1\n", 0, 2, False, False)


def test_three_quarters_of_the_budget_go_before_the_cursor():
    ctx = surrounding_code(NUMBERED, (20, 0), None, 70, chars)
    assert ctx.prefix == numbered(13, 19)  # 52 tokens for before: 7 whole lines
    assert ctx.suffix == numbered(20, 22)  # the remaining 21
    assert (ctx.first_line, ctx.last_line, ctx.truncated_before, ctx.truncated_after) == (13, 22, True, True)


def test_budget_unused_after_the_cursor_goes_before_it():
    ctx = surrounding_code(NUMBERED, (38, 0), None, 70, chars)
    assert ctx.suffix == numbered(38, 39)
    assert ctx.prefix == numbered(30, 37)  # 8 lines: 49 + the 7 the end of the file left over
    assert (ctx.first_line, ctx.last_line, ctx.truncated_before, ctx.truncated_after) == (30, 40, True, False)


def test_budget_unused_before_the_cursor_goes_after_it():
    ctx = surrounding_code(NUMBERED, (2, 0), None, 70, chars)
    assert ctx.prefix == numbered(0, 1)
    assert ctx.suffix == numbered(2, 9)
    assert (ctx.first_line, ctx.last_line, ctx.truncated_before, ctx.truncated_after) == (0, 9, False, True)


def test_a_long_cursor_line_is_cut_around_the_cursor():
    line = "".join(chr(ord("a") + i % 26) for i in range(100))
    ctx = surrounding_code(line + "\nnext\n", (0, 80), None, 40, chars)
    assert (ctx.prefix, ctx.suffix) == (line[50:80], line[80:90])
    assert (ctx.first_line, ctx.last_line, ctx.truncated_before, ctx.truncated_after) == (0, 0, True, True)


def test_a_selection_is_kept_whole_with_the_rest_shared_around_it():
    ctx = surrounding_code(NUMBERED, (10, 0), (12, 0), 14 + 28, chars)
    assert ctx.selection == numbered(10, 11)
    assert ctx.prefix == numbered(7, 9)  # 3/4 of 28 = 21
    assert ctx.suffix == numbered(12, 12)
    assert (ctx.first_line, ctx.last_line) == (7, 12)


def test_a_reversed_range_is_the_same_range():
    assert surrounding_code(NUMBERED, (12, 0), (10, 0), 42, chars) == surrounding_code(
        NUMBERED, (10, 0), (12, 0), 42, chars
    )


def test_a_selection_larger_than_the_budget_is_refused():
    with pytest.raises(ContextTooLarge, match="70 tokens, more than the 30"):
        surrounding_code(NUMBERED, (10, 0), (20, 0), 30, chars)


def test_a_file_without_a_final_line_break():
    ctx = surrounding_code("a\nbc", (1, 1), None, 100, chars)
    assert (ctx.prefix, ctx.suffix, ctx.last_line, ctx.truncated_after) == ("a\nb", "c", 1, False)


def test_crlf_line_endings_are_kept_and_counted_once():
    text = "a\r\nbc\r\nd\r\n"
    ctx = surrounding_code(text, (1, 1), None, 100, chars)
    assert (ctx.prefix, ctx.suffix) == ("a\r\nb", "c\r\nd\r\n")
    past_the_end = surrounding_code(text, (1, 99), None, 100, chars)
    assert (past_the_end.prefix, past_the_end.suffix) == ("a\r\nbc", "\r\nd\r\n")
    tight = surrounding_code(text, (1, 1), None, 6, chars)
    assert (tight.prefix, tight.suffix) == ("a\r\nb", "c")  # 4 before, 2 after: "\r\n" is never split


def test_tabs_and_emoji_are_positioned_in_utf16_units():
    text = "\tlabel = '😀x'\n"
    ctx = surrounding_code(text, (0, 12), None, 100, chars)
    assert (ctx.prefix, ctx.suffix) == ("\tlabel = '😀", "x'\n")


def test_positions_past_the_end_of_the_file_clamp_to_its_end():
    ctx = surrounding_code("a\nb\n", (7, 3), None, 100, chars)
    assert (ctx.prefix, ctx.suffix, ctx.first_line, ctx.last_line) == ("a\nb\n", "", 0, 2)


def test_an_empty_file():
    assert surrounding_code("", (0, 0), None, 100, chars) == CodeContext("", "", "", 0, 0, False, False)


def test_a_zero_budget_keeps_nothing():
    ctx = surrounding_code(NUMBERED, (5, 2), None, 0, chars)
    assert (ctx.prefix, ctx.suffix, ctx.truncated_before, ctx.truncated_after) == ("", "", True, True)


def test_the_joined_text_is_checked_against_the_budget():
    """A tokenizer whose joined text costs more than its pieces: the result still fits."""

    def super_additive(text: str) -> int:
        return len(text) + len(text) // 10

    ctx = surrounding_code(NUMBERED, (20, 3), None, 100, super_additive)
    assert super_additive(ctx.text) <= 100
    assert super_additive(ctx.text) >= 90  # and the budget is still used


def test_a_20000_line_file_counts_only_lines_near_the_cursor():
    text = "".join(f"    value_{i} = compute(value_{i - 1}, {i})\n" for i in range(20_000))
    counter = CountingCounter()
    ctx = surrounding_code(text, (10_000, 10), None, 2000, counter)
    assert len(counter.texts) < 100  # about 50 lines fit: each counted once, plus a few joined checks
    assert max(map(len, counter.texts)) < 2 * 2000  # never the whole file
    assert counter(ctx.text) <= 2000
    assert ctx.prefix.endswith("    value_10000 = compute(value_9999, 10000)\n"[:10])
    assert ctx.suffix.startswith("    value_10000 = compute(value_9999, 10000)\n"[10:])


def test_the_real_tokenizer_budget_is_never_exceeded():
    transformers = pytest.importorskip("transformers")
    if not (TOKENIZER_DIR / "tokenizer.json").exists():
        pytest.skip("the CodeLlama tokenizer fixture is missing")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False))

    source = "".join(
        f"def handler_{i}(request):\r\n\t# 😀 réponse {i}\r\n"
        f"\treturn render(request, 'page_{i}.html', {{'n': {i}}})\r\n\r\n"
        for i in range(300)
    )
    for line, character, budget in [(0, 0, 500), (600, 3, 700), (1199, 40, 300), (5, 12, 64)]:
        ctx = surrounding_code(source, (line, character), None, budget, count)
        assert budget - 40 <= count(ctx.text) <= budget
        assert ctx.prefix + ctx.suffix in source


# --- other open files ----------------------------------------------------------------------


def test_excerpts_take_the_start_of_each_file_in_order_while_the_budget_lasts():
    files = [("/a.py", "import os\nimport sys\n\nX = 1\n"), ("/empty.py", "\n\n"), ("/b.py", NUMBERED)]
    excerpts = other_file_excerpts(files, 60, chars, per_file=40, min_tokens=10)
    assert excerpts == [
        Excerpt("/a.py", "import os\nimport sys\n\nX = 1\n", truncated=False),
        Excerpt("/b.py", numbered(0, 3), truncated=True),  # whole lines within the 60 - 28 left
    ]


def test_excerpts_skip_a_file_whose_first_line_does_not_fit():
    files = [("/bundle.min.js", "x" * 5000 + "\n"), ("/a.py", "import os\n")]
    assert other_file_excerpts(files, 100, chars, min_tokens=5) == [Excerpt("/a.py", "import os\n", truncated=False)]


def test_excerpts_stop_when_less_than_the_minimum_is_left():
    files = [("/a", numbered(0, 3)), ("/b", numbered(0, 3))]
    assert [e.path for e in other_file_excerpts(files, 40, chars, min_tokens=20)] == ["/a"]


def test_excerpts_fit_the_budget_once_joined():
    def super_additive(text: str) -> int:
        return len(text) + len(text) // 10

    (excerpt,) = other_file_excerpts([("/b", NUMBERED)], 100, super_additive, min_tokens=1)
    assert super_additive(excerpt.text) <= 100
    assert excerpt.text == numbered(0, 12)  # 14 lines fit one by one, but not once joined
