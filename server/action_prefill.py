"""The start of a code action's answer, written into the prompt for the model to continue.

Every action that answers with code begins its answer with the opening fence, so the model
starts with the code rather than a sentence about it. "doc" on a Python function or class goes
further: the answer begins with the definition's header and the docstring's opening quotes, where
PEP 257 puts the docstring, so even a small model writes documentation instead of restating code.
"""

from __future__ import annotations

import re

from .context import CodeContext
from .languages import Language
from .prompts import _plain_lines, fence_for

DEFINITION = re.compile(r"\s*(async\s+def|def|class)\b")
HEADER_END = re.compile(r".*:\s*(#.*)?$")  # the header's last line (a signature may span lines)
DOCSTRING = re.compile(r"""\s*[rRbBuU]?('''|\"\"\")""")


def docstring_opening(selection: str, language: Language) -> str:
    """The selection up to its first definition's header, then the docstring's indented opening
    quotes; "" when that is not Python or the definition already has a docstring."""
    if language.id != "python":
        return ""
    lines = selection.split("\n")
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith(("@", "#")):
            continue  # blank lines, decorators and comments before the definition
        if not DEFINITION.match(line):
            return ""
        end = next((j for j in range(i, len(lines)) if HEADER_END.match(lines[j])), None)
        if end is None:
            return ""
        body = next((b for b in lines[end + 1 :] if b.strip()), "")
        if DOCSTRING.match(body):
            return ""
        header_indent = line[: len(line) - len(line.lstrip())]
        body_indent = body[: len(body) - len(body.lstrip())]
        indent = body_indent if len(body_indent) > len(header_indent) else header_indent + "    "
        return "\n".join(lines[: end + 1]) + f'\n{indent}"""'
    return ""


def action_answer_start(action: str, ctx: CodeContext, language: Language) -> str:
    """What the action's answer begins with: "" for an explanation (plain text), else the opening
    fence, and for "doc" the docstring's place (`docstring_opening`) when there is one."""
    if action == "explain":
        return ""
    prefix, selection, suffix = _plain_lines(ctx.prefix), _plain_lines(ctx.selection), _plain_lines(ctx.suffix)
    start = f"{fence_for(prefix, selection, suffix)}{language.fence}\n"
    return start + docstring_opening(selection, language) if action == "doc" else start
