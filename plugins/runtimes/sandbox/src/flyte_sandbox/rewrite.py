"""Line-preserving source edits: every rewrite keeps each line of the task where it was.

Columns are UTF-8 byte offsets, as ``ast`` reports them.
"""

from __future__ import annotations

import ast
import re

from flyte.errors import SandboxError

Edit = tuple[int, int, int, int, str]  # (line, col, end_line, end_col, replacement); 1-based lines


def rename_def(src: str, old: str, new: str) -> str:
    pattern = re.compile(rf"(\bdef\s+){re.escape(old)}\b")
    out, n = pattern.subn(rf"\g<1>{new}", src, count=1)
    if n != 1:
        raise SandboxError(f"could not find 'def {old}' in its source")
    return out


def wrap_await(expr: ast.expr) -> list[Edit]:
    assert expr.end_lineno is not None and expr.end_col_offset is not None
    return [
        (expr.lineno, expr.col_offset, expr.lineno, expr.col_offset, "(await "),
        (expr.end_lineno, expr.end_col_offset, expr.end_lineno, expr.end_col_offset, ")"),
    ]


def drop_async_keyword(src: str, gen: ast.comprehension) -> Edit:
    """Position of the ``async `` before ``for`` of an async comprehension (searched backwards from the target)."""
    lines = src.splitlines(keepends=True)
    line = gen.target.lineno
    col = gen.target.col_offset
    while line >= 1:
        text = lines[line - 1].encode()[:col].decode(errors="replace")
        m = list(re.finditer(r"\basync\s+for\b", text))
        if m:
            start = len(text[: m[-1].start()].encode())
            return (line, start, line, start + len(text[m[-1].start(): m[-1].start() + 6].encode()), "")
        line -= 1
        col = len(lines[line - 1].encode()) if line >= 1 else 0
    raise SandboxError("could not locate 'async for' in an async comprehension")


def apply_edits(src: str, edits: list[Edit]) -> str:
    """Apply (line, col, end_line, end_col, text) edits (byte columns); a span over several lines keeps its
    line breaks after the new text, so every later line stays where it was."""
    lines = [ln.encode() for ln in src.splitlines(keepends=True)]
    for line, col, end_line, end_col, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        first = lines[line - 1]
        last = lines[end_line - 1]
        new = first[:col] + text.encode() + b"\n" * (end_line - line) + last[end_col:]
        lines[line - 1: end_line] = [new]
        if end_line > line:  # re-split so later (earlier-positioned) edits still index lines
            parts = new.splitlines(keepends=True)
            lines[line - 1: line] = parts
    return b"".join(lines).decode()
