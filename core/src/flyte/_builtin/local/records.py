"""Run records of in-process runs: what ran, when, how it ended, with its literals.

Layout of one run's directory (``<runs_dir>/<run_name>/``)::

    run.json      name, task, phase, start/end, error, action counts, and the owning process
                  (pid, its start time, host): rewritten at start and end
    actions.db    one row per action: task, parent, phase, attempts, start/end, error, input and
                  output literals (flyteidl2 LiteralMap bytes); written while the run goes,
                  in batches (committed every ``FLUSH_SECONDS``), readable meanwhile; failed actions'
                  tracebacks in a ``tracebacks`` table beside it
    data/         the default raw data path: File/Dir outputs and offloaded values

A run's directory is claimed with ``mkdir`` (atomic): two runs asking for the same name never share
a record; the second gets ``<name>-2`` (``-3``...). A record still RUNNING whose process is gone
(its pid no longer runs, or runs another program started later) reads as ABORTED ("process died").
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyte._builtin.local.record_reader import (
    HOST,
    list_runs,
    load_run,
    owner_is_alive,
    process_start_time,
    runs_dir,
    runs_dir_is_explicit,
)
from flyte.errors import InvalidInputError
from flyte.runtime import Phase

logger = logging.getLogger("flyte.local")

FLUSH_SECONDS = 0.5
# Running actions written per batch, at most (a 100,000-task fan-out starts them all at once; each is
# written when it ends in any case). Readers see the rest as not yet started.
MAX_RUNNING_ROWS = 1000
MAX_NAME_LENGTH = 100
# compiled on first use (re caches it): most runs get a generated name
_NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


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
    traceback: str | None = None  # of the last failed attempt, for `flyte get run NAME --action aN`
    saved: int = 0  # what actions.db holds of it: 0 nothing, 1 a running row, 2 its final row (the recorder's)
    # a retried action: end of attempt 1, then start and end of each later failed attempt, then the last one's start
    retry_log: list[float] | None = None


def format_failure(exc: BaseException) -> str:
    """The traceback kept in a failed action's record: the body's frames, not the runtime's.

    Leading frames of flyte itself (controller, body runner) are dropped; chained causes (a child
    action's failure) are kept.
    """
    import traceback

    flyte_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(flyte_dir):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def abort_reason(exc: BaseException) -> str:
    """What a run record says when ``exc`` (a BaseException that is not an Exception) ended the run."""
    import asyncio

    if isinstance(exc, KeyboardInterrupt):
        return str(exc) or "interrupted (KeyboardInterrupt)"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled" + (f": {exc}" if str(exc) else " (the caller's task was cancelled, or Ctrl-C)")
    if isinstance(exc, SystemExit):
        return f"sys.exit({exc.code!r}) in a task body"
    return str(exc) or type(exc).__name__


# -- names ---------------------------------------------------------------------------


def new_run_name() -> str:
    return "r" + "".join(secrets.choice(_ALPHABET) for _ in range(9))


def validate_run_name(name: str) -> str:
    """``name`` if it can name a run's folder, else an InvalidInputError saying what is allowed."""
    if not isinstance(name, str):
        raise InvalidInputError(f"A run name is a str, got {type(name).__name__} {name!r}. "
                                "Example of a valid name: nightly-2026-11-29")
    if not name:
        raise InvalidInputError("A run name cannot be empty")
    problem = None
    if len(name) > MAX_NAME_LENGTH:
        problem = f"it is {len(name)} characters long (at most {MAX_NAME_LENGTH})"
    elif "/" in name or "\\" in name or os.sep in name:
        problem = "it contains a path separator"
    elif ".." in name:
        problem = "it contains '..'"
    elif not re.fullmatch(_NAME_RE, name):
        problem = "it may use only letters, digits, '.', '_' and '-', and must start with a letter or digit"
    if problem:
        shown = name if len(name) <= 120 else name[:117] + "..."
        raise InvalidInputError(
            f"Run name {shown!r} is not allowed: {problem}. Example of a valid name: nightly-2026-11-29"
        )
    return name


def claim_run_dir(base: Path, name: str | None) -> tuple[str, Path]:
    """Create the run's folder under ``base`` and return ``(name, folder)``.

    ``mkdir`` is the lock: whoever creates the folder owns the name. A name already taken gets the
    first free ``<name>-<n>`` (n >= 2); the earlier record is left as it is.
    """
    base.mkdir(parents=True, exist_ok=True)
    if name is None:
        while True:
            generated = new_run_name()
            try:
                (base / generated).mkdir()
                return generated, base / generated
            except FileExistsError:
                continue
    validate_run_name(name)
    try:
        (base / name).mkdir()
        return name, base / name
    except FileExistsError:
        pass
    suffix = re.compile(re.escape(name) + r"-(\d+)")
    taken = [int(m.group(1)) for p in os.listdir(base) if (m := suffix.fullmatch(p))]
    n = max(taken, default=1) + 1
    while True:
        candidate = f"{name}-{n}"
        if len(candidate) > MAX_NAME_LENGTH:
            raise InvalidInputError(f"Run name {name!r} is taken in {base} and too long to add a suffix to")
        try:
            (base / candidate).mkdir()
            return candidate, base / candidate
        except FileExistsError:
            n += 1


# -- the record itself -------------------------------------------------------------


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
    requested_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "task": self.task,
            "runtime": self.runtime,
            "phase": self.phase.value,
            "start": self.start,
            "end": self.end,
            "error": self.error,
            "counts": self.counts,
            "pid": os.getpid(),
            "pid_start": process_start_time(os.getpid()),
            "host": HOST,
        }
        if self.requested_name and self.requested_name != self.name:
            doc["requested_name"] = self.requested_name
        return doc

    def write(self) -> None:
        tmp = self.directory / f"run.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(self.to_json(), indent=1))
        os.replace(tmp, self.directory / "run.json")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
  name TEXT PRIMARY KEY, task TEXT, parent TEXT, grp TEXT, phase TEXT, attempts INTEGER,
  start REAL, end REAL, error TEXT, cache_hit INTEGER, inputs BLOB, outputs BLOB
);
CREATE TABLE IF NOT EXISTS tracebacks (name TEXT PRIMARY KEY, traceback TEXT);
CREATE TABLE IF NOT EXISTS retries (name TEXT PRIMARY KEY, times TEXT);
"""
# Tracebacks in their own table: only failed actions have one (the actions table stays as narrow as before).
_INSERT = "INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_TB = "INSERT OR REPLACE INTO tracebacks VALUES (?,?)"
# Retried actions' attempt times (ActionRecord.retry_log as JSON), for the console's timeline: only they have a row.
_INSERT_RETRIES = "INSERT OR REPLACE INTO retries VALUES (?,?)"


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


def _row(a: ActionRecord) -> tuple[Any, ...]:
    phase = a.phase
    if phase is Phase.RUNNING or phase is Phase.QUEUED:
        # Written again when it ends, with its outputs. Its inputs now too: the console shows what a running
        # action was given (only actions running for a while are written before they end: a bounded cost).
        return (a.name, a.task, a.parent, a.group, phase.value, a.attempts, a.start, a.end, a.error,
                int(a.cache_hit), _literal_map_bytes(a.inputs), None)
    return (
        a.name, a.task, a.parent, a.group, phase.value, a.attempts, a.start, a.end, a.error,
        int(a.cache_hit), _literal_map_bytes(a.inputs), _literal_map_bytes(a.outputs),
    )


def _tracebacks(actions: Iterable[ActionRecord]) -> list[tuple[str, str]]:
    return [(a.name, a.traceback) for a in actions if a.traceback is not None]


def _retries(actions: Iterable[ActionRecord]) -> list[tuple[str, str]]:
    return [(a.name, json.dumps(a.retry_log)) for a in actions if a.retry_log]


def _open_actions_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    # A rollback journal: a batch is all or nothing even if the process is killed mid-commit, and rows are
    # written once (WAL would write them again at the checkpoint). synchronous=OFF: no fsync; a commit
    # survives the process dying (only a power cut can lose it). Readers wait out a commit (busy timeout).
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(_SCHEMA)
    return db


def write_actions(directory: Path, actions: list[ActionRecord]) -> None:
    """Write ``actions`` in one transaction (used by tools and tests; runs use :class:`RunRecorder`)."""
    db = _open_actions_db(directory / "actions.db")
    try:
        db.execute("BEGIN")
        db.executemany(_INSERT, (_row(a) for a in actions))
        db.executemany(_INSERT_TB, _tracebacks(actions))
        db.executemany(_INSERT_RETRIES, _retries(actions))
        db.execute("COMMIT")
    finally:
        db.close()


_UNWRITTEN, _PARTIAL, _FINAL = 0, 1, 2


def _complete(a: ActionRecord) -> bool:
    """Whether ``a`` is final as far as the record goes (a success also needs its outputs)."""
    phase = a.phase
    if phase is Phase.SUCCEEDED:
        return a.outputs is not None
    return phase is not Phase.RUNNING and phase is not Phase.QUEUED


def _counts(actions: list[ActionRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in actions:
        key = "cached" if a.cache_hit else a.phase.value.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


_open_recorders: set[RunRecorder] = set()
_finishing: dict[RunRecorder, float] = {}  # recorders writing their last batch now -> since when


def finishing_now(within: float = 2.0) -> bool:
    """Whether a record of this process is being finished right now (started less than ``within`` s ago)."""
    now = time.monotonic()
    return any(now - t < within for t in list(_finishing.values()))


_atexit_registered = False
_aborted: list[tuple[str, str]] = []  # (name, record url) of runs this process recorded as ABORTED


def aborted_runs() -> list[tuple[str, str]]:
    """The runs this process has recorded as ABORTED so far: ``(name, url of the record)``."""
    return list(_aborted)


class RunRecorder:
    """Keeps one run's record on disk while it runs.

    What changed is committed every ``FLUSH_SECONDS`` in one transaction (a timer on the run's
    loop scans the actions from the first one not yet final: nothing is added to the controller's
    hot path); ``finish(phase, error)`` writes the rest and the final ``run.json``. If the process
    exits without ``finish`` (an exception escaping the loop, ``sys.exit`` in a body), an atexit hook
    finishes the record as ABORTED; if it is killed, readers see the dead pid.

    A recorder with ``directory=None`` is disabled: it keeps nothing (an unwritable home).
    """

    def __init__(self, record: RunRecord | None, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.record = record
        self.actions: list[ActionRecord] = []
        self._first_open = 0  # actions before this index are written in their final state
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._stop = threading.Event()
        self._flush_seconds = flush_seconds
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.finished = False
        self._write_error: str | None = None

    @property
    def enabled(self) -> bool:
        return self.record is not None

    @property
    def name(self) -> str | None:
        return self.record.name if self.record else None

    @property
    def directory(self) -> Path | None:
        return self.record.directory if self.record else None

    def start(self, actions: list[ActionRecord]) -> None:
        """Begin recording ``actions`` (the controller's list, appended to as actions start).

        On the run's event loop (the usual case) batches are committed by a timer on that loop: no
        second thread competes for the GIL with the run. A loop held by a body finishes nothing
        meanwhile, so nothing waits to be written. Without a running loop, a daemon thread commits.
        """
        global _atexit_registered
        self.actions = actions
        if self.record is None:
            return
        _open_recorders.add(self)
        if not _atexit_registered:
            atexit.register(_finish_open_recorders)
            _atexit_registered = True
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._thread = threading.Thread(target=self._flush_forever, name=f"flyte-record-{self.record.name}",
                                            daemon=True)
            self._thread.start()
        else:
            self._timer = self._loop.call_later(self._flush_seconds, self._tick)

    def _tick(self) -> None:
        if self.finished or self._loop is None:
            return
        try:
            self.flush()
        except Exception as e:  # a full disk must not stop the run: say it once, keep running
            self._report_write_error(e)
        self._timer = self._loop.call_later(self._flush_seconds, self._tick)

    def _flush_forever(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
            except Exception as e:
                self._report_write_error(e)

    def _report_write_error(self, e: BaseException, file: str = "actions.db") -> None:
        if self._write_error is None and self.record is not None:
            self._write_error = str(e)
            logger.warning("Could not write the run record %s: %s (the run goes on)", self.record.directory / file, e)

    def flush(self, everything: bool = False) -> None:
        """Commit what changed since the last flush (every action not yet final with ``everything``).

        Scans the actions from the first one not yet written in its final state: finished ones are
        written with their literals (once), running ones once without them. The controller needs no
        callback for this: its hot path is unchanged.
        """
        if self.record is None:
            return
        with self._lock:
            actions = self.actions
            end = len(actions)
            if everything:  # the last batch: what is not final yet, as it is now
                last = [a for a in actions[self._first_open:end] if a.saved != _FINAL]
                self._first_open = end
                self._commit(map(_row, last), _tracebacks(last), _retries(last))
                return
            first_open: int | None = None
            # The actions to write, not their rows: rows (with their literal bytes) are built one at a
            # time while sqlite takes them, so a batch of 50,000 finished actions costs no extra memory.
            picked: list[ActionRecord] = []
            finals = []
            running_rows = 0
            settled = time.time() - self._flush_seconds / 2
            for i in range(self._first_open, end):
                a = actions[i]
                state = a.saved
                if state == _FINAL:
                    continue
                if _complete(a):
                    picked.append(a)
                    finals.append(a)
                    continue
                if first_open is None:
                    first_open = i
                if (state == _UNWRITTEN and a.phase is Phase.RUNNING and a.start <= settled
                        and running_rows < MAX_RUNNING_ROWS):
                    # Running for a while: shown to readers now, its literals come with its final row.
                    # (Actions that start and end between two batches are written once, finished.)
                    picked.append(a)
                    a.saved = _PARTIAL
                    running_rows += 1
            self._first_open = end if first_open is None else first_open
            if picked:
                self._commit(map(_row, picked), _tracebacks(finals), _retries(finals))
            for a in finals:
                a.saved = _FINAL

    def _commit(self, rows: Iterable[tuple[Any, ...]], tracebacks: list[tuple[str, str]],
                retries: list[tuple[str, str]] | None = None) -> None:
        if self.record is None or (isinstance(rows, list) and not rows):
            return
        if self._db is None:
            self._db = _open_actions_db(self.record.directory / "actions.db")
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(_INSERT, rows)
            if tracebacks:
                db.executemany(_INSERT_TB, tracebacks)
            if retries:
                db.executemany(_INSERT_RETRIES, retries)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def finish(self, phase: Phase, error: str | None) -> None:
        """Write every action not yet saved and the final run.json; stop the writer. Idempotent."""
        if self.finished:
            return
        self.finished = True
        _open_recorders.discard(self)
        self._stop_writer()
        record = self.record
        if record is None:
            return
        _finishing[self] = time.monotonic()
        try:
            self._finish(record, phase, error)
        finally:
            _finishing.pop(self, None)

    def _finish(self, record: RunRecord, phase: Phase, error: str | None) -> None:
        now = time.time()
        if phase.terminal:
            running, queued = Phase.RUNNING, Phase.QUEUED
            for a in self.actions[self._first_open:]:
                if a.phase is running or a.phase is queued:  # still going at the end: a sibling failed, or abort
                    a.phase = Phase.ABORTED
                    a.end = a.end or now
        try:
            self.flush(everything=True)
        except Exception as e:
            self._report_write_error(e)
        finally:
            self._close_db()
        record.phase = phase
        record.error = error
        record.end = now
        if phase is Phase.ABORTED:
            _aborted.append((record.name, record.directory.as_uri()))
        record.counts = _counts(self.actions)
        try:
            record.write()
        except OSError as e:
            self._report_write_error(e, "run.json")

    def discard(self) -> None:
        """Stop and remove the record (a run that never started: bad input to its root task)."""
        import shutil

        self.finished = True
        _open_recorders.discard(self)
        self._stop_writer()
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
        if self.record is not None:
            shutil.rmtree(self.record.directory, ignore_errors=True)

    def _stop_writer(self) -> None:
        self._stop.set()
        if self._timer is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed or on another thread
                self._timer.cancel()
            self._timer = None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()


def _finish_open_recorders() -> None:
    for rec in list(_open_recorders):
        with contextlib.suppress(Exception):
            rec.finish(Phase.ABORTED, "the process exited before the run ended")


def abort_open_records(reason: str, blocking: bool = True) -> None:
    """Finish every run record of this process still open as ABORTED (used when stopping on a signal)."""
    for rec in list(_open_recorders):
        if not blocking and rec._lock.locked():
            continue  # being written right now; the pid check covers it if we exit first
        with contextlib.suppress(Exception):
            rec.finish(Phase.ABORTED, reason)


_warned: set[str] = set()


def warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def open_run_record(
    task: str,
    requested_name: str | None,
    run_base_dir: str | os.PathLike[str] | None = None,
    runtime: str = "local",
) -> RunRecorder:
    """Claim a run's folder and write its first run.json; a disabled recorder if home is unwritable.

    An explicit ``run_base_dir`` (or ``FLYTE_LOCAL_RUNS_DIR``) that cannot be written is an error
    naming it; the default location under the flyte home is skipped with one warning instead.
    """
    if requested_name is not None:
        validate_run_name(requested_name)
    explicit = run_base_dir is not None or runs_dir_is_explicit()
    base = Path(run_base_dir).expanduser() if run_base_dir is not None else runs_dir()
    try:
        name, directory = claim_run_dir(base, requested_name)
        record = RunRecord(name=name, task=task, directory=directory, runtime=runtime,
                           requested_name=requested_name)
        record.write()
    except OSError as e:
        reason = e.strerror or str(e)
        if explicit:
            raise InvalidInputError(
                f"Cannot keep the run record in {base}: {reason} ({e.filename or base}). "
                "Pass --run-base-dir (or set FLYTE_LOCAL_RUNS_DIR) to a writable folder."
            ) from None
        from flyte._builtin.local.cache_store import cache_db_path  # in-function: cache_store imports this module

        cache = cache_db_path()
        # The task cache is opened later; if it lives in the same unwritable place, say so now (one warning).
        cache_off = not _can_write(cache)
        warn_once(
            "home",
            f"Run records are off: cannot write to {base} ({reason}). To keep them, set FLYTE_HOME "
            "or pass --run-base-dir (run_base_dir=...) to a writable folder."
            + (f" The task cache {cache} cannot be written either: cached results are kept in memory for this "
               "run only (FLYTE_LOCAL_CACHE_DB can put the cache elsewhere)." if cache_off else ""),
        )
        return RunRecorder(None)
    if requested_name is not None and name != requested_name:
        logger.warning("A run named '%s' exists in %s; this run is '%s'.", requested_name, base, name)
    return RunRecorder(record)


def _can_write(path: Path) -> bool:
    """Whether ``path`` (a file, maybe not there yet) could be written: it or its nearest existing folder."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    for parent in path.parents:
        if parent.exists():
            return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)
    return False


def scratch_data_dir() -> str:
    """A raw data folder for a run that keeps no record (its outputs still need a place)."""
    import tempfile  # start-up time: only runs without a record need it

    return tempfile.mkdtemp(prefix="flyte-run-")


__all__ = [
    "ActionRecord", "RunRecord", "RunRecorder", "abort_open_records", "abort_reason", "claim_run_dir", "format_failure",
    "list_runs", "load_run", "new_run_name", "open_run_record", "owner_is_alive", "process_start_time", "runs_dir",
    "scratch_data_dir", "validate_run_name", "write_actions",
]
