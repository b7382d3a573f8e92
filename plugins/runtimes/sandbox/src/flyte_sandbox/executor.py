"""Runs task bodies in Monty workers and answers what they ask of the host.

A body is fed with ``feed_start`` and driven snapshot by snapshot: a call to
another task, ``flyte.map`` or a record constructor leaves the sandbox and is
answered here (child tasks through the host controller, so literals, retries,
cache and concurrency are the local runtime's); OS calls are answered from the
task's grants (granted environment variables, the read-only mount) or refused.

Bodies that make no host calls at all ("pure") may share one feed with other
calls of the same task, which amortizes the worker round trip; any call that
fails in a shared feed is run again alone, so errors and limits are reported
exactly as if it had always run alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import posixpath
import time
import weakref
from typing import TYPE_CHECKING, Any

import flyte
from flyte.errors import MaxRuntimeExceededError, SandboxError

from flyte_sandbox.errors import SandboxCrashError, SandboxLimitError, limit_error
from flyte_sandbox.feed import CROSSED, DRIVING, TASK_METHODS, Feed, ObjectHandler, SleepLimit, crossable
from flyte_sandbox.program import Program, TaskRef, build_program
from flyte_sandbox.rules import BATCH, KWARGS
from flyte_sandbox.settings import Sandbox, sandbox_of
from flyte_sandbox.values import class_type, from_sandbox, needs_wrapping, to_sandbox
from flyte_sandbox.workers import Lease, WorkerPool

if TYPE_CHECKING:
    from flyte import TaskTemplate
    from flyte.runtime.records import ActionRecord

BATCH_SIZE = 64
FIRST_BATCH_SIZE = 16
BATCH_WINDOW = 0.001  # seconds a flush waits for more calls when calls of the task are streaming in
_RUN_ALONE = object()



_TASK_INSTANCE: Any = None


def _task_instance_class() -> Any:
    """A ClassInstance for task references whose calls pydantic-monty may await in place.

    When a body awaits a task call at once and nothing else in it can run, answering
    through ``resume_auto`` lets pydantic-monty await the child right there: one round
    trip to the worker instead of two (a future, then its result).
    """
    global _TASK_INSTANCE
    if _TASK_INSTANCE is None:
        import pydantic_monty as pm

        class TaskInstance(pm.ClassInstance):
            def call_method(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
                driving = DRIVING.get()
                if name not in TASK_METHODS or driving is None:
                    raise AttributeError(f"'{name}' cannot be called here")
                ex, lease = driving
                return ex._eager_call(lease, self.value.task, args, kwargs)

        _TASK_INSTANCE = TaskInstance
    return _TASK_INSTANCE


_PROGRAMS: weakref.WeakKeyDictionary[Any, Program] = weakref.WeakKeyDictionary()


def program_for(task: Any) -> Program:
    """The task's program: built (read, checked, rewritten) once per function, rebuilt only if a
    module-level name it uses was rebound since."""
    prog = _PROGRAMS.get(task.func)
    if prog is None or prog.task_name != task.name or not prog.still_current():
        prog = build_program(task)
        with contextlib.suppress(TypeError):  # not weak-referenceable: built per run instead
            _PROGRAMS[task.func] = prog
    return prog


class _Compiled:
    """A program plus what feeding it needs, built once per task function per run."""

    def __init__(self, program: Program) -> None:

        self.program = program
        self.dispatch: dict[Any, tuple[ObjectHandler, Any]] = {}  # host object id -> (its handler, the object)
        self.globals: dict[str, Any] = dict(program.host_values)
        for name, task in program.tasks.items():
            self.globals[name] = self.task_ref(task)
        for name, cls in program.classes.items():
            ct = class_type(cls)
            self.globals[name] = ct
            self.dispatch[ct.id] = (Feed.construct, ct)
        self.batchers: dict[Any, _Batcher] = {}

    def task_ref(self, task: Any) -> Any:
        ref = _task_instance_class()(TaskRef(task), allowed_methods={"aio", "override"}, eager_attrs=("name",))
        self.dispatch[ref.id] = (Feed.task_method, task)
        return ref


class SandboxExecutor:
    """Owns the worker pool and the compiled programs of one run."""

    def __init__(self, max_running: int | None = None, batch: bool = True) -> None:
        self.pool = WorkerPool(max_running=max_running)
        self.batch = batch
        self._compiled: dict[int, _Compiled] = {}
        self._funcs: dict[int, Any] = {}  # keep functions alive while their id is a cache key
        self._mounts: dict[tuple[str, str], Any] = {}
        self.controller: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    def prepare(self, root: TaskTemplate[Any, Any]) -> list[_Compiled]:
        """Build (validate) the programs of ``root`` and every task it can call, before anything runs."""
        out: list[_Compiled] = []
        todo = [root]
        seen: set[int] = set()
        while todo:
            task = todo.pop()
            if id(task.func) in seen:
                continue
            seen.add(id(task.func))
            sandbox_of(task)  # a bad sandbox= is an error now, not at the first call
            c = self.compiled(task)
            out.append(c)
            todo.extend(c.program.tasks.values())
        return out

    def compiled(self, task: TaskTemplate[Any, Any]) -> _Compiled:
        c = self._compiled.get(id(task.func))
        if c is None:
            c = _Compiled(program_for(task))
            self._compiled[id(task.func)] = c
            self._funcs[id(task.func)] = task.func
        return c

    async def start(self) -> None:
        await self.pool.start()

    async def check(self, programs: list[_Compiled]) -> None:
        """Let Monty parse each program once (unsupported syntax is found here, before anything runs), after
        checking that the stdlib modules and names it uses exist in pydantic-monty (see Program.probe_code)."""
        import pydantic_monty as pm

        for c in programs:
            prog = c.program
            if prog.checked:
                continue
            lease = await self.pool.acquire(("check",), {"max_feed_duration_secs": 5.0, "max_memory": 64 * 2**20})
            ok = False
            try:
                if prog.probes:
                    _refuse_missing(prog, await lease.session.feed_run(prog.probe_code))
                await lease.session.feed_run(prog.definitions)
                ok = prog.checked = True
            except pm.MontyError as e:
                raise SandboxError(f"Task '{prog.task_name}' cannot run in the sandbox{_where(prog, e)}: "
                                   f"{_message(e)}") from None
            finally:
                await self.pool.release(lease, ok)

    async def close(self) -> None:
        for m in self._mounts.values():
            m.close()
        self._mounts.clear()
        await self.pool.close()

    # -- one call ----------------------------------------------------------------------------

    async def invoke(self, task: TaskTemplate[Any, Any], kwargs: dict[str, Any], rec: ActionRecord) -> Any:
        """Run one body (what :class:`flyte_sandbox.runtime.SandboxBodyRunner` calls for each attempt)."""
        c = self.compiled(task)
        sb = sandbox_of(task)
        prog = c.program
        if self.batch and prog.pure and not task.timeout:
            key = sb.key()
            batcher = c.batchers.get(key)
            if batcher is None:
                batcher = c.batchers[key] = _Batcher(self, c, task, sb)
            batcher.inflight += 1
            try:
                if batcher.inflight > 1:  # others of it are about: share a feed with them
                    value = await batcher.submit(kwargs)
                    if value is not _RUN_ALONE:
                        return value
                return await self.run_alone(c, task, sb, kwargs, rec)
            finally:
                batcher.inflight -= 1
        # The task's own timeout= is applied by the controller around this call (flyte.runtime).
        return await self.run_alone(c, task, sb, kwargs, rec)

    async def run_alone(self, c: _Compiled, task: TaskTemplate[Any, Any], sb: Sandbox, kwargs: dict[str, Any],
                        rec: ActionRecord) -> Any:
        import pydantic_monty as pm

        prog = c.program
        limits = sb.limits(task.timeout)
        lease = await self.pool.acquire((id(c), sb.key(), task.timeout), limits)
        reusable = False
        try:
            inputs = dict(c.globals)
            inputs[KWARGS] = to_sandbox(kwargs) if _wraps_inputs(task) else kwargs
            try:
                value = await self._drive(lease, c, task, sb, inputs)
            except SleepLimit as e:
                raise SandboxLimitError(task.name, rec.name, "sleep time", f"{e.seconds:g} s",
                                        "give it more with Sandbox(timeout=...)") from None
            except pm.MontyCrashedError as e:
                if getattr(e, "timed_out", False) and sb.task_timeout_binds(task.timeout):
                    raise _task_timed_out(task, rec) from None
                if getattr(e, "timed_out", False):
                    # One operation (a huge power, a long regex) ran past the limit without the sandbox
                    # getting a chance to stop it, so the pool killed the worker: still the time limit.
                    raise SandboxLimitError(task.name, rec.name, "time", f"{_seconds(sb, task.timeout):g} s",
                                            "give it more with Sandbox(timeout=...)",
                                            "a single operation ran past it; the worker was stopped") from None
                raise SandboxCrashError(task.name, rec.name, str(e)) from None
            except pm.MontyRuntimeError as e:
                limit = limit_error(e, task.name, rec.name, sb, task.timeout)
                if limit is not None and limit.limit == "time" and sb.task_timeout_binds(task.timeout):
                    raise _task_timed_out(task, rec) from None  # the same instant the controller's fires
                if limit is not None:
                    raise limit from None
                reusable = True  # an ordinary exception leaves the session usable
                raise _user_exception(prog, e) from None
            except pm.MontyError as e:
                raise SandboxError(f"Task '{task.name}': {_message(e)}") from None
            reusable = lease.calls < sb.max_calls // 2
            return from_sandbox(value, _output_type(task)) if _wraps_outputs(task) else value
        finally:
            await self.pool.release(lease, reusable)

    async def _drive(self, lease: Lease, c: _Compiled, task: TaskTemplate[Any, Any], sb: Sandbox,
                     inputs: dict[str, Any]) -> Any:
        """Feed the body and answer what it asks of the host until it completes (see :class:`Feed`)."""
        return await Feed(self, lease, c, task, sb).run(inputs)

    async def _resumed(self, lease: Lease, snap: Any, sb: Sandbox) -> Any:
        """The snapshot to go on from: ``snap``, or the one restored on a new worker if the body was
        parked while it waited (see WorkerPool)."""
        dumped = await self.pool.resumed(lease)
        if dumped is None:
            return snap
        lease.restored = True
        return await lease.session.load_snapshot(dumped, mount=self._mount(sb))

    # -- host calls ----------------------------------------------------------------------------

    async def _eager_call(self, lease: Lease, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        await self.pool.waiting(lease)  # no snapshot: the worker is mid-call and cannot be parked
        try:
            return await self._call_task(task, args, kwargs)
        except Exception as e:
            raise crossable(e) from None
        finally:
            await self.pool.resumed(lease)

    async def _call_task(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        value = await self.controller.submit(task, tuple(args), dict(kwargs))
        return to_sandbox(value) if _wraps_outputs(task) else value

    async def _gather(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """``asyncio.gather(*(t(...) for ...))`` of a sandboxed body, run as one host call."""
        ref, calls = args
        task = ref.task if isinstance(ref, TaskRef) else ref
        submit = self.controller.submit
        coros = [submit(task, tuple(a), dict(k)) for a, k in calls]
        out = await asyncio.gather(*coros, return_exceptions=bool(kwargs.get("return_exceptions", False)))
        wraps = _wraps_outputs(task)
        return [crossable(r) if isinstance(r, BaseException) else (to_sandbox(r) if wraps else r) for r in out]

    async def _map(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:

        if not args:
            raise TypeError("flyte.map() needs a task and at least one iterable")
        func, *iterables = args
        if isinstance(func, TaskRef):
            func = func.task
        out = [r async for r in flyte.map.aio(func, *iterables, **kwargs)]
        wraps = _wraps_outputs(func)
        return [crossable(r) if isinstance(r, BaseException) else (to_sandbox(r) if wraps else r) for r in out]

    async def _os_call(self, snap: Any, sb: Sandbox) -> Any:
        name = snap.function_name
        args = snap.args
        if name == "os.getenv":
            var = args[0] if args else snap.kwargs.get("key")
            default = args[1] if len(args) > 1 else snap.kwargs.get("default")
            if var in sb.env:
                return await snap.resume({"return_value": os.environ.get(var, default)})
            return await snap.resume({"exception": PermissionError(
                f"sandbox: environment variable {var!r} is not granted to this task; "
                f"grant it with Sandbox(env=[{var!r}])")})
        if name == "os.environ":
            return await snap.resume({"return_value": {k: os.environ[k] for k in sb.env if k in os.environ}})
        path = args[0] if args else None
        if path is not None and sb.mount is not None and _under(str(path), sb.mount_path):
            return await snap.resume_auto()
        if path is not None:
            grant = (f"only {sb.mount_path} (read-only) is visible" if sb.mount is not None
                     else "grant a read-only folder with Sandbox(mount=...)")
            return await snap.resume({"exception": PermissionError(
                f"sandbox: no access to {str(path)!r} ({name}); the task has no file system: {grant}")})
        if name in ("time.time", "datetime.now", "date.today", "os.urandom"):
            return await snap.resume_auto()  # clock and entropy are the worker's own
        return await snap.resume({"exception": PermissionError(f"sandbox: {name} is not allowed")})

    def _mount(self, sb: Sandbox) -> Any:
        if sb.mount is None:
            return None
        key = (str(sb.mount), sb.mount_path)
        m = self._mounts.get(key)
        if m is None:
            import pydantic_monty as pm

            m = self._mounts[key] = pm.MountDir(host_path=str(sb.mount), virtual_path=sb.mount_path,
                                                mode="read-only")
        return m


class _Batcher:
    """Collects calls of one pure task and runs up to BATCH_SIZE of them per feed."""

    def __init__(self, ex: SandboxExecutor, c: _Compiled, task: Any, sb: Sandbox) -> None:
        self.ex = ex
        self.c = c
        self.sb = sb
        self.task = task
        self.limits = sb.limits(None)
        self.key = (id(c), sb.key(), None)
        self.items: collections.deque[tuple[dict[str, Any], asyncio.Future[Any]]] = collections.deque()
        self.flushers = 0
        self.inflight = 0  # calls submitted and not finished (queued, in a shared feed or running alone)
        self.size = FIRST_BATCH_SIZE  # grows while feeds stay far below the time limit
        self.wrap_in = _wraps_inputs(task)
        self.wrap_out = _wraps_outputs(task)
        self.out_type = _output_type(task)
        self._tasks: set[asyncio.Task[None]] = set()

    def _adapt(self, n: int, seconds: float) -> None:
        """Size feeds so one takes about a tenth of the time limit: a shared feed never risks the
        limit that each call alone would stay within."""
        per_call = max(seconds / n, 1e-6)
        fits = int(0.1 * self.sb.timeout / per_call)
        self.size = max(1, min(BATCH_SIZE, fits, self.size * 4))

    def submit(self, kwargs: dict[str, Any]) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.items.append((kwargs, fut))
        if self.flushers < self.ex.pool.max_running and (self.flushers == 0 or len(self.items) > self.size):
            self.flushers += 1
            t = asyncio.get_running_loop().create_task(self._flush())
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)
        return fut

    async def _flush(self) -> None:
        import pydantic_monty as pm

        try:
            if len(self.items) < BATCH_SIZE and self.inflight > len(self.items):
                # Calls of this task are arriving one by one while others are still running (a parent
                # issuing them in a loop): wait a moment so they can share a feed. A lone call (a chain
                # of calls) never waits.
                await asyncio.sleep(BATCH_WINDOW)
            while self.items:
                lease = await self.ex.pool.acquire(self.key, self.limits)
                reusable = False
                batch: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
                try:
                    while self.items and len(batch) < self.size:
                        item = self.items.popleft()
                        if not item[1].done():
                            batch.append(item)
                    if len(batch) <= 1:
                        # Alone anyway: run it the ordinary way, so a failure is reported directly.
                        for _, fut in batch:
                            fut.set_result(_RUN_ALONE)
                        reusable = True
                        continue
                    inputs = dict(self.c.globals)
                    inputs[BATCH] = [to_sandbox(kw) for kw, _ in batch] if self.wrap_in else [kw for kw, _ in batch]
                    lease.feeds += 1
                    started = time.perf_counter()
                    try:
                        out = await lease.session.feed_run(self.c.program.batch_code, inputs=inputs)
                    except pm.MontyError:  # a limit or a crash: smaller feeds from now on
                        out = None
                        self.size = max(1, self.size // 4)
                    else:
                        reusable = True
                        self._adapt(len(batch), time.perf_counter() - started)
                    for i, (_, fut) in enumerate(batch):
                        if fut.done():
                            continue
                        if out is None or not out[i][0]:
                            fut.set_result(_RUN_ALONE)
                        else:
                            v = out[i][1]
                            fut.set_result(from_sandbox(v, self.out_type) if self.wrap_out else v)
                except BaseException:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_result(_RUN_ALONE)
                    raise
                finally:
                    await self.ex.pool.release(lease, reusable)
        finally:
            self.flushers -= 1


# -- helpers ------------------------------------------------------------------------------------


def _refuse_missing(prog: Program, found: list[bool]) -> None:
    """A SandboxError for the first stdlib module or name the program uses that pydantic-monty lacks."""
    for (module, attr, where), ok in zip(prog.probes, found, strict=True):
        if not ok:
            what = f"imports '{module}'" if attr is None else f"uses {module}.{attr}"
            raise SandboxError(f"Task '{prog.task_name}' cannot run in the sandbox ({where}): {what}, which the "
                               "sandbox's Python (pydantic-monty) does not provide")


_WRAP: weakref.WeakKeyDictionary[Any, tuple[bool, bool]] = weakref.WeakKeyDictionary()


def _wrap_flags(task: Any) -> tuple[bool, bool]:
    """Whether the task's inputs / outputs may hold records (else values cross untouched, which is faster)."""
    flags = _WRAP.get(task)
    if flags is None:
        flags = (any(needs_wrapping(p.python_type) for p in task.interface.inputs.values()),
                 any(needs_wrapping(p.python_type) for p in task.interface.outputs.values()))
        _WRAP[task] = flags
    return flags


def _wraps_inputs(task: Any) -> bool:
    return _wrap_flags(task)[0]


def _wraps_outputs(task: Any) -> bool:
    return _wrap_flags(task)[1]


def _output_type(task: Any) -> Any:
    outs = list(task.interface.outputs.values())
    if not outs:
        return type(None)
    if len(outs) == 1:
        return outs[0].python_type
    import typing

    return typing.Tuple[tuple(p.python_type for p in outs)]  # noqa: UP006 - built at run time


def _task_timed_out(task: Any, rec: ActionRecord) -> BaseException:
    """The task's own ``timeout=`` ran out: the error the local runtime raises (retried per policy)."""
    return MaxRuntimeExceededError.after(float(task.timeout), task=task.name, action=rec.name)


def _seconds(sb: Sandbox, timeout: Any) -> float:
    """The time limit of one attempt: the sandbox's, tightened by the task's ``timeout=``."""
    return float(sb.timeout if timeout is None else min(sb.timeout, timeout))


def _under(path: str, root: str) -> bool:
    path = posixpath.normpath(path)
    root = posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _message(e: Any) -> str:
    try:
        return str(e.display("type-msg"))
    except Exception:
        return str(e)


def _where(prog: Program, e: Any) -> str:
    try:
        frames = e.traceback()
    except Exception:
        frames = []
    for f in reversed(frames):
        w = prog.where(f.line)
        if w is not None:
            return f" ({w})"
    return ""


def _user_exception(prog: Program, e: Any) -> BaseException:
    """The exception the body raised, with where it was raised in the task's file as a note."""
    inner = e.exception()
    if not isinstance(inner, BaseException):
        inner = RuntimeError(str(e))
    original = CROSSED.get((type(inner), str(inner)))
    if original is not None:  # a host error (a child's failure) the body let through: as under local
        return original
    where = _where(prog, e)
    if where:
        inner.add_note(f"raised in the sandbox at{where.rstrip(')').replace(' (', ' ')}")
    return inner
