"""Ghost-text quality: the inline prompt layouts compared on real code with the demo model.

Cursor positions are sampled (seeded) from the lines of code of Python's own standard library,
which every Python ships, so anyone can reproduce the run. At each, the line is cut mid-way
and its rest removed: the document is the file up to the cursor, then the lines after that line.
`complete_inline` (the server's prompt and post-processing) answers with the demo model
(SmolLM2-135M-Instruct, 8-bit GPTQ), greedy. Per layout: exact match of the removed rest of the
line (the suggestion's first line, stripped), edit similarity (difflib ratio), empty answers,
suggestions that duplicate existing code, median latency, and the prefix cache's cost: the
prompt tokens computed again after one more typed character.

    python bench/quality.py            (or: codellama-lsp bench quality)
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import io
import platform
import random
import statistics
import sysconfig
import time
import tokenize
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import torch

from codellama_lsp.engine import load_model
from codellama_lsp.server.inline import complete_inline
from codellama_lsp.server.inline_layouts import LAYOUTS
from codellama_lsp.server.options import Options
from codellama_lsp.server.postprocess import duplicates_existing
from codellama_lsp.server.snapshot import Snapshot

SKIPPED_DIRS = {"test", "tests", "idle_test", "site-packages", "__pycache__"}
MAX_FILE_BYTES = 100_000  # larger files are mostly data (pydoc topics, unicode tables)
MIN_CODE_CHARS = 8  # shorter lines leave too little to cut


@dataclass(frozen=True)
class Position:
    path: str  # relative to the standard library
    line: int  # 0-based
    head: str  # the file up to the cursor
    tail: str  # the lines after the cursor's line (with the cursor line's break)
    rest: str  # the removed rest of the line, stripped
    next_char: str  # the line's character after the cursor (typed for the keystroke measure)

    def doc(self, typed: str = "") -> tuple[Snapshot, int, int]:
        """The document with `typed` after the cursor, and the cursor after it (line, UTF-16 character)."""
        head = self.head + typed
        snapshot = Snapshot(f"file:///stdlib/{self.path}", head + self.tail, None, "python")
        return snapshot, self.line, len(head.rpartition("\n")[2].encode("utf-16-le")) // 2


def stdlib_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        if SKIPPED_DIRS.isdisjoint(path.relative_to(root).parts[:-1]) and path.stat().st_size <= MAX_FILE_BYTES:
            files.append(path)
    return files


def code_lines(text: str) -> set[int]:
    """0-based lines where a name, number or operator starts (not comments, not inside strings)."""
    kinds = {tokenize.NAME, tokenize.NUMBER, tokenize.OP}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return set()
    return {t.start[0] - 1 for t in tokens if t.type in kinds}


def sample_positions(root: Path, n: int, seed: int) -> list[Position]:
    rng, files, positions, seen = random.Random(seed), stdlib_files(root), [], set()
    while len(positions) < n:
        path = rng.choice(files)
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        lines = text.split("\n")  # read_text gives "\n" line breaks, as tokenize counts lines
        candidates = sorted(i for i in code_lines(text) if len(lines[i].strip()) >= MIN_CODE_CHARS)
        if not candidates:
            continue
        i = rng.choice(candidates)
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        size = len(line.rstrip()) - indent
        cut = indent + rng.randint(max(1, size // 4), max(1, 3 * size // 4))
        rest = line[cut:].strip()
        if not rest or (path, i) in seen:
            continue
        seen.add((path, i))
        head, tail = "\n".join([*lines[:i], line[:cut]]), "\n".join(["", *lines[i + 1 :]])
        positions.append(Position(str(path.relative_to(root)), i, head, tail, rest, line[cut]))
    return positions


@dataclass
class Scores:
    exact: list[bool]
    similarity: list[float]
    empty: list[bool]
    duplicate: list[bool]
    latency: list[float]
    recomputed: list[int]  # prompt tokens computed again after one more typed character
    prompt: list[int]  # that prompt's tokens


def score(scores: Scores, position: Position, suggestion: str) -> None:
    first = suggestion.split("\n", 1)[0].strip()
    scores.exact.append(first == position.rest)
    scores.similarity.append(difflib.SequenceMatcher(None, first, position.rest).ratio())
    scores.empty.append(not suggestion.strip())
    scores.duplicate.append(bool(suggestion.strip()) and duplicates_existing(suggestion, position.head, position.tail))


async def suggest(model, position: Position, options: Options, layout: str, typed: str = "") -> str:
    doc, line, character = position.doc(typed)
    return (await complete_inline(model, doc, line, character, options, layout=layout)).text


async def after_keystroke(model, position: Position, options: Options, layout: str) -> tuple[float, int, int]:
    """Asked again once the line's next character is typed: (seconds, prompt tokens computed, prompt tokens)."""
    before, start = model.stats(), time.perf_counter()
    await suggest(model, position, options, layout, position.next_char)
    seconds, after = time.perf_counter() - start, model.stats()
    prompt = after["promptTokens"] - before["promptTokens"]
    return seconds, prompt - (after["reusedTokens"] - before["reusedTokens"]), prompt


async def run(model, positions: list[Position], options: Options, layouts: list[str], timed: int, concurrency: int):
    """Scores per layout. At the first `timed` positions, one request at a time, each layout answers,
    then answers again after one more typed character (timed, with the prompt tokens it computed).
    The other positions run `concurrency` at a time, each asking the layouts in turn."""
    scores = {name: Scores([], [], [], [], [], [], []) for name in layouts}
    await suggest(model, positions[0], options, layouts[0])  # warm-up
    for position in positions[:timed]:
        for name in layouts:
            score(scores[name], position, await suggest(model, position, options, name))
            seconds, recomputed, prompt = await after_keystroke(model, position, options, name)
            scores[name].latency.append(seconds)
            scores[name].recomputed.append(recomputed)
            scores[name].prompt.append(prompt)
    gate = asyncio.Semaphore(concurrency)

    async def each_layout(position: Position) -> list[str]:
        async with gate:
            return [await suggest(model, position, options, name) for name in layouts]

    rest = positions[timed:]
    for position, suggestions in zip(rest, await asyncio.gather(*map(each_layout, rest))):
        for name, suggestion in zip(layouts, suggestions):
            score(scores[name], position, suggestion)
    return scores


def table(scores: dict[str, Scores]) -> str:
    lines = [
        "| layout | exact match | edit similarity | empty | duplicates existing code "
        "| median latency after a keystroke | prompt tokens computed per keystroke |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        recomputed, prompt = statistics.mean(s.recomputed), statistics.mean(s.prompt)
        lines.append(
            f"| {name} | {statistics.mean(s.exact):.1%} | {statistics.mean(s.similarity):.3f} "
            f"| {statistics.mean(s.empty):.1%} | {statistics.mean(s.duplicate):.1%} "
            f"| {statistics.median(s.latency) * 1e3:.0f} ms "
            f"| {recomputed:.0f} of {prompt:.0f} ({recomputed / prompt:.0%}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=200, help="cursor positions sampled")
    parser.add_argument("--timed", type=int, default=10, help="positions timed one request at a time")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--context-tokens", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=8, help="requests at a time for the untimed positions")
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--model", default="demo", help="checkpoint folder or hub id (default: the demo model)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = Path(sysconfig.get_paths()["stdlib"])
    positions = sample_positions(root, args.positions, args.seed)
    inline = replace(Options().inline, temperature=0.0, max_new_tokens=args.max_new_tokens)
    options = replace(Options(), inline=inline, context_tokens=args.context_tokens)
    model = load_model(args.model)
    try:
        timed = min(args.timed, len(positions))
        scores = asyncio.run(run(model, positions, options, args.layouts, timed, args.concurrency))
    finally:
        model.close()
    print(
        f"{date.today()} · {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads · "
        f"Python {platform.python_version()} standard library · {len(positions)} positions (seed {args.seed}; "
        f"{timed} timed one at a time) · greedy, {args.max_new_tokens} new tokens, {args.context_tokens}-token "
        f"window · {time.perf_counter() - started:.0f} s"
    )
    print(table(scores))


if __name__ == "__main__":
    main()
