"""Run each task action as a subprocess following the Flyte 2 container contract.

The TaskSpec's container command and args run with the backend placeholders substituted and the
backend env set, in a fresh working folder per attempt, in their own process group (an abort or a
timeout kills the whole tree). The outcome is read as a Flyte backend reads it: ``error.pb`` first,
then ``outputs.pb``; a non-zero exit without ``error.pb`` is a system error.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flyteidl2.common import phase_pb2
from flyteidl2.core import execution_pb2, security_pb2
from flyteidl2.task import run_pb2, task_definition_pb2

from flyte_devbox.pod import primary_container
from flyte_devbox.store import ActionRow, AttemptRow, RunKey

if TYPE_CHECKING:
    from flyte_devbox.core import Devbox

_K = execution_pb2.ExecutionError
_ATTEMPT_ENV = "FLYTE_DEVBOX_ATTEMPT"


def system_error(code: str, message: str) -> execution_pb2.ExecutionError:
    return _K(code=code, message=message, kind=_K.SYSTEM, timestamp=_now_ts())


def user_error(code: str, message: str) -> execution_pb2.ExecutionError:
    return _K(code=code, message=message, kind=_K.USER, timestamp=_now_ts())


def _now_ts():  # type: ignore[no-untyped-def]
    from google.protobuf import timestamp_pb2

    t = timestamp_pb2.Timestamp()
    t.GetCurrentTime()
    return t


def substitute(values: Mapping[str, str], arg: str) -> str:
    for k, v in values.items():
        arg = arg.replace("{{" + k + "}}", v)
    return arg


class _Outcome:
    def __init__(self, phase: int, error: execution_pb2.ExecutionError | None = None, retryable: bool = False) -> None:
        self.phase = phase
        self.error = error
        self.retryable = retryable


class Executor:
    def __init__(self, box: Devbox) -> None:
        self.box = box
        self._limit = max(1, box.settings.concurrency)
        # Actions waiting for a slot: a FIFO of keys, not one parked task each (cancelling thousands of
        # semaphore waiters is quadratic). A key missing from _queued was cancelled meanwhile.
        self._queue: collections.deque[tuple[RunKey, str]] = collections.deque()
        self._queued: set[tuple[RunKey, str]] = set()
        self._timers: dict[tuple[RunKey, str], asyncio.TimerHandle] = {}
        self._closing = False
        # Running parents with unfinished children do not hold a slot: with a fixed number of slots,
        # nested calls deeper than the limit would otherwise wait for each other forever.
        self._open_children: dict[tuple[RunKey, str], int] = {}
        self._tasks: dict[tuple[RunKey, str], asyncio.Task[None]] = {}
        self._procs: dict[tuple[RunKey, str], Running] = {}

    # ---- public ---------------------------------------------------------------------------------

    def submit(self, row: ActionRow) -> None:
        key = (row.run, row.name)
        if key in self._tasks or key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        spec = task_definition_pb2.TaskSpec.FromString(row.spec or b"")
        md = spec.task_template.metadata
        if md.HasField("timeouts") and md.timeouts.HasField("queued_timeout"):
            limit = md.timeouts.queued_timeout.ToTimedelta().total_seconds()
            if limit > 0:
                wait = max(0.0, row.queued_at + limit - time.time())
                loop = asyncio.get_running_loop()
                self._timers[key] = loop.call_later(wait, self._queued_too_long, key, limit)
        self._dispatch()

    def child_added(self, run: RunKey, parent: str) -> None:
        key = (run, parent)
        self._open_children[key] = self._open_children.get(key, 0) + 1

    def child_done(self, run: RunKey, parent: str) -> None:
        key = (run, parent)
        n = self._open_children.get(key, 0) - 1
        if n > 0:
            self._open_children[key] = n
        else:
            self._open_children.pop(key, None)

    def busy(self) -> int:
        """Running actions that hold a slot (not those waiting on their children)."""
        waiting = sum(1 for k in self._open_children if k in self._tasks)
        return len(self._tasks) - waiting

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue and self.busy() < self._limit:
            key = self._queue.popleft()
            if key not in self._queued:
                continue
            self._queued.discard(key)
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            task = loop.create_task(self._drive(*key))
            self._tasks[key] = task
            task.add_done_callback(lambda _t, k=key: self._done(k))  # type: ignore[misc]

    def _done(self, key: tuple[RunKey, str]) -> None:
        self._tasks.pop(key, None)
        if not self._closing:
            self._dispatch()

    def _queued_too_long(self, key: tuple[RunKey, str], limit: float) -> None:
        self._timers.pop(key, None)
        if key not in self._queued:
            return
        self._queued.discard(key)
        row = self.box.store.get_action(*key)
        if row is not None and not row.terminal:
            err = system_error("QueuedTimeout", f"action {row.name} waited in the queue longer than {limit:g}s")
            self.box.finish(row, phase_pb2.ACTION_PHASE_TIMED_OUT, error=err)

    def cancel(self, row: ActionRow) -> None:
        key = (row.run, row.name)
        self._queued.discard(key)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        proc = self._procs.pop(key, None)
        if proc is not None:
            proc.kill()
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        # The cancelled attempt never reaches _end_attempt: close it here, or it stays RUNNING for ever
        # (GetActionDetails shows it running, and TailLogs of it would follow it without end).
        for at in self.box.store.attempts(row):
            if at.end_time is None:
                at.end_time = time.time()
                at.phase = phase_pb2.ACTION_PHASE_ABORTED
                self.box.store.put_attempt(row, at)

    def _kill_leftovers(self, row: ActionRow) -> None:
        """Kill what an attempt started before the devbox died (``row.extra`` is what ``Running.ident`` was)."""
        if row.extra:
            with contextlib.suppress(ValueError):
                pid = int(row.extra.decode())
                if _is_our_process(pid, _attempt_token(row, row.attempts)):
                    _kill_tree(pid, signal.SIGKILL)
        kill_by_token(_attempt_token(row, row.attempts))

    def recover_interrupted(self, row: ActionRow) -> None:
        """The devbox died while this action ran: kill leftovers, fail the attempt, retry per policy."""
        self._kill_leftovers(row)
        err = system_error("DevboxRestarted", "the devbox stopped while this attempt was running")
        self._fail_attempt(row, row.attempts, err)
        spec = task_definition_pb2.TaskSpec.FromString(row.spec or b"")
        retries = spec.task_template.metadata.retries.retries
        if row.attempts <= retries:
            row.phase = phase_pb2.ACTION_PHASE_QUEUED
            row.queued_at = time.time()
            row.extra = None
            self.box.save(row)
            self.submit(row)
        else:
            self.box.finish(row, phase_pb2.ACTION_PHASE_FAILED, error=err)

    async def close(self) -> None:
        self._closing = True
        for timer in self._timers.values():
            timer.cancel()
        for key, proc in list(self._procs.items()):
            proc.kill()
            self._procs.pop(key, None)
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    # ---- driving one action ---------------------------------------------------------------------

    async def _drive(self, run: RunKey, name: str) -> None:
        box = self.box
        row = box.store.get_action(run, name)
        if row is None or row.terminal:
            return
        spec = task_definition_pb2.TaskSpec.FromString(row.spec or b"")
        md = spec.task_template.metadata
        retries = md.retries.retries
        deadline_s = md.timeouts.deadline.ToTimedelta().total_seconds() if md.HasField("timeouts") else 0.0
        runtime_s = md.timeout.ToTimedelta().total_seconds() if md.HasField("timeout") else 0.0
        while True:
            row = box.store.get_action(run, name)
            if row is None or row.terminal:
                return
            row.attempts += 1
            attempt = row.attempts
            limit = runtime_s or None
            if deadline_s > 0:
                left = row.created_at + deadline_s - time.time()
                if left <= 0:
                    box.finish(
                        row,
                        phase_pb2.ACTION_PHASE_TIMED_OUT,
                        error=system_error("DeadlineExceeded", f"action {name} passed its deadline of {deadline_s:g}s"),
                    )
                    return
                limit = min(limit, left) if limit else left
            outcome = await self._attempt(row, spec, attempt, limit, deadline_s)
            row = box.store.get_action(run, name)
            if row is None or row.terminal:
                return
            if outcome.phase == phase_pb2.ACTION_PHASE_SUCCEEDED:
                box.finish(row, outcome.phase)
                return
            if outcome.retryable and attempt <= retries:
                continue
            box.finish(row, outcome.phase, error=outcome.error)
            return

    async def _attempt(
        self, row: ActionRow, spec: task_definition_pb2.TaskSpec, attempt: int, limit: float | None, deadline_s: float
    ) -> _Outcome:
        box = self.box
        s = box.settings
        rk = row.run
        data = box.data
        prefix = data.join(row.run_output_base, row.name, str(attempt))
        parts = (rk.org, rk.project, rk.domain, rk.name, row.name, str(attempt))
        raw = data.join(data.root, "raw", *parts)
        logs = s.logs_dir.joinpath(*parts)
        work = s.work_dir.joinpath(*parts)
        # Folder set-up and the spawn run in a thread: metadata calls on a busy disk take milliseconds
        # each and would stall every request on the loop.
        local = (logs, work, Path(prefix), Path(raw)) if data.local else (logs, work)
        await asyncio.to_thread(_prepare, local)
        for stale in ("error.pb", "outputs.pb"):
            await data.delete(data.join(prefix, stale))
        prev_ckpt = data.join(row.run_output_base, row.name, str(attempt - 1), "_checkpoints")
        has_prev = attempt > 1 and data.local and Path(prev_ckpt).exists()
        now = time.time()
        at = AttemptRow(attempt, phase_pb2.ACTION_PHASE_RUNNING, now, None, None, prefix, str(logs))
        box.store.put_attempt(row, at)

        run = box.store.get_run(rk)
        run_spec = run_pb2.RunSpec.FromString(run.run_spec) if run is not None else run_pb2.RunSpec()
        start = datetime.fromtimestamp(run.created_at if run else now, tz=UTC)
        values = {
            ".input": row.input_uri,
            ".outputPrefix": prefix,
            ".rawOutputDataPrefix": raw,
            ".checkpointOutputPrefix": data.join(prefix, "_checkpoints"),
            ".prevCheckpointPrefix": prev_ckpt if has_prev else "",
            ".runStartTime": start.isoformat().replace("+00:00", "Z"),
        }
        container = primary_container(spec.task_template)  # a pod template's primary container too
        argv = [substitute(values, a) for a in (*container.command, *container.args)]
        try:
            env = self._env(row, spec, run_spec, attempt, work)
        except LookupError as e:
            return self._end_attempt(
                row, at, _Outcome(phase_pb2.ACTION_PHASE_FAILED, user_error("SecretNotFound", str(e)))
            )
        if not argv:
            err = user_error("NoCommand", f"task {spec.task_template.id.name} has no container command or args to run")
            return self._end_attempt(row, at, _Outcome(phase_pb2.ACTION_PHASE_FAILED, err))

        if attempt == 1 or row.phase != phase_pb2.ACTION_PHASE_RUNNING:
            if attempt == 1:
                row.start_time = now
            row.phase = phase_pb2.ACTION_PHASE_RUNNING
        key = (rk, row.name)
        launched = await self._launch(row, spec, attempt, argv, env, work, logs)
        if isinstance(launched, _Outcome):
            return self._end_attempt(row, at, launched)
        proc = launched
        self._procs[key] = proc
        row.extra = proc.ident.encode()
        box.save(row)
        timed_out = False
        try:
            await asyncio.wait_for(proc.wait(), limit)
        except TimeoutError:
            timed_out = True
            await proc.terminate(self.box.settings.kill_grace_s)
        except asyncio.CancelledError:
            proc.kill()
            raise
        finally:
            self._procs.pop(key, None)
            proc.kill()  # leftovers
        if timed_out:
            deadline_hit = deadline_s > 0 and time.time() >= row.created_at + deadline_s - 0.05
            what = f"deadline of {deadline_s:g}s" if deadline_hit else f"max runtime of {limit:g}s"
            err = user_error(
                "Timeout", f"action {row.name} attempt {attempt} ran past its {what}; the process was killed"
            )
            return self._end_attempt(
                row, at, _Outcome(phase_pb2.ACTION_PHASE_TIMED_OUT, err, retryable=not deadline_hit)
            )
        outcome = await self._read_outcome(prefix, proc.returncode or 0, logs, spec)
        return self._end_attempt(row, at, outcome)

    async def _launch(
        self,
        row: ActionRow,
        spec: task_definition_pb2.TaskSpec,
        attempt: int,
        argv: list[str],
        env: dict[str, str],
        work: Path,
        logs: Path,
    ) -> Running | _Outcome:
        """Start one attempt (``argv`` with ``env`` in ``work``, output to ``logs/stdout|stderr``), or say why not."""
        exe = shutil.which(argv[0], path=env.get("PATH"))
        if exe is None:
            err = system_error(
                "CommandNotFound",
                f"'{argv[0]}' was not found on the action's PATH; start the devbox with --worker-path DIR "
                "pointing at the folder that holds the SDK's worker entry point",
            )
            return _Outcome(phase_pb2.ACTION_PHASE_FAILED, err, retryable=False)
        spawn = asyncio.get_running_loop().run_in_executor(None, _spawn, [exe, *argv[1:]], work, env, logs)
        try:
            proc = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            spawn.add_done_callback(_kill_spawned)
            raise
        return _Process(proc, _attempt_token(row, attempt))

    async def _read_outcome(self, prefix: str, code: int, logs: Path, spec: task_definition_pb2.TaskSpec) -> _Outcome:
        data = self.box.data
        err_file = data.join(prefix, "error.pb")
        if await data.exists(err_file):
            try:
                doc = execution_pb2.ErrorDocument.FromString(await data.read(err_file))
            except Exception as e:
                err = system_error("BadErrorDocument", f"error.pb in {prefix} could not be read: {e}")
                return _Outcome(phase_pb2.ACTION_PHASE_FAILED, err, retryable=True)
            ce = doc.error
            kind = _K.SYSTEM if ce.origin == _K.SYSTEM else _K.USER
            err = _K(code=ce.code, message=ce.message, kind=kind, error_uri=err_file, timestamp=_now_ts())
            recoverable = ce.kind == execution_pb2.ContainerError.RECOVERABLE
            return _Outcome(phase_pb2.ACTION_PHASE_FAILED, err, retryable=recoverable)
        if code != 0:
            tail = _tail(logs / "stderr", 2000)
            msg = f"the action's process exited with code {code} without writing error.pb"
            if code < 0:
                msg = f"the action's process was killed by signal {-code} without writing error.pb"
            err = system_error("ProcessExited", msg + (f"; last stderr:\n{tail}" if tail else ""))
            return _Outcome(phase_pb2.ACTION_PHASE_FAILED, err, retryable=True)
        outputs = data.join(prefix, "outputs.pb")
        if spec.task_template.interface.outputs.variables and not await data.exists(outputs):
            err = system_error(
                "NoOutputs", f"the action exited 0 but wrote neither outputs.pb nor error.pb in {prefix}"
            )
            return _Outcome(phase_pb2.ACTION_PHASE_FAILED, err, retryable=True)
        return _Outcome(phase_pb2.ACTION_PHASE_SUCCEEDED)

    def _end_attempt(self, row: ActionRow, at: AttemptRow, outcome: _Outcome) -> _Outcome:
        at.end_time = time.time()
        at.phase = outcome.phase
        at.error = outcome.error.SerializeToString() if outcome.error is not None else None
        self.box.store.put_attempt(row, at)
        row.output_uri = at.output_prefix
        row.extra = None
        if outcome.error is not None:
            row.error = at.error
        self.box.save(row)
        return outcome

    def _fail_attempt(self, row: ActionRow, attempt: int, err: execution_pb2.ExecutionError) -> None:
        for at in self.box.store.attempts(row):
            if at.attempt == attempt and at.end_time is None:
                at.end_time = time.time()
                at.phase = phase_pb2.ACTION_PHASE_FAILED
                at.error = err.SerializeToString()
                self.box.store.put_attempt(row, at)
        row.error = err.SerializeToString()

    def _env(
        self, row: ActionRow, spec: task_definition_pb2.TaskSpec, run_spec: run_pb2.RunSpec, attempt: int, work: Path
    ) -> dict[str, str]:
        """The devbox's own environment, PATH with the worker paths, then :meth:`_action_env`."""
        s = self.box.settings
        env = dict(os.environ)
        paths = [str(Path(p).resolve()) for p in s.worker_paths]
        # Last resort: the devbox's own environment's scripts (`flyte devbox start` from a virtualenv that
        # is not activated still finds that environment's `flyte-core-worker`). Not resolved: a venv's
        # python is a symlink to the base interpreter, whose folder holds none of the venv's scripts.
        own_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join([*paths, env.get("PATH", os.defpath), own_bin])
        env.update(self._action_env(row, spec, run_spec, attempt, work))
        return env

    def _action_env(
        self, row: ActionRow, spec: task_definition_pb2.TaskSpec, run_spec: run_pb2.RunSpec, attempt: int, work: Path
    ) -> dict[str, str]:
        """What the backend sets for an attempt: the contract's variables, the run's and container's env, secrets.

        Raises LookupError naming a secret the task needs that does not exist.
        """
        rk = row.run
        env: dict[str, str] = {}
        env.update(
            {
                "ACTION_NAME": row.name,
                "RUN_NAME": rk.name,
                "_U_RUN_BASE": row.run_output_base,
                "_U_ORG_NAME": rk.org,
                "FLYTE_INTERNAL_EXECUTION_PROJECT": rk.project,
                "FLYTE_INTERNAL_EXECUTION_DOMAIN": rk.domain,
                "_U_EP_OVERRIDE": f"dns:///{self.box.endpoint}",
                "_U_INSECURE": "true",
                "_U_USE_ACTIONS": "1",
                "FLYTE_ATTEMPT_NUMBER": str(attempt - 1),
                # Data lives in a local folder: SDKs using fsspec must create parent folders on write,
                # as object stores do implicitly.
                "FSSPEC_FILE_AUTO_MKDIR": "true",
                _ATTEMPT_ENV: _attempt_token(row, attempt),
            }
        )
        for kv in run_spec.envs.values:
            env[kv.key] = kv.value
        for kv in primary_container(spec.task_template).env:
            env[kv.key] = kv.value
        secrets_dir = work / ".secrets"
        for sec in spec.task_template.security_context.secrets:
            name = f"{sec.group}_{sec.key}" if sec.group else sec.key
            value = self.box.store.find_secret(rk.org, rk.project, rk.domain, sec.key)
            if value is None and sec.group:
                value = self.box.store.find_secret(rk.org, rk.project, rk.domain, name)
            if value is None:
                raise LookupError(
                    f"secret '{sec.key}' needed by task {spec.task_template.id.name} does not exist in "
                    f"{rk.project}/{rk.domain}; create it with `flyte create secret {sec.key}`"
                )
            if sec.mount_requirement == security_pb2.Secret.MountType.FILE:
                f = secrets_dir / (sec.group or "") / sec.key
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(value)
                f.chmod(0o600)
                env["FLYTE_SECRETS_DEFAULT_DIR"] = str(secrets_dir)
            else:
                var = sec.env_var or name.replace("-", "_").upper()
                env[var] = value.decode(errors="replace")
        return env


class Running:
    """One started attempt, as the executor drives it: wait for it, stop it, kill what is left of it."""

    ident: str  # kept in the action's row while it runs: what a restarted devbox looks for
    returncode: int | None

    async def wait(self) -> int:
        raise NotImplementedError

    async def terminate(self, grace_s: float) -> None:
        """Ask it to stop, then kill it after ``grace_s``; returns once it has exited."""
        raise NotImplementedError

    def kill(self) -> None:
        """Kill it and everything it started, now (idempotent; must not block the event loop)."""
        raise NotImplementedError


class _Process(Running):
    def __init__(self, proc: subprocess.Popen[bytes], token: str) -> None:
        self.proc = proc
        self.token = token
        self.ident = str(proc.pid)
        self.returncode = None

    async def wait(self) -> int:
        self.returncode = await _wait(self.proc)
        return self.returncode

    async def terminate(self, grace_s: float) -> None:
        _kill_tree(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.wait(), grace_s)
        except TimeoutError:
            _kill_tree(self.proc.pid, signal.SIGKILL)
            await self.wait()

    def kill(self) -> None:
        _kill_tree(self.proc.pid, signal.SIGKILL)  # leftovers of the group
        # ... and descendants that left it (setsid, double fork): they still carry the token.
        asyncio.get_running_loop().run_in_executor(None, kill_by_token, self.token)


def _prepare(folders: tuple[Path, ...]) -> None:
    for d in folders:
        d.mkdir(parents=True, exist_ok=True)


def _spawn(argv: list[str], cwd: Path, env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    # Popen (vfork) costs about a millisecond whatever the server's size; the event loop's own spawn
    # forks the whole process.
    with (logs / "stdout").open("ab") as out, (logs / "stderr").open("ab") as err:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )


def _kill_spawned(fut: asyncio.Future[subprocess.Popen[bytes]]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        _kill_tree(fut.result().pid, signal.SIGKILL)


async def _wait(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the process without a thread: its pidfd becomes readable when it exits."""
    loop = asyncio.get_running_loop()
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return await asyncio.to_thread(proc.wait)
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return proc.wait()


def _attempt_token(row: ActionRow, attempt: int) -> str:
    return f"{row.run}/{row.name}/{attempt}"


def _is_our_process(pid: int, token: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{_ATTEMPT_ENV}={token}".encode() in environ.split(b"\0")


def kill_by_token(token: str) -> int:
    """SIGKILL every process whose environment carries this attempt's token; how many there were."""
    needle = f"{_ATTEMPT_ENV}={token}".encode()
    me = os.getpid()
    killed = 0
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ValueError):
            continue
    return killed


def _kill_tree(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _tail(path: Path, n: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode(errors="replace").strip()
    except OSError:
        return ""
