"""Code actions: which ones a range offers, and running one into a versioned edit."""

from __future__ import annotations

from dataclasses import dataclass, replace

from lsprotocol import types as lsp

from .action_prefill import action_answer_start
from .blocks import enclosing_block
from .comments import comment_block
from .doc_merge import documented
from .document import line_body, newline_of, split_lines
from .edits import insert_at, replace_range
from .engines import Engine
from .generation import answer, build_prompt
from .languages import language_for
from .options import Options
from .postprocess import clean_replacement, extract_code
from .prompts import Diagnostic, action_messages
from .snapshot import Snapshot


@dataclass(frozen=True)
class ActionSpec:
    title: str  # the code action's title, and the progress bar's while it runs
    kind: str
    offered: bool = True  # listed among the code actions; else only a command runs it (codellama.ask)


ACTIONS = {
    "explain": ActionSpec("Code Llama: Explain this code", "refactor.codellama.explain"),
    "fix": ActionSpec("Code Llama: Fix", lsp.CodeActionKind.QuickFix.value),
    "doc": ActionSpec("Code Llama: Add documentation", "refactor.rewrite.codellama.doc"),
    "tests": ActionSpec("Code Llama: Write tests", "refactor.codellama.tests"),
    "refactor": ActionSpec("Code Llama: Refactor / simplify", lsp.CodeActionKind.RefactorRewrite.value),
    "ask": ActionSpec("Code Llama: Ask", "refactor.rewrite.codellama.ask", offered=False),
}
ACTION_IDS = tuple(ACTIONS)
ADVERTISED_KINDS = [lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Refactor, lsp.CodeActionKind.RefactorRewrite]


class ActionFailed(Exception):
    """The action produced nothing to apply; the message says why."""


@dataclass(frozen=True)
class ActionResult:
    edit: lsp.WorkspaceEdit | None
    text: str  # the explanation, or the new code


def wanted(kind: str, only: list[str] | None) -> bool:
    return not only or any(kind == o or kind.startswith(o + ".") for o in only)


def offered_actions(has_diagnostics: bool, only: list[str] | None) -> list[str]:
    """Action ids for a range; listing never calls the model."""
    return [
        a for a, spec in ACTIONS.items() if spec.offered and (a != "fix" or has_diagnostics) and wanted(spec.kind, only)
    ]


def target_lines(doc: Snapshot, range_: lsp.Range) -> tuple[int, int]:
    """Whole lines the action rewrites: the selection's, or the cursor's function (else line)."""
    lines = split_lines(doc.text)
    start, end = sorted([(range_.start.line, range_.start.character), (range_.end.line, range_.end.character)])
    first, last = min(start[0], len(lines) - 1), min(end[0], len(lines) - 1)
    if start == end:
        return enclosing_block(doc.text, first)
    if end[1] == 0 and last > first:
        last -= 1  # a selection ending at a line start does not include that line
    return max(first, 0), last


def line_range(doc: Snapshot, first: int, last: int) -> lsp.Range:
    lines = split_lines(doc.text)
    if last + 1 < len(lines):
        end = lsp.Position(line=last + 1, character=0)
    else:
        end = lsp.Position(line=last, character=len(lines[last].encode("utf-16-le")) // 2)
    return lsp.Range(start=lsp.Position(line=first, character=0), end=end)


async def run_action(
    model: Engine,
    doc: Snapshot,
    action: str,
    range_: lsp.Range,
    options: Options,
    diagnostics: list[Diagnostic] = (),
    instruction: str = "",
    other_files: list[tuple[str, str]] = (),
) -> ActionResult:
    """Generate the action's answer and the edit that applies it to `doc` as it was."""
    doc.check_usable()
    language = language_for(doc.language_id, doc.path)
    lines = split_lines(doc.text)
    diagnostics = [
        replace(d, line_text=line_body(lines[d.line])) if 0 <= d.line < len(lines) else d for d in diagnostics
    ]
    first, last = target_lines(doc, range_)
    target = line_range(doc, first, last)
    gen = options.actions

    def framing(ctx, ex):
        turns = action_messages(action, ctx, language, doc.path, diagnostics, instruction, ex, options.system_prompt)
        start = action_answer_start(action, ctx, language)
        return [*turns, {"role": "assistant", "content": start}] if start else turns

    others = list(other_files)[: options.other_files]
    start, end = (target.start.line, 0), (target.end.line, target.end.character)
    ctx, prompt, prefill = build_prompt(
        model, doc.text, start, end, framing, options.context_tokens, gen.max_new_tokens, others
    )
    reply = await answer(model, prompt, gen.sampling(), until_code_block=action != "explain", prefill=prefill)
    newline = newline_of(ctx.selection if any(c in ctx.selection for c in "\r\n") else doc.text)

    if action == "explain":
        text = reply.strip()
        if not text:
            raise ActionFailed("The model gave no explanation.")
        indent = ctx.selection[: len(ctx.selection) - len(ctx.selection.lstrip(" \t"))]
        block = comment_block(text, language, indent, newline=newline)
        return ActionResult(insert_at(doc.uri, doc.version, target.start, block), text)
    if action == "tests":
        code = extract_code(reply, language.tags)
        if not code or not code.strip():
            raise ActionFailed("The model's answer held no test code; nothing was changed.")
        tests = newline + code.strip("\n").replace("\n", newline) + newline
        lead = "" if ctx.selection.endswith(("\n", "\r")) else newline
        return ActionResult(insert_at(doc.uri, doc.version, target.end, lead + tests), code)
    new_text = clean_replacement(reply, ctx.selection, language, newline)
    if new_text is None:
        raise ActionFailed("The model's answer held no code; nothing was changed.")
    if action == "doc":
        new_text = documented(ctx.selection, new_text, language)
        if new_text is None:
            raise ActionFailed("The model's documentation was left unfinished; nothing was changed.")
    if new_text == ctx.selection:
        raise ActionFailed("The model suggested no changes.")
    return ActionResult(replace_range(doc.uri, doc.version, target, new_text), new_text)
