"""The code around a cursor or selection, cut to a token budget: more before than after.

Token counts come from a `count_tokens` callable (the model's tokenizer in the server).
Lines are counted one at a time going outward from the range, each at most once, so a
20,000-line file costs no more counting than the lines that fit; the joined text is then
counted (a few times at most) to land just within the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .document import clamp, split_lines

CountTokens = Callable[[str], int]
Position = tuple[int, int]  # LSP (line, UTF-16 character)
BEFORE_SHARE = 0.75  # of the budget left after the selection, for the code before it
MAX_CHARS_PER_TOKEN = 16  # CodeLlama's longest token: a longer text never fits in fewer tokens
GROWTH_ROUNDS = 4  # joined counts spent getting close to the budget
MIN_SLACK = 8  # tokens under the budget not worth another round


class ContextTooLarge(ValueError):
    """The selection, or the prompt without any code, does not fit the token budget."""


@dataclass(frozen=True)
class CodeContext:
    prefix: str  # text before the selection or cursor, from the first kept line
    selection: str  # the selected text ("" at a cursor)
    suffix: str  # text after the selection or cursor, to the last kept line
    first_line: int  # LSP line where `prefix` starts
    last_line: int  # LSP line where `suffix` ends (after a final line break: the next line)
    truncated_before: bool  # the file has text before `prefix`
    truncated_after: bool  # the file has text after `suffix`

    @property
    def text(self) -> str:
        return self.prefix + self.selection + self.suffix


class TokenCounter:
    """`count_tokens` with a cache, so a text (a line, mostly) is tokenized at most once."""

    def __init__(self, count_tokens: CountTokens):
        self._count = count_tokens
        self._known: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if not text:
            return 0
        if text not in self._known:
            self._known[text] = self._count(text)
        return self._known[text]


def fit_part(text: str, budget: int, count: TokenCounter, from_end: bool) -> str:
    """The longest start (or end) of `text` within `budget` tokens, by bisection on its length.

    A start never ends between "\\r" and "\\n".
    """

    def part(length: int) -> str:
        return text[len(text) - length :] if from_end else text[:length]

    lo, hi = 0, min(len(text), max(budget, 0) * MAX_CHARS_PER_TOKEN)  # part(lo) always fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count(part(mid)) <= budget else (lo, mid - 1)
    kept = part(lo)
    return kept[:-1] if not from_end and kept.endswith("\r") and text[lo : lo + 1] == "\n" else kept


def take_lines(lines: list[str], order: Iterable[int], budget: int, count: TokenCounter) -> tuple[int, int]:
    """How many lines, visited in `order`, fit in `budget` before the first that does not; and their tokens."""
    taken = used = 0
    for i in order:
        too_long = len(lines[i]) > (budget - used) * MAX_CHARS_PER_TOKEN  # cannot fit: skip tokenizing it
        cost = budget - used + 1 if too_long else count(lines[i])
        if used + cost > budget:
            break
        taken, used = taken + 1, used + cost
    return taken, used


@dataclass(frozen=True)
class _Range:
    """A clamped range in a file: the partial lines at its ends and the selected text."""

    lines: list[str]
    start_line: int
    end_line: int
    head: str  # the start line, up to the range
    selection: str
    tail: str  # the end line, after the range (with its line break)


def _locate(text: str, start: Position, end: Position) -> _Range:
    lines = split_lines(text)
    (sl, si), (el, ei) = sorted([clamp(lines, *start), clamp(lines, *end)])
    if sl == el:
        selection = lines[sl][si:ei]
    else:
        selection = lines[sl][si:] + "".join(lines[sl + 1 : el]) + lines[el][:ei]
    return _Range(lines, sl, el, lines[sl][:si], selection, lines[el][ei:])


@dataclass(frozen=True)
class _Side:
    """The code taken on one side of the range."""

    text: str
    whole_lines: int  # whole lines taken beyond the range's own line
    used: int  # tokens, as counted piece by piece
    complete: bool  # it reaches the start (or end) of the file


def _before(r: _Range, budget: int, count: TokenCounter) -> _Side:
    head = fit_part(r.head, budget, count, from_end=True)
    if head != r.head:
        return _Side(head, 0, count(head), False)
    n, used = take_lines(r.lines, range(r.start_line - 1, -1, -1), budget - count(head), count)
    return _Side("".join(r.lines[r.start_line - n : r.start_line]) + head, n, used + count(head), n == r.start_line)


def _after(r: _Range, budget: int, count: TokenCounter) -> _Side:
    tail = fit_part(r.tail, budget, count, from_end=False)
    if tail != r.tail:
        return _Side(tail, 0, count(tail), False)
    rest = len(r.lines) - r.end_line - 1
    n, used = take_lines(r.lines, range(r.end_line + 1, len(r.lines)), budget - count(tail), count)
    return _Side(tail + "".join(r.lines[r.end_line + 1 : r.end_line + 1 + n]), n, used + count(tail), n == rest)


def _around(r: _Range, target: int, count: TokenCounter) -> CodeContext:
    """The whole selection, then 3/4 of what is left before it and the rest after it."""
    left = max(target - count(r.selection), 0)
    before = _before(r, int(left * BEFORE_SHARE), count)
    after = _after(r, left - before.used, count)
    if after.complete and not before.complete:
        before = _before(r, left - after.used, count)  # the file ended below: its share goes above
    first, last = r.start_line - before.whole_lines, r.end_line + after.whole_lines
    return CodeContext(before.text, r.selection, after.text, first, last, not before.complete, not after.complete)


def surrounding_code(
    text: str, start: Position, end: Position | None, budget: int, count_tokens: CountTokens
) -> CodeContext:
    """Code around the range start..end (the cursor when `end` is None) within `budget` tokens.

    The cursor's line is split exactly at the cursor, and the joined text is within the budget
    as `count_tokens` counts it. The selection is kept whole; when it alone exceeds the budget,
    ContextTooLarge is raised.
    """
    r = _locate(text, start, end or start)
    count, budget = TokenCounter(count_tokens), max(budget, 0)
    selection_tokens = count(r.selection)
    if selection_tokens > budget:
        raise ContextTooLarge(f"the selection is {selection_tokens} tokens, more than the {budget} there is room for")
    return _fit_joined(lambda target: _around(r, target, count), budget, count)


def _fit_joined(build: Callable[[int], CodeContext], budget: int, count: TokenCounter) -> CodeContext:
    """The largest context `build(target)` makes that is within `budget` once joined.

    Pieces counted alone can cost more (a start-of-text marker on each) or less than the
    joined text; the target moves by the difference for a few rounds, then only shrinks.
    """
    best, target = None, budget
    for _ in range(GROWTH_ROUNDS):
        ctx = build(target)
        used = count(ctx.text)
        if used > budget:
            target -= used - budget
            continue
        best = ctx if best is None or len(ctx.text) > len(best.text) else best
        if budget - used < MIN_SLACK or not (ctx.truncated_before or ctx.truncated_after):
            break
        target += budget - used
    while best is None:  # ends: at worst only the selection, which fits, is left
        ctx = build(target)
        used = count(ctx.text)
        best, target = (ctx, target) if used <= budget else (None, target - (used - budget))
    return best


@dataclass(frozen=True)
class Excerpt:
    path: str
    text: str
    truncated: bool  # only the start of the file fitted


def _file_start(text: str, budget: int, count: TokenCounter) -> str:
    """The file's first whole lines within `budget`, as counted once joined."""
    lines = split_lines(text)
    n, _ = take_lines(lines, range(len(lines)), budget, count)
    over = count("".join(lines[:n])) - budget
    while over > 0:  # joined lines can tokenize differently: drop at least `over` tokens' worth
        dropped = 0
        while n and dropped < over:
            n, dropped = n - 1, dropped + count(lines[n - 1])
        over = count("".join(lines[:n])) - budget
    return "".join(lines[:n])


def other_file_excerpts(
    files: Iterable[tuple[str, str]], budget: int, count_tokens: CountTokens, per_file: int = 1024, min_tokens: int = 32
) -> list[Excerpt]:
    """The starts of other open files, (path, text) most recently used first, while `budget` lasts."""
    count, excerpts = TokenCounter(count_tokens), []
    for path, text in files:
        share = min(per_file, budget)
        if share < min_tokens:
            break
        start = _file_start(text, share, count)
        if start.strip():
            excerpts.append(Excerpt(path, start, truncated=len(start) < len(text)))
            budget -= count(start)
    return excerpts
