"""Languages, chat turns for completions and actions, and the prompt's token budget."""

from __future__ import annotations

import pytest

from codellama_lsp.server.context import CodeContext, ContextTooLarge, Excerpt
from codellama_lsp.server.languages import KNOWN, language_for
from codellama_lsp.server.prompts import (
    DEFAULT_ROLE,
    NO_CODE,
    Diagnostic,
    PromptBudget,
    action_messages,
    fence_for,
    fit_prompt,
    inline_messages,
    measure_budget,
    system_turn,
)
from tests.conftest import TOKENIZER_DIR

PY = language_for("python")
AT_CURSOR = CodeContext("def add(a, b):\n    ", "", "\n\nprint(add(1, 2))\n", 0, 3, False, False)
SELECTED = CodeContext("import os\n\n", "def f(x):\n    return x + y\n", "\nf(1)\n", 0, 5, False, False)


# --- languages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language_id", "path", "expected", "line_comment", "doc_style_mentions"),
    [
        ("python", "", "Python", "#", "docstrings"),
        ("javascript", "", "JavaScript", "//", "JSDoc /** */"),
        ("typescriptreact", "", "TypeScript (TSX)", "//", "TSDoc /** */"),
        ("rust", "", "Rust", "//", "///"),
        ("go", "", "Go", "//", "// doc comments"),
        ("lua", "", "Lua", "--", "---"),
        ("shell", "", "Shell", "#", "#"),
        ("csharp", "", "C#", "//", "/// XML"),
        (None, "/src/lib.rs", "Rust", "//", "///"),
        ("", "/repo/Makefile", "Makefile", "#", "#"),
        ("plaintext", "/notes.txt", "plain text", None, "prose"),
    ],
)
def test_language_for_ids_aliases_and_file_names(language_id, path, expected, line_comment, doc_style_mentions):
    language = language_for(language_id, path)
    assert (language.name, language.line_comment) == (expected, line_comment)
    assert doc_style_mentions in language.doc_style


def test_every_common_language_has_comment_syntax_and_a_fence_tag():
    common = (
        "python javascript typescript typescriptreact javascriptreact rust go c cpp java kotlin csharp ruby php lua "
        "shellscript swift scala haskell sql html css yaml toml markdown"
    )
    for language_id in common.split():
        language = language_for(language_id)
        assert language.id == language_id and language.fence
        assert language.line_comment or language.block_comment
    assert len({language.id for language in KNOWN}) == len(KNOWN)


def test_an_unknown_language_keeps_its_name_and_assumes_no_comment_syntax():
    language = language_for("Zig", "/a/b.zig")
    assert (language.id, language.name, language.fence, language.line_comment, language.block_comment) == (
        "zig",
        "Zig",
        "zig",
        None,
        None,
    )
    assert language_for(None, "/a/noext").name == "plain text"


def test_fence_tags_include_aliases():
    assert language_for("python").tags == ("python", "python", "py", "python3")
    assert "ts" in language_for("typescript").tags


# --- turns ---------------------------------------------------------------------------------


def test_system_turn_names_role_language_and_path():
    assert system_turn(PY, "src/calc.py") == (
        f"{DEFAULT_ROLE} The user is editing `src/calc.py`, a Python file. Put code in fenced Markdown code blocks."
    )
    assert system_turn(PY, "a.py", "  You write terse Go.  ").startswith(
        "You write terse Go. The user is editing `a.py`"
    )
    assert system_turn(PY, "a.py", "   ").startswith(DEFAULT_ROLE)


def test_inline_prompt_marks_the_cursor_in_the_file():
    system, user = inline_messages(AT_CURSOR, PY, "src/calc.py")
    assert system == {"role": "system", "content": system_turn(PY, "src/calc.py")}
    assert user == {
        "role": "user",
        "content": "Here is `src/calc.py` in two parts, with the cursor marked as <CURSOR>. "
        "The code after the cursor:\n"
        "```python\n<CURSOR>\n\nprint(add(1, 2))\n```\n\n"
        "The code before the cursor, up to <CURSOR>:\n"
        "```python\ndef add(a, b):\n    <CURSOR>\n```\n\n"
        "Write the code that belongs at <CURSOR>: finish the current line, and the statement or block it starts "
        "if it is incomplete. Reply with only the code to insert, in one ```python block. "
        "Do not repeat the code before or after <CURSOR>, and do not explain.",
    }


def test_inline_prompt_with_other_files_backticks_crlf_and_a_cut_file():
    ctx = CodeContext("s = '```'\r\nx = ", "", "\r\ny = 2\r\n", 10, 12, True, True)
    excerpts = [Excerpt("/w/util.ts", "export const a = 1;\n", truncated=True)]
    user = inline_messages(ctx, PY, "/w/a.py", excerpts, system_prompt="Be brief.")[1]["content"]
    assert user.startswith(
        "Another open file, `/w/util.ts` (its beginning):\n```typescript\nexport const a = 1;\n```\n\n"
        "Here is `/w/a.py` (lines 11 to 13 of the file) in two parts, with the cursor marked as <CURSOR>. "
        "The code after the cursor:\n"
        "````python\n<CURSOR>\ny = 2\n````\n\n"
        "The code before the cursor, up to <CURSOR>:\n"
        "````python\ns = '```'\nx = <CURSOR>\n````\n\n"
    )
    assert "in one ````python block" in user


def test_inline_prompt_at_the_end_of_a_file_is_one_block():
    ctx = CodeContext("def add(a, b):\n    ", "", "\n", 0, 1, False, False)
    user = inline_messages(ctx, PY, "a.py")[1]["content"]
    assert user.startswith(
        "Here is `a.py`, which ends at the cursor, marked as <CURSOR>:\n"
        "```python\ndef add(a, b):\n    <CURSOR>\n```\n\n"
    )


def test_typing_at_the_cursor_changes_only_the_end_of_the_inline_prompt():
    before = inline_messages(CodeContext("x = 1\ny = ", "", "\nz = 3\n", 0, 2, False, False), PY, "a.py")[1]["content"]
    after = inline_messages(CodeContext("x = 1\ny = fo", "", "\nz = 3\n", 0, 2, False, False), PY, "a.py")[1]["content"]
    shared = next(i for i, (a, b) in enumerate(zip(before, after)) if a != b)
    assert before[:shared].endswith("```python\nx = 1\ny = ")  # everything up to the cursor is unchanged
    assert "z = 3" in before[:shared]


def test_fence_for_outgrows_backtick_runs():
    assert fence_for("plain") == "```"
    assert fence_for("a ``` b", "c `````") == "``````"


def test_fix_prompt_lists_diagnostics_with_their_lines():
    diagnostics = [
        Diagnostic(3, "undefined name 'y'", "error", "pyflakes", line_text="    return x + y"),
        Diagnostic(2, "missing docstring", "hint"),
    ]
    user = action_messages("fix", SELECTED, PY, "src/f.py", diagnostics)[1]["content"]
    assert user == (
        "Here is `src/f.py`, with the selected code between <SELECTION> and </SELECTION>:\n"
        "```python\nimport os\n\n<SELECTION>def f(x):\n    return x + y\n</SELECTION>\nf(1)\n```\n\n"
        "Fix these problems in the selected code:\n"
        "- line 4 (`return x + y`): error: undefined name 'y' [pyflakes]\n"
        "- line 3: hint: missing docstring\n\n"
        "Change only what the fixes need.\n\n"
        "Reply with the complete new version of the selected code, only what replaces the text between "
        "<SELECTION> and </SELECTION> (without those markers), with its indentation, in one ```python block."
    )


@pytest.mark.parametrize(
    ("action", "language_id", "instruction", "says"),
    [
        ("fix", "python", "", "Find and fix the bugs in the selected code."),
        ("doc", "rust", "", "Document the selected code with /// doc comments for each function"),
        ("doc", "python", "", 'with docstrings ("""...""", PEP 257)'),
        ("tests", "go", "", "Write unit tests for the selected code with the testing package"),
        (
            "tests",
            "python",
            "",
            "Reply with only the test code (it goes after the selected code) in one ```python block.",
        ),
        ("refactor", "java", "", "simpler and clearer, keeping its behaviour exactly the same"),
        (
            "ask",
            "python",
            "  use pathlib instead of os.path  ",
            "Do this with the selected code: use pathlib instead of os.path\n",
        ),
        ("doc", "typescript", "", "in one ```typescript block."),
    ],
)
def test_each_action_says_what_it_wants(action, language_id, instruction, says):
    user = action_messages(action, SELECTED, language_for(language_id), "f", instruction=instruction)[1]["content"]
    assert says in user


def test_explain_asks_for_plain_text_only():
    user = action_messages("explain", SELECTED, PY, "f.py")[1]["content"]
    assert user.endswith(
        "Be concise: at most three short paragraphs of plain text, without Markdown headings, lists or code blocks."
    )
    assert "Reply with" not in user


def test_unknown_actions_are_refused():
    with pytest.raises(ValueError, match="unknown action 'rewrite'"):
        action_messages("rewrite", SELECTED, PY, "f.py")


# --- budget ---------------------------------------------------------------------------------


def content_chars(messages: list[dict]) -> list[int]:
    """A stand-in chat template: one token per character of every turn."""
    return [ord(c) for m in messages for c in m["content"]]


def inline_framing(ctx, excerpts):
    return inline_messages(ctx, PY, "a.py", excerpts)


def test_budget_defaults_leave_3696_prompt_tokens():
    budget = PromptBudget(4096, 400, overhead=300)
    assert (budget.prompt_tokens, budget.code_tokens) == (3696, 3696 - 300 - 8)
    assert PromptBudget(1000, 400, overhead=900).code_tokens == 0


def test_measure_budget_counts_the_prompt_without_code():
    budget = measure_budget(inline_framing, content_chars, 4096, 400)
    assert budget.overhead == len(content_chars(inline_framing(NO_CODE, [])))
    excerpt = Excerpt("b.py", "x = 1\n", False)
    with_excerpt = measure_budget(inline_framing, content_chars, 4096, 400, [excerpt])
    assert with_excerpt.overhead == budget.overhead + len("Another open file, `b.py`:\n```python\nx = 1\n```\n\n")


@pytest.mark.parametrize(("window", "answer"), [(4096, 4096), (4096, 0), (16385, 400)])
def test_measure_budget_rejects_impossible_windows(window, answer):
    with pytest.raises(ValueError, match="need 0 < answer tokens"):
        measure_budget(inline_framing, content_chars, window, answer)


def test_fit_prompt_fills_the_window_with_stand_in_counts():
    text = "".join(f"row_{i} = {i}\n" for i in range(2000))
    others = [("b.py", "".join(f"b{i} = {i}\n" for i in range(500)))]
    fitted = fit_prompt(inline_framing, text, (1000, 3), None, content_chars, len, 4096, 400, others)
    assert fitted.ids == content_chars(fitted.messages) and fitted.prompt_tokens <= 3696
    assert fitted.prompt_tokens >= 3696 - 40  # the margin, whole lines, and line numbers shorter than measured
    assert (
        sum(len(e.text) for e in fitted.excerpts)
        <= (3696 - measure_budget(inline_framing, content_chars, 4096, 400).overhead) // 4
    )
    assert fitted.context.prefix.endswith("row_999 = 999\nrow")


def test_fit_prompt_refuses_when_the_fixed_text_alone_is_too_long():
    with pytest.raises(ContextTooLarge, match="without any code"):
        fit_prompt(inline_framing, "x = 1\n", (0, 0), None, lambda m: [0] * 5000, len, 4096, 400)


@pytest.fixture(scope="module")
def tokenizer():
    pytest.importorskip("transformers")
    if not (TOKENIZER_DIR / "tokenizer.json").exists():
        pytest.skip("the CodeLlama tokenizer fixture is missing")
    from codellama_lsp.engine.tokenizer import load_tokenizer

    return load_tokenizer(TOKENIZER_DIR)


@pytest.mark.parametrize(("window", "answer"), [(4096, 400), (16384, 400), (1024, 128)])
def test_fit_prompt_with_the_real_tokenizer_stays_inside_the_window(tokenizer, window, answer):
    from codellama_lsp.engine.tokenizer import encode_chat

    def encode_prompt(messages):
        return encode_chat(tokenizer, messages)

    def count_tokens(text):
        return len(tokenizer.encode(text, add_special_tokens=False))

    text = "".join(
        f"def handler_{i}(request):\r\n\t# 😀 réponse {i}\r\n\treturn render(request, '{i}.html')\r\n\r\n"
        for i in range(800)
    )
    others = [("util.js", "export const helper = (a) => a * 2;\n" * 300)]

    def framing(ctx, excerpts):
        return action_messages("refactor", ctx, PY, "views.py", excerpts=excerpts)

    fitted = fit_prompt(framing, text, (1600, 0), (1602, 0), encode_prompt, count_tokens, window, answer, others)
    # at most the margin, the notes measured at their longest and part of a line go unused
    assert window - answer - 80 <= fitted.prompt_tokens <= window - answer
    assert fitted.ids == encode_prompt(fitted.messages)  # what the model is asked is what was measured
    assert fitted.context.selection == "def handler_400(request):\r\n\t# 😀 réponse 400\r\n"
    assert fitted.excerpts and fitted.excerpts[0].truncated
