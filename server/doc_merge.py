"""Documentation added to code without changing the code: what "Add documentation" applies.

The model's version of the selection is aligned with the original line by line. Every line of
the original's code is kept as it was; from the model's version only documentation is taken
(comments, docstrings, doc comments) at the place it wrote it. A model that also "improves" the
code, drops a line or renames something therefore changes nothing but the documentation.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap

from .languages import Language

TRIPLE_QUOTE = re.compile(r"""[rRbBuUfF]{0,2}('''|\"\"\")""")


def doc_lines(lines: list[str], language: Language) -> list[bool]:
    """For each line, whether it is documentation: a comment, a docstring's line, a block comment's."""
    marks, closing = [], None  # closing: the delimiter that ends the string or comment we are in
    block_open, block_close = language.block_comment or (None, None)
    for line in lines:
        text = line.strip()
        if closing is not None:
            marks.append(True)
            if closing in text:
                closing = None
            continue
        quote = TRIPLE_QUOTE.match(text) if language.id == "python" else None
        if quote:
            rest = text[quote.end() :]
            closing = None if quote.group(1) in rest else quote.group(1)
            marks.append(True)
        elif block_open and text.startswith(block_open):
            closing = None if block_close in text[len(block_open) :] else block_close
            marks.append(True)
        else:
            marks.append(bool(language.line_comment) and text.startswith(language.line_comment))
    return marks


def documented(original: str, answer: str, language: Language) -> str | None:
    """`original` with the documentation of `answer` (the model's version of it) added.

    Returns None when the result would not parse where the original did (a docstring left open).
    """
    newline = "\r\n" if "\r\n" in original else "\n"
    old, new = original.replace("\r\n", "\n").split("\n"), answer.replace("\r\n", "\n").split("\n")
    old_doc, new_doc = doc_lines(old, language), doc_lines(new, language)
    matcher = difflib.SequenceMatcher(None, [s.strip() for s in old], [s.strip() for s in new], autojunk=False)
    opcodes = matcher.get_opcodes()
    added_code = {j for tag, _, _, j1, j2 in opcodes if tag == "insert" for j in range(j1, j2) if not new_doc[j]}
    useful = [is_doc and not _introduces(j, new, new_doc, added_code, language) for j, is_doc in enumerate(new_doc)]
    merged: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes:
        kept, added = old[i1:i2], [new[j] for j in range(j1, j2) if useful[j]]
        if tag == "insert" and not any(s.strip() for s in old[i1:]):
            added = []  # after all the code: an example or a note, not documentation of it
        if tag in ("equal", "delete") or not added:
            merged += kept
        elif all(old_doc[i1:i2]):  # documentation rewritten (or only added): the model's
            merged += added
        else:  # code the model changed: the original's, with the documentation before and after it
            code_at = next(j for j in range(j1, j2 + 1) if j == j2 or not new_doc[j])
            merged += [new[j] for j in range(j1, code_at) if useful[j]] + kept
            merged += [new[j] for j in range(code_at, j2) if useful[j]]
    result = "\n".join(merged)
    if language.id == "python" and _parses(original) and not _parses(result):
        return None
    return result.replace("\n", newline)


def _introduces(j: int, lines: list[str], doc: list[bool], added_code: set[int], language: Language) -> bool:
    """Line `j` is a line comment about code the model added (the next line with code is new)."""
    if not (language.line_comment and lines[j].strip().startswith(language.line_comment)):
        return False
    following = next((k for k in range(j + 1, len(lines)) if lines[k].strip() and not doc[k]), None)
    return following in added_code


def _parses(code: str) -> bool:
    try:
        ast.parse(textwrap.dedent(code.replace("\r\n", "\n")))
    except SyntaxError:
        return False
    return True
