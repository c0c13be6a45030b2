"""Positions in text: LSP lines and UTF-16 characters <-> Python string indices.

LSP counts characters in UTF-16 code units (a character outside the Basic Multilingual
Plane, such as most emoji, is two units) and breaks lines at "\\n", "\\r\\n" and "\\r".
"""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines with their endings kept; there is always at least one (possibly empty) line."""
    lines, start = [], 0
    for match in LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    lines.append(text[start:])  # the last line: empty when the text ends with a break
    return lines


def line_body(line: str) -> str:
    """A line without its ending."""
    return line.rstrip("\r\n")


def newline_of(text: str) -> str:
    """The text's line ending, judged by its first line break ("\\n" when it has none)."""
    match = LINE_BREAK.search(text)
    return match.group(0) if match else "\n"


def utf16_length(text: str) -> int:
    """How many UTF-16 code units `text` takes."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_to_index(line: str, character: int) -> int:
    """UTF-16 column -> index into `line`, clamped to the end of its body (before the line break).

    A column inside a surrogate pair moves to the end of that character.
    """
    body = line_body(line)
    if body.isascii():
        return min(max(character, 0), len(body))
    units = 0
    for index, ch in enumerate(body):
        if units >= character:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(body)


def index_to_utf16(line: str, index: int) -> int:
    """Index into `line` -> UTF-16 column."""
    return utf16_length(line[:index])


def clamp(lines: list[str], line: int, character: int) -> tuple[int, int]:
    """An LSP position -> (line, index), moved inside the text when it points past an end."""
    if line < 0:
        return 0, 0
    if line >= len(lines):
        last = len(lines) - 1
        return last, len(line_body(lines[last]))
    return line, utf16_to_index(lines[line], character)


def offset(lines: list[str], line: int, index: int) -> int:
    """(line, index) -> offset into the whole text."""
    return sum(len(lines[i]) for i in range(line)) + index


def position_of(lines: list[str], text_offset: int) -> tuple[int, int]:
    """Offset into the whole text -> LSP (line, UTF-16 character), clamped to the text."""
    remaining = max(text_offset, 0)
    for number, line in enumerate(lines):
        if remaining <= len(line_body(line)):
            return number, index_to_utf16(line, remaining)
        if remaining < len(line):
            return number, index_to_utf16(line, len(line_body(line)))  # inside a "\r\n": its start
        remaining -= len(line)
    last = len(lines) - 1
    return last, utf16_length(line_body(lines[last]))
