"""What prompts and edits need to know about a language: its name, comments and conventions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

C_BLOCK = ("/*", "*/")


@dataclass(frozen=True)
class Language:
    id: str  # the LSP languageId
    name: str  # for people and prompts
    fence: str  # the Markdown code-fence tag
    line_comment: str | None = "//"
    block_comment: tuple[str, str] | None = C_BLOCK
    doc_style: str = "doc comments"  # how the language documents code, as an instruction says it
    test_framework: str = "the usual test framework"
    aliases: tuple[str, ...] = ()  # other ids and fence tags for the same language

    @property
    def tags(self) -> tuple[str, ...]:
        """Every name a code fence may use for this language."""
        return (self.id, self.fence, *self.aliases)


def _hash(id_: str, name: str, fence: str, doc_style: str, tests: str, aliases: tuple[str, ...] = ()) -> Language:
    """A language whose comments start with "#" and that has no block comments."""
    return Language(id_, name, fence, "#", None, doc_style, tests, aliases)


KNOWN = (
    Language("python", "Python", "python", "#", None, 'docstrings ("""...""", PEP 257)', "pytest", ("py", "python3")),
    Language(
        "javascript",
        "JavaScript",
        "javascript",
        doc_style="JSDoc /** */ comments",
        test_framework="Jest",
        aliases=("js", "node", "mjs"),
    ),
    Language(
        "javascriptreact",
        "JavaScript (JSX)",
        "jsx",
        doc_style="JSDoc /** */ comments",
        test_framework="Jest with React Testing Library",
    ),
    Language(
        "typescript",
        "TypeScript",
        "typescript",
        doc_style="TSDoc /** */ comments",
        test_framework="Jest",
        aliases=("ts",),
    ),
    Language(
        "typescriptreact",
        "TypeScript (TSX)",
        "tsx",
        doc_style="TSDoc /** */ comments",
        test_framework="Jest with React Testing Library",
    ),
    Language(
        "rust", "Rust", "rust", doc_style="/// doc comments", test_framework="a #[cfg(test)] module", aliases=("rs",)
    ),
    Language(
        "go",
        "Go",
        "go",
        doc_style="// doc comments that start with the name they describe",
        test_framework="the testing package",
        aliases=("golang",),
    ),
    Language("c", "C", "c", doc_style="Doxygen /** */ comments", test_framework="assert-based tests", aliases=("h",)),
    Language(
        "cpp",
        "C++",
        "cpp",
        doc_style="Doxygen /** */ comments",
        test_framework="GoogleTest",
        aliases=("c++", "cc", "cxx", "hpp"),
    ),
    Language("java", "Java", "java", doc_style="Javadoc /** */ comments", test_framework="JUnit 5"),
    Language("kotlin", "Kotlin", "kotlin", doc_style="KDoc /** */ comments", test_framework="JUnit 5", aliases=("kt",)),
    Language("csharp", "C#", "csharp", doc_style="/// XML doc comments", test_framework="xUnit", aliases=("cs", "c#")),
    Language("swift", "Swift", "swift", doc_style="/// doc comments", test_framework="XCTest"),
    Language("scala", "Scala", "scala", doc_style="Scaladoc /** */ comments", test_framework="ScalaTest"),
    Language("php", "PHP", "php", doc_style="PHPDoc /** */ comments", test_framework="PHPUnit"),
    Language("dart", "Dart", "dart", doc_style="/// doc comments", test_framework="package:test"),
    Language(
        "objective-c",
        "Objective-C",
        "objectivec",
        doc_style="/** */ comments",
        test_framework="XCTest",
        aliases=("objc",),
    ),
    Language("lua", "Lua", "lua", "--", ("--[[", "]]"), "--- LuaCATS annotations", "busted"),
    Language("haskell", "Haskell", "haskell", "--", ("{-", "-}"), "Haddock -- | comments", "Hspec", ("hs",)),
    Language("sql", "SQL", "sql", "--", C_BLOCK, "-- comments", "tests in the project's database test tool"),
    _hash("ruby", "Ruby", "ruby", "YARD # comments", "RSpec", ("rb",)),
    _hash("shellscript", "Shell", "sh", "# comments above each function", "bats", ("shell", "bash", "zsh", "sh")),
    _hash("perl", "Perl", "perl", "POD", "Test::More", ("pl",)),
    _hash("r", "R", "r", "roxygen2 #' comments", "testthat"),
    _hash("elixir", "Elixir", "elixir", "@doc attributes", "ExUnit", ("ex", "exs")),
    _hash("powershell", "PowerShell", "powershell", "comment-based help", "Pester", ("ps1",)),
    _hash("dockerfile", "Dockerfile", "dockerfile", "# comments", "a build check", ("docker",)),
    _hash("makefile", "Makefile", "makefile", "# comments", "a dry run (make -n)", ("make",)),
    _hash("yaml", "YAML", "yaml", "# comments", "a schema check", ("yml",)),
    _hash("toml", "TOML", "toml", "# comments", "a schema check"),
    Language("html", "HTML", "html", None, ("<!--", "-->"), "<!-- --> comments", "browser tests", ("htm",)),
    Language("css", "CSS", "css", None, C_BLOCK, "/* */ comments", "visual regression tests"),
    Language("markdown", "Markdown", "markdown", None, ("<!--", "-->"), "prose", "a link check", ("md",)),
    Language("json", "JSON", "json", None, None, "no comments (JSON has none)", "a schema check"),
    Language("plaintext", "plain text", "text", None, None, "prose", "a review", ("txt", "text")),
)
LANGUAGES = {language.id: language for language in KNOWN}
ALIASES = {alias: language for language in KNOWN for alias in (language.fence, *language.aliases)}
PLAINTEXT = LANGUAGES["plaintext"]

EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyw": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascriptreact", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript", ".tsx": "typescriptreact", ".rs": "rust", ".go": "go", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".java": "java", ".kt": "kotlin",
    ".kts": "kotlin", ".cs": "csharp", ".swift": "swift", ".scala": "scala", ".php": "php", ".dart": "dart",
    ".m": "objective-c", ".lua": "lua", ".hs": "haskell", ".sql": "sql", ".rb": "ruby", ".sh": "shellscript",
    ".bash": "shellscript", ".zsh": "shellscript", ".pl": "perl", ".r": "r", ".ex": "elixir", ".exs": "elixir",
    ".ps1": "powershell", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".html": "html", ".htm": "html",
    ".css": "css", ".md": "markdown", ".markdown": "markdown", ".json": "json", ".txt": "plaintext",
}  # fmt: skip
FILE_NAMES = {"dockerfile": "dockerfile", "makefile": "makefile", "gnumakefile": "makefile"}


def _by_path(path: str) -> Language | None:
    name = PurePath(path).name.lower()
    language_id = FILE_NAMES.get(name) or EXTENSIONS.get(PurePath(name).suffix)
    return LANGUAGES[language_id] if language_id else None


def language_for(language_id: str | None, path: str = "") -> Language:
    """A document's language from its LSP languageId, else its file name, else plain text.

    An id this table does not know keeps its name, with no comment syntax assumed.
    """
    key = (language_id or "").strip().lower()
    known = LANGUAGES.get(key) or ALIASES.get(key) or _by_path(path)
    if known is not None:
        return known
    if not key or key == "plaintext":
        return PLAINTEXT
    return Language(key, language_id.strip(), key, None, None, "doc comments", "the usual test framework")
