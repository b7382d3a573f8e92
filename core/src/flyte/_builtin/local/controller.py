"""The local controller: executes task calls as actions on one asyncio loop.

Per call: inputs become literals (so type errors surface as they would on a
cluster), the cache is consulted, a concurrency slot is taken, the body runs
with retries and a timeout, and outputs become literals and back. Sync bodies
run on a thread pool. Nothing is written to disk until the run ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from flyte import _context
from flyte._builtin.local.records import ActionRecord
from flyte._context import ActionID, RawDataPath, TaskContext
from flyte._controller import Controller
from flyte._secret import resolve_secret
from flyte.errors import FlyteError, InvalidInputError, NonRecoverableError, RuntimeUserError, TaskTimedoutError
from flyte.runtime import Phase

if TYPE_CHECKING:
    from flyte._builtin.local.cache_store import CacheStore
    from flyte._task import TaskTemplate

logger = logging.getLogger("flyte.local")

DEFAULT_MAX_CONCURRENCY = 1000
# Sync bodies that may run at once on threads. A sync body blocked waiting on a child gives its
# place back (see run_blocking), so sync parents calling sync children never exhaust the pool.
MAX_RUNNING_SYNC_BODIES = 64
_thread_state = threading.local()


def _content_digest(path: str) -> str:
    """sha256 of a local file's content, or of a folder's relative names and contents."""
    import hashlib

    h = hashlib.sha256()
    if os.path.isfile(path):
        files = [("", path)]
    else:
        files = sorted(
            (os.path.relpath(os.path.join(root, f), path), os.path.join(root, f))
            for root, _, names in os.walk(path)
            for f in names
        )
    for rel, full in files:
        h.update(rel.encode() + b"\0")
        try:
            with open(full, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()


def content_keyed(lits: dict[str, Any]) -> dict[str, Any] | None:
    """Copies of ``lits`` whose local File/Dir URIs are replaced by a digest of their content.

    Used for cache keys: the same bytes hit the cache whatever path they sit at (a file a parent
    wrote under this run's data folder, a file edited in place). ``None`` when nothing is local.
    """

    def local(uri: str) -> bool:
        return "://" not in uri or uri.startswith("file://")

    def has_local(lit: Any) -> bool:
        kind = lit.WhichOneof("value")
        if kind == "collection":
            return any(has_local(x) for x in lit.collection.literals)
        if kind == "map":
            return any(has_local(x) for x in lit.map.literals.values())
        if kind == "scalar":
            which = lit.scalar.WhichOneof("value")
            if which == "blob":
                return local(lit.scalar.blob.uri)
            if which == "union":
                return has_local(lit.scalar.union.value)
        return False

    def rewrite(lit: Any) -> None:
        kind = lit.WhichOneof("value")
        if kind == "collection":
            for x in lit.collection.literals:
                rewrite(x)
        elif kind == "map":
            for x in lit.map.literals.values():
                rewrite(x)
        elif kind == "scalar":
            which = lit.scalar.WhichOneof("value")
            if which == "blob" and local(lit.scalar.blob.uri):
                lit.scalar.blob.uri = "sha256:" + _content_digest(lit.scalar.blob.uri.removeprefix("file://"))
            elif which == "union":
                rewrite(lit.scalar.union.value)

    if not any(has_local(v) for v in lits.values()):
        return None
    out = {}
    for k, v in lits.items():
        if has_local(v):
            copy = type(v)()
            copy.CopyFrom(v)
            rewrite(copy)
            out[k] = copy
        else:
            out[k] = v
    return out


class _Slot:
    """A concurrency slot held by a running action; released while it waits on children."""

    __slots__ = ("children", "held")

    def __init__(self) -> None:
        self.held = False
        self.children = 0


class LocalController(Controller):
    mode = "local"  # what flyte.ctx().mode reports; subclasses (sandbox) change it

    def __init__(
        self,
        *,
        run_name: str,
        raw_data_path: str,
        run_base_dir: str,
        max_concurrency: int | None = None,
        overwrite_cache: bool = False,
        disable_run_cache: bool = False,
        custom_context: dict[str, str] | None = None,
        on_event: Callable[[str, ActionRecord], None] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.run_name = run_name
        self.raw_data_path = raw_data_path
        self.run_base_dir = run_base_dir
        limit = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self._sem = asyncio.Semaphore(limit)
        self._sync_gate = asyncio.Semaphore(min(MAX_RUNNING_SYNC_BODIES, limit))
        # Threads are created on demand; the cap is only a backstop. What bounds them is the gate above
        # for running bodies, plus one per sync parent blocked on its children.
        self._executor = ThreadPoolExecutor(max_workers=100_000, thread_name_prefix="flyte-task")
        self._counter = itertools.count(1)
        self.actions: list[ActionRecord] = []
        self.overwrite_cache = overwrite_cache
        self.disable_run_cache = disable_run_cache
        self.custom_context = dict(custom_context or {})
        self.on_event = on_event
        self._cache: CacheStore | None = None
        self._env_applied: dict[str, str | None] = {}

    # -- public API ---------------------------------------------------------------------

    async def submit(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return await self._submit(task, args, kwargs, _context._current.get())

    def submit_sync(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        parent = _context._current.get()
        return self.run_blocking(self._submit(task, args, kwargs, parent))

    def run_blocking(self, coro: Any) -> Any:
        """Run ``coro`` on the controller's loop from a sync task body's thread and wait for it.

        While it waits, the body gives back its place among running sync bodies, so a tree of
        sync tasks calling sync tasks cannot deadlock on the thread pool.
        """
        holds = getattr(_thread_state, "holds_gate", False)
        if holds:
            self.loop.call_soon_threadsafe(self._sync_gate.release)
            _thread_state.holds_gate = False
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop).result()
        finally:
            if holds:
                asyncio.run_coroutine_threadsafe(self._sync_gate.acquire(), self.loop).result()
                _thread_state.holds_gate = True

    async def run_root(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return await self._submit(task, args, kwargs, None, root=True)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        for k, old in self._env_applied.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
        self._env_applied.clear()
        if self._cache is not None:
            self._cache.close()

    # -- one action ---------------------------------------------------------------------

    async def _submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        parent: TaskContext | None,
        root: bool = False,
    ) -> Any:
        from flyte.types.interface import inputs_to_literals, literals_to_outputs

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
        # Bytes, not messages: a run keeps every action's literals until it ends.
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
        rec.outputs = {k: v.SerializeToString(deterministic=True) for k, v in out_lits.items()}
        return await literals_to_outputs(iface, out_lits)

    async def _execute(
        self, task: TaskTemplate[Any, Any], in_lits: dict[str, Any], rec: ActionRecord, parent: TaskContext | None
    ) -> dict[str, Any]:
        cache_key = None
        if task.cache.enabled and not self.disable_run_cache:
            from flyte._builtin.local.cache_store import cache_key as make_key
            from flyte.types.interface import literals_hash

            ignored = task.cache.ignored_inputs
            keyed = {k: v for k, v in in_lits.items() if k not in ignored} if ignored else in_lits
            # Local File/Dir inputs are keyed by their content, not by their path.
            by_content = await asyncio.to_thread(content_keyed, keyed)
            cache_key = make_key(task.name, task.cache_version, literals_hash(by_content or keyed))
            if not self.overwrite_cache:
                hit = await asyncio.to_thread(self._cache_store().get, cache_key)
                if hit is not None:
                    rec.cache_hit = True
                    rec.phase = Phase.SUCCEEDED
                    rec.start = rec.end = time.time()
                    if self.on_event is not None:
                        self.on_event("cached", rec)
                    return hit

        retries = task.retries.count
        backoff = task.retries.backoff
        last_exc: BaseException | None = None
        for attempt in range(retries + 1):
            rec.attempts = attempt + 1
            try:
                out = await self._attempt(task, in_lits, rec, parent, attempt)
            except asyncio.CancelledError:
                rec.phase = Phase.ABORTED
                rec.end = time.time()
                raise
            except Exception as e:
                last_exc = e
                if attempt < retries and not isinstance(e, NonRecoverableError):
                    delay = backoff.delay(attempt) if backoff else 0.0
                    if logger.isEnabledFor(logging.INFO):
                        logger.info("task %s (%s) attempt %d failed: %s; retrying", task.name, rec.name, attempt + 1, e)
                    if delay:
                        await asyncio.sleep(delay)
                    continue
                break
            else:
                rec.phase = Phase.SUCCEEDED
                rec.end = time.time()
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
        if self.on_event is not None:
            self.on_event("failed", rec)
        raise err from last_exc

    async def _attempt(
        self,
        task: TaskTemplate[Any, Any],
        in_lits: dict[str, Any],
        rec: ActionRecord,
        parent: TaskContext | None,
        attempt: int,
    ) -> dict[str, Any]:
        from flyte.types.interface import literals_to_inputs, outputs_to_literals

        if task.env_vars or task.secrets:
            self._apply_env(task)
        kwargs = await literals_to_inputs(task.interface, in_lits)
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
        )
        await self._sem.acquire()
        slot.held = True
        rec.phase = Phase.RUNNING
        if attempt == 0:
            rec.start = time.time()
        if self.on_event is not None:
            self.on_event("running", rec)
        token = _context._current.set(tc)
        try:
            value = await self.invoke_body(task, kwargs, rec)
        finally:
            _context._current.reset(token)
            if slot.held:
                slot.held = False
                self._sem.release()
        return await outputs_to_literals(task.interface, value)

    async def invoke_body(self, task: TaskTemplate[Any, Any], kwargs: dict[str, Any], rec: ActionRecord) -> Any:
        """Run the task's body with its timeout; the seam other runtimes (e.g. sandbox) override.

        Called with the action's TaskContext already set; ``kwargs`` are decoded inputs.
        """
        if task.is_async:
            if not task.timeout:
                return await task.func(**kwargs)
            try:
                async with asyncio.timeout(task.timeout):
                    return await task.func(**kwargs)
            except TimeoutError:
                raise self._timeout_error(task, rec) from None
        ctx = contextvars.copy_context()

        def body() -> Any:
            _thread_state.holds_gate = True
            try:
                return ctx.run(task.func, **kwargs)
            finally:
                _thread_state.holds_gate = False

        await self._sync_gate.acquire()
        try:
            fut = self.loop.run_in_executor(self._executor, body)
            if not task.timeout:
                return await fut
            try:
                return await asyncio.wait_for(fut, task.timeout)
            except TimeoutError:
                # The thread cannot be stopped; it finishes in the background and its result is dropped.
                raise self._timeout_error(task, rec) from None
        finally:
            self._sync_gate.release()

    @staticmethod
    def _timeout_error(task: TaskTemplate[Any, Any], rec: ActionRecord) -> TaskTimedoutError:
        return TaskTimedoutError(
            "TaskTimedOut", f"timed out after {task.timeout:g}s (timeout={task.timeout:g})", task=task.name,
            action=rec.name,
        )

    # -- helpers --------------------------------------------------------------------------

    def _cache_store(self) -> CacheStore:
        if self._cache is None:
            from flyte._builtin.local.cache_store import CacheStore

            self._cache = CacheStore()
        return self._cache

    def _apply_env(self, task: TaskTemplate[Any, Any]) -> None:
        """Set the environment's env vars and secrets for the task body (restored when the run ends)."""
        for k, v in task.env_vars.items():
            self._set_env(k, v)
        for s in task.secrets:
            value = resolve_secret(s)
            if value is None:
                raise FlyteError(
                    f"Task '{task.name}' needs secret '{s.key}'"
                    + (f" (group '{s.group}')" if s.group else "")
                    + f" but none was found: set the environment variable {s.env_var} "
                    "or put it in a file under $FLYTE_SECRETS_DIR"
                )
            self._set_env(s.env_var, value)

    def _set_env(self, key: str, value: str) -> None:
        if os.environ.get(key) == value:
            return
        if key not in self._env_applied:
            self._env_applied[key] = os.environ.get(key)
        os.environ[key] = value
