"""The local task cache: a SQLite file keyed by task, cache version and input hash.

It outlives the process, so a second ``flyte run`` of the same inputs is a hit.
WAL mode with ``synchronous=NORMAL``: commits do not fsync on the hot path.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


def cache_db_path() -> Path:
    from flyte.config import flyte_home, get_config

    explicit = get_config().get("local.cache_db")  # FLYTE_LOCAL_CACHE_DB overrides it
    return Path(explicit).expanduser() if explicit else flyte_home() / "cache.db"


def cache_key(task_name: str, version: str, inputs_hash: str) -> str:
    return hashlib.sha256(f"{task_name}\0{version}\0{inputs_hash}".encode()).hexdigest()


class CacheStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, task TEXT, version TEXT, "
            "outputs BLOB, created REAL)"
        )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT outputs FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        from flyteidl2.core.literals_pb2 import LiteralMap

        m = LiteralMap()
        m.ParseFromString(row[0])
        return dict(m.literals)

    def put(self, key: str, task: str, version: str, outputs: dict[str, Any]) -> None:
        from flyteidl2.core.literals_pb2 import LiteralMap

        blob = LiteralMap(literals=outputs).SerializeToString(deterministic=True)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cache VALUES (?,?,?,?,?)", (key, task, version, blob, time.time())
            )

    def clear(self, task: str | None = None) -> int:
        with self._lock:
            if task is None:
                cur = self._db.execute("DELETE FROM cache")
            else:
                cur = self._db.execute("DELETE FROM cache WHERE task = ?", (task,))
        return cur.rowcount

    def close(self) -> None:
        self._db.close()
