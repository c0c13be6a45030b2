"""Renders a terminal screen captured with ANSI colours (`tmux capture-pane -e -p -N`) as SVG.

Only SGR sequences (colours, bold, italic, underline, reverse) are understood; any other escape
sequence is dropped. Every cell is one monospace character box, so the picture keeps the
screen's layout whatever font the viewer substitutes (each run of text is stretched to its cells).

    python -m tests.editors.ansi_svg capture.txt screenshot.svg [CURSOR_COL CURSOR_ROW]
"""

from __future__ import annotations

import re
import sys
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from html import escape

# Neovim's default dark colour scheme (Normal): what cells without an explicit colour show.
DEFAULT_FG, DEFAULT_BG = "#e0e2ea", "#14161b"
BASIC = [
    "#000000",
    "#cd3131",
    "#0dbc79",
    "#e5e510",
    "#2472c8",
    "#bc3fbc",
    "#11a8cd",
    "#e5e5e5",
    "#666666",
    "#f14c4c",
    "#23d18b",
    "#f5f543",
    "#3b8eea",
    "#d670d6",
    "#29b8db",
    "#ffffff",
]
CELL_W, CELL_H, FONT_SIZE, PAD = 8.4, 18, 14, 12
FONT = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
FLAGS = {1: "bold", 3: "italic", 4: "underline", 7: "reverse"}
FLAGS_OFF = {22: "bold", 23: "italic", 24: "underline", 27: "reverse"}
ESCAPE = re.compile(r"\x1b\[([0-9;:]*)m|\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


@dataclass(frozen=True)
class Style:
    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False

    def colours(self) -> tuple[str, str]:
        fg, bg = self.fg or DEFAULT_FG, self.bg or DEFAULT_BG
        return (bg, fg) if self.reverse else (fg, bg)


@dataclass(frozen=True)
class Cell:
    char: str
    style: Style
    width: int = 1


def xterm_256(n: int) -> str:
    if n < 16:
        return BASIC[n]
    if n < 232:
        r, g, b = (n - 16) // 36, (n - 16) // 6 % 6, (n - 16) % 6
        level = [0, 95, 135, 175, 215, 255]
        return f"#{level[r]:02x}{level[g]:02x}{level[b]:02x}"
    grey = 8 + (n - 232) * 10
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def extended_colour(parts: list[int]) -> str | None:
    """The colour of `5;n` or `2;r;g;b` (the part after 38 or 48), or None."""
    if parts[:1] == [5] and len(parts) >= 2:
        return xterm_256(parts[1])
    if parts[:1] == [2] and len(parts) >= 4:
        r, g, b = parts[-3:]
        return f"#{r:02x}{g:02x}{b:02x}"
    return None


def apply_sgr(style: Style, params: str) -> Style:
    groups = params.split(";") if params else ["0"]
    i = 0
    while i < len(groups):
        parts = [int(p) if p else 0 for p in groups[i].split(":")]
        c = parts[0]
        i += 1
        if c in (38, 48):
            if len(parts) == 1:  # 38;5;n or 38;2;r;g;b: the colour takes the next groups
                size = 2 if groups[i : i + 1] == ["5"] else 4
                parts, i = [c, *(int(p or 0) for p in groups[i : i + size])], i + size
            colour = extended_colour(parts[1:])
            if colour is not None:
                style = replace(style, **{"fg" if c == 38 else "bg": colour})
        elif c == 0:
            style = Style()
        elif c in FLAGS:
            style = replace(style, **{FLAGS[c]: True})
        elif c in FLAGS_OFF:
            style = replace(style, **{FLAGS_OFF[c]: False})
        elif 30 <= c <= 37 or 90 <= c <= 97:
            style = replace(style, fg=BASIC[c - 30 if c < 90 else c - 82])
        elif 40 <= c <= 47 or 100 <= c <= 107:
            style = replace(style, bg=BASIC[c - 40 if c < 100 else c - 92])
        elif c in (39, 49):
            style = replace(style, **{"fg" if c == 39 else "bg": None})
    return style


def parse(capture: str) -> list[list[Cell]]:
    """The screen as rows of cells; the style carries over from one line to the next, as in tmux."""
    rows, style = [], Style()
    for line in capture.rstrip("\n").split("\n"):
        row, pos = [], 0
        for m in [*ESCAPE.finditer(line), None]:
            text = line[pos : m.start() if m else len(line)]
            row += [Cell(ch, style, 2 if unicodedata.east_asian_width(ch) in "WF" else 1) for ch in text]
            if m is not None:
                style = apply_sgr(style, m.group(1)) if m.group(1) is not None else style
                pos = m.end()
        rows.append(row)
    return rows


def text_rows(rows: list[list[Cell]]) -> list[str]:
    return ["".join(cell.char for cell in row).rstrip() for row in rows]


def runs(row: list[Cell]):
    """(first column, cells) for each stretch of cells with one style."""
    col, start, current = 0, 0, []
    for cell in row:
        if current and cell.style != current[0].style:
            yield start, current
            start, current = col, []
        current.append(cell)
        col += cell.width
    if current:
        yield start, current


def render_svg(rows: list[list[Cell]], cursor: tuple[int, int] | None = None, title: str = "") -> str:
    """An SVG picture of the screen; `cursor` (column, row) is drawn as an insert-mode bar."""
    columns = max((sum(c.width for c in row) for row in rows), default=0)
    width, height = columns * CELL_W + 2 * PAD, len(rows) * CELL_H + 2 * PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}">',
        f"<title>{escape(title)}</title>" if title else "",
        f'<rect width="100%" height="100%" rx="6" fill="{DEFAULT_BG}"/>',
        f'<g font-family="{escape(FONT)}" font-size="{FONT_SIZE}" xml:space="preserve">',
    ]
    for y, row in enumerate(rows):
        top = PAD + y * CELL_H
        for x, cells in runs(row):
            fg, bg = cells[0].style.colours()
            cells_w = sum(c.width for c in cells) * CELL_W
            if bg != DEFAULT_BG:
                out.append(
                    f'<rect x="{PAD + x * CELL_W:g}" y="{top}" width="{cells_w:g}" height="{CELL_H}" fill="{bg}"/>'
                )
            s = cells[0].style
            attrs = (
                ' font-weight="bold"' * s.bold
                + ' font-style="italic"' * s.italic
                + ' text-decoration="underline"' * s.underline
            )
            text = "".join(
                c.char if c.width == 1 else c.char + "\0" for c in cells
            )  # "\0" holds a wide char's second cell
            for chunk in re.finditer(
                r"\S+(?: \S+)*", text
            ):  # words with single spaces between: each is placed on its cells
                left, chars = PAD + (x + chunk.start()) * CELL_W, chunk.group().replace("\0", "")
                out.append(
                    f'<text x="{left:g}" y="{top + CELL_H - 5}" fill="{fg}" '
                    f'textLength="{len(chunk.group()) * CELL_W:g}" '
                    f'lengthAdjust="spacingAndGlyphs"{attrs}>{escape(chars)}</text>'
                )
    if cursor is not None:
        col, row = cursor
        out.append(
            f'<rect x="{PAD + col * CELL_W:g}" y="{PAD + row * CELL_H}" '
            f'width="2" height="{CELL_H}" fill="{DEFAULT_FG}"/>'
        )
    out += ["</g>", "</svg>"]
    return "\n".join(filter(None, out)) + "\n"


def svg_rows(svg: str) -> list[str]:
    """The text of each screen row, read back from an SVG made by `render_svg`."""
    root = ET.fromstring(svg)
    placed: dict[int, dict[int, str]] = {}
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        col = round((float(text.get("x")) - PAD) / CELL_W)
        row = round((float(text.get("y")) + 5 - CELL_H - PAD) / CELL_H)
        placed.setdefault(row, {})[col] = text.text or ""
    rows = []
    for y in range(round((float(root.get("height")) - 2 * PAD) / CELL_H)):
        line = ""
        for col, text in sorted(placed.get(y, {}).items()):
            line = line.ljust(col) + text
        rows.append(line.rstrip())
    return rows


if __name__ == "__main__":
    source, target, *cursor = sys.argv[1:]
    with open(source, encoding="utf-8") as f:
        screen = parse(f.read())
    with open(target, "w", encoding="utf-8") as f:
        f.write(render_svg(screen, (int(cursor[0]), int(cursor[1])) if cursor else None))
