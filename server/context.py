"""The code around the cursor or selection, cut to a token budget (more before than after).

Pure functions over text; token counts come from a `count_tokens` callable (the model's
tokenizer in the server). Each line is counted at most once, so a 20,000-line file costs
no more than the lines that fit in the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .document import clamp, line_body, split_lines

CountTokens = Callable[[str], int]
BEFORE_SHARE = 0.75  # of the budget left after the selection, for the code before it
MAX_CHARS_PER_TOKEN = 16  # no Llama token is longer: bounds how much text one count can need


class ContextTooLarge(ValueError):
    """The selection alone does not fit the token budget."""


@dataclass(frozen=True)
class CodeContext:
    prefix: str  # text before the selection/cursor, from the first kept line
    selection: str  # the selected text ("" at a cursor)
    suffix: str  # text after the selection/cursor, to the last kept line
    first_line: int  # first line included in `prefix`
    last_line: int  # last line included in `suffix`
    truncated_before: bool
    truncated_after: bool


def _fit_end(text: str, budget: int, count: CountTokens) -> str:
    """The longest tail of `text` within `budget` tokens."""
    text = text[-budget * MAX_CHARS_PER_TOKEN :] if budget > 0 else ""
    if count(text) <= budget:
        return text
    lo, hi = 0, len(text)  # bisect on how many characters to drop
    while lo < hi:
        mid = (lo + hi) // 2
        if count(text[mid:]) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return text[lo:]


def _fit_start(text: str, budget: int, count: CountTokens) -> str:
    """The longest head of `text` within `budget` tokens."""
    text = text[: budget * MAX_CHARS_PER_TOKEN] if budget > 0 else ""
    if count(text) <= budget:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def _take_lines(lines: list[str], indices: range, budget: int, count: CountTokens) -> tuple[list[str], int]:
    """Whole lines in `indices` order while they fit; returns them and the tokens used."""
    taken, used = [], 0
    for i in indices:
        cost = count(lines[i][: (budget - used + 1) * MAX_CHARS_PER_TOKEN])
        if used + cost > budget:
            break
        taken.append(lines[i])
        used += cost
    return taken, used


def surrounding_code(
    text: str,
    start: tuple[int, int],
    end: tuple[int, int] | None,
    budget: int,
    count_tokens: CountTokens,
) -> CodeContext:
    """Code around the (line, UTF-16 character) range start..end, within `budget` tokens."""
    lines = split_lines(text)
    end = end or start
    if end < start:
        start, end = end, start
    (sl, si), (el, ei) = clamp(lines, *start), clamp(lines, *end)
    head, tail = lines[sl][:si], lines[el][ei:]  # the partial lines around the range
    selection = lines[sl][si:] + "".join(lines[sl + 1 : el]) + lines[el][:ei] if el > sl else lines[sl][si:ei]

    used = count_tokens(selection) if selection else 0
    if used > budget:
        raise ContextTooLarge(f"the selection is {used} tokens, more than the {budget} the context allows")
    left = budget - used
    head_fit = _fit_end(head, int(left * BEFORE_SHARE), count_tokens)
    left -= count_tokens(head_fit) if head_fit else 0
    tail_fit = _fit_start(tail, left // 4, count_tokens)
    left -= count_tokens(tail_fit) if tail_fit else 0

    before_budget = int(left * BEFORE_SHARE) if head_fit == head else 0
    before, before_used = _take_lines(lines, range(sl - 1, -1, -1), before_budget, count_tokens)
    after_budget = left - before_used if tail_fit == tail else 0  # its share plus what `before` left
    after, after_used = _take_lines(lines, range(el + 1, len(lines)), after_budget, count_tokens)
    if head_fit == head and len(after) == len(lines) - el - 1 and len(before) < sl:
        # the code after ran out: the rest of the budget goes to the code before
        more, _ = _take_lines(lines, range(sl - 1 - len(before), -1, -1), left - before_used - after_used, count_tokens)
        before += more

    return CodeContext(
        prefix="".join(reversed(before)) + head_fit,
        selection=selection,
        suffix=tail_fit + "".join(after),
        first_line=sl - len(before),
        last_line=el + len(after),
        truncated_before=len(before) < sl or head_fit != head,
        truncated_after=len(after) < len(lines) - el - 1 or tail_fit != tail,
    )


@dataclass(frozen=True)
class Excerpt:
    path: str
    text: str
    truncated: bool


def other_file_excerpts(files: list[tuple[str, str]], budget: int, count_tokens: CountTokens, per_file: int = 1024) -> list[Excerpt]:
    """The heads of other open files (most recent first) while the budget lasts."""
    excerpts = []
    for path, text in files:
        share = min(per_file, budget)
        if share < 32:
            break
        lines, used = _take_lines(split_lines(text), range(len(split_lines(text))), share, count_tokens)
        if not lines:
            continue
        body = "".join(lines)
        excerpts.append(Excerpt(path, body, truncated=len(body) < len(text)))
        budget -= used
    return excerpts


DEFINITION_WORDS = ("def ", "async def ", "class ", "function ", "fn ", "func ", "pub fn ", "async fn ", "local function ", "fun ", "sub ", "impl ", "struct ", "interface ")


def _indent(line: str) -> int:
    body = line_body(line)
    return len(body) - len(body.lstrip(" \t")) if body.strip() else -1


def _is_definition(line: str) -> bool:
    stripped = line_body(line).strip()
    for prefix in ("export ", "public ", "private ", "protected ", "static ", "async ", "pub ", "@"):
        stripped = stripped.removeprefix(prefix)
    return stripped.startswith(DEFINITION_WORDS) or (stripped.endswith("{") and "(" in stripped and not stripped.startswith(("if", "for", "while", "switch", "} else")))


def enclosing_block(text: str, line: int) -> tuple[int, int]:
    """Lines (first, last) of the innermost function/class around `line`, else just that line."""
    lines = split_lines(text)
    line = min(max(line, 0), len(lines) - 1)
    cursor_indent = _indent(lines[line])
    header = None
    for i in range(line, -1, -1):
        indent = _indent(lines[i])
        if indent < 0:
            continue
        if _is_definition(lines[i]) and (i == line or cursor_indent < 0 or indent < cursor_indent):
            header = i
            break
        if i != line and 0 <= indent < cursor_indent:
            cursor_indent = indent  # left the cursor's block: only an outer definition can enclose it now
    if header is None:
        return line, line
    header_indent, last = _indent(lines[header]), header
    for i in range(header + 1, len(lines)):
        indent = _indent(lines[i])
        if indent < 0:
            continue
        if indent > header_indent:
            last = i
            continue
        if line_body(lines[i]).strip().startswith(("}", "end", ")", "]")):
            last = i  # the closing line of a brace/keyword block
        break
    return (header, last) if last >= line else (line, line)
