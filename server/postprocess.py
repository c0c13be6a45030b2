"""Model answers -> text to insert: the code block, without echoes, prose or duplicated suffix."""

from __future__ import annotations

import re
import textwrap

from .languages import Language
from .prompts import CURSOR, SELECTION_END, SELECTION_START

FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n`]*$", re.MULTILINE)
PROSE_START = re.compile(r"^(here|sure|certainly|this|the|i |i'm|i am|sorry|unfortunately|as an|to |you |it |note|in this|below)", re.I)
SYMBOLS = re.compile(r"[(){}\[\];=<>+*/\\|&%$#@^~`]")
MAX_ECHO_LINES = 12


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _is_prose_line(line: str) -> bool:
    words = line.split()
    if len(words) < 4 or not line.strip()[0].isalpha():
        return False
    return len(SYMBOLS.findall(line)) <= len(line) * 0.02 or bool(PROSE_START.match(line.strip()))


def looks_like_prose(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and (PROSE_START.match(lines[0].strip()) is not None and _is_prose_line(lines[0]) or sum(map(_is_prose_line, lines)) * 2 > len(lines))


def extract_code(answer: str) -> str | None:
    """The first fenced code block (closed or not), else the answer if it reads as code, else None."""
    match = FENCE_OPEN.search(answer)
    if match:
        fence = match.group(1)
        body_start = match.end() + 1
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = close.search(answer, body_start)
        body = answer[body_start : end.start() if end else len(answer)]
        return body[:-1] if body.endswith("\n") else body
    text = answer.strip("\n")
    if not text.strip() or looks_like_prose(text):
        return None
    return text


def _remove_echoed_prefix(code: str, prefix: str) -> str:
    """Drop the start of `code` that repeats the end of `prefix` (whole lines or the cursor line)."""
    lines = prefix.splitlines(keepends=True) or [""]
    if prefix.endswith(("\n", "\r")):
        lines.append("")
    head = lines[-1]  # the cursor line up to the cursor
    for back in range(min(MAX_ECHO_LINES, len(lines)), 0, -1):
        echoed = "".join(lines[-back:])
        for candidate in (echoed, echoed.lstrip(" \t")):
            if candidate.strip() and code.startswith(candidate):
                return code[len(candidate) :]
    if head.strip() and code.lstrip(" \t").startswith(head.strip()):
        return code.lstrip(" \t")[len(head.strip()) :]
    for k in range(min(len(head), len(code)), 2, -1):  # the code restarts the cursor line's last word(s)
        if head.endswith(code[:k]) and (k == len(head) or not head[-k - 1].isalnum() or not code[0].isalnum()):
            return code[k:]
    return code


def _remove_repeated_suffix(code: str, suffix: str) -> str:
    """Drop the end of `code` that repeats what already follows the cursor."""
    code_lines = code.rstrip().splitlines()
    suffix_lines = [line.rstrip() for line in suffix.splitlines()]
    first = suffix_lines[0].strip() if suffix_lines else ""
    if first and code.rstrip().endswith(first) and len(code.rstrip()) > len(first):
        code = code.rstrip()[: -len(first)]  # the rest of the cursor line, e.g. closing brackets
        code_lines = code.rstrip().splitlines()
        suffix_lines = suffix_lines[1:]
    following = [line.strip() for line in suffix_lines if line.strip()][:MAX_ECHO_LINES]
    for n in range(min(len(following), len(code_lines) - 1), 0, -1):
        tail = [line.strip() for line in code_lines[-n:]]
        if tail == following[:n]:
            return "\n".join(code_lines[:-n])
    return code


def clean_inline(answer: str, prefix: str, suffix: str) -> str:
    """Ghost text for the cursor from a model answer; "" when nothing useful came back."""
    code = extract_code(answer)
    if code is None:
        return ""
    if CURSOR in code:  # the model echoed the marked file: keep what it put at the marker
        code = code.split(CURSOR, 1)[1] if code.strip().startswith(CURSOR) else code.split(CURSOR, 1)[0]
    code = _remove_echoed_prefix(code.replace("\r\n", "\n"), prefix.replace("\r\n", "\n"))
    code = _remove_repeated_suffix(code, suffix.replace("\r\n", "\n"))
    head = prefix.replace("\r\n", "\n").rsplit("\n", 1)[-1]
    if head and not head.strip():  # cursor after indentation: the first line's indent is already typed
        first, _, rest = code.partition("\n")
        if first.startswith(head):
            code = first[len(head) :] + ("\n" + rest if rest else "")
        elif not _indent_of(first) and rest and all(not line.strip() or not _indent_of(line) for line in rest.split("\n")):
            code = first + "\n" + textwrap.indent(rest, head)  # the model dedented the block
    code = "\n".join(line.rstrip() for line in code.split("\n")).rstrip()
    if "\r\n" in prefix + suffix:
        code = code.replace("\n", "\r\n")
    return code if code.strip() else ""


def _min_indent(text: str) -> str:
    indents = [_indent_of(line) for line in text.splitlines() if line.strip()]
    return min(indents, key=len) if indents else ""


def clean_replacement(answer: str, selection: str) -> str | None:
    """New text for a selection of whole lines: re-indented and line-ended like the selection."""
    code = extract_code(answer)
    if code is None or not code.strip():
        return None
    code = code.replace(SELECTION_START, "").replace(SELECTION_END, "").replace("\r\n", "\n")
    want, have = _min_indent(selection.replace("\r\n", "\n")), _min_indent(code)
    if have != want:
        code = textwrap.indent(textwrap.dedent(code), want)
    code = "\n".join(line.rstrip() for line in code.split("\n")).strip("\n")
    if selection.endswith("\n"):
        code += "\n"
    if "\r\n" in selection:
        code = code.replace("\n", "\r\n")
    return code


def comment_block(text: str, language: Language, indent: str = "", width: int = 88, newline: str = "\n") -> str:
    """An explanation as a comment block in the file's language, to insert above the code."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    if language.line_comment:
        marker = language.line_comment + " "
        wrapped = [textwrap.fill(p, width - len(indent) - len(marker)) for p in paragraphs]
        lines = "\n\n".join(wrapped).split("\n")
        return "".join(f"{indent}{(marker + line).rstrip()}{newline}" for line in lines)
    start, end = language.block_comment or ("#", "")
    wrapped = "\n\n".join(textwrap.fill(p, width - len(indent) - 2) for p in paragraphs).split("\n")
    body = "".join(f"{indent}  {line}".rstrip() + newline for line in wrapped)
    return f"{indent}{start}{newline}{body}{indent}{end}{newline}"
