"""Small helpers for building report content: escaped, size-bounded values and a timeline of rows."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

_FULL_LIMIT = 20_000  # a single huge value must not blow up the page


def abbreviate(value: Any, limit: int = 300) -> str:
    """``value`` as escaped HTML; longer than ``limit`` characters it folds into an expandable block."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return html.escape(text)
    full = html.escape(text[:_FULL_LIMIT])
    if len(text) > _FULL_LIMIT:
        full += f"\n... ({len(text) - _FULL_LIMIT} more characters not shown)"
    return (f"<details><summary>{html.escape(text[:limit])}... (+{len(text) - limit})</summary>"
            f'<pre style="white-space:pre-wrap">{full}</pre></details>')


def duration_ms(start_iso: Any, end_iso: Any) -> str:
    """``"<n> ms"`` between two ISO-8601 times; ``""`` when either is missing or unreadable."""
    if not start_iso or not end_iso:
        return ""
    try:
        start = datetime.fromisoformat(str(start_iso).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(end_iso).replace("Z", "+00:00"))
    except ValueError:
        return ""
    return f"{(end - start).total_seconds() * 1000:.0f} ms"


class Timeline:
    """Rows appended to one tab of the current report, in the order things happened.

    Example::

        tl = flyte.report.Timeline("steps")
        tl.heading("Training")
        tl.row(icon="✓", label="epoch 1", meta="12 s", detail="loss 0.41")
    """

    def __init__(self, tab_name: str = "main") -> None:
        self._tab_name = tab_name

    def heading(self, text: Any) -> None:
        self._log(f"<h3>{html.escape(str(text))}</h3>")

    def row(self, *, icon: str = "•", label: Any = "", meta: str = "", detail: str = "", error: Any = None) -> None:
        err = f' <span style="color:#c00">{abbreviate(error, 200)}</span>' if error else ""
        extra = f" — {detail}" if detail else ""
        self._log(f"<div>{html.escape(icon)} <b>{html.escape(str(label))}</b> "
                  f'<span style="opacity:.6">{html.escape(meta)}</span>{extra}{err}</div>')

    def _log(self, fragment: str) -> None:
        from flyte.report._report import get_tab

        get_tab(self._tab_name).log(fragment)
