"""Run records of the local runtime: what ran, when, how it ended, with its literals.

Layout of one run's directory (``<runs_dir>/<run_name>/``)::

    run.json      name, task, phase, start/end, error, action counts (rewritten at start and end)
    actions.db    one row per action: task, parent, phase, attempts, start/end, error,
                  input and output literals (flyteidl2 LiteralMap bytes); written once at the end
    data/         the default raw data path: File/Dir outputs and offloaded values
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyte.runtime import Phase


@dataclass(slots=True)
class ActionRecord:
    name: str
    task: str
    parent: str | None
    group: str = ""
    phase: Phase = Phase.QUEUED
    attempts: int = 0
    start: float = 0.0
    end: float = 0.0
    error: str | None = None
    cache_hit: bool = False
    inputs: dict[str, bytes] | None = None  # name -> serialized flyteidl2 Literal
    outputs: dict[str, bytes] | None = None


@dataclass
class RunRecord:
    name: str
    task: str
    directory: Path
    phase: Phase = Phase.RUNNING
    start: float = field(default_factory=time.time)
    end: float = 0.0
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    runtime: str = "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "runtime": self.runtime,
            "phase": self.phase.value,
            "start": self.start,
            "end": self.end,
            "error": self.error,
            "counts": self.counts,
        }

    def write(self) -> None:
        tmp = self.directory / "run.json.tmp"
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, self.directory / "run.json")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
  name TEXT PRIMARY KEY, task TEXT, parent TEXT, grp TEXT, phase TEXT, attempts INTEGER,
  start REAL, end REAL, error TEXT, cache_hit INTEGER, inputs BLOB, outputs BLOB
)
"""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _literal_map_bytes(lits: dict[str, bytes] | None) -> bytes | None:
    """The bytes of ``LiteralMap(literals=...)`` built from already-serialized literals (no re-parsing).

    ``LiteralMap`` is ``map<string, Literal> literals = 1``: one length-delimited entry per key holding
    field 1 (the key) and field 2 (the literal), keys sorted as deterministic serialization does.
    """
    if lits is None:
        return None
    out = bytearray()
    for key in sorted(lits):
        k = key.encode()
        v = lits[key]
        entry = b"\x0a" + _varint(len(k)) + k + b"\x12" + _varint(len(v)) + v
        out += b"\x0a" + _varint(len(entry)) + entry
    return bytes(out)


def write_actions(directory: Path, actions: list[ActionRecord]) -> None:
    """Write every action of a run in one transaction (no per-action files or fsyncs)."""
    db = sqlite3.connect(directory / "actions.db")
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(_SCHEMA)
        db.executemany(
            "INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                (
                    a.name, a.task, a.parent, a.group, a.phase.value, a.attempts, a.start, a.end, a.error,
                    int(a.cache_hit), _literal_map_bytes(a.inputs), _literal_map_bytes(a.outputs),
                )
                for a in actions
            ),
        )
        db.commit()
    finally:
        db.close()


def runs_dir() -> Path:
    """Where local runs are kept: ``$FLYTE_LOCAL_RUNS_DIR``, else ``<flyte home>/runs``."""
    from flyte.config import flyte_home, get_config

    explicit = get_config().get("local.runs_dir")  # FLYTE_LOCAL_RUNS_DIR overrides it
    return Path(explicit).expanduser() if explicit else flyte_home() / "runs"


def list_runs(base: Path | None = None) -> list[dict[str, Any]]:
    base = base or runs_dir()
    out: list[dict[str, Any]] = []
    if not base.is_dir():
        return out
    for d in base.iterdir():
        f = d / "run.json"
        if f.is_file():
            try:
                record = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            record["name"] = d.name  # an earlier run kept as <name>.<n> is listed under that name
            out.append(record)
    out.sort(key=lambda r: r.get("start", 0), reverse=True)
    return out


def load_run(name: str, base: Path | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's summary and its actions (with literal maps as bytes)."""
    base = base or runs_dir()
    d = base / name
    f = d / "run.json"
    if not f.is_file():
        raise FileNotFoundError(f"No local run named '{name}' under {base}")
    run = json.loads(f.read_text())
    run["name"] = name
    actions: list[dict[str, Any]] = []
    db_path = d / "actions.db"
    if db_path.is_file():
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            db.row_factory = sqlite3.Row
            for r in db.execute("SELECT * FROM actions ORDER BY rowid"):
                a = dict(r)
                a["group"] = a.pop("grp")
                a["cache_hit"] = bool(a["cache_hit"])
                actions.append(a)
        finally:
            db.close()
    return run, actions
