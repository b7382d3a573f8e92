"""The web console on the devbox's port: flyte-core's console handler over the devbox's own state.

:class:`DevboxRunStore` reads the state database through its own read-only SQLite connection (one per
worker thread; WAL lets it read while the server writes). What must go through the devbox itself --
inputs/outputs from its data store, abort (the same path as ``AbortRun``) -- is run on the server's
event loop. Under ``--auth`` every API call needs a devbox bearer token (the RPCs need one too).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from flyte.console.api import ConsoleApp, is_loopback_host
from flyte.console.asgi import ConsoleASGI
from flyte.console.render import render_literals, scrub_text
from flyte.console.store import (
    TERMINAL,
    BadRequest,
    NotFound,
    RunSummary,
    one_line,
    split_traceback,
    summary_duration,
)
from flyteidl2.common import phase_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.task import task_definition_pb2 as td

from flyte_devbox.core import Devbox
from flyte_devbox.runs import ROOT, action_data
from flyte_devbox.store import RunKey

T = TypeVar("T")

_PHASES = {
    phase_pb2.ACTION_PHASE_UNSPECIFIED: "QUEUED",
    phase_pb2.ACTION_PHASE_QUEUED: "QUEUED",
    phase_pb2.ACTION_PHASE_WAITING_FOR_RESOURCES: "QUEUED",
    phase_pb2.ACTION_PHASE_INITIALIZING: "RUNNING",
    phase_pb2.ACTION_PHASE_RUNNING: "RUNNING",
    phase_pb2.ACTION_PHASE_SUCCEEDED: "SUCCEEDED",
    phase_pb2.ACTION_PHASE_FAILED: "FAILED",
    phase_pb2.ACTION_PHASE_ABORTED: "ABORTED",
    phase_pb2.ACTION_PHASE_TIMED_OUT: "TIMED_OUT",
    phase_pb2.ACTION_PHASE_PAUSED: "RUNNING",
    phase_pb2.ACTION_PHASE_RECOVERED: "SUCCEEDED",
}
# A `since` answer repeats what ended this long before its cursor (a row stamped just before the
# cursor's read may be committed just after it).
_SLACK_S = 2.0
# The runs list repeats runs that ended this long before its cursor: a run's end is stamped before the abort cascade
# over its children is committed with it (seconds for thousands of children). A few runs: cheap to repeat.
_LIST_SLACK_S = 60.0
_ACTION_COLS = ("name, parent, grp, kind, task_id, spec, phase, attempts, start_time, end_time, error, abort_reason, "
                "created_at")
# the same columns without the specs (task names are cached: a 10,000-action run's specs are megabytes)
_LIGHT_COLS = _ACTION_COLS.replace("task_id, spec", "NULL, NULL")
# A log is read this much at a time; while its attempt runs, a chunk ends at its last newline (a line is scrubbed
# whole: a signed URL cut between two reads lost only its first half's query string), unless it is one longer line.
_LOG_READ = 1 << 20


_ENDED = frozenset({phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED, phase_pb2.ACTION_PHASE_ABORTED,
                    phase_pb2.ACTION_PHASE_TIMED_OUT})


def phase_name(value: int) -> str:
    return _PHASES.get(value, "QUEUED")


def _error_text(blob: bytes | None, abort_reason: str | None) -> tuple[str, str] | None:
    """``(kind, message)`` of an action's ExecutionError (its traceback, if it carries one, still in the message),
    or of its abort."""
    if abort_reason:
        return "Aborted", abort_reason
    if not blob:
        return None
    try:
        err = execution_pb2.ExecutionError.FromString(blob)
    except Exception:
        return "Error", "<unreadable error>"
    kind = err.code or ("UserError" if err.kind == execution_pb2.ExecutionError.USER else "SystemError")
    return kind, err.message


class DevboxRunStore:
    """The console's :class:`flyte.console.store.RunStore` over a devbox (``box``, served on ``loop``)."""

    source = "devbox"
    can_abort = True

    def __init__(self, box: Devbox, loop: asyncio.AbstractEventLoop) -> None:
        self.box = box
        self.loop = loop
        self.title = f"Devbox {box.url}"
        self._db_path = Path(box.settings.state_db)
        self._local = threading.local()
        self._task_names: dict[tuple[str, str, str, str, str], str] = {}
        self._io_cache: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    # -- plumbing ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(f"{self._db_path.as_uri()}?mode=ro", uri=True, timeout=10.0,
                                 check_same_thread=False)
            self._local.db = db
        return db

    def _on_loop(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _key(self, name: str) -> RunKey:
        """The run called ``name`` (the newest, if projects share the name)."""
        row = self._db().execute(
            "SELECT org, project, domain, name FROM runs WHERE name=? ORDER BY created_at DESC LIMIT 1", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"No run named {name!r} on this devbox")
        return RunKey(*row)

    def _task_name(self, key: RunKey, action: str, kind: str, task_id: bytes | None, spec: bytes | None) -> str:
        k = (key.org, key.project, key.domain, key.name, action)
        name = self._task_names.get(k)
        if name is None:
            name = ""
            with contextlib.suppress(Exception):
                if kind == "trace":
                    name = "trace"
                elif task_id:
                    name = td.TaskIdentifier.FromString(task_id).name
                elif spec:
                    name = td.TaskSpec.FromString(spec).task_template.id.name
            if len(self._task_names) > 200_000:
                self._task_names.clear()
            self._task_names[k] = name
        return name

    def _name_tasks(self, key: RunKey, actions: list[str]) -> None:
        """Cache the task names of ``actions`` not named yet (their specs are read only then)."""
        k = (key.org, key.project, key.domain, key.name)
        missing = [a for a in actions if (*k, a) not in self._task_names]
        if not missing:
            return
        db = self._db()
        q = "SELECT name, kind, task_id, spec FROM actions WHERE org=? AND project=? AND domain=? AND run=?"
        if len(missing) > 500:
            found = db.execute(q, k).fetchall()
        else:
            found = db.execute(q + f" AND name IN ({','.join('?' * len(missing))})", (*k, *missing)).fetchall()
        for name, kind, task_id, spec in found:
            self._task_name(key, name, kind, task_id, spec)

    # -- runs -----------------------------------------------------------------------

    def list_runs(self, *, phases: frozenset[str] = frozenset(), task: str | None = None, limit: int = 500,
                  since: str | None = None) -> tuple[list[RunSummary], str]:
        since_t = _cursor(since) if since else None
        now = time.time()
        db = self._db()
        rows = db.execute(
            "SELECT r.org, r.project, r.domain, r.name, r.created_at, a.phase, a.start_time, a.end_time, a.error, "
            "a.abort_reason, a.kind, a.task_id, a.spec FROM runs r JOIN actions a ON a.org=r.org AND "
            "a.project=r.project AND a.domain=r.domain AND a.run=r.name AND a.name=? ORDER BY r.created_at DESC",
            (ROOT,),
        ).fetchall()
        counts: dict[tuple[str, str, str, str], dict[str, int]] = {}
        for org, project, domain, run, phase, n in db.execute(
            "SELECT org, project, domain, run, phase, count(*) FROM actions GROUP BY org, project, domain, run, phase"
        ):
            c = counts.setdefault((org, project, domain, run), {"total": 0})
            p = phase_name(phase)
            c[p] = c.get(p, 0) + n
            c["total"] += n
        wanted = task.lower() if task else None
        out: list[RunSummary] = []
        for org, project, domain, name, created, phase, start, end, error, reason, kind, task_id, spec in rows:
            key = RunKey(org, project, domain, name)
            p = phase_name(phase)
            if since_t is not None and p in TERMINAL and (end or 0) < since_t - _LIST_SLACK_S \
                    and created < since_t - _LIST_SLACK_S:
                continue
            if phases and p not in phases:
                continue
            task_name = self._task_name(key, ROOT, kind, task_id, spec)
            if wanted and wanted not in task_name.lower():
                continue
            err = _error_text(error, reason)
            out.append({"name": name, "task": task_name, "phase": p, "start": start or created, "end": end,
                        "duration": summary_duration(start or created, end, now),
                        "actions": counts.get((org, project, domain, name), {"total": 0}),
                        "error": _headline(err)})
            if len(out) >= limit:
                break
        return out, f"d{now:.6f}"

    # -- one run --------------------------------------------------------------------

    def get_run(self, name: str, since: str | None = None) -> tuple[RunSummary, list[dict[str, Any]], str]:
        since_t = _cursor(since) if since else None
        # a cursor taken while the run went ends in "r": once the run has ended, its next answer has every action
        # (the page stops asking then; an end committed later than the slack after its stamp is not lost)
        since_live = since is None or since.endswith("r")
        now = time.time()
        key = self._key(name)
        db = self._db()
        rows = db.execute(f"SELECT {_LIGHT_COLS} FROM actions WHERE org=? AND project=? AND domain=? AND run=?",
                          (key.org, key.project, key.domain, key.name)).fetchall()
        rows.sort(key=_created_order)
        self._name_tasks(key, [r[0] for r in rows])
        attempts: dict[str, list[dict[str, Any]]] = {}
        for action, n, phase, start, end in db.execute(
            "SELECT action, attempt, phase, start_time, end_time FROM attempts WHERE org=? AND project=? AND domain=? "
            "AND run=? ORDER BY attempt", (key.org, key.project, key.domain, key.name)
        ):
            attempts.setdefault(action, []).append({"n": n, "phase": phase_name(phase), "start": start, "end": end})
        actions = self._shape(key, rows, attempts)
        root = next((a for a in actions if a["name"] == ROOT), None)
        if root is None:
            raise NotFound(f"Run {name!r} has no root action yet")
        summary: RunSummary = {
            "name": key.name, "task": root["task"], "phase": root["phase"], "start": root["start"],
            "end": root["end"], "duration": summary_duration(root["start"], root["end"], now),
            "actions": _counts(actions), "error": root["error"],
        }
        inputs, outputs = self._io(key, ROOT)
        summary["inputs"], summary["outputs"] = inputs, outputs
        live = summary["phase"] not in TERMINAL
        if since_t is not None and not (since_live and not live):
            cut = since_t - _SLACK_S
            actions = [a for a in actions
                       if a["phase"] not in TERMINAL or max(a["end"] or 0, a["start"] or 0, a["_created"] or 0) >= cut]
        for a in actions:
            a.pop("_created", None)
        return summary, actions, f"d{now:.6f}{'r' if live else ''}"

    def _shape(self, key: RunKey, rows: list[tuple[Any, ...]],
               attempts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        out = []
        map_index: dict[tuple[str, str], int] = {}
        for name, parent, grp, kind, task_id, spec, phase, n, start, end, error, reason, created in rows:
            task = self._task_name(key, name, kind, task_id, spec)
            group = grp or None
            mapped = None
            if group:
                short = task.rsplit(".", 1)[-1]
                if short and group.startswith(short + "_"):
                    i = map_index.get((parent, group), 0)
                    map_index[(parent, group)] = i + 1
                    mapped = {"of": group, "index": i}
            err = _error_text(error, reason)
            p = phase_name(phase)
            tries = attempts.get(name)
            if tries is None:
                tries = [{"n": n or 1, "phase": p, "start": start or None, "end": end}] if start else []
            out.append({
                "name": name, "parent": parent or None, "task": task, "group": group, "phase": p,
                "start": start or None, "end": end, "attempts": tries, "map": mapped, "cache_hit": False,
                "error": _headline(err), "_created": created,
            })
        return out

    def _io(self, key: RunKey, action: str) -> tuple[Any, Any]:
        async def read() -> tuple[Any, Any]:  # on the loop: the cache is touched by one thread
            row = self.box.store.get_action(key, action)
            if row is None:
                raise NotFound(f"Run {key.name!r} has no action {action!r}")
            # inputs never change, outputs once the action has ended: read once (the page polls a live run)
            done = row.phase in _ENDED
            ck = (key, action, row.input_uri, row.output_uri if done else None)
            hit = self._io_cache.get(ck)
            if hit is not None:
                return hit
            inputs, outputs = await action_data(self.box.data, row)
            ins = render_literals(inputs.literals)
            outs = render_literals(outputs.literals) if row.phase == phase_pb2.ACTION_PHASE_SUCCEEDED else None
            if len(self._io_cache) >= 1024:
                self._io_cache.clear()
            self._io_cache[ck] = (ins, outs)
            return ins, outs

        try:
            return self._on_loop(read())
        except NotFound:
            raise
        except Exception as e:  # data gone from the bucket: show the rest of the run
            msg = [{"name": "?", "type": "unreadable", "value": scrub_text(f"<cannot read: {e}>"), "uri": None}]
            return msg, None

    def get_action(self, run: str, action: str) -> dict[str, Any]:
        key = self._key(run)
        db = self._db()
        row = db.execute(f"SELECT {_ACTION_COLS} FROM actions WHERE org=? AND project=? AND domain=? AND run=? "
                         "AND name=?", (key.org, key.project, key.domain, key.name, action)).fetchone()
        if row is None:
            raise NotFound(f"Run {run!r} has no action {action!r}")
        tries = [{"n": n, "phase": phase_name(p), "start": s, "end": e} for n, p, s, e in db.execute(
            "SELECT attempt, phase, start_time, end_time FROM attempts WHERE org=? AND project=? AND domain=? "
            "AND run=? AND action=? ORDER BY attempt", (key.org, key.project, key.domain, key.name, action))]
        siblings = [] if not row[2] else db.execute(
            f"SELECT {_ACTION_COLS} FROM actions WHERE org=? AND project=? AND domain=? AND run=? AND parent=? "
            "AND grp=?", (key.org, key.project, key.domain, key.name, row[1], row[2])).fetchall()
        siblings.sort(key=_created_order)
        shaped = self._shape(key, siblings or [row], {action: tries} if tries else {})
        doc = next(a for a in shaped if a["name"] == action)
        doc.pop("_created", None)
        doc["attempts"] = tries or doc["attempts"]
        doc["inputs"], doc["outputs"] = self._io(key, action)
        err = _error_text(row[10], row[11])
        if err:
            message, traceback = split_traceback(scrub_text(err[1]))
            doc["error"] = {"kind": err[0], "message": message, "traceback": traceback}
        else:
            doc["error"] = None
        doc["has_report"] = self._report_uri(key, action) is not None
        doc["has_logs"] = bool(tries)
        return doc

    # -- logs, reports, abort ---------------------------------------------------------

    def logs(self, run: str, action: str, offset: str = "") -> dict[str, Any]:
        """The last attempt's stdout then stderr. ``offset`` is ``"<attempt>.<stdout>.<stderr>"``: when a retry has
        started since, its log is read from its start (under a line naming the attempt). ``done`` once the action
        has ended and nothing more was read (the end of an attempt that is retried is not the end of the log)."""
        key = self._key(run)
        db = self._db()
        row = db.execute("SELECT phase FROM actions WHERE org=? AND project=? AND domain=? AND run=? AND name=?",
                         (key.org, key.project, key.domain, key.name, action)).fetchone()
        if row is None:
            raise NotFound(f"Run {run!r} has no action {action!r}")
        ended = phase_name(row[0]) in TERMINAL
        last = db.execute("SELECT log_dir, end_time, attempt FROM attempts WHERE org=? AND project=? AND domain=? "
                          "AND run=? AND action=? ORDER BY attempt DESC LIMIT 1",
                          (key.org, key.project, key.domain, key.name, action)).fetchone()
        if last is None:
            return {"text": "", "offset": offset, "done": ended}
        log_dir = Path(last[0])
        logs_root = Path(self.box.settings.logs_dir).resolve()
        if not log_dir.resolve().is_relative_to(logs_root):
            raise NotFound(f"Action {action!r} keeps its logs outside the devbox's log folder")
        parts = [int(p or 0) for p in offset.split(".")] if offset else []
        attempt = int(last[2])
        if len(parts) == 3:
            seen_attempt, positions = parts[0], parts[1:]
        else:  # the start, or an offset made before attempts were in it
            seen_attempt, positions = (attempt if parts else 0), [*parts, 0, 0][:2]
        texts = []
        if seen_attempt != attempt:  # a retry began since (or this is the first read): from its start
            positions = [0, 0]
            if attempt > 1:
                texts.append(("" if seen_attempt == 0 else "\n") + f"--- attempt {attempt} ---\n")
        for i, stream in enumerate(("stdout", "stderr")):
            f = log_dir / stream
            try:
                with f.open("rb") as fh:
                    fh.seek(positions[i])
                    chunk = fh.read(_LOG_READ)
            except FileNotFoundError:
                continue
            if last[1] is None and len(chunk) < _LOG_READ:  # still writing: whole lines only (scrubbed whole)
                chunk = chunk[: max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1]  # "\r": progress bars
            chunk = _whole_characters(chunk)
            positions[i] += len(chunk)
            if chunk:
                texts.append(chunk.decode(errors="replace"))
        done = ended and last[1] is not None and not texts
        return {"text": scrub_text("".join(texts)), "offset": f"{attempt}.{positions[0]}.{positions[1]}",
                "done": done}

    def _report_uri(self, key: RunKey, action: str) -> str | None:
        async def find() -> str | None:
            row = self.box.store.get_action(key, action)
            if row is None:
                return None
            data = self.box.data
            candidates = [data.join(at.output_prefix, "report.html") for at in reversed(self.box.store.attempts(row))]
            # flyte.report's own place in a run folder (the run's base as the worker knows it: _U_RUN_BASE)
            candidates.append(data.join(row.run_output_base or self.box.run_base(key), "reports", f"{action}.html"))
            for uri in candidates:
                if await data.exists(uri):
                    return uri
            return None

        try:
            return self._on_loop(find())
        except Exception:
            return None

    def report(self, run: str, action: str) -> str:
        key = self._key(run)
        uri = self._report_uri(key, action)
        if uri is None:
            raise NotFound(f"Action {action!r} of run {run!r} has no report")
        data: bytes = self._on_loop(self.box.data.read(uri))
        return data.decode("utf-8", errors="replace")

    def abort(self, run: str) -> str:
        key = self._key(run)

        async def go() -> str:
            row = self.box.store.get_action(key, ROOT)
            if row is None:
                raise NotFound(f"Run {run!r} has no root action")
            self.box.abort(row, "aborted from the console")
            return phase_name(row.phase)

        return self._on_loop(go())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()


def _created_order(row: tuple[Any, ...]) -> tuple[float, int, str]:
    """Actions in the order they were made (``created_at``, the last column): child names are hashes, so ordering by
    name numbered a map's items at random (item #0 was square(2))."""
    return (row[-1] or 0.0, len(row[0]), row[0])


def _whole_characters(chunk: bytes) -> bytes:
    """``chunk`` without a UTF-8 character cut at its end (read from there next time, not decoded as U+FFFD)."""
    for back in range(1, min(4, len(chunk)) + 1):
        b = chunk[-back]
        if b & 0xC0 == 0x80:  # a continuation byte: look further back for the lead byte
            continue
        need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4 if b & 0xF8 == 0xF0 else 1
        return chunk[:-back] if need > back else chunk
    return chunk


def _headline(err: tuple[str, str] | None) -> str | None:
    """An error on one line for lists: its message without the traceback."""
    return one_line(split_traceback(scrub_text(err[1]))[0]) if err else None


def _counts(actions: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {"total": len(actions)}
    for a in actions:
        out[a["phase"]] = out.get(a["phase"], 0) + 1
    return out


def _cursor(cursor: str) -> float:
    try:
        if cursor.startswith("d") and len(cursor) < 40:
            return float(cursor[1:].removesuffix("r"))
    except ValueError:
        pass
    raise BadRequest(f"since={cursor[:50]!r} is not a cursor of this answer; pass the 'cursor' of an earlier one")


def console_app(box: Devbox, auth: Any) -> ConsoleASGI:
    """The console as an ASGI app for the devbox's router (called on the server's loop)."""
    authorize = None
    if auth is not None:

        def authorize(headers: Mapping[str, str]) -> str | None:
            header = headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if not header:
                return "this devbox requires a bearer token (started with --auth): send 'Authorization: Bearer <token>'"
            if scheme.lower() != "bearer" or not token.strip():
                return "the authorization header must be 'Bearer <token>'"
            why: str | None = auth.verify(token.strip())
            return why

    store = DevboxRunStore(box, asyncio.get_running_loop())
    host = box.settings.host
    any_host = not is_loopback_host(f"[{host}]" if ":" in host else host)  # bound to a network: its names are fine
    return ConsoleASGI(ConsoleApp(store, authorize=authorize, reads_need_auth=auth is not None, any_host=any_host))


def console_path(path: str) -> bool:
    """Whether ``path`` is the console's (the page routes, its static files and its API)."""
    return path == "/" or path.startswith(("/runs/", "/static/", "/api/", "/v2/runs/")) or path in ("/runs", "/api")


__all__ = ["DevboxRunStore", "console_app", "console_path", "phase_name"]
