"""The devbox's state: projects, tasks, runs, actions, attempts and secrets in one SQLite file.

Everything that must survive a restart lives here. Calls are synchronous and short (WAL mode,
``synchronous=NORMAL``): they run on the event loop directly, which is faster than hopping to a
thread for sub-millisecond statements.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from flyteidl2.common import phase_pb2

Phase = phase_pb2.ActionPhase
TERMINAL_PHASES = frozenset(
    {
        phase_pb2.ACTION_PHASE_SUCCEEDED,
        phase_pb2.ACTION_PHASE_FAILED,
        phase_pb2.ACTION_PHASE_ABORTED,
        phase_pb2.ACTION_PHASE_TIMED_OUT,
    }
)

DEFAULT_ORG = "devbox"
DEFAULT_PROJECT = "flytesnacks"
DEFAULT_DOMAINS = ("development", "staging", "production")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects(
  org TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY(org, id));
CREATE TABLE IF NOT EXISTS tasks(
  org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
  spec BLOB NOT NULL, deployed_at REAL NOT NULL,
  PRIMARY KEY(org, project, domain, name, version));
CREATE TABLE IF NOT EXISTS runs(
  org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
  run_spec BLOB NOT NULL, created_at REAL NOT NULL, run_base TEXT NOT NULL,
  PRIMARY KEY(org, project, domain, name));
CREATE TABLE IF NOT EXISTS actions(
  org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, run TEXT NOT NULL, name TEXT NOT NULL,
  parent TEXT NOT NULL, grp TEXT NOT NULL, kind TEXT NOT NULL, spec BLOB, task_id BLOB,
  input_uri TEXT NOT NULL, run_output_base TEXT NOT NULL,
  phase INTEGER NOT NULL, attempts INTEGER NOT NULL, start_time REAL NOT NULL, end_time REAL,
  error BLOB, abort_reason TEXT, output_uri TEXT NOT NULL, created_at REAL NOT NULL,
  queued_at REAL NOT NULL, version INTEGER NOT NULL, extra BLOB,
  PRIMARY KEY(org, project, domain, run, name));
CREATE INDEX IF NOT EXISTS actions_parent ON actions(org, project, domain, run, parent);
CREATE INDEX IF NOT EXISTS actions_phase ON actions(phase);
CREATE TABLE IF NOT EXISTS attempts(
  org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, run TEXT NOT NULL, action TEXT NOT NULL,
  attempt INTEGER NOT NULL, phase INTEGER NOT NULL, start_time REAL NOT NULL, end_time REAL,
  error BLOB, output_prefix TEXT NOT NULL, log_dir TEXT NOT NULL,
  PRIMARY KEY(org, project, domain, run, action, attempt));
CREATE TABLE IF NOT EXISTS secrets(
  org TEXT NOT NULL, project TEXT NOT NULL, domain TEXT NOT NULL, name TEXT NOT NULL,
  value BLOB NOT NULL, type INTEGER NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY(org, project, domain, name));
"""


@dataclass(frozen=True)
class RunKey:
    org: str
    project: str
    domain: str
    name: str

    def __str__(self) -> str:
        return f"{self.org}/{self.project}/{self.domain}/{self.name}"


@dataclass
class ActionRow:
    run: RunKey
    name: str
    parent: str
    group: str
    kind: str  # "task" | "trace" | "condition"
    spec: bytes | None
    task_id: bytes | None
    input_uri: str
    run_output_base: str
    phase: int
    attempts: int
    start_time: float
    end_time: float | None
    error: bytes | None
    abort_reason: str | None
    output_uri: str
    created_at: float
    queued_at: float
    version: int
    extra: bytes | None = None

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


@dataclass
class AttemptRow:
    attempt: int
    phase: int
    start_time: float
    end_time: float | None
    error: bytes | None
    output_prefix: str
    log_dir: str


@dataclass
class RunRow:
    key: RunKey
    run_spec: bytes
    created_at: float
    run_base: str


_ACTION_COLS = (
    "org, project, domain, run, name, parent, grp, kind, spec, task_id, input_uri, run_output_base, phase, "
    "attempts, start_time, end_time, error, abort_reason, output_uri, created_at, queued_at, version, extra"
)


# ActionRow's fields after `run`, in column order (the run key fills the first four columns).
_ACTION_FIELDS = tuple(f.name for f in fields(ActionRow))[1:]


def _action(r: tuple[Any, ...]) -> ActionRow:
    return ActionRow(RunKey(r[0], r[1], r[2], r[3]), *r[4:])


@dataclass
class Store:
    """SQLite-backed state. One connection, used from the event loop thread."""

    path: Path
    _conn: sqlite3.Connection = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._seed()

    def close(self) -> None:
        self._conn.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction (an abort cascade over thousands of children)."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- kv -------------------------------------------------------------------------------------

    def kv_get(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def kv_set(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv(key, value) VALUES(?, ?)", (key, value))

    def secret_key(self, name: str) -> bytes:
        """A random key kept across restarts (signed URLs and tokens stay valid after a restart)."""
        value = self.kv_get(name)
        if value is None:
            value = os.urandom(32).hex()
            self.kv_set(name, value)
        return bytes.fromhex(value)

    # ---- projects -------------------------------------------------------------------------------

    def _seed(self) -> None:
        from flyteidl2.project import project_service_pb2 as pj

        if self._conn.execute("SELECT 1 FROM projects LIMIT 1").fetchone():
            return
        project = pj.Project(
            id=DEFAULT_PROJECT, name=DEFAULT_PROJECT, description="Created by flyte-devbox", org=DEFAULT_ORG
        )
        for d in DEFAULT_DOMAINS:
            project.domains.add(id=d, name=d)
        self.put_project(DEFAULT_ORG, project, create=True)

    def put_project(self, org: str, project: Any, *, create: bool) -> bool:
        body = project.SerializeToString()
        if create:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO projects(org, id, body, created_at) VALUES(?,?,?,?)",
                (org, project.id, body, time.time()),
            )
        else:
            cur = self._conn.execute("UPDATE projects SET body=? WHERE org=? AND id=?", (body, org, project.id))
        return cur.rowcount == 1

    def get_project(self, org: str, project_id: str) -> bytes | None:
        row = self._conn.execute("SELECT body FROM projects WHERE org=? AND id=?", (org, project_id)).fetchone()
        return row[0] if row else None

    def list_projects(self, org: str) -> list[bytes]:
        return [r[0] for r in self._conn.execute("SELECT body FROM projects WHERE org=? ORDER BY id", (org,))]

    # ---- tasks ----------------------------------------------------------------------------------

    def get_task(self, org: str, project: str, domain: str, name: str, version: str) -> tuple[bytes, float] | None:
        row = self._conn.execute(
            "SELECT spec, deployed_at FROM tasks WHERE org=? AND project=? AND domain=? AND name=? AND version=?",
            (org, project, domain, name, version),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def put_task(self, org: str, project: str, domain: str, name: str, version: str, spec: bytes) -> str:
        """Insert a task version. Returns "created", "same" (identical spec) or "conflict"."""
        existing = self.get_task(org, project, domain, name, version)
        if existing is not None:
            return "same" if existing[0] == spec else "conflict"
        self._conn.execute(
            "INSERT INTO tasks(org, project, domain, name, version, spec, deployed_at) VALUES(?,?,?,?,?,?,?)",
            (org, project, domain, name, version, spec, time.time()),
        )
        return "created"

    def list_tasks(self, org: str, project: str | None, domain: str | None) -> list[tuple[Any, ...]]:
        """Latest version of each task name: (project, domain, name, version, spec, deployed_at)."""
        q = (
            "SELECT project, domain, name, version, spec, MAX(deployed_at) FROM tasks WHERE org=?"
            + (" AND project=?" if project else "")
            + (" AND domain=?" if domain else "")
            + " GROUP BY project, domain, name ORDER BY name"
        )
        args: list[Any] = [org] + [x for x in (project, domain) if x]
        return list(self._conn.execute(q, args))

    def list_versions(self, org: str, project: str, domain: str, name: str) -> list[tuple[str, float]]:
        return list(
            self._conn.execute(
                "SELECT version, deployed_at FROM tasks WHERE org=? AND project=? AND domain=? AND name=? "
                "ORDER BY deployed_at DESC",
                (org, project, domain, name),
            )
        )

    # ---- runs and actions -----------------------------------------------------------------------

    def create_run(self, key: RunKey, run_spec: bytes, run_base: str, root: ActionRow) -> bool:
        """Insert a run and its root action atomically; False when the run name is taken."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.execute(
                    "INSERT INTO runs(org, project, domain, name, run_spec, created_at, run_base) "
                    "VALUES(?,?,?,?,?,?,?)",
                    (key.org, key.project, key.domain, key.name, run_spec, root.created_at, run_base),
                )
                self._insert_action(root)
                self._conn.execute("COMMIT")
                return True
            except sqlite3.IntegrityError:
                self._conn.execute("ROLLBACK")
                return False

    def get_run(self, key: RunKey) -> RunRow | None:
        row = self._conn.execute(
            "SELECT run_spec, created_at, run_base FROM runs WHERE org=? AND project=? AND domain=? AND name=?",
            (key.org, key.project, key.domain, key.name),
        ).fetchone()
        return RunRow(key, row[0], row[1], row[2]) if row else None

    def list_runs(self, org: str, project: str | None, domain: str | None, limit: int, offset: int) -> list[RunKey]:
        q = (
            "SELECT org, project, domain, name FROM runs WHERE org=?"
            + (" AND project=?" if project else "")
            + (" AND domain=?" if domain else "")
            + " ORDER BY created_at DESC, name LIMIT ? OFFSET ?"
        )
        args: list[Any] = [org] + [x for x in (project, domain) if x] + [limit, offset]
        return [RunKey(*r) for r in self._conn.execute(q, args)]

    def _insert_action(self, a: ActionRow) -> None:
        r = a.run
        values = (r.org, r.project, r.domain, r.name, *(getattr(a, f) for f in _ACTION_FIELDS))
        self._conn.execute(f"INSERT INTO actions({_ACTION_COLS}) VALUES({','.join('?' * len(values))})", values)

    def insert_action(self, a: ActionRow) -> bool:
        """Insert a child action; False when one with that name exists in the run (idempotent enqueue)."""
        try:
            self._insert_action(a)
            return True
        except sqlite3.IntegrityError:
            return False

    def get_action(self, run: RunKey, name: str) -> ActionRow | None:
        row = self._conn.execute(
            f"SELECT {_ACTION_COLS} FROM actions WHERE org=? AND project=? AND domain=? AND run=? AND name=?",
            (run.org, run.project, run.domain, run.name, name),
        ).fetchone()
        return _action(row) if row else None

    def children(self, run: RunKey, parent: str) -> list[ActionRow]:
        return [
            _action(r)
            for r in self._conn.execute(
                f"SELECT {_ACTION_COLS} FROM actions WHERE org=? AND project=? AND domain=? AND run=? AND parent=? "
                "ORDER BY created_at, name",
                (run.org, run.project, run.domain, run.name, parent),
            )
        ]

    def run_actions(self, run: RunKey) -> list[ActionRow]:
        return [
            _action(r)
            for r in self._conn.execute(
                f"SELECT {_ACTION_COLS} FROM actions WHERE org=? AND project=? AND domain=? AND run=? "
                "ORDER BY created_at, name",
                (run.org, run.project, run.domain, run.name),
            )
        ]

    def actions_in_phases(self, phases: tuple[int, ...]) -> list[ActionRow]:
        marks = ",".join("?" * len(phases))
        return [
            _action(r)
            for r in self._conn.execute(
                f"SELECT {_ACTION_COLS} FROM actions WHERE phase IN ({marks}) AND kind='task' ORDER BY queued_at",
                phases,
            )
        ]

    def update_action(self, a: ActionRow) -> None:
        a.version += 1
        self._conn.execute(
            "UPDATE actions SET phase=?, attempts=?, start_time=?, end_time=?, error=?, abort_reason=?, "
            "output_uri=?, queued_at=?, version=?, extra=? "
            "WHERE org=? AND project=? AND domain=? AND run=? AND name=?",
            (
                a.phase,
                a.attempts,
                a.start_time,
                a.end_time,
                a.error,
                a.abort_reason,
                a.output_uri,
                a.queued_at,
                a.version,
                a.extra,
                a.run.org,
                a.run.project,
                a.run.domain,
                a.run.name,
                a.name,
            ),
        )

    # ---- attempts -------------------------------------------------------------------------------

    def put_attempt(self, a: ActionRow, at: AttemptRow) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO attempts(org, project, domain, run, action, attempt, phase, start_time, end_time, "
            "error, output_prefix, log_dir) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                a.run.org,
                a.run.project,
                a.run.domain,
                a.run.name,
                a.name,
                at.attempt,
                at.phase,
                at.start_time,
                at.end_time,
                at.error,
                at.output_prefix,
                at.log_dir,
            ),
        )

    def attempts(self, a: ActionRow) -> list[AttemptRow]:
        return [
            AttemptRow(*r)
            for r in self._conn.execute(
                "SELECT attempt, phase, start_time, end_time, error, output_prefix, log_dir FROM attempts "
                "WHERE org=? AND project=? AND domain=? AND run=? AND action=? ORDER BY attempt",
                (a.run.org, a.run.project, a.run.domain, a.run.name, a.name),
            )
        ]

    # ---- secrets --------------------------------------------------------------------------------

    def put_secret(
        self, org: str, project: str, domain: str, name: str, value: bytes, kind: int, *, create: bool
    ) -> bool:
        if create:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO secrets(org, project, domain, name, value, type, created_at) "
                "VALUES(?,?,?,?,?,?,?)",
                (org, project, domain, name, value, kind, time.time()),
            )
        else:
            cur = self._conn.execute(
                "UPDATE secrets SET value=?, type=? WHERE org=? AND project=? AND domain=? AND name=?",
                (value, kind, org, project, domain, name),
            )
        return cur.rowcount == 1

    def get_secret(self, org: str, project: str, domain: str, name: str) -> tuple[bytes, int, float] | None:
        row = self._conn.execute(
            "SELECT value, type, created_at FROM secrets WHERE org=? AND project=? AND domain=? AND name=?",
            (org, project, domain, name),
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def delete_secret(self, org: str, project: str, domain: str, name: str) -> bool:
        cur = self._conn.execute(
            "DELETE FROM secrets WHERE org=? AND project=? AND domain=? AND name=?", (org, project, domain, name)
        )
        return cur.rowcount == 1

    def list_secrets(self, org: str, project: str, domain: str) -> Iterator[tuple[str, str, str, int, float]]:
        yield from self._conn.execute(
            "SELECT project, domain, name, type, created_at FROM secrets WHERE org=? AND (project=? OR ?='') "
            "AND (domain=? OR ?='') ORDER BY name",
            (org, project, project, domain, domain),
        )

    def find_secret(self, org: str, project: str, domain: str, name: str) -> bytes | None:
        """The most specific secret for a task: project+domain, then project, then org-wide."""
        for p, d in ((project, domain), (project, ""), ("", "")):
            hit = self.get_secret(org, p, d, name)
            if hit is not None:
                return hit[0]
        return None
