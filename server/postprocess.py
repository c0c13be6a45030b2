"""Model answers -> text for the editor: the code block, without prose, restated code, duplicates
or what follows the cursor's block.

All matching is done on "\\n" line breaks; results use the document's own line ending.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codellama_lsp.engine.text_stream import CONTEXT_TOKENS

from .answer_code import FENCE_LINE, LIST_MARK, REFUSAL, CodeBlock, code_blocks, extract_code, looks_like_prose
from .block_end import STRING_LITERAL, block_lines, indent_width
from .document import newline_of
from .languages import Language
from .near_copy import after_head, code_key, duplicates_existing, restatements, similar_code
from .prompts import CURSOR, SELECTION_END, SELECTION_START

__all__ = [
    "FENCE_LINE", "LIST_MARK", "CodeBlock", "clean_inline", "clean_replacement", "code_blocks",
    "duplicates_existing", "extract_code", "looks_like_prose", "without_turn_space",
]  # fmt: skip

PAIRS = {")": "(", "]": "[", "}": "{"}
MIN_FOLLOWING_CHARS = 6  # a line after the cursor's this long (without spaces and punctuation) marks the end


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _remove_echoed_lines(lines: list[str], prefix_lines: list[str]) -> tuple[list[str], str] | None:
    """Drop a restatement of the lines before the cursor (near-copies count) and of the cursor line's
    start. Returns the rest and the model's version of the cursor line."""
    head = prefix_lines[-1]
    for n in restatements(lines, prefix_lines[:-1]):
        cursor_line = lines[n] if n < len(lines) else ""
        rest = after_head(cursor_line, head)
        if rest is not None:
            return [rest, *lines[n + 1 :]], cursor_line
    if head.strip() and (rest := after_head(lines[0], head)) is not None:
        return [rest, *lines[1:]], lines[0]
    return None


def _remove_restarted_word(first: str, head: str) -> str:
    """Drop the start of `first` that repeats the end of `head` from a word boundary (>= 2 chars)."""
    for k in range(min(len(head), len(first)), 1, -1):
        piece = first[:k]
        starts_word = k == len(head) or not (head[-k - 1].isalnum() or head[-k - 1] == "_") or not piece[0].isalnum()
        if piece.strip() and head.endswith(piece) and starts_word:
            return first[k:]
    return first


def _reindent(lines: list[str], old: str, new: str) -> list[str]:
    """Lines indented under `old` moved under `new`."""
    return [new + line[len(old) :] if line.startswith(old) and line.strip() else line for line in lines]


def _depth(text: str) -> int:
    """Brackets `text` opens minus those it closes."""
    brackets = _brackets(text)
    return sum(ch in "([{" for ch in brackets) - sum(ch in ")]}" for ch in brackets)


def _rebase_after_cursor(first: str, later: list[str], old: str, new: str) -> list[str]:
    """Lines after the cursor's moved from the model's indentation `old` to the file's `new`; a line
    closing a bracket opened before the completion stays where the model put it (the file's place)."""
    if old == new:
        return later
    depth, out = _depth(first), []
    for line in later:
        closes_outer = line.strip()[:1] in (")", "]", "}") and depth <= 0
        out.append(line if closes_outer else _reindent([line], old, new)[0])
        depth += _depth(line)
    return out


def _fit_to_cursor(lines: list[str], head: str, model_line: str | None) -> list[str]:
    """Indentation relative to the cursor's line; the first line continues the line being typed."""
    if head.strip():  # after code: later lines follow the model's indentation of the cursor line
        if model_line is None:
            return lines
        return [lines[0], *_rebase_after_cursor(model_line, lines[1:], _indent_of(model_line), _indent_of(head))]
    while len(lines) > 1 and not lines[0].strip():
        lines = lines[1:]
    if not head:
        return lines
    later = _rebase_after_cursor(lines[0], lines[1:], _indent_of(lines[0]), head)
    return [lines[0].lstrip(" \t"), *later]  # the cursor's indentation is typed already


def _drop_trailing_blank_lines(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def _same_following_line(code: str, doc: str) -> bool:
    """Equal as text, or near-copies; a line of only brackets must be indented the same."""
    return code.rstrip() == doc.rstrip() or (any(ch.isalnum() for ch in code) and similar_code(code, doc))


def _cut_at_following(lines: list[str], following: list[str]) -> list[str]:
    """Stop where the completion reaches the code after the cursor line: at a line (after the first)
    that near-copies the next line there, indented the same."""
    doc = next((line for line in following if line.strip()), "")
    if len(code_key(doc)) < MIN_FOLLOWING_CHARS:
        return lines
    for i, line in enumerate(lines[1:], 1):
        if line.strip() and indent_width(line) == indent_width(doc) and similar_code(line, doc):
            return _drop_trailing_blank_lines(lines[:i])
    return lines


def _cut_following_lines(lines: list[str], following: list[str]) -> list[str]:
    """Drop the completion's last lines when they repeat the lines after the cursor line."""
    code_at = [i for i, line in enumerate(lines) if line.strip()]
    doc = [line for line in following if line.strip()]
    for n in range(min(len(code_at), len(doc)), 0, -1):
        if all(map(_same_following_line, (lines[i] for i in code_at[-n:]), doc[:n])):
            return _drop_trailing_blank_lines(lines[: code_at[-n]]) if code_at[-n] else [""]
    return lines


def _brackets(text: str) -> str:
    """The brackets of `text`, outside one-line string literals."""
    return "".join(ch for line in text.split("\n") for ch in STRING_LITERAL.sub("", line) if ch in "()[]{}")


def _match_brackets(text: str, open_brackets: list[str]) -> int:
    """Match the brackets of `text` against `open_brackets` (updated in place); returns how many
    closing brackets matched nothing."""
    unmatched = 0
    for ch in _brackets(text):
        if ch not in PAIRS:
            open_brackets.append(ch)
        elif open_brackets and open_brackets[-1] == PAIRS[ch]:
            open_brackets.pop()
        else:
            unmatched += 1
    return unmatched


def _cut_rest_of_line(code: str, prefix: str, rest: str) -> str:
    """Drop the completion's end when it repeats the start of the text after the cursor on its line."""
    open_before: list[str] = []
    _match_brackets(prefix, open_before)
    wanted, closers_before = rest.strip(), _match_brackets(code + rest, list(open_before))
    earlier, line_break, last = code.rstrip().rpartition("\n")
    earlier += line_break
    for k in range(min(len(wanted), len(last)), 0, -1):
        piece, before = wanted[:k], last[: len(last) - k]
        if not last.endswith(piece):
            continue
        wordy = any(ch.isalnum() for ch in piece)
        at_boundary = not before or not (before[-1].isalnum() or before[-1] == "_") or not piece[0].isalnum()
        echoed = wordy and at_boundary and (k == len(wanted) or k >= 4)
        if echoed or (not wordy and _match_brackets(earlier + before + rest, list(open_before)) < closers_before):
            return earlier + before
    return code


def _without_echo(lines: list[str], prefix: str, rest: str) -> list[str]:
    """The completion without a repeat of the code before the cursor, indented for the cursor."""
    prefix_lines = prefix.split("\n")
    head = prefix_lines[-1]
    echo = _remove_echoed_lines(lines, prefix_lines)
    if echo is not None:
        rest_of_code, model_line = echo
        return _fit_to_cursor(rest_of_code, head, model_line)
    if not head.strip():
        return _fit_to_cursor(lines, head, None)
    lines = [_remove_restarted_word(lines[0], head), *lines[1:]]
    if not rest.strip() and lines[0].strip() and _indent_of(lines[0]):
        return ["", *lines]  # indented code after a finished line starts a new line
    return lines


def clean_inline(answer: str, prefix: str, suffix: str) -> str:
    """Ghost text for the cursor between `prefix` and `suffix`; "" when nothing useful came back.

    The answer's code loses what restates the code before the cursor (near-copies count), is
    indented for the cursor, ends with the cursor's block (see `block_lines`) or where it reaches
    the code after the cursor, and loses a repeat of the text after the cursor on its line.
    """
    code = extract_code(answer)
    if code is None or REFUSAL.match(code.strip()):
        return ""
    newline = newline_of(prefix + suffix)
    prefix, suffix = prefix.replace("\r\n", "\n"), suffix.replace("\r\n", "\n")
    rest, *following = suffix.split("\n")
    lines = _drop_trailing_blank_lines(_without_echo(code.replace(CURSOR, "").split("\n"), prefix, rest))
    lines = _cut_at_following(block_lines(lines, prefix.rpartition("\n")[2]), following)
    text = "\n".join(_cut_following_lines(lines, following))
    if rest.strip():
        text = _cut_rest_of_line(text, prefix, rest)
    return text.replace("\n", newline) if text.strip() else ""


def without_turn_space(reply: str, tokenizer, prompt: Sequence[int]) -> str:
    """The reply without the space that ends the chat template's last turn, when it has one
    (CodeLlama-70B's ends "\\n\\n "; ChatML's ends "\\n": there the reply's spaces are its own)."""
    if not reply.startswith(" ") or tokenizer is None:
        return reply
    tail = tokenizer.decode(
        list(prompt[-CONTEXT_TOKENS:]), skip_special_tokens=True, clean_up_tokenization_spaces=False
    )
    return reply[1:] if tail.endswith(" ") else reply


def _base_indent(lines: Sequence[str]) -> str:
    indents = [_indent_of(line) for line in lines if line.strip()]
    return min(indents, key=len) if indents else ""


def _edges(selection: str) -> tuple[str, str]:
    """The selection's leading blank lines and its trailing line break(s), which the edit keeps."""
    lead = re.match(r"(?:[ \t]*\n)*", selection).group(0)
    tail = selection[len(selection.rstrip()) :]
    return lead, tail[tail.find("\n") :] if "\n" in tail else ""


def clean_replacement(
    answer: str, selection: str, language: Language | None = None, newline: str | None = None
) -> str | None:
    """New text for `selection` from a model answer: its code block, indented like the selection,
    with the selection's leading blank lines and line ending kept; None when there is no code."""
    code = extract_code(answer, language.tags if language else ())
    if code is None:
        return None
    lines = _drop_trailing_blank_lines(code.replace(SELECTION_START, "").replace(SELECTION_END, "").split("\n"))
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    plain = selection.replace("\r\n", "\n")
    lines = _reindent(lines, _base_indent(lines), _base_indent(plain.split("\n")))
    lead, tail = _edges(plain)
    return (lead + "\n".join(lines) + tail).replace("\n", newline or newline_of(selection))
