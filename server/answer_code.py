"""The code in a model's answer: fenced blocks, or unfenced code between sentences; prose detected."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

FENCE_OPEN = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n`]*$", re.MULTILINE)
INLINE_CODE = re.compile(r"`[^`\n]*`")
FENCE_LINE = re.compile(r"\s*(?:`{3,}|~{3,})")
LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
CODE_HINT = re.compile(r"[=<>\[\]{}]|\w\(|\(\)|->|=>|::| [-+*/%] |\s#\s")
REFUSAL = re.compile(r"^(?:i'?m sorry|sorry|i (?:cannot|can't|can not|am unable|won't)|as an ai|unfortunately)\b", re.I)
PROSE_CHARS = frozenset(" ,.;:!?'’\"()-")


@dataclass(frozen=True)
class CodeBlock:
    tag: str  # the fence's language tag ("" when none)
    code: str
    closed: bool  # False when the answer stopped inside the block


def code_blocks(answer: str) -> list[CodeBlock]:
    """The fenced code blocks of an answer, in order; the last may be unterminated."""
    text, blocks, at = answer.replace("\r\n", "\n"), [], 0
    while match := FENCE_OPEN.search(text, at):
        indent, fence, tag = match.groups()
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, match.end() + 1)
        body = text[match.end() + 1 : end.start() if end else len(text)]
        lines = [line[min(len(indent), len(line) - len(line.lstrip(" \t"))) :] for line in body.split("\n")]
        blocks.append(CodeBlock(tag.lower(), "\n".join(lines).removesuffix("\n"), end is not None))
        if end is None:
            break
        at = end.end()
    return blocks


def _is_prose_line(line: str) -> bool:
    """A sentence rather than code: words without code symbols, ending like a sentence."""
    text = LIST_MARK.sub("", INLINE_CODE.sub("x", line)).strip()
    if not text or not text[0].isalpha() or CODE_HINT.search(text) or text[-1] in ";{,(":
        return False
    words = WORD.findall(text)
    if sum(ch.isalpha() or ch in PROSE_CHARS for ch in text) < 0.9 * len(text):
        return False
    if text[0].isupper():
        return len(words) >= 4 and (text[-1] in ".:!?" or len(words) >= 8)
    return len(words) >= 6 and text[-1] in ".!?"  # a lower-case start is mostly code


def looks_like_prose(text: str) -> bool:
    """A refusal, or mostly sentences."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    return bool(REFUSAL.match(lines[0].strip())) or 2 * sum(map(_is_prose_line, lines)) > len(lines)


def _unfenced_code(answer: str) -> str | None:
    """An answer without a fence: the code between any leading and trailing sentences, if it is code."""
    lines = [line.rstrip() for line in answer.replace("\r\n", "\n").split("\n")]
    if looks_like_prose("\n".join(lines)):
        return None
    start, end = 0, len(lines)
    while start < end and (not lines[start].strip() or _is_prose_line(lines[start])):
        start += 1
    while end > start and (not lines[end - 1].strip() or _is_prose_line(lines[end - 1])):
        end -= 1
    return "\n".join(lines[start:end]) or None


def extract_code(answer: str, tags: Sequence[str] = ()) -> str | None:
    """The first fenced code block (the first tagged with one of `tags`, if any is), closed or not;
    without a fence, the answer if it reads as code; None for prose."""
    blocks = code_blocks(answer)
    if not blocks:
        return _unfenced_code(answer)
    return next((b.code for b in blocks if b.tag in tags), blocks[0].code)
