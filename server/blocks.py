"""The block around a line: the innermost function or class, by indentation and closing lines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain

from .document import split_lines

MODIFIERS = (
    r"(?:(?:export|default|public|private|protected|internal|static|final|abstract|override|async|unsafe|extern"
    r"|local|suspend|open|pub(?:\([^)]*\))?)\s+)*"
)
KEYWORDS = r"(?:def|class|function|fn|func|fun|sub|impl|struct|enum|trait|interface|module|object|namespace)\b"
DEFINITION = re.compile(MODIFIERS + KEYWORDS)
CONTROL = re.compile(r"(?:if|else|elif|for|foreach|while|switch|catch|do|try|with|match|when|return)\b|\}")
CLOSING = re.compile(r"[}\])]|end\b")  # a line that closes a block or a bracket
ANNOTATIONS = ("@", "#[")  # decorators and attributes belong to the definition below them


def _indent(line: str) -> int | None:
    """Columns of leading whitespace (tabs as 4), or None for a blank line."""
    body = line.expandtabs(4).rstrip()
    return len(body) - len(body.lstrip()) if body else None


def _is_definition(line: str) -> bool:
    """A function, class or similar header: by keyword, or a C-like `name(...) {` line."""
    code = line.strip()
    if DEFINITION.match(code):
        return True
    return code.endswith("{") and "(" in code and not CONTROL.match(code)


def _cursor_indent(lines: list[str], line: int) -> int:
    """Indentation that a block must be shallower than to enclose `line`."""
    for i in chain(range(line, len(lines)), range(line - 1, -1, -1)):  # a blank line takes the next code's
        indent = _indent(lines[i])
        if indent is not None:
            return indent + 1 if CLOSING.match(lines[i].strip()) else indent  # inside what it closes
    return 0


def _headers_around(lines: list[str], line: int) -> Iterable[int]:
    """Definition lines that may enclose `line`, innermost first."""
    ceiling = _cursor_indent(lines, line)
    if _is_definition(lines[line]):
        yield line
    for i in range(line - 1, -1, -1):
        indent = _indent(lines[i])
        if indent is None or indent >= ceiling or CLOSING.match(lines[i].strip()):
            continue  # a closing line belongs to a block whose header is further up
        ceiling = indent
        if _is_definition(lines[i]):
            yield i
        if indent == 0:
            return


def _block_end(lines: list[str], header: int) -> int:
    """The last line of the block opened at `header`: deeper lines, then its closing line."""
    header_indent, last = _indent(lines[header]), header
    for i in range(header + 1, len(lines)):
        indent, code = _indent(lines[i]), lines[i].strip()
        if indent is None:
            continue
        if indent > header_indent:
            last = i
            continue
        if not CLOSING.match(code):
            break
        last = i
        if not code.endswith(("{", ":", "(")):  # `):` or `) {` closes a signature and opens the body
            break
    return last


def _with_annotations(lines: list[str], header: int) -> int:
    """The first line of the decorators or attributes right above `header` (else `header`)."""
    first = header

    def annotates(i: int) -> bool:
        return lines[i].strip().startswith(ANNOTATIONS) and _indent(lines[i]) == _indent(lines[header])

    while first > 0 and annotates(first - 1):
        first -= 1
    return first


def enclosing_block(text: str, line: int) -> tuple[int, int]:
    """Lines (first, last) of the innermost function or class around `line`, else (line, line).

    Blocks are found by indentation, and include their closing `}`/`end` line and the
    decorators above them; this suits conventionally formatted code in most languages.
    """
    lines = split_lines(text)
    line = min(max(line, 0), len(lines) - 1)
    for header in _headers_around(lines, line):
        last = _block_end(lines, header)
        if last >= line:
            return _with_annotations(lines, header), last
    return line, line
