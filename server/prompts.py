"""System and user turns for inline completions and code actions.

CodeLlama-70B-Instruct has no infilling, so a completion is an instruction: the file is
shown with the cursor marked, and the answer is asked for as one fenced code block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import CodeContext, Excerpt
from .languages import Language

CURSOR = "<CURSOR>"
SELECTION_START, SELECTION_END = "<SELECTION>", "</SELECTION>"
DEFAULT_ROLE = "You are an expert programmer and a careful, honest code assistant working inside the user's editor."

ACTION_INSTRUCTIONS = {
    "explain": "Explain what the selected code does, for a colleague reading it: its purpose, how it works, and "
    "anything surprising or risky. Be concise (at most a few short paragraphs). Answer in plain text, without code blocks.",
    "fix": "Fix the problems in the selected code{diagnostics}. Change only what the fix needs.",
    "doc": "Add documentation to the selected code: {doc_style} for each function, class or module it defines, "
    "following {language} conventions. Keep the code itself exactly as it is.",
    "tests": "Write unit tests for the selected code using {test_framework}. Cover normal cases, edge cases and errors. "
    "Reply with only the test code, ready to paste below the selected code.",
    "refactor": "Refactor the selected code to be simpler and clearer, keeping its behaviour exactly the same.",
}


@dataclass(frozen=True)
class Diagnostic:
    line: int  # 0-based
    message: str
    severity: str = "error"
    source: str | None = None


def fence_for(*texts: str) -> str:
    """A backtick fence longer than any backtick run in the texts."""
    longest = max((len(run) for t in texts for run in re.findall(r"`+", t)), default=0)
    return "`" * max(3, longest + 1)


def system_turn(language: Language, path: str, system_prompt: str | None = None) -> str:
    role = system_prompt.strip() if system_prompt and system_prompt.strip() else DEFAULT_ROLE
    return f"{role} The user is editing the {language.name} file `{path}`. Answer in {language.name}, with code in fenced code blocks."


def _other_files(excerpts: list[Excerpt], language: Language) -> str:
    parts = []
    for ex in excerpts:
        fence = fence_for(ex.text)
        note = " (beginning)" if ex.truncated else ""
        parts.append(f"Other open file `{ex.path}`{note}:\n{fence}\n{ex.text.rstrip()}\n{fence}\n\n")
    return "".join(parts)


def inline_messages(ctx: CodeContext, language: Language, path: str, excerpts: list[Excerpt] = (), system_prompt: str | None = None) -> list[dict]:
    fence = fence_for(ctx.prefix, ctx.suffix)
    user = (
        _other_files(list(excerpts), language)
        + f"Complete the code at {CURSOR} in `{path}`:\n"
        + f"{fence}{language.fence}\n{ctx.prefix}{CURSOR}{ctx.suffix}\n{fence}\n\n"
        + f"Reply with only the code that goes at {CURSOR}, in one {fence}{language.fence} block. "
        "Do not repeat the code before or after the cursor, and do not explain."
    )
    return [{"role": "system", "content": system_turn(language, path, system_prompt)}, {"role": "user", "content": user}]


def action_instruction(action: str, language: Language, diagnostics: list[Diagnostic] = (), instruction: str = "") -> str:
    if action == "ask":
        return instruction.strip()
    listed = "".join(
        f"\n- line {d.line + 1}: {d.severity}: {d.message}" + (f" ({d.source})" if d.source else "") for d in diagnostics
    )
    return ACTION_INSTRUCTIONS[action].format(
        diagnostics=f". The diagnostics are:{listed}\n" if listed else "",
        doc_style=language.doc_style,
        language=language.name,
        test_framework=language.test_framework,
    )


def action_messages(
    action: str,
    ctx: CodeContext,
    language: Language,
    path: str,
    diagnostics: list[Diagnostic] = (),
    instruction: str = "",
    excerpts: list[Excerpt] = (),
    system_prompt: str | None = None,
) -> list[dict]:
    """explain, fix, doc, tests, refactor or ask, on the selection marked in its context."""
    fence = fence_for(ctx.prefix, ctx.selection, ctx.suffix)
    marked = f"{ctx.prefix}{SELECTION_START}{ctx.selection}{SELECTION_END}{ctx.suffix}"
    if action == "explain":
        answer = "Answer in plain text."
    elif action == "tests":
        answer = f"Reply with the tests in one {fence}{language.fence} block."
    else:
        answer = (
            f"Reply with the complete new version of the selected code (only the part between {SELECTION_START} "
            f"and {SELECTION_END}, without the markers), in one {fence}{language.fence} block."
        )
    user = (
        _other_files(list(excerpts), language)
        + f"In `{path}`, the selected code is between {SELECTION_START} and {SELECTION_END}:\n"
        + f"{fence}{language.fence}\n{marked}\n{fence}\n\n"
        + f"{action_instruction(action, language, diagnostics, instruction)}\n\n{answer}"
    )
    return [{"role": "system", "content": system_turn(language, path, system_prompt)}, {"role": "user", "content": user}]
