"""What the prompts and edits need to know about a language: its name and comment syntax."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class Language:
    id: str
    name: str
    line_comment: str | None = "//"
    block_comment: tuple[str, str] | None = ("/*", "*/")
    doc_style: str = "a doc comment"
    test_framework: str = "the usual test framework"
    fence: str = ""  # language tag for Markdown code fences


def _lang(id_: str, name: str, **kw) -> Language:
    return Language(id_, name, fence=kw.pop("fence", id_), **kw)


LANGUAGES = {
    lang.id: lang
    for lang in [
        _lang("python", "Python", line_comment="#", block_comment=None, doc_style="docstrings (PEP 257)", test_framework="pytest"),
        _lang("javascript", "JavaScript", doc_style="JSDoc /** */ comments", test_framework="Jest"),
        _lang("javascriptreact", "JavaScript (JSX)", doc_style="JSDoc /** */ comments", test_framework="Jest", fence="jsx"),
        _lang("typescript", "TypeScript", doc_style="TSDoc /** */ comments", test_framework="Jest", fence="ts"),
        _lang("typescriptreact", "TypeScript (TSX)", doc_style="TSDoc /** */ comments", test_framework="Jest", fence="tsx"),
        _lang("rust", "Rust", doc_style="/// doc comments", test_framework="#[cfg(test)] unit tests"),
        _lang("go", "Go", doc_style="// doc comments starting with the name", test_framework="the testing package"),
        _lang("c", "C", doc_style="Doxygen /** */ comments", test_framework="assert-based tests"),
        _lang("cpp", "C++", doc_style="Doxygen /** */ comments", test_framework="GoogleTest"),
        _lang("java", "Java", doc_style="Javadoc /** */ comments", test_framework="JUnit 5"),
        _lang("kotlin", "Kotlin", doc_style="KDoc /** */ comments", test_framework="JUnit 5"),
        _lang("csharp", "C#", doc_style="/// XML doc comments", test_framework="xUnit", fence="cs"),
        _lang("swift", "Swift", doc_style="/// doc comments", test_framework="XCTest"),
        _lang("scala", "Scala", doc_style="Scaladoc /** */ comments", test_framework="ScalaTest"),
        _lang("php", "PHP", doc_style="PHPDoc /** */ comments", test_framework="PHPUnit"),
        _lang("ruby", "Ruby", line_comment="#", block_comment=None, doc_style="YARD comments", test_framework="RSpec"),
        _lang("lua", "Lua", line_comment="--", block_comment=("--[[", "]]"), doc_style="--- LuaLS annotations", test_framework="busted"),
        _lang("shellscript", "Shell", line_comment="#", block_comment=None, doc_style="# comments", test_framework="bats", fence="sh"),
        _lang("haskell", "Haskell", line_comment="--", block_comment=("{-", "-}"), doc_style="Haddock -- | comments", test_framework="Hspec"),
        _lang("sql", "SQL", line_comment="--", doc_style="-- comments"),
        _lang("html", "HTML", line_comment=None, block_comment=("<!--", "-->"), doc_style="<!-- --> comments"),
        _lang("css", "CSS", line_comment=None, doc_style="/* */ comments"),
        _lang("yaml", "YAML", line_comment="#", block_comment=None, doc_style="# comments"),
        _lang("toml", "TOML", line_comment="#", block_comment=None, doc_style="# comments"),
        _lang("markdown", "Markdown", line_comment=None, block_comment=("<!--", "-->"), doc_style="prose"),
        _lang("plaintext", "plain text", line_comment=None, block_comment=None, doc_style="prose", fence="text"),
    ]
}

EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascriptreact", ".ts": "typescript", ".tsx": "typescriptreact", ".rs": "rust", ".go": "go",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".java": "java",
    ".kt": "kotlin", ".cs": "csharp", ".swift": "swift", ".scala": "scala", ".php": "php", ".rb": "ruby",
    ".lua": "lua", ".sh": "shellscript", ".bash": "shellscript", ".hs": "haskell", ".sql": "sql",
    ".html": "html", ".css": "css", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".md": "markdown",
}  # fmt: skip

ALIASES = {"sh": "shellscript", "bash": "shellscript", "zsh": "shellscript", "c++": "cpp", "cs": "csharp", "js": "javascript", "ts": "typescript", "py": "python"}


def language_for(language_id: str | None, path: str = "") -> Language:
    """The language of a document from its LSP languageId, else its file extension."""
    key = ALIASES.get(language_id or "", language_id or "")
    if key in LANGUAGES:
        return LANGUAGES[key]
    by_extension = EXTENSIONS.get(PurePath(path).suffix.lower())
    if by_extension:
        return LANGUAGES[by_extension]
    name = language_id or "plaintext"
    return Language(name, name, line_comment="#" if name in ("perl", "r", "elixir", "julia") else "//", fence=name)
