"""Plain-text tables for listings: no column is ever cut, some may wrap.

Columns marked ``wrap`` give up width (their text continues on the next lines) when the table is
wider than the terminal; the others always show their whole text. Without a width (output is not
a terminal) nothing wraps, so a pipe or a file gets every value on one line. Colors are ANSI
styles that ``click.echo`` drops when the output is not a terminal.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

GAP = "  "


@dataclass(frozen=True)
class Column:
    header: str
    wrap: bool = False  # may become narrower than its text; the text wraps
    right: bool = False
    min_width: int = 8


Cell = str | tuple[str, dict[str, Any]]  # text, or (text, click.style keyword arguments)


def terminal_width() -> int | None:
    """The width to fit (``COLUMNS`` or the terminal's), or None when stdout is not a terminal."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def _text(cell: Cell) -> str:
    return cell[0] if isinstance(cell, tuple) else cell


def _style(cell: Cell) -> dict[str, Any]:
    return cell[1] if isinstance(cell, tuple) else {}


def widths(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None) -> list[int]:
    """Each column's width: its widest text, wrap columns narrowed (widest first) to fit ``width``."""
    out = [max([len(c.header)] + [len(_text(r[i])) for r in rows]) for i, c in enumerate(columns)]
    if width is None:
        return out
    excess = sum(out) + len(GAP) * (len(columns) - 1) - width
    while excess > 0:
        shrinkable = [i for i, c in enumerate(columns) if c.wrap and out[i] > max(c.min_width, len(c.header))]
        if not shrinkable:
            break  # what cannot wrap is never cut: the line is longer than the terminal
        i = max(shrinkable, key=lambda j: out[j])
        floor = max(columns[i].min_width, len(columns[i].header))
        others = [out[j] for j in shrinkable if j != i]
        step = min(excess, out[i] - floor, max(1, out[i] - max(others, default=floor)))
        out[i] -= step
        excess -= step
    return out


def _fits(columns: Sequence[Column], ws: Sequence[int], width: int | None) -> bool:
    return width is None or sum(ws) + len(GAP) * (len(columns) - 1) <= width


def render(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None = None,
           stack_first: bool = False) -> list[str]:
    """The table's lines (header first), fitted to ``width`` as far as wrapping allows.

    ``stack_first``: when even wrapping cannot fit the table, the first column (a name) gets a
    line of its own and the other columns follow on the next line, indented.
    """
    ws = widths(columns, rows, width)
    if stack_first and width is not None and len(columns) > 1 and not _fits(columns, ws, width):
        rest = columns[1:]
        rest_ws = widths(rest, [r[1:] for r in rows], width - len(GAP))
        lines = [_line([(columns[0].header, {"bold": True})], columns[:1], [0])]
        lines += [GAP + x for x in _rows(rest, [[(c.header, {"bold": True}) for c in rest]], rest_ws)]
        for row in rows:
            lines.append(_line([(_text(row[0]), _style(row[0]))], columns[:1], [0]))
            lines += [GAP + x for x in _rows(rest, [row[1:]], rest_ws)]
        return lines
    return _rows(columns, [[(c.header, {"bold": True}) for c in columns]], ws) + _rows(columns, rows, ws)


def _rows(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], ws: Sequence[int]) -> list[str]:
    lines = []
    for row in rows:
        parts: list[list[str]] = []
        for i, cell in enumerate(row):
            text = _text(cell)
            if columns[i].wrap and len(text) > ws[i]:
                parts.append(wrap(text, ws[i]))
            else:
                parts.append([text])
        for k in range(max(len(p) for p in parts)):
            lines.append(_line([(p[k] if k < len(p) else "", _style(row[i])) for i, p in enumerate(parts)],
                               columns, ws))
    return lines


_BREAK_AFTER = "._-/:,;)]"


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``, broken after a space or punctuation where one is near."""
    lines = []
    text = text.strip()
    while len(text) > width:
        cut = text.rfind(" ", 0, width + 1) + 1  # a space first, then punctuation, else mid-word
        if cut <= width // 3:
            cut = max(text.rfind(c, 0, width) for c in _BREAK_AFTER) + 1
        if cut <= width // 3:
            cut = width
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*lines, text] if text or not lines else lines


def _line(cells: Sequence[tuple[str, dict[str, Any]]], columns: Sequence[Column], ws: Sequence[int]) -> str:
    out = []
    last = len(cells) - 1
    for i, (text, style) in enumerate(cells):
        pad = max(0, ws[i] - len(text))
        shown = click.style(text, **style) if style and text else text
        if columns[i].right:
            shown = " " * pad + shown
        elif i != last:
            shown = shown + " " * pad
        out.append(shown)
    return GAP.join(out).rstrip()


__all__ = ["Column", "render", "terminal_width", "widths"]
