"""The ghost-text benchmark's cursor positions: reproducible, and each a real line of code cut mid-way."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from codellama_lsp.bench.quality import Position, Scores, sample_positions, score

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def test_positions_are_lines_of_the_standard_library_cut_mid_way():
    positions = sample_positions(STDLIB, 5, seed=1)
    assert positions == sample_positions(STDLIB, 5, seed=1)
    for p in positions:
        assert not {"test", "tests"} & set(Path(p.path).parts)
        original = (STDLIB / p.path).read_text(encoding="utf-8").split("\n")
        doc, line, character = p.doc()
        kept = doc.text.split("\n")
        assert kept[:line] == original[:line] and kept[line + 1 :] == original[line + 1 :]
        assert original[line].startswith(kept[line]) and kept[line].strip() and p.rest
        assert original[line][len(kept[line]) :].strip() == p.rest
        assert p.next_char == original[line][len(kept[line])]
        assert character == len(kept[line].encode("utf-16-le")) // 2


def test_a_suggestion_is_scored_on_its_first_line():
    position = Position("a.py", 0, "x = fo", "\n", "o(1)", "o")
    scores = Scores([], [], [], [], [], [], [])
    score(scores, position, "o(1)\ny = 2")
    score(scores, position, "")
    assert scores.exact == [True, False] and scores.empty == [False, True]
    assert scores.similarity[0] == 1.0 and scores.similarity[1] == 0.0
