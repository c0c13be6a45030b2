"""Near-copies of code lines: the same code up to whitespace, quotes, punctuation or a small edit.

Models restate the code around the cursor with small changes (a docstring's final period dropped,
spaces around an operator, one line reworded); these checks find such restatements.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from difflib import SequenceMatcher

IGNORED = re.compile(r"[\s.,;:!?'\"`]+")  # whitespace, quotes and punctuation that restatements change
SIMILAR = 0.85  # edit similarity of two lines that count as one line changed a little
MIN_SIMILAR_CHARS = 16  # shorter lines must be the same code: a small edit changes their meaning
CHANGED = 0.6  # edit similarity of a line and its rewrite
MIN_ANCHOR_CHARS = 8  # a restatement with edits must start with a line this long
FIRST_TOKEN = re.compile(r"\w+|[^\w\s]{1,3}")  # a word, or a few symbols (`"""`, `#`, `//`)
MAX_ECHO_LINES = 400  # how far back before the cursor a restatement may start
DEFINITION = re.compile(
    r"(?:(?:export\s+)?(?:async\s+)?(?:def|class|function|fn|func|interface|struct|enum|trait|impl)"
    r"|pub(?:\([^)]*\))?\s+(?:async\s+)?fn|public|private|protected|export)\b"
)
DECORATOR = re.compile(r"@[\w.]+(?:\(.*\))?$")  # a line of its own: `@property`, `@app.get("/")`


def code_key(line: str) -> str:
    """The line without whitespace, quotes and punctuation."""
    return IGNORED.sub("", line)


def same_code(a: str, b: str) -> bool:
    """Equal once whitespace, quotes and punctuation are ignored (lines of only those: equal as text)."""
    ka, kb = code_key(a), code_key(b)
    return ka == kb if ka or kb else a.strip() == b.strip()


def similar_code(a: str, b: str) -> bool:
    """The same code, or a small edit of a line long enough to tell."""
    if same_code(a, b):
        return True
    ka, kb = code_key(a), code_key(b)
    if min(len(ka), len(kb)) < MIN_SIMILAR_CHARS:
        return False
    m = SequenceMatcher(None, ka, kb, autojunk=False)
    return m.real_quick_ratio() >= SIMILAR and m.quick_ratio() >= SIMILAR and m.ratio() >= SIMILAR


def _changed_line(a: str, b: str) -> bool:
    """`a` rewrites `b`: it starts the same way (a docstring reworded, a value changed) or is close."""
    first_a, first_b = FIRST_TOKEN.match(a.strip()), FIRST_TOKEN.match(b.strip())
    if first_a and first_b and first_a.group(0) == first_b.group(0):
        return True
    return SequenceMatcher(None, code_key(a), code_key(b), autojunk=False).ratio() >= CHANGED


def _restated(code: Sequence[str], target: Sequence[str], rewritten: bool) -> int | None:
    """How many of `code` (non-blank lines, the first a copy of `target[0]` or, `rewritten`, a rewrite)
    restate `target`, or None.

    Later lines may be near-copies; one may be rewritten, or one of `target` left out (two edits in
    all once two lines match); edits need a first line long enough to tell, and a rewritten first
    line another that matches.
    """
    i = matched = 0
    edits = int(rewritten)
    for j, line in enumerate(target[1:], 1):
        if i + 1 < len(code) and similar_code(code[i + 1], line):
            i, matched = i + 1, matched + 1
        elif i + 1 < len(code) and _changed_line(code[i + 1], line) and (j < len(target) - 1 or i + 2 < len(code)):
            i, edits = i + 1, edits + 1
        elif i + 1 < len(code):
            edits += 1  # left out
        if edits > 1 + (matched >= 2) or edits and len(code_key(target[0])) < MIN_ANCHOR_CHARS:
            return None
    return None if rewritten and not matched else i + 1


def _rewrites(a: str, b: str) -> bool:
    """`a` is `b` with a change: similar enough, both long enough to tell."""
    ka, kb = code_key(a), code_key(b)
    if min(len(ka), len(kb)) < MIN_ANCHOR_CHARS or ka == kb:
        return False
    m = SequenceMatcher(None, ka, kb, autojunk=False)
    return m.real_quick_ratio() >= CHANGED and m.quick_ratio() >= CHANGED and m.ratio() >= CHANGED


def restatements(lines: Sequence[str], before: Sequence[str]) -> Iterator[int]:
    """How many of `lines` restate the end of `before`: each count of lines whose non-blank ones
    near-copy the last non-blank lines of `before`, in order; those starting with an exact copy
    first, then those starting with a rewritten line; longest first."""
    at = [i for i, line in enumerate(lines) if line.strip()]
    prior = [line for line in before[-MAX_ECHO_LINES:] if line.strip()]
    if not at:
        return
    code = [lines[i] for i in at]
    for rewritten, starts in ((False, same_code), (True, _rewrites)):
        for m in range(len(prior), 0, -1):
            if starts(code[0], prior[-m]) and (n := _restated(code, prior[-m:], rewritten)) is not None:
                yield at[n - 1] + 1


def after_head(line: str, head: str) -> str | None:
    """The rest of `line` after a restatement of `head` (the cursor line up to the cursor), with
    indentation and other whitespace ignored; None when `line` does not start like `head`."""
    text, start = line.lstrip(" \t"), head.lstrip(" \t")
    if not start.strip():
        return line
    if text.startswith(start):
        return text[len(start) :]
    at = 0
    for ch in start:
        if ch.isspace():
            continue
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text) or text[at] != ch:
            return None
        at += 1
    return text[at:].lstrip() if start[-1].isspace() else text[at:]


def _keyed(lines: Sequence[str]) -> list[str]:
    return [line for line in lines if code_key(line)]


def _runs_match(new: Sequence[str], old: Sequence[str]) -> bool:
    """Two lines in a row of `new` near-copy two lines in a row of `old` (with some words in them)."""
    for i in range(len(new) - 1):
        if len(code_key(new[i]) + code_key(new[i + 1])) < 12:
            continue
        for j in range(len(old) - 1):
            if similar_code(new[i], old[j]) and similar_code(new[i + 1], old[j + 1]):
                return True
    return False


def duplicates_existing(suggestion: str, prefix: str, suffix: str, window: int = 200) -> bool:
    """Whether inserting `suggestion` between `prefix` and `suffix` repeats code already there:
    two lines in a row, a definition line, or a line next to the cursor's, near-copied."""
    if not suggestion.strip():
        return False
    prefix, suffix, suggestion = (s.replace("\r\n", "\n") for s in (prefix, suffix, suggestion))
    *before, head = prefix.split("\n")
    rest, *after = suffix.split("\n")
    new = (head + suggestion + rest).split("\n")
    if len(new) > 1 and suggestion.startswith("\n"):
        new = new[1:]  # the cursor's line, left as it was
    if len(new) > 1 and not suggestion.rpartition("\n")[2].strip():
        new = new[:-1]  # the rest of the cursor's line, moved down
    new = _keyed(new)
    before, after = _keyed(before[-window:]), _keyed(after[:window])
    old = before + after
    if any(DEFINITION.match(line.strip()) and any(same_code(line, o) for o in old) for line in new):
        return True
    neighbours = before[-1:] + after[:1]
    if any(len(code_key(line)) >= 8 and any(same_code(line, n) for n in neighbours) for line in new):
        return True
    return _runs_match(new, before) or _runs_match(new, after)
