"""Where ghost text stops: after the current line and the block it opens, judged by indentation.

Models go on past the code the cursor needs (the next function, made-up ones); the completion is
cut where it leaves the cursor's block, keeping the lines that close it (`}`, `)`, `end`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .near_copy import DECORATOR, DEFINITION

TAB_WIDTH = 4
CLOSER = re.compile(r"(?:[)\]}]|</|(?:end|fi|done|esac)\b(?!\s*[=.(\[:,]))")  # a line that closes a block
CONTINUATION = re.compile(r"(?:else|elif|except|finally|catch|rescue|elsif)\b")  # a block's next part
OPENS = re.compile(r"(?:[{(\[:]|=>|\bdo|\bthen)\s*$")  # the line's end opens a block
TERMINAL = re.compile(r"(?:return|raise|throw|break|continue)\b")  # ends the flow through its block
STRING_LITERAL = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")
PREAMBLE = re.compile(r"(?:#|//|/\*|\*|--|;)")  # comments: they come before a definition


def indent_width(line: str) -> int:
    """Columns of indentation (all of a blank line)."""
    expanded = line.expandtabs(TAB_WIDTH)
    return len(expanded) - len(expanded.lstrip(" "))


def _next_code(lines: Sequence[str], start: int) -> str | None:
    return next((line for line in lines[start:] if line.strip()), None)


def _starts_definition(line: str, following: str | None, base: int) -> bool:
    """A new definition at the cursor block's level: a definition keyword or decorator; at the file's
    top level also any line that opens an indented block."""
    text = line.strip()
    if DEFINITION.match(text) or DECORATOR.match(text):
        return True
    opens_block = following is not None and indent_width(following) > indent_width(line)
    return base == 0 and opens_block and not (CLOSER.match(text) or CONTINUATION.match(text))


def _is_preamble(text: str) -> bool:
    """A line that leads into code without starting it: a comment or a decorator."""
    return bool(PREAMBLE.match(text) or DECORATOR.match(text))


def _ends_flow(text: str) -> bool:
    """A whole `return`/`raise`/`break`...: code after it in its block never runs."""
    inside = STRING_LITERAL.sub("", text)
    balanced = sum(map(inside.count, "([{")) <= sum(map(inside.count, ")]}"))
    return bool(TERMINAL.match(text)) and balanced and not text.endswith("\\")


def block_lines(lines: list[str], head: str) -> list[str]:
    """The completion `lines` (placed in the file: `lines[0]` follows `head`, the cursor line up to the
    cursor) up to the end of the cursor's block.

    The cursor's block is the cursor line's indentation; when the line typed before the cursor opens
    a block (the next line is deeper), that block. The completion stops at a line indented less than
    the block, except lines that close it (kept, with the closers after them), or continue it at
    the cursor line's level (`else:`, `} else {`); at a new definition at the block's level (`def`,
    `class`, a decorator, ...; at the top level any line opening an indented block), once the
    completion has begun one; and at code that cannot run, after a `return` in its block.
    """
    first = head + lines[0]
    base = indent_width(first)
    limit = base
    nxt = _next_code(lines, 1)
    if head.strip() and nxt is not None and indent_width(nxt) > base:
        limit = indent_width(nxt)
    started = bool(lines[0].strip()) and not _is_preamble(first.strip())
    closed_at: int | None = None  # the indentation of the line that closed the block
    dead_at = base if lines[0].strip() and _ends_flow(first.strip()) else None  # after a `return` there
    out = [lines[0]]
    for i, line in enumerate(lines[1:], 1):
        text, width = line.strip(), indent_width(line)
        if not text:
            out.append(line)
            continue
        if closed_at is not None:
            if not CLOSER.match(text) or width > closed_at:
                break
            closed_at = width
        elif dead_at is not None and width >= dead_at and not (CLOSER.match(text) or CONTINUATION.match(text)):
            break
        elif width < limit:
            if CLOSER.match(text) and OPENS.search(text) or CONTINUATION.match(text) and width >= base:
                limit = width + 1  # `} else {`, `else:`: only its body may follow
            elif CLOSER.match(text):
                closed_at = width
            else:
                break
        elif width == base and started and _starts_definition(line, _next_code(lines, i + 1), base):
            break
        out.append(line)
        started = started or not _is_preamble(text)
        dead_at = width if _ends_flow(text) else None
    while len(out) > 1 and not out[-1].strip():
        out.pop()
    return out
