"""Reading run records: where runs are kept, which runs there are, one run and its actions.

Readers never write. A record still RUNNING whose owning process is gone reads as ABORTED
("process died"): the writer keeps its pid, the pid's start time (pid reuse) and the host.
Works while a run goes: what the writer has committed so far is what is read.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

from flyte.runtime import Phase


def runs_dir() -> Path:
    """Where local runs are kept: ``$FLYTE_LOCAL_RUNS_DIR``, else ``<flyte home>/runs``."""
    from flyte.config import flyte_home, get_config

    explicit = get_config().get("local.runs_dir")  # FLYTE_LOCAL_RUNS_DIR overrides it
    return Path(explicit).expanduser() if explicit else flyte_home() / "runs"


def runs_dir_is_explicit() -> bool:
    from flyte.config import get_config

    return bool(get_config().get("local.runs_dir"))


# -- the owning process ------------------------------------------------------------


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, from /proc), or None where that is unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22, starttime
    except (IndexError, ValueError):
        return None


HOST = socket.gethostname()


def owner_is_alive(record: dict[str, Any]) -> bool | None:
    """Whether the process that wrote ``record`` still runs: True, False, or None (cannot tell)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host", HOST) != HOST:
        return None
    if pid == os.getpid():
        return record.get("pid_start") in (None, process_start_time(pid))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return None
    started = record.get("pid_start")
    if started is not None:
        now = process_start_time(pid)
        if now is not None and now != started:
            return False  # the pid was reused by a later process
    return True


def _settle(record: dict[str, Any]) -> dict[str, Any]:
    """A RUNNING record whose process died reads as ABORTED, with the reason in ``error``."""
    if record.get("phase") == Phase.RUNNING.value and owner_is_alive(record) is False:
        record["phase"] = Phase.ABORTED.value
        record["error"] = record.get("error") or (
            f"process died: pid {record.get('pid')} ended before the run did (killed, or the machine stopped)"
        )
        record["process_died"] = True
    return record


def _read_json(f: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def list_runs(base: Path | None = None) -> list[dict[str, Any]]:
    """Every run under ``base``, newest first; a run whose process died reads as ABORTED."""
    base = base or runs_dir()
    out: list[dict[str, Any]] = []
    if not base.is_dir():
        return out
    for d in base.iterdir():
        record = _read_json(d / "run.json")
        if record is None:
            continue
        record["name"] = d.name  # an earlier run kept as <name>.<n> is listed under that name
        if record.get("phase") == Phase.RUNNING.value:
            _settle(record)
            if not record.get("counts"):
                record["counts"] = live_counts(d / "actions.db")
            if record.get("process_died"):
                record["counts"] = _aborted_counts(record["counts"])
        out.append(record)
    out.sort(key=lambda r: r.get("start", 0), reverse=True)
    return out


def _aborted_counts(counts: dict[str, int]) -> dict[str, int]:
    """The counts of a run whose process died: what was running or queued then never finished (as load_run says)."""
    out = dict(counts)
    stopped = out.pop(Phase.RUNNING.value.lower(), 0) + out.pop(Phase.QUEUED.value.lower(), 0)
    if stopped:
        out[Phase.ABORTED.value.lower()] = out.get(Phase.ABORTED.value.lower(), 0) + stopped
    return out


def _connect_ro(db_path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10.0)
        db.execute("SELECT 1 FROM actions LIMIT 1")
        return db
    except sqlite3.Error:
        # A journal left by a process killed mid-commit needs a writable connection to be rolled back.
        return sqlite3.connect(db_path, timeout=10.0)


def live_counts(db_path: Path) -> dict[str, int]:
    """Actions per phase (lower case; cache hits as ``cached``) in ``actions.db`` so far; {} if unreadable."""
    if not db_path.is_file():
        return {}
    try:
        db = _connect_ro(db_path)
        try:
            rows = db.execute("SELECT phase, cache_hit, count(*) FROM actions GROUP BY phase, cache_hit").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}
    counts: dict[str, int] = {}
    for phase, hit, n in rows:
        key = "cached" if hit else str(phase).lower()
        counts[key] = counts.get(key, 0) + n
    return counts


def load_run(name: str, base: Path | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's summary and its actions (with literal maps as bytes), as far as they are written.

    Works while the run goes (what the writer has committed so far). Actions of a run whose process
    died that were still RUNNING read as ABORTED.
    """
    base = base or runs_dir()
    if "/" in name or "\\" in name or name in ("", ".", ".."):
        raise FileNotFoundError(f"No local run named '{name}' under {base}")
    d = base / name
    f = d / "run.json"
    run = _read_json(f) if f.is_file() else None
    if run is None:
        if f.is_file():
            raise FileNotFoundError(f"The record of run '{name}' is unreadable: {f}")
        raise FileNotFoundError(f"No local run named '{name}' under {base}")
    run["name"] = name
    _settle(run)
    actions: list[dict[str, Any]] = []
    db_path = d / "actions.db"
    if db_path.is_file():
        try:
            db = _connect_ro(db_path)
            try:
                try:
                    tracebacks = dict(db.execute("SELECT name, traceback FROM tracebacks").fetchall())
                except sqlite3.OperationalError:  # a record written before tracebacks were kept
                    tracebacks = {}
                db.row_factory = sqlite3.Row
                for r in db.execute("SELECT * FROM actions ORDER BY length(name), name"):  # a2 before a10
                    a = dict(r)
                    a["group"] = a.pop("grp")
                    a["cache_hit"] = bool(a["cache_hit"])
                    a["traceback"] = tracebacks.get(a["name"])
                    actions.append(a)
            finally:
                db.close()
        except sqlite3.Error as e:
            raise FileNotFoundError(f"The actions of run '{name}' are unreadable: {db_path}: {e}") from None
    if run.get("phase") != Phase.RUNNING.value:
        for a in actions:
            if a["phase"] in (Phase.RUNNING.value, Phase.QUEUED.value):
                a["phase"] = Phase.ABORTED.value
    if run.get("phase") == Phase.RUNNING.value and not run.get("counts"):
        run["counts"] = live_counts(db_path)
    return run, actions
