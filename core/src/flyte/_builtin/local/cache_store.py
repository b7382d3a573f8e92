"""The local task cache: a SQLite file keyed by task, cache version and input hash.

It outlives the process, so a second ``flyte run`` of the same inputs is a hit.
WAL mode with ``synchronous=NORMAL``: commits do not fsync on the hot path.

The cache never stops a run: a file that is not a database (or is corrupt) is moved aside as
``cache.db.corrupt-<time>`` with one warning naming both files, and a fresh one is used; a file
that cannot be written (read-only home) gives one warning and a cache kept in memory for the run;
a lookup that fails (locked for longer than the timeout) is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from flyte._builtin.local.records import warn_once
from flyte.config import flyte_home, get_config

logger = logging.getLogger("flyte.local")

# SQLite result codes meaning "this file is damaged", as opposed to locked or busy.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_warned: set[str] = set()


def cache_db_path() -> Path:
    explicit = get_config().get("local.cache_db")  # FLYTE_LOCAL_CACHE_DB overrides it
    return Path(explicit).expanduser() if explicit else flyte_home() / "cache.db"


def cache_key(task_name: str, version: str, inputs_hash: str) -> str:
    return hashlib.sha256(f"{task_name}\0{version}\0{inputs_hash}".encode()).hexdigest()


def _is_corrupt(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(e).lower()
    return "not a database" in text or "malformed" in text


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


class CacheStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_db_path()
        self._lock = threading.Lock()
        self.in_memory = False
        self._db = self._open()

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect(self.path)
        except sqlite3.DatabaseError as e:
            if _is_corrupt(e):
                self._move_aside(e)
                try:
                    return self._connect(self.path)
                except (OSError, sqlite3.Error) as e2:
                    return self._memory(e2)
            return self._memory(e)
        except OSError as e:
            return self._memory(e)

    @staticmethod
    def _connect(path: Path | str) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5.0)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, task TEXT, version TEXT, "
                "outputs BLOB, created REAL)"
            )
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _memory(self, e: BaseException) -> sqlite3.Connection:
        reason = getattr(e, "strerror", None) or str(e)
        message = (
            f"The task cache {self.path} cannot be used ({reason}): cached results are kept in memory for this run "
            "only. To keep them, set FLYTE_HOME (or FLYTE_LOCAL_CACHE_DB) to a writable place."
        )
        try:
            under_home = self.path.resolve().is_relative_to(flyte_home().resolve())
        except OSError:
            under_home = False
        # One warning for an unwritable home: if the run records already said so, this is the same problem.
        warn_once("home" if under_home and not os.access(self.path.parent, os.W_OK) else f"cache:{self.path}",
                  message)
        self.in_memory = True
        return self._connect(":memory:")

    def _move_aside(self, e: BaseException) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.path, aside)
        except OSError as move_error:
            raise sqlite3.OperationalError(f"cannot move {self.path} aside: {move_error}") from e
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.replace(f"{self.path}{suffix}", f"{aside}{suffix}")
        _warn_once(
            f"corrupt:{self.path}",
            f"The task cache {self.path} is damaged ({e}); it was moved to {aside} and a new, empty cache is used.",
        )

    def _recover(self, e: sqlite3.Error) -> bool:
        """After an error on the open database: start a fresh one if it is corrupt. True when recovered."""
        if self.in_memory or not _is_corrupt(e):
            return False
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        try:
            self._move_aside(e)
            self._db = self._connect(self.path)
        except (OSError, sqlite3.Error) as e2:
            self._db = self._memory(e2)
        return True

    # -- use ----------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                row = self._db.execute("SELECT outputs FROM cache WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as e:
                if not self._recover(e):
                    _warn_once(f"read:{self.path}", f"Could not read the task cache {self.path} ({e}); "
                                                    "treating lookups that fail as misses.")
                return None
        if row is None:
            return None
        from flyteidl2.core.literals_pb2 import LiteralMap

        m = LiteralMap()
        try:
            m.ParseFromString(row[0])
        except Exception:  # a damaged entry is a miss; the run writes a good one
            return None
        return dict(m.literals)

    def put(self, key: str, task: str, version: str, outputs: dict[str, Any]) -> None:
        from flyteidl2.core.literals_pb2 import LiteralMap

        blob = LiteralMap(literals=outputs).SerializeToString(deterministic=True)
        row = (key, task, version, blob, time.time())
        with self._lock:
            try:
                self._db.execute("INSERT OR REPLACE INTO cache VALUES (?,?,?,?,?)", row)
            except sqlite3.Error as e:
                if self._recover(e):
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("INSERT OR REPLACE INTO cache VALUES (?,?,?,?,?)", row)
                    return
                _warn_once(f"write:{self.path}", f"Could not write to the task cache {self.path} ({e}); "
                                                 "results that fail to be stored are not cached.")

    def clear(self, task: str | None = None) -> int:
        with self._lock:
            if task is None:
                cur = self._db.execute("DELETE FROM cache")
            else:
                cur = self._db.execute("DELETE FROM cache WHERE task = ?", (task,))
        return cur.rowcount

    def close(self) -> None:
        self._db.close()
