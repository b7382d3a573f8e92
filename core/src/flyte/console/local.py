"""The console's store over local run records (``<runs dir>/<run>/run.json`` + ``actions.db``), read-only.

Listing 1,000 runs must stay well under 300 ms: each run's summary is cached with the stamps
(mtime, inode, size) of its ``run.json`` and ``actions.db``; a listing stats those two files per run and re-reads only
what changed. Actions are read with their light columns only; literals are decoded for the one
action (or the run's root) asked for.

Retried actions have their attempts' times in the ``retries`` table (older records: only the last attempt's).

Cursors: the runs list's cursor is the time of its scan (ns; an answer to ``since`` has the runs whose
files changed after it, less a slack for an mtime a little behind the write); the run's cursor is the
largest ``rowid`` of its actions (``INSERT OR REPLACE`` gives a rewritten row a new, larger rowid,
so "changed since" is ``rowid > cursor``).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flyte._builtin.local.record_reader import owner_is_alive
from flyte.console.render import render_literal_map, scrub_text
from flyte.console.store import (
    TERMINAL,
    Action,
    BadRequest,
    Forbidden,
    NotFound,
    RunSummary,
    counts_of,
    one_line,
    summary_duration,
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
# A runs-list answer repeats runs changed this long before its cursor: an mtime can lag the write a little.
_SLACK_NS = 2_000_000_000
# How long a run that went is remembered for `since` answers (a page polls every second; one asleep longer reloads).
_GONE_KEPT_NS = 600_000_000_000
_LIGHT = "rowid, name, task, parent, grp, phase, attempts, start, end, error, cache_hit"


def _checked(name: str, what: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise NotFound(f"No {what} named {name!r}")
    return name


def _stamp(path: Path) -> tuple[int, int, int]:
    """``(mtime ns, inode, size)``, or ``(-1, 0, 0)`` when missing. File times tick coarsely (ms, or seconds on some
    file systems): run.json is replaced, not rewritten, so its inode changes on every write even within a tick."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, 0, 0
    return st.st_mtime_ns, st.st_ino, st.st_size


def _upper_counts(counts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, n in counts.items():
        if isinstance(n, int):
            key = str(k).upper()
            out[key] = out.get(key, 0) + n
    out["total"] = sum(v for k, v in out.items() if k != "total")
    return out


def _connect(db_path: Path) -> sqlite3.Connection:
    from flyte._builtin.local.record_reader import _connect_ro

    return _connect_ro(db_path)


def _error_kind(error: str | None, traceback: str | None, phase: str) -> str:
    if phase == "TIMED_OUT":
        return "TimedOut"
    if traceback:
        last = traceback.rstrip().splitlines()[-1] if traceback.strip() else ""
        m = re.match(r"([A-Za-z_][\w.]*)(:|$)", last)
        if m:
            return m.group(1).rsplit(".", 1)[-1]
    if error:
        m = re.search(r"failed: ([A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt))\b", error)
        if m:
            return m.group(1)
    return "Error"


class LocalRunStore:
    """The runs under ``base`` (default: the local runs dir, ``FLYTE_LOCAL_RUNS_DIR``)."""

    source = "local"
    can_abort = False

    def __init__(self, base: Path | str | None = None) -> None:
        if base is None:
            from flyte._builtin.local.record_reader import runs_dir

            base = runs_dir()
        self.base = Path(base).expanduser()
        self.title = f"Local runs ({self.base})"
        # run -> (run.json stamp, actions.db stamp, summary, owner while RUNNING)
        self._cache: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], RunSummary,
                                     dict[str, Any] | None]] = {}
        # run -> when this store first saw its process dead (ns): its change for `since`, as its files do not change
        self._died: dict[str, int] = {}
        # run -> when this store saw its folder gone (ns): named in `since` answers (the page drops its row)
        self._gone: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- runs -----------------------------------------------------------------------

    def _run_dir(self, name: str) -> Path:
        _checked(name, "run")
        d = self.base / name
        if d.is_symlink() or not (d / "run.json").is_file():
            raise NotFound(f"No run named {name!r} in {self.base}")
        return d

    def _summary(self, name: str, doc: dict[str, Any], db_path: Path) -> RunSummary:
        phase = str(doc.get("phase") or "RUNNING")
        error = doc.get("error")
        counts = doc.get("counts") or {}
        running = phase == "RUNNING"
        died = running and owner_is_alive(doc) is False
        if died:
            phase = "ABORTED"
            error = error or f"process died: pid {doc.get('pid')} ended before the run did"
        if running:
            counts = self._live_counts(db_path)
            if phase == "ABORTED":
                stopped = counts.pop("RUNNING", 0) + counts.pop("QUEUED", 0)
                if stopped:
                    counts["ABORTED"] = counts.get("ABORTED", 0) + stopped
        actions = _upper_counts(counts)
        start = doc.get("start") or None
        end = doc.get("end") or None
        summary: RunSummary = {
            "name": name, "task": str(doc.get("task", "")), "phase": phase, "start": start, "end": end,
            "duration": summary_duration(start, end, time.time()), "actions": actions,
            "error": one_line(scrub_text(error)) if error else None,
        }
        if died:
            summary["died"] = True  # internal (the store's `since`), dropped from answers
        return summary

    def _live_counts(self, db_path: Path) -> dict[str, int]:
        from flyte._builtin.local.record_reader import live_counts

        return {phase.upper(): n for phase, n in live_counts(db_path).items()}

    def _scan(self) -> list[tuple[RunSummary, int]]:
        """Every run's summary and its last change (ns), re-reading only what changed since the last scan."""
        out: list[tuple[RunSummary, int]] = []
        seen: set[str] = set()
        try:
            entries = list(os.scandir(self.base))
        except OSError:
            return out
        for e in entries:
            name = e.name
            if name.startswith(".") or not e.is_dir(follow_symlinks=False):
                continue
            d = Path(e.path)
            run_s = _stamp(d / "run.json")
            run_m = run_s[0]
            if run_m < 0:
                continue
            db_s = _stamp(d / "actions.db")
            db_m = db_s[0]
            seen.add(name)
            cached = self._cache.get(name)
            fresh = (cached is not None and cached[0] == run_s
                     and (cached[1] == db_s or cached[2]["phase"] in TERMINAL)
                     and not (cached[3] is not None and owner_is_alive(cached[3]) is False))  # died since
            if cached is not None and fresh:
                summary = cached[2]
            else:
                read = self._read(d, name)
                if read is None:
                    continue
                summary, owner = read
                self._cache[name] = (run_s, db_s, summary, owner)
                if summary.get("died"):
                    self._died.setdefault(name, time.time_ns())
                else:
                    self._died.pop(name, None)
            out.append((summary, max(run_m, db_m, self._died.get(name, -1))))
        now = time.time_ns()
        for gone in set(self._cache) - seen:
            del self._cache[gone]
            self._died.pop(gone, None)
            self._gone[gone] = now
        for name in [n for n, t in self._gone.items() if n in seen or now - t > _GONE_KEPT_NS]:
            del self._gone[name]
        return out

    def gone_since(self, since: str | None) -> list[str]:
        """The runs whose folders went after ``since`` (a cursor of :meth:`list_runs`; none for a full answer)."""
        if not since:
            return []
        since_ns = _parse_cursor(since, "t")
        with self._lock:
            return sorted(n for n, t in self._gone.items() if t > since_ns - _SLACK_NS)

    def _read(self, d: Path, name: str) -> tuple[RunSummary, dict[str, Any] | None] | None:
        """The run's summary, and its owner (pid, start, host) while it is RUNNING."""
        try:
            doc = json.loads((d / "run.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict):
            return None
        summary = self._summary(name, doc, d / "actions.db")
        owner = {k: doc.get(k) for k in ("pid", "pid_start", "host")} if summary["phase"] == "RUNNING" else None
        return summary, owner

    def list_runs(self, *, phases: frozenset[str] = frozenset(), task: str | None = None, limit: int = 500,
                  since: str | None = None) -> tuple[list[RunSummary], str]:
        since_ns = _parse_cursor(since, "t") if since else None
        scanned_at = time.time_ns()  # the next cursor: what changes after this (less the slack) is new
        now = scanned_at / 1e9
        with self._lock:
            scanned = self._scan()
        wanted = task.lower() if task else None
        picked: list[RunSummary] = []
        for summary, changed in scanned:
            if since_ns is not None and changed <= since_ns - _SLACK_NS and summary["phase"] != "RUNNING":
                continue
            if phases and summary["phase"] not in phases:
                continue
            if wanted and wanted not in summary["task"].lower():
                continue
            picked.append(summary)
        picked.sort(key=lambda s: s.get("start") or 0, reverse=True)
        runs = []
        for s in picked[:limit]:
            doc = dict(s)
            doc.pop("died", None)
            if doc["phase"] == "RUNNING":
                doc["duration"] = summary_duration(doc["start"], doc["end"], now)
            runs.append(doc)
        return runs, f"t{scanned_at}"

    # -- one run --------------------------------------------------------------------

    def get_run(self, name: str, since: str | None = None) -> tuple[RunSummary, list[Action], str]:
        d = self._run_dir(name)
        since_row, since_live = (None, True)
        if since:
            cursor = _parse_cursor(since, "a")
            since_row, since_live = cursor // 2, bool(cursor % 2)
        read = self._read(d, name)
        if read is None:
            raise NotFound(f"The record of run {name!r} is unreadable: {d / 'run.json'}")
        summary = dict(read[0])
        summary.pop("died", None)
        live = summary["phase"] == "RUNNING"
        rows, root_io, retries = self._actions(d, name)
        actions = _shape_actions(rows, settle=not live, retries=retries)
        max_row = max((r[0] for r in rows), default=0)
        if since_row is not None and not (since_live and not live):  # a run that just ended: everything again
            actions = [a for a, r in zip(actions, rows, strict=True) if r[0] > since_row]
        summary["inputs"] = render_literal_map(root_io[0]) if root_io else None
        summary["outputs"] = render_literal_map(root_io[1]) if root_io else None
        return summary, actions, f"a{max_row * 2 + int(live)}"

    def _actions(self, d: Path, name: str) -> tuple[list[tuple[Any, ...]], tuple[bytes | None, bytes | None] | None,
                                                    dict[str, list[float]]]:
        db_path = d / "actions.db"
        if not db_path.is_file():
            return [], None, {}
        try:
            db = _connect(db_path)
            try:
                rows = db.execute(f"SELECT {_LIGHT} FROM actions ORDER BY length(name), name").fetchall()
                root = db.execute("SELECT inputs, outputs FROM actions WHERE name = 'a0'").fetchone()
                retries = _retry_logs(db)
            finally:
                db.close()
        except sqlite3.Error as e:
            raise RuntimeError(f"The actions of run {name!r} are unreadable: {db_path}: {e}") from None
        return rows, (root[0], root[1]) if root else None, retries

    def get_action(self, run: str, action: str) -> Action:
        d = self._run_dir(run)
        _checked(action, "action")
        read = self._read(d, run)
        running = read is not None and read[0]["phase"] == "RUNNING"
        db_path = d / "actions.db"
        if not db_path.is_file():
            raise NotFound(f"Run {run!r} has no action {action!r}")
        try:
            db = _connect(db_path)
            try:
                io = db.execute("SELECT inputs, outputs, parent, grp FROM actions WHERE name = ?", (action,)).fetchone()
                # the action and its siblings in its group: enough to know its place in a flyte.map
                rows = db.execute(f"SELECT {_LIGHT} FROM actions WHERE name = ? OR (grp != '' AND grp = ? AND "
                                  "parent IS ?) ORDER BY length(name), name",
                                  (action, io[3] if io else "", io[2] if io else None)).fetchall()
                try:
                    tb_row = db.execute("SELECT traceback FROM tracebacks WHERE name = ?", (action,)).fetchone()
                except sqlite3.OperationalError:
                    tb_row = None
                retries = _retry_logs(db, action)
            finally:
                db.close()
        except sqlite3.Error as e:
            raise RuntimeError(f"The actions of run {run!r} are unreadable: {db_path}: {e}") from None
        if io is None:
            raise NotFound(f"Run {run!r} has no action {action!r}")
        shaped = _shape_actions(rows, settle=not running, retries=retries)
        doc = next(a for a in shaped if a["name"] == action)
        raw_error = next((r[9] for r in rows if r[1] == action), None)
        traceback = tb_row[0] if tb_row else None
        doc["inputs"] = render_literal_map(io[0])
        doc["outputs"] = render_literal_map(io[1])
        if raw_error or traceback:
            doc["error"] = {"kind": _error_kind(raw_error, traceback, doc["phase"]),
                            "message": scrub_text(raw_error or ""),
                            "traceback": scrub_text(traceback) if traceback else None}
        else:
            doc["error"] = None
        doc["has_report"] = self._report_file(d, action) is not None
        doc["has_logs"] = False
        return doc

    def _report_file(self, d: Path, action: str) -> Path | None:
        folder = d / "reports"
        f = folder / f"{action}.html"
        if folder.is_symlink() or f.is_symlink() or not f.is_file():
            return None
        return f

    def logs(self, run: str, action: str, offset: str = "") -> dict[str, Any]:
        self.get_action(run, action)
        raise NotFound("Local run records keep no logs: a local run's output is in the terminal that ran it")

    def report(self, run: str, action: str) -> str:
        d = self._run_dir(run)
        _checked(action, "action")
        f = self._report_file(d, action)
        if f is None:
            raise NotFound(f"Action {action!r} of run {run!r} has no report")
        return f.read_text(encoding="utf-8", errors="replace")

    def abort(self, run: str) -> str:
        self._run_dir(run)
        raise Forbidden("A local run cannot be aborted from the console: press Ctrl-C where it runs")


def _parse_cursor(cursor: str, kind: str) -> int:
    if not cursor.startswith(kind) or not cursor[1:].isdigit() or len(cursor) > 40:
        raise BadRequest(f"since={cursor[:50]!r} is not a cursor of this answer; pass the 'cursor' of an earlier one")
    return int(cursor[1:])


def _attempts(n: int, phase: str, start: float | None, end: float | None,
              log: list[float] | None) -> list[dict[str, Any]]:
    """An action's attempts; times of earlier ones from its retry log (``ActionRecord.retry_log``), else None.

    The log is: end of attempt 1, then (start, end) of each later failed attempt, then the last attempt's start.
    """
    def at(i: int) -> float | None:
        return float(log[i]) if log is not None and 0 <= i < len(log) else None

    tries = []
    for k in range(1, n + 1):
        last = k == n
        k_start = start if k == 1 else at(2 * k - 3)
        k_end = end if last else at(2 * k - 2)
        tries.append({"n": k, "phase": phase if last else "FAILED", "start": k_start, "end": k_end})
    return tries


def _retry_logs(db: sqlite3.Connection, name: str | None = None) -> dict[str, list[float]]:
    try:
        if name is None:
            rows = db.execute("SELECT name, times FROM retries").fetchall()
        else:
            rows = db.execute("SELECT name, times FROM retries WHERE name = ?", (name,)).fetchall()
    except sqlite3.OperationalError:  # a record written before retries were kept
        return {}
    out: dict[str, list[float]] = {}
    for action, times in rows:
        try:
            log = json.loads(times)
        except ValueError:
            continue
        if isinstance(log, list):
            out[action] = log
    return out


def _shape_actions(rows: list[tuple[Any, ...]], settle: bool,
                   retries: dict[str, list[float]] | None = None) -> list[Action]:
    """API ``Action`` dicts from light rows (``_LIGHT``); a run that ended shows unfinished actions as ABORTED."""
    out: list[Action] = []
    map_index: dict[tuple[str | None, str], int] = {}
    for _rowid, name, task, parent, grp, phase, attempts, start, end, error, cache_hit in rows:
        phase = str(phase)
        if settle and phase in ("RUNNING", "QUEUED"):
            phase = "ABORTED"
        start = start or None
        end = end or None
        group = grp or None
        mapped = None
        if group:
            short = str(task).rsplit(".", 1)[-1]
            if group.startswith(short + "_"):
                key = (parent, group)
                i = map_index.get(key, 0)
                map_index[key] = i + 1
                mapped = {"of": group, "index": i}
        tries = _attempts(int(attempts or 0), phase, start, end, retries.get(name) if retries else None)
        out.append({
            "name": name, "parent": parent or None, "task": task, "group": group, "phase": phase,
            "start": start, "end": end, "attempts": tries, "map": mapped, "cache_hit": bool(cache_hit),
            "error": one_line(scrub_text(error)) if error else None,
        })
    return out


__all__ = ["LocalRunStore", "counts_of"]
