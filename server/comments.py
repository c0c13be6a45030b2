"""An explanation as a comment block in the file's language, to insert above the code."""

from __future__ import annotations

import re
import textwrap

from .languages import Language
from .postprocess import FENCE_LINE, LIST_MARK


def _wrap(paragraph: str, width: int) -> list[str]:
    """A paragraph or list item reflowed to `width`; an item's later lines hang under its text."""
    marker = LIST_MARK.match(paragraph)
    lead = marker.group(0).strip() + " " if marker else ""
    body = paragraph[marker.end() :] if marker else paragraph
    return textwrap.wrap(body, width, initial_indent=lead, subsequent_indent=" " * len(lead),
                         break_long_words=False, break_on_hyphens=False)  # fmt: skip


def _explanation_lines(text: str, width: int) -> list[str]:
    """Plain text wrapped to `width`: paragraphs reflowed, list items and code lines kept apart."""
    out: list[str] = []
    pending: list[str] = []  # the paragraph or list item being read
    in_code = False
    for line in text.replace("\r\n", "\n").strip().split("\n"):
        if FENCE_LINE.match(line) or in_code or not line.strip() or LIST_MARK.match(line):
            out.extend(_wrap(" ".join(pending), width) if pending else [])
            pending.clear()
        if FENCE_LINE.match(line):
            in_code = not in_code
        elif in_code:
            out.append("    " + line.rstrip())
        elif not line.strip():
            out.extend([""] if out and out[-1] else [])
        else:
            pending.append(re.sub(r"\*\*(.+?)\*\*|^#+\s+", lambda m: m.group(1) or "", line.strip()))
    out.extend(_wrap(" ".join(pending), width) if pending else [])
    return out[:-1] if out and not out[-1] else out


def comment_block(text: str, language: Language, indent: str = "", width: int = 88, newline: str = "\n") -> str:
    """An explanation as a comment in the file's language (line comments preferred), to put above code."""
    used = len(indent.expandtabs(4))
    if language.line_comment:
        lines = _explanation_lines(text, max(width - used - len(language.line_comment) - 1, 20))
        return "".join(f"{indent}{language.line_comment} {line}".rstrip() + newline for line in lines)
    if language.block_comment:
        start, end = language.block_comment
        lines = _explanation_lines(text.replace(end, end[0] + " " + end[1:]), max(width - used - 2, 20))
        body = "".join(f"{indent}  {line}".rstrip() + newline for line in lines)
        return f"{indent}{start}{newline}{body}{indent}{end}{newline}"
    lines = _explanation_lines(text, max(width - used, 20))
    return "".join(f"{indent}{line}".rstrip() + newline for line in lines)
