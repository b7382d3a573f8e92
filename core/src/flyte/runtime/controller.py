"""How task calls inside a run are submitted: the :class:`Controller` interface and the in-process one.

:class:`InProcessController` executes each call as an action in this process: inputs become
literals (so type errors surface as they would on a cluster) and are serialized once (record
and cache key share the bytes), the cache is consulted, a concurrency slot is taken (and given
back while the action waits on its own children), the body runs through a
:class:`~flyte.runtime.BodyRunner` with the task's timeout and retries, and outputs become
literals and back. Nothing is written to disk until the run ends; ``controller.actions`` holds
an :class:`~flyte.runtime.ActionRecord` per action.

Two things are kept apart on purpose: *how children are submitted* (a :class:`Controller`;
this one runs them here, the remote worker's enqueues them on the control plane) and *how one
body runs* (a :class:`~flyte.runtime.BodyRunner`). :func:`execute_body` is one attempt of one
body, usable with any controller.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flyte import _context, _run_env
from flyte._builtin.local.records import format_failure
from flyte._context import ActionID, RawDataPath, TaskContext
from flyte._controller import Controller
from flyte._secret import MissingSecret, resolve_secret
from flyte.errors import (
    DeadlineExceededError,
    FlyteError,
    InvalidInputError,
    MaxQueuedTimeExceededError,
    MaxRuntimeExceededError,
    NonRecoverableError,
    RuntimeUserError,
    TaskTimedoutError,
)
from flyte.runtime import Phase
from flyte.runtime.body import BodyRunner
from flyte.runtime.records import ActionRecord
from flyte.storage.data_access import DataAccess
from flyte.types.interface import inputs_to_literals, literals_to_inputs, literals_to_outputs, outputs_to_literals

if TYPE_CHECKING:
    from flyte._builtin.local import cache_store
    from flyte._task import TaskTemplate

logger = logging.getLogger("flyte.local")

DEFAULT_MAX_CONCURRENCY = 1000


async def execute_body(
    task: TaskTemplate[Any, Any],
    inputs: dict[str, Any],
    context: TaskContext,
    runner: BodyRunner,
    record: ActionRecord,
) -> dict[str, Any]:
    """One attempt of one task body: input literals in, output literals out.

    Decodes ``inputs`` (name -> flyteidl2 ``Literal``), sets ``context`` as ``flyte.ctx()`` for
    the body (its ``controller`` receives the body's child calls), runs the body through
    ``runner`` under the task's timeout (a :class:`flyte.errors.TaskTimedoutError` when it runs
    past it) and encodes what it returned. Retries and the cache are the caller's.
    """
    kwargs = await literals_to_inputs(task.interface, inputs)
    token = _context._current.set(context)
    try:
        if task.timeout:
            value = await _with_timeout(task, runner, kwargs, record)
        elif runner.awaits_async_bodies and task.is_async:
            value = await task.func(**kwargs)  # what runner.run would do, one coroutine frame less
        else:
            value = await runner.run(task, kwargs, record)
    finally:
        _context._current.reset(token)
        if task.report:
            _save_report(task, context)
    return await outputs_to_literals(task.interface, value)


def _save_report(task: TaskTemplate[Any, Any], context: TaskContext) -> None:
    """A ``report=True`` task's report is written when its body ends, also when it failed."""
    # Imported here for start-up time: only report=True tasks need it (html and the widgets).
    from flyte.report._report import current_report, save

    token = _context._current.set(context)
    try:
        current_report()  # a report=True task gets its (possibly empty) page
        save(context)
    except OSError as e:
        logger.warning("Could not write the report of %s (%s): %s", context.action.name, task.name, e)
    finally:
        _context._current.reset(token)


async def _with_timeout(task: TaskTemplate[Any, Any], runner: BodyRunner, kwargs: dict[str, Any],
                        record: ActionRecord) -> Any:
    assert task.timeout
    try:
        async with asyncio.timeout(task.timeout) as scope:
            return await runner.run(task, kwargs, record)
    except TimeoutError:
        if not scope.expired():
            raise  # the body raised TimeoutError itself
        raise MaxRuntimeExceededError.after(task.timeout, task=task.name, action=record.name) from None


class _Slot:
    """A concurrency slot held by a running action; released while it waits on children."""

    __slots__ = ("children", "held")

    def __init__(self) -> None:
        self.held = False
        self.children = 0


class InProcessController(Controller):
    """Runs the task calls of one run as actions in this process (see the module docstring).

    Example (what :class:`~flyte.runtime.InProcessRuntime` does)::

        controller = InProcessController(InProcessBodyRunner(), run_name="r1", raw_data_path="/tmp/r1/data",
                                         run_base_dir="/tmp/r1")
        try:
            value = await controller.run_root(main, (), {"n": 3})
        finally:
            controller.close()
            await runner.close()
    """

    def __init__(
        self,
        runner: BodyRunner,
        *,
        run_name: str,
        raw_data_path: str,
        run_base_dir: str,
        max_concurrency: int | None = None,
        overwrite_cache: bool = False,
        disable_run_cache: bool = False,
        custom_context: dict[str, str] | None = None,
        env_vars: dict[str, str] | None = None,
        on_event: Callable[[str, ActionRecord], None] | None = None,
        data_access: DataAccess | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.runner = runner
        self.mode = runner.mode
        self.run_name = run_name
        self.raw_data_path = raw_data_path
        # how File/Dir and large values reach the run's data; every action's context carries it
        self.data_access = data_access if data_access is not None else DataAccess(raw_data_path)
        self.run_base_dir = run_base_dir
        self.run_start_time = datetime.now(UTC)  # flyte.ctx().run_start_time
        limit = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self._sem = asyncio.Semaphore(limit)
        self._counter = itertools.count(1)
        self.actions: list[ActionRecord] = []
        self.overwrite_cache = overwrite_cache
        self.disable_run_cache = disable_run_cache
        self.custom_context = dict(custom_context or {})
        self.on_event = on_event
        self._cache: cache_store.CacheStore | None = None
        # Per-task environment (see flyte._run_env): the run's layer, and one per task with env/secrets.
        self._env_installed = False
        self._run_layer: dict[str, str | None] | None = None
        self._layers: dict[TaskTemplate[Any, Any], tuple[dict[str, str | None], str, dict[str, str]]] = {}
        self._conflicts = _run_env.ConflictTracker()
        if env_vars:
            self._install_env()
            self._run_layer = dict(env_vars)
            for k, v in env_vars.items():
                _run_env.set_process_value(k, v)
        runner.attach(self, limit)

    # -- Controller ---------------------------------------------------------------------

    async def submit(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return await self._submit(task, args, kwargs, _context._current.get())

    def submit_sync(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        parent = _context._current.get()
        return self.runner.run_blocking(self._submit(task, args, kwargs, parent))

    def run_blocking(self, coro: Any) -> Any:
        """Run ``coro`` on the run's loop from a sync body's thread and wait (see the body runner)."""
        return self.runner.run_blocking(coro)

    # -- the run ------------------------------------------------------------------------

    async def run_root(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run the run's root action (``a0``) and return its decoded outputs; raises its error."""
        if self._run_layer is None:
            return await self._submit(task, args, kwargs, None, root=True)
        token = _run_env.set_layer(self._run_layer)
        try:
            return await self._submit(task, args, kwargs, None, root=True)
        finally:
            _run_env.reset_layer(token)

    def close(self) -> None:
        """Release the cache and the per-task environment (call once, when the run ends)."""
        if self._env_installed:
            self._env_installed = False
            _run_env.uninstall()
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    # -- one action ---------------------------------------------------------------------

    async def _submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        parent: TaskContext | None,
        root: bool = False,
    ) -> Any:
        iface = task.interface
        name = "a0" if root else f"a{next(self._counter)}"
        rec = ActionRecord(name, task.name, parent.action.name if parent else None,
                           "/".join(parent.group) if parent else "")
        self.actions.append(rec)
        try:
            in_lits = await inputs_to_literals(iface, args, kwargs)
        except InvalidInputError as e:
            rec.phase = Phase.FAILED
            rec.error = str(e)
            raise
        # Serialized once: the record keeps these bytes and the cache key is computed from them.
        rec.inputs = {k: v.SerializeToString(deterministic=True) for k, v in in_lits.items()}

        slot: _Slot | None = parent.data.get("slot") if parent is not None else None
        if slot is not None:
            slot.children += 1
            if slot.held:
                slot.held = False
                self._sem.release()
        try:
            out_lits = await self._execute(task, in_lits, rec, parent)
        finally:
            if slot is not None:
                slot.children -= 1
                if slot.children == 0 and not slot.held:
                    await self._sem.acquire()
                    slot.held = True
        return await literals_to_outputs(iface, out_lits)

    async def _execute(
        self, task: TaskTemplate[Any, Any], in_lits: dict[str, Any], rec: ActionRecord, parent: TaskContext | None
    ) -> dict[str, Any]:
        cache_key = None
        if task.cache.enabled and not self.disable_run_cache:
            assert rec.inputs is not None
            from flyte._builtin.local import cache_store  # start-up time: only runs of cached tasks need these
            from flyte.runtime.cache_keys import cache_inputs_digest

            # Local File/Dir inputs are keyed by their content, not by their path (reads files: a thread).
            digest = await asyncio.to_thread(cache_inputs_digest, in_lits, rec.inputs, task.cache.ignored_inputs)
            cache_key = cache_store.cache_key(task.name, task.cache_version, digest)
            if not self.overwrite_cache:
                hit = await asyncio.to_thread(self._cache_store().get, cache_key)
                if hit is not None:
                    rec.cache_hit = True
                    rec.phase = Phase.SUCCEEDED
                    rec.start = rec.end = time.time()
                    rec.outputs = {k: v.SerializeToString(deterministic=True) for k, v in hit.items()}
                    if self.on_event is not None:
                        self.on_event("cached", rec)
                    return hit

        retries = task.retries.count
        backoff = task.retries.backoff
        last_exc: BaseException | None = None
        # flyte.Timeout.deadline: one clock for all attempts and the waits between them
        deadline_at = self.loop.time() + task.deadline if task.deadline else None
        for attempt in range(retries + 1):
            rec.attempts = attempt + 1
            if attempt and rec.retry_log is not None:  # a retry begins (queued for a slot from here)
                rec.retry_log.append(time.time())
            try:
                if deadline_at is None:
                    out = await self._attempt(task, in_lits, rec, parent, attempt)
                else:
                    out = await self._attempt_until(deadline_at, task, in_lits, rec, parent, attempt)
            except asyncio.CancelledError:
                rec.phase = Phase.ABORTED
                rec.end = time.time()
                raise
            except Exception as e:
                last_exc = e
                if attempt < retries and not isinstance(e, (NonRecoverableError, DeadlineExceededError)):
                    if rec.retry_log is None:
                        rec.retry_log = []
                    rec.retry_log.append(time.time())  # this attempt's end (kept in the record's retries table)
                    delay = backoff.delay(attempt) if backoff else 0.0
                    if deadline_at is not None:
                        delay = min(delay, max(0.0, deadline_at - self.loop.time()))
                    if logger.isEnabledFor(logging.INFO):
                        logger.info("task %s (%s) attempt %d failed: %s; retrying", task.name, rec.name, attempt + 1, e)
                    if delay:
                        await asyncio.sleep(delay)
                    continue
                break
            else:
                rec.phase = Phase.SUCCEEDED
                rec.end = time.time()
                rec.outputs = {k: v.SerializeToString(deterministic=True) for k, v in out.items()}
                if self.on_event is not None:
                    self.on_event("succeeded", rec)
                if cache_key is not None:
                    await asyncio.to_thread(self._cache_store().put, cache_key, task.name, task.cache_version, out)
                return out

        assert last_exc is not None
        rec.end = time.time()
        timed_out = isinstance(last_exc, TaskTimedoutError)
        rec.phase = Phase.TIMED_OUT if timed_out else Phase.FAILED
        if isinstance(last_exc, RuntimeUserError) and last_exc.action == rec.name:
            err: RuntimeUserError = last_exc
            if rec.attempts > 1:
                err.args = (f"{err.args[0]} (after {rec.attempts} attempts)",)
        else:
            detail = str(last_exc) if isinstance(last_exc, FlyteError) else f"{type(last_exc).__name__}: {last_exc}"
            if rec.attempts > 1:
                detail += f" (after {rec.attempts} attempts)"
            err = RuntimeUserError(type(last_exc).__name__, detail, task=task.name, action=rec.name)
        rec.error = str(err)
        rec.traceback = format_failure(last_exc)  # kept in the record: `flyte get run NAME --action aN`
        if self.on_event is not None:
            self.on_event("failed", rec)
        raise err from last_exc

    async def _attempt_until(self, deadline_at: float, task: TaskTemplate[Any, Any], in_lits: dict[str, Any],
                             rec: ActionRecord, parent: TaskContext | None, attempt: int) -> dict[str, Any]:
        assert task.deadline
        try:
            async with asyncio.timeout_at(deadline_at) as scope:
                return await self._attempt(task, in_lits, rec, parent, attempt)
        except TimeoutError:
            if not scope.expired():
                raise  # the body's own TimeoutError, or a max_runtime one (TaskTimedoutError)
            raise DeadlineExceededError.after(task.deadline, task=task.name, action=rec.name) from None

    async def _acquire_slot(self, task: TaskTemplate[Any, Any], rec: ActionRecord) -> None:
        """A concurrency slot; with ``max_queued_time``, waiting longer for one is a timeout."""
        if not task.max_queued_time:
            await self._sem.acquire()
            return
        try:
            async with asyncio.timeout(task.max_queued_time):
                await self._sem.acquire()
        except TimeoutError:
            raise MaxQueuedTimeExceededError.after(task.max_queued_time, task=task.name, action=rec.name) from None

    async def _attempt(
        self,
        task: TaskTemplate[Any, Any],
        in_lits: dict[str, Any],
        rec: ActionRecord,
        parent: TaskContext | None,
        attempt: int,
    ) -> dict[str, Any]:
        slot = _Slot()
        tc = TaskContext(
            action=ActionID(name=rec.name, run_name=self.run_name),
            raw_data_path=RawDataPath(self.raw_data_path),
            run_base_dir=self.run_base_dir,
            mode=self.mode,
            task_name=task.name,
            attempt=attempt,
            group=parent.group if parent is not None else (),
            custom_context=parent.custom_context if parent is not None else self.custom_context,
            controller=self,
            data={"slot": slot},
            data_access=self.data_access,
        )
        # The task's environment layer; a task without env inside one that has env gets the run's layer.
        entry: tuple[dict[str, str | None], str, dict[str, str]] | None = None
        if task.env_vars or task.secrets:
            entry = self._layer_of(task)
            layer: dict[str, str | None] | None = entry[0]
        else:
            layer = self._run_layer
        await self._acquire_slot(task, rec)
        slot.held = True
        rec.phase = Phase.RUNNING
        if attempt == 0:
            rec.start = time.time()
        if self.on_event is not None:
            self.on_event("running", rec)
        # Set (and reset after) whenever any layer is involved, so what a body writes to os.environ
        # stays in its own action.
        env_token = None
        if self._env_installed and (layer is not None or _run_env.current_layer() is not None):
            env_token = _run_env.set_layer(layer)
        if entry is not None:
            self._conflicts.enter(entry[1], entry[2])
            for k, v in entry[2].items():
                _run_env.set_process_value(k, v)
        try:
            return await execute_body(task, in_lits, tc, self.runner, rec)
        finally:
            if slot.held:
                slot.held = False
                self._sem.release()
            if entry is not None:
                self._conflicts.exit(entry[1], entry[2])
            if env_token is not None:
                _run_env.reset_layer(env_token)

    # -- helpers --------------------------------------------------------------------------

    def _cache_store(self) -> cache_store.CacheStore:
        if self._cache is None:
            from flyte._builtin.local.cache_store import CacheStore

            self._cache = CacheStore()
        return self._cache

    def _install_env(self) -> None:
        if not self._env_installed:
            self._env_installed = True
            _run_env.install()

    def _layer_of(self, task: TaskTemplate[Any, Any]) -> tuple[dict[str, str | None], str, dict[str, str]]:
        """The task's layer (run env + the environment's env vars + secrets), its owner and own values."""
        entry = self._layers.get(task)
        if entry is not None:
            return entry
        self._install_env()
        own: dict[str, str] = dict(task.env_vars)
        missing: dict[str, Any] = {}
        for s in task.secrets:
            value = resolve_secret(s)
            if value is None:
                # Checked when read, like the official SDK: only a task that reads it fails, naming it.
                missing[s.env_var] = MissingSecret(s, task.name)
            else:
                own[s.env_var] = value
        layer: dict[str, str | None] = dict(self._run_layer or {})
        layer.update(own)
        layer.update(missing)
        owner = task.env.name if task.env is not None else task.name
        entry = (layer, owner, own)
        self._layers[task] = entry
        return entry


__all__ = ["DEFAULT_MAX_CONCURRENCY", "Controller", "InProcessController", "execute_body"]
