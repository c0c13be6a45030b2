"""Chat turns for inline completions and code actions, and the token budget of a prompt.

Instruct checkpoints (CodeLlama-70B-Instruct among them) have no infilling, so a completion is an
instruction: the file is shown with the cursor marked, and the answer is asked for as one fenced
code block. The turns are plain messages; the checkpoint's own chat template renders them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .context import (
    CodeContext,
    ContextTooLarge,
    CountTokens,
    Excerpt,
    Position,
    other_file_excerpts,
    surrounding_code,
)
from .languages import Language, language_for

CURSOR = "<CURSOR>"
SELECTION_START, SELECTION_END = "<SELECTION>", "</SELECTION>"
DEFAULT_ROLE = "You are an expert programmer and a careful, honest code assistant working inside the user's editor."

DEFAULT_WINDOW, MAX_WINDOW = 4096, 16384  # prompt + answer tokens
DEFAULT_ANSWER_TOKENS = 400
EXCERPT_SHARE = 0.25  # of the code budget, at most, for other open files
BOUNDARY_MARGIN = 8  # tokens that may merge differently where code meets the prompt's text
# Context that makes every optional note appear, at its longest, for measuring the fixed text.
NO_CODE = CodeContext("", "", "", 9_999_999, 9_999_999, True, True)

Message = dict[str, str]
Framing = Callable[[CodeContext, Sequence[Excerpt]], list[Message]]  # the request's turns for a context
EncodePrompt = Callable[[list[Message]], list[int]]  # token ids of the rendered chat (the model's template)


@dataclass(frozen=True)
class Diagnostic:
    line: int  # 0-based
    message: str
    severity: str = "error"
    source: str | None = None
    line_text: str = ""  # the line's code, to show the model where the problem is


def _turns(system: str, user: str) -> list[Message]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def fence_for(*texts: str) -> str:
    """A backtick fence longer than any backtick run in the texts."""
    longest = max((len(run) for text in texts for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _plain_lines(text: str) -> str:
    """The prompt shows code with "\\n" line breaks whatever the file uses."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def system_turn(language: Language, path: str, system_prompt: str | None = None) -> str:
    """The role (or the user's own system prompt), the language and the file."""
    role = system_prompt.strip() if system_prompt and system_prompt.strip() else DEFAULT_ROLE
    return f"{role} The user is editing `{path}`, a {language.name} file. Put code in fenced Markdown code blocks."


def _fenced(fence: str, tag: str, code: str) -> str:
    body = code.removesuffix("\n")
    return f"{fence}{tag}\n{body}\n{fence}\n"


def _other_files(excerpts: Sequence[Excerpt]) -> str:
    parts = []
    for excerpt in excerpts:
        text, note = _plain_lines(excerpt.text), " (its beginning)" if excerpt.truncated else ""
        block = _fenced(fence_for(text), language_for(None, excerpt.path).fence, text)
        parts.append(f"Another open file, `{excerpt.path}`{note}:\n{block}\n")
    return "".join(parts)


def _shown_lines(ctx: CodeContext) -> str:
    if not (ctx.truncated_before or ctx.truncated_after):
        return ""
    return f" (lines {ctx.first_line + 1} to {ctx.last_line + 1} of the file)"


def inline_messages(
    ctx: CodeContext,
    language: Language,
    path: str,
    excerpts: Sequence[Excerpt] = (),
    system_prompt: str | None = None,
) -> list[Message]:
    """Turns asking for the code to insert at the cursor.

    The code after the cursor comes first and the code before it last, so the prompt only
    changes at its end while the user types: the engine's prefix cache reuses the rest.
    """
    prefix, suffix = _plain_lines(ctx.prefix), _plain_lines(ctx.suffix)
    fence = fence_for(prefix, suffix)
    if suffix.strip():
        code = (
            f"Here is `{path}`{_shown_lines(ctx)} in two parts, with the cursor marked as {CURSOR}. "
            "The code after the cursor:\n" + _fenced(fence, language.fence, CURSOR + suffix) + "\n"
            f"The code before the cursor, up to {CURSOR}:\n" + _fenced(fence, language.fence, prefix + CURSOR)
        )
    else:
        code = f"Here is `{path}`{_shown_lines(ctx)}, which ends at the cursor, marked as {CURSOR}:\n" + _fenced(
            fence, language.fence, prefix + CURSOR
        )
    user = _other_files(excerpts) + code + "\n" + inline_instruction(language, fence)
    return _turns(system_turn(language, path, system_prompt), user)


def inline_instruction(language: Language, fence: str) -> str:
    """What ghost text asks for, after the code (every inline layout ends with it)."""
    return (
        f"Write the code that belongs at {CURSOR}: finish the current line, and the statement or block it starts "
        f"if it is incomplete. Reply with only the code to insert, in one {fence}{language.fence} block. "
        f"Do not repeat the code before or after {CURSOR}, and do not explain."
    )


def _diagnostic_list(diagnostics: Sequence[Diagnostic]) -> str:
    items = []
    for d in diagnostics:
        where = f"line {d.line + 1}" + (f" (`{d.line_text.strip()}`)" if d.line_text.strip() else "")
        items.append(f"\n- {where}: {d.severity}: {d.message}" + (f" [{d.source}]" if d.source else ""))
    return "".join(items)


def action_instruction(
    action: str, language: Language, diagnostics: Sequence[Diagnostic] = (), instruction: str = ""
) -> str:
    """What an action asks of the model, before the answer format."""
    if action == "explain":
        return (
            "Explain what the selected code does, for a colleague about to change it: its purpose, how it works, "
            "and anything surprising or risky. Be concise: at most three short paragraphs of plain text, "
            "without Markdown headings, lists or code blocks."
        )
    if action == "fix":
        if not diagnostics:
            return "Find and fix the bugs in the selected code. Change only what the fixes need."
        problems = _diagnostic_list(diagnostics)
        return f"Fix these problems in the selected code:{problems}\n\nChange only what the fixes need."
    if action == "doc":
        return (
            f"Document the selected code with {language.doc_style} for each function, class or module it defines, "
            f"following {language.name} conventions. Do not change the code itself."
        )
    if action == "tests":
        framework = language.test_framework
        return f"Write unit tests for the selected code with {framework}, covering normal cases, edge cases and errors."
    if action == "refactor":
        return "Refactor the selected code to be simpler and clearer, keeping its behaviour exactly the same."
    if action == "ask":
        return f"Do this with the selected code: {instruction.strip()}"
    raise ValueError(f"unknown action {action!r}")


def _answer_format(action: str, language: Language, fence: str) -> str:
    if action == "explain":
        return ""  # plain text, as its instruction says
    if action == "tests":
        return (
            f"\n\nReply with only the test code (it goes after the selected code) in one {fence}{language.fence} block."
        )
    return (
        f"\n\nReply with the complete new version of the selected code, only what replaces the text between "
        f"{SELECTION_START} and {SELECTION_END} (without those markers), with its indentation, "
        f"in one {fence}{language.fence} block."
    )


def action_messages(
    action: str,
    ctx: CodeContext,
    language: Language,
    path: str,
    diagnostics: Sequence[Diagnostic] = (),
    instruction: str = "",
    excerpts: Sequence[Excerpt] = (),
    system_prompt: str | None = None,
) -> list[Message]:
    """Turns for explain, fix, doc, tests, refactor or ask, with the selection marked in its file."""
    prefix, selection, suffix = _plain_lines(ctx.prefix), _plain_lines(ctx.selection), _plain_lines(ctx.suffix)
    fence = fence_for(prefix, selection, suffix)
    user = (
        _other_files(excerpts)
        + f"Here is `{path}`{_shown_lines(ctx)}, "
        + f"with the selected code between {SELECTION_START} and {SELECTION_END}:\n"
        + _fenced(fence, language.fence, prefix + SELECTION_START + selection + SELECTION_END + suffix)
        + f"\n{action_instruction(action, language, diagnostics, instruction)}"
        + _answer_format(action, language, fence)
    )
    return _turns(system_turn(language, path, system_prompt), user)


def prefill_of(messages: list[Message]) -> str:
    """The answer's start when the turns end with one (an assistant turn), else ""."""
    return messages[-1]["content"] if messages and messages[-1]["role"] == "assistant" else ""


@dataclass(frozen=True)
class PromptBudget:
    """How a context window splits between the answer, the prompt's fixed text and the code."""

    window: int  # prompt + answer tokens
    answer_tokens: int  # the answer's max_new_tokens
    overhead: int  # tokens of the prompt without any code: chat template, instructions, excerpts
    margin: int = BOUNDARY_MARGIN

    @property
    def prompt_tokens(self) -> int:
        return self.window - self.answer_tokens

    @property
    def code_tokens(self) -> int:
        """Tokens left for the code around the cursor or selection."""
        return max(self.prompt_tokens - self.overhead - self.margin, 0)


def measure_budget(
    framing: Framing, encode_prompt: EncodePrompt, window: int, answer_tokens: int, excerpts: Sequence[Excerpt] = ()
) -> PromptBudget:
    """The budget for code once the request's fixed text (and `excerpts`) is measured with the tokenizer."""
    if not 0 < answer_tokens < window <= MAX_WINDOW:
        raise ValueError(f"need 0 < answer tokens ({answer_tokens}) < window ({window}) <= {MAX_WINDOW}")
    return PromptBudget(window, answer_tokens, len(encode_prompt(framing(NO_CODE, list(excerpts)))))


@dataclass(frozen=True)
class FittedPrompt:
    context: CodeContext
    excerpts: list[Excerpt]
    messages: list[Message]
    ids: list[int]  # the messages' token ids as `encode_prompt` gave them: what the model is asked
    budget: PromptBudget

    @property
    def prompt_tokens(self) -> int:  # at most budget.prompt_tokens
        return len(self.ids)


def fit_prompt(
    framing: Framing,
    text: str,
    start: Position,
    end: Position | None,
    encode_prompt: EncodePrompt,
    count_tokens: CountTokens,
    window: int = DEFAULT_WINDOW,
    answer_tokens: int = DEFAULT_ANSWER_TOKENS,
    other_files: Sequence[tuple[str, str]] = (),
) -> FittedPrompt:
    """The largest prompt for the range that leaves `answer_tokens` of `window` for the answer.

    Other open files get at most EXCERPT_SHARE of the code budget; the code around the
    range gets the rest. Raises ContextTooLarge when the selection (or the fixed text) does not fit.
    The prompt is encoded once, as it is measured; its ids go to the model as they are.
    """

    def count_as_shown(code: str) -> int:
        return count_tokens(_plain_lines(code))

    first = measure_budget(framing, encode_prompt, window, answer_tokens)
    excerpts = other_file_excerpts(other_files, int(first.code_tokens * EXCERPT_SHARE), count_as_shown)
    budget = measure_budget(framing, encode_prompt, window, answer_tokens, excerpts)
    code_tokens = budget.code_tokens
    while True:
        ctx = surrounding_code(text, start, end, code_tokens, count_as_shown)
        messages = framing(ctx, excerpts)
        ids = encode_prompt(messages)
        tokens = len(ids)
        if tokens <= budget.prompt_tokens:
            return FittedPrompt(ctx, excerpts, messages, ids, budget)
        if not ctx.text:
            leaves = budget.prompt_tokens
            raise ContextTooLarge(f"the prompt takes {tokens} tokens without any code; the window leaves {leaves}")
        code_tokens = max(code_tokens - (tokens - budget.prompt_tokens), 0)  # the code cost more inside the prompt
