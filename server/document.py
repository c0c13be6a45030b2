"""Positions in text: LSP lines and UTF-16 characters <-> Python string indices."""

from __future__ import annotations

import re

LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """Lines with their endings kept; LSP counts only \\n, \\r\\n and \\r as line breaks."""
    lines, start = [], 0
    for match in LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    lines.append(text[start:])  # the last line (empty when the text ends with a break)
    return lines


def line_body(line: str) -> str:
    """A line without its ending."""
    return line.rstrip("\r\n")


def utf16_to_index(line: str, character: int) -> int:
    """UTF-16 column -> index into `line`, clamped to the line's end (before its line break)."""
    body = line_body(line)
    units = 0
    for index, ch in enumerate(body):
        if units >= character:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(body)


def index_to_utf16(line: str, index: int) -> int:
    """Index into `line` -> UTF-16 column."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in line[:index])


def clamp(lines: list[str], line: int, character: int) -> tuple[int, int]:
    """An LSP position -> (line, index), moved inside the text when it points past an end."""
    if line < 0:
        return 0, 0
    if line >= len(lines):
        last = len(lines) - 1
        return last, len(line_body(lines[last]))
    return line, utf16_to_index(lines[line], max(character, 0))


def offset(lines: list[str], line: int, index: int) -> int:
    """(line, index) -> offset into the whole text."""
    return sum(len(lines[i]) for i in range(line)) + index
