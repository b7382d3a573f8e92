"""A run's timeline as a picture: one bar per action attempt, coloured by phase, with names and a time axis.

:func:`timeline_svg` builds the SVG by hand (every name and error is XML-escaped). :func:`write_timeline`
writes ``.svg`` directly; ``.png`` is the same SVG rendered by headless Chromium (``chromium`` or
``google-chrome`` on PATH, or ``FLYTE_CHROMIUM``): no image library is needed, and without a browser the error
says to install one or to write ``.svg``.

Example::

    from flyte.console.local import LocalRunStore
    from flyte.console.timeline import write_timeline

    run, actions, _ = LocalRunStore().get_run("r3x9k2m1ab")
    write_timeline(run, actions, "run.svg")
"""

from __future__ import annotations

import html
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: Bar colours by phase: the run page's (``static/app.css``, light theme); cache hits are ``CACHED``.
PHASE_COLORS = {
    "SUCCEEDED": "#1a7f37", "FAILED": "#cf222e", "TIMED_OUT": "#bc4c00", "RUNNING": "#0969da",
    "QUEUED": "#6e7781", "ABORTED": "#9a6700", "CACHED": "#3a77ab",
}
ROW = 20
BAR = 14
LABEL_W = 260
AXIS_H = 28
HEAD_H = 52
PAD = 12


# Characters XML 1.0 does not allow even escaped (C0 controls but tab/newline/CR, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(text: Any) -> str:
    """Text for SVG: XML-escaped, and characters XML forbids (a NUL, an ANSI escape) as U+FFFD, so the file opens."""
    return html.escape(_NOT_XML.sub("\ufffd", str(text)), quote=True)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _nice_step(span: float, target_ticks: int = 8) -> float:
    raw = max(span, 1e-6) / target_ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_seconds(s: float) -> str:
    """``0s``, ``48ms``, ``2.5s``, ``12s``, ``3m05s``, ``1h02m``."""
    if s <= 0:
        return "0s"
    if s < 0.9995:
        return f"{s * 1000:.3g}ms"
    if s < 10:
        return f"{s:.3g}s"
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


# In a folded row, bars of these phases are drawn last (on top of the overlapping bars of their siblings).
_ON_TOP = {"RUNNING": 1, "QUEUED": 1, "ABORTED": 2, "TIMED_OUT": 3, "FAILED": 4}
#: More siblings than this of one task under one parent (outside a ``flyte.map``) share one row.
FOLD_OVER = 50


def _fold_keys(siblings: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Which of one parent's children share a row: a map's items (as the page folds them), and a wide fan-out of one
    task; action name -> the shared row's key."""
    keys: dict[str, tuple[Any, ...]] = {}
    same: dict[tuple[Any, ...], list[str]] = {}
    for a in siblings:
        m = a.get("map")
        if isinstance(m, dict) and m.get("of"):
            keys[a["name"]] = ("map", str(m["of"]))
        else:
            same.setdefault(("task", str(a.get("task", "")), a.get("group")), []).append(a["name"])
    for key, names in same.items():
        if len(names) > FOLD_OVER:
            keys.update((n, key) for n in names)
    return keys


def _tree_order(actions: list[dict[str, Any]]) -> list[tuple[list[dict[str, Any]], int, tuple[Any, ...] | None]]:
    """Rows depth-first from the roots (children in recorded order): ``(actions, depth, fold key)``; one action per
    row, except a folded row (a map's items, a wide fan-out of one task), which holds them and everything under them."""
    by_name = {a["name"]: a for a in actions}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for a in actions:
        parent = a.get("parent") if a.get("parent") in by_name else None
        children.setdefault(parent, []).append(a)
    seen: set[str] = set()

    def subtree(a: dict[str, Any]) -> list[dict[str, Any]]:
        out, stack = [], [a]
        while stack:
            b = stack.pop()
            if b["name"] in seen:
                continue
            seen.add(b["name"])
            out.append(b)
            stack.extend(reversed(children.get(b["name"], [])))
        return out

    rows: list[tuple[list[dict[str, Any]], int, tuple[Any, ...] | None]] = []
    folds: dict[tuple[str | None, tuple[Any, ...]], list[dict[str, Any]]] = {}
    keys_of: dict[str | None, dict[str, tuple[Any, ...]]] = {}
    stack: list[tuple[dict[str, Any], int]] = [(a, 0) for a in reversed(children.get(None, []))]
    while stack:
        a, depth = stack.pop()
        if a["name"] in seen:
            continue
        parent = a.get("parent") if a.get("parent") in by_name else None
        if parent not in keys_of:
            keys_of[parent] = _fold_keys(children.get(parent, []))
        key = keys_of[parent].get(a["name"])
        if key is not None:
            held = folds.get((parent, key))
            if held is None:
                held = folds[(parent, key)] = []
                rows.append((held, depth, key))
            held.extend(subtree(a))
            continue
        seen.add(a["name"])
        rows.append(([a], depth, None))
        stack.extend((c, depth + 1) for c in reversed(children.get(a["name"], [])))
    rows.extend(([a], 0, None) for a in actions if a["name"] not in seen)  # a cycle or a lost parent: still shown
    return rows


def _fold_label(key: tuple[Any, ...], held: list[dict[str, Any]], parent: str | None) -> str:
    items = [a for a in held if a.get("parent") == parent] or held
    failed = sum(1 for a in items if a.get("phase") in ("FAILED", "TIMED_OUT"))
    if key[0] == "map":
        label = f"map {key[1]} · {len(items):,} items"
    else:
        label = f"{str(key[1]).rsplit('.', 1)[-1]} · {len(items):,} calls"
    return label + (f" · {failed:,} failed" if failed else "")


def _bars(actions: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Rows of bars, one bar per attempt that has times (an action without any: a row, no bar)."""
    rows: list[dict[str, Any]] = []
    for held, depth, key in _tree_order(actions):
        bars: list[dict[str, Any]] = []
        for a in held:
            timed = [t for t in a.get("attempts") or [] if t.get("start")]
            untimed = len(a.get("attempts") or []) - len(timed)
            if not timed:
                timed = [{"n": len(a.get("attempts") or []) or 1, "phase": a.get("phase"), "start": a.get("start"),
                          "end": a.get("end")}]
            total = len(a.get("attempts") or [])
            for t in timed:
                phase = "CACHED" if a.get("cache_hit") else str(t.get("phase") or a.get("phase") or "QUEUED")
                start = t.get("start")
                end = t.get("end") or (now if start and phase in ("RUNNING", "QUEUED") else start)
                short = str(a.get("task", "")).rsplit(".", 1)[-1]
                label = f"{a['name']} {short}"
                if total > 1:
                    label += f" #{t.get('n')}/{total}"
                bars.append({"label": label, "phase": phase, "start": start, "end": end, "error": a.get("error"),
                             "earlier": untimed if t is timed[-1] else 0, "task": a.get("task")})
        if key is None:  # one action: its attempts are bars along its row, as on the page
            a = held[0]
            label = f"{a['name']} {str(a.get('task', '')).rsplit('.', 1)[-1]}"
            tries = len(a.get("attempts") or [])
            if tries > 1:
                label += f" · {tries} attempts"
        else:
            label = _fold_label(key, held, held[0].get("parent"))
            bars.sort(key=lambda b: _ON_TOP.get(b["phase"], 0))  # stable: a failure is not hidden under its siblings
        rows.append({"label": label, "depth": depth, "bars": bars, "folded": key is not None})
    return rows


def timeline_svg(run: dict[str, Any], actions: list[dict[str, Any]], width: int = 1200,
                 now: float | None = None) -> str:
    """The SVG text of ``run``'s timeline (the console API's RunSummary and Action shapes)."""
    now = now or time.time()
    rows = _bars(actions, now)
    every = [b for r in rows for b in r["bars"]]
    starts = [b["start"] for b in every if b["start"]]
    t0 = min(starts, default=run.get("start") or now)
    t1 = max([b["end"] for b in every if b["end"]] + [run.get("end") or 0], default=t0)
    span = max(t1 - t0, 1e-3)
    plot_w = max(width - LABEL_W - 2 * PAD, 200)
    height = HEAD_H + AXIS_H + ROW * max(len(rows), 1) + PAD + 24

    def x(t: float) -> float:
        return LABEL_W + PAD + (t - t0) / span * plot_w

    phase = str(run.get("phase", ""))
    duration = run.get("duration")
    title = f"Run {run.get('name', '')} · {run.get('task', '')} · {phase}"
    if duration is not None:
        title += f" · {fmt_seconds(float(duration))}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{_esc(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{PAD}" y="22" font-size="15" font-weight="bold" fill="#1f2328">{_esc(title)}</text>',
    ]
    # legend: the phases present
    present = []
    for b in every:
        if b["phase"] not in present:
            present.append(b["phase"])
    lx = PAD
    for p in present:
        color = PHASE_COLORS.get(p, "#777777")
        out.append(f'<rect x="{lx}" y="32" width="10" height="10" fill="{color}" class="legend"/>')
        out.append(f'<text x="{lx + 14}" y="41" fill="#1f2328">{_esc(p)}</text>')
        lx += 28 + 8 * len(p)
    # axis
    axis_y = HEAD_H + AXIS_H - 8
    step = _nice_step(span)
    tick = 0.0
    plot_top = HEAD_H + AXIS_H
    plot_bottom = plot_top + ROW * max(len(rows), 1)
    while tick <= span + 1e-9:
        tx = x(t0 + tick)
        out.append(f'<line x1="{tx:.1f}" y1="{plot_top - 4}" x2="{tx:.1f}" y2="{plot_bottom}" stroke="#e4e7eb"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_y}" text-anchor="middle" fill="#57606a">{fmt_seconds(tick)}</text>')
        tick += step
    # rows
    for i, r in enumerate(rows):
        y = plot_top + i * ROW
        if i % 2:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" fill="#f6f8fa" fill-opacity="0.6"/>')
        indent = PAD + min(r["depth"], 12) * 10
        label = _clip(r["label"], max(8, (LABEL_W - indent) // 7))
        full = f"<title>{_esc(r['label'])}</title>" if label != r["label"] else ""
        out.append(f'<text x="{indent}" y="{y + ROW - 6}" fill="#1f2328">{_esc(label)}{full}</text>')
        for b in r["bars"]:
            if not b["start"]:
                continue
            bx = x(b["start"])
            bw = max(x(b["end"] or b["start"]) - bx, 1.5)
            color = PHASE_COLORS.get(b["phase"], "#777777")
            took = (b["end"] or b["start"]) - b["start"]
            tip = f"{b['label']} ({b['task']}): {b['phase']}, {fmt_seconds(took)}"
            if b["earlier"]:
                tip += f"; {b['earlier']} earlier attempt(s) without recorded times"
            if b["error"]:
                tip += f"\n{_clip(str(b['error']), 300)}"
            top, tall = y + (ROW - BAR) / 2, float(BAR)
            if r["folded"] and b["phase"] in _ON_TOP:  # over its siblings' bars: the lower half, theirs still show
                top, tall = top + BAR / 2, BAR / 2
            out.append(f'<rect class="bar" data-phase="{_esc(b["phase"])}" x="{bx:.1f}" y="{top}" '
                       f'width="{bw:.1f}" height="{tall}" rx="2" fill="{color}"><title>{_esc(tip)}</title></rect>')
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t0))
    out.append(f'<text x="{PAD}" y="{height - 8}" fill="#57606a" font-size="10">'
               f"{sum(1 for b in every if b['start']):,} bars · started {_esc(started)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def find_chromium() -> str | None:
    """A headless-capable Chromium: ``$FLYTE_CHROMIUM``, else ``chromium``/``chromium-browser``/``google-chrome``."""
    explicit = os.environ.get("FLYTE_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class TimelineError(RuntimeError):
    """The timeline could not be written (no browser for PNG, an unwritable file)."""


def svg_to_png(svg: str, dest: Path, width: int, height: int, timeout: float = 60.0) -> None:
    chromium = find_chromium()
    if chromium is None:
        raise TimelineError(
            f"Cannot write {dest}: PNG timelines are drawn by headless Chromium, and none was found "
            "(install the 'chromium' package, or set FLYTE_CHROMIUM to a Chrome/Chromium binary). "
            "Or write an SVG: --timeline run.svg"
        )
    with tempfile.TemporaryDirectory(prefix="flyte-timeline-") as tmp:
        src = Path(tmp) / "timeline.html"
        # the SVG inline in a page without margins, the window exactly its size
        src.write_text(f"<!doctype html><html><body style='margin:0'>{svg}</body></html>", encoding="utf-8")
        out = Path(tmp) / "timeline.png"
        cmd = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
               f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={width},{height}",
               f"--screenshot={out}", "--default-background-color=ffffffff", src.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimelineError(f"Chromium ({chromium}) took more than {timeout:.0f}s to draw {dest}") from None
        if done.returncode != 0 or not out.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise TimelineError(f"Chromium ({chromium}) could not draw {dest}: exit {done.returncode}: "
                                + " | ".join(tail))
        shutil.copyfile(out, dest)


def write_timeline(run: dict[str, Any], actions: list[dict[str, Any]], dest: str | os.PathLike[str],
                   width: int = 1200) -> Path:
    """Write the timeline to ``dest`` (``.svg`` or ``.png``); the path written."""
    path = Path(dest)
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise TimelineError(f"Cannot write a timeline to {path}: give a file ending in .svg or .png")
    svg = timeline_svg(run, actions, width=width)
    try:
        if suffix == ".svg":
            path.write_text(svg, encoding="utf-8")
        else:
            height = int(svg.split('height="', 1)[1].split('"', 1)[0])
            svg_to_png(svg, path, width, height)
    except OSError as e:
        raise TimelineError(f"Cannot write {path}: {e.strerror or e}") from None
    return path


__all__ = ["PHASE_COLORS", "TimelineError", "find_chromium", "fmt_seconds", "timeline_svg", "write_timeline"]
