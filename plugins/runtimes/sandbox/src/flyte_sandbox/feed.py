"""Driving one feed of a body: the snapshots it stops at, and the host's answer to each.

A feed runs until the body completes or asks the host something. What it asks picks a handler
through two tables: the kind of snapshot (a call out, futures to settle, a name lookup), then for a
call out what is called: an OS function (answered from the task's grants), a host function
(``flyte.map``, the gather fan-out, ``flyte.group``) or a host object (a record class, a task handle).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import flyte

from flyte_sandbox.rules import (
    DATACLASSES_HOST,
    GATHER_HOST,
    GROUP_HOST,
    MAP_AIO_HOST,
    MAP_HOST,
    MODEL_METHODS,
    ROUND_HOST,
)
from flyte_sandbox.values import to_sandbox

if TYPE_CHECKING:
    from flyte import TaskTemplate

    from flyte_sandbox.executor import SandboxExecutor, _Compiled
    from flyte_sandbox.settings import Sandbox
    from flyte_sandbox.workers import Lease

_ASYNC_SLEEPS = frozenset({"system.async_sleep", "asyncio.sleep"})
_SLEEPS = _ASYNC_SLEEPS | {"system.sleep", "time.sleep"}
TASK_METHODS = frozenset({"__call__", "aio"})


class SleepLimit(Exception):
    """The body slept longer than its limit allows (sleeps are the host's, budgeted per attempt)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


# The executor and lease of the body being driven, for host calls pydantic-monty makes itself.
DRIVING: contextvars.ContextVar[tuple[SandboxExecutor, Lease] | None] = contextvars.ContextVar(
    "flyte_sandbox_driving", default=None)


class Feed:
    """One feed of a body, driven snapshot by snapshot until it completes.

    Two dispatch tables: the kind of snapshot (a call out, futures to settle, a name lookup) picks an
    ``on_*`` method (:func:`_snapshot_handlers`), and for a call out, what is called picks its handler:
    an OS function, a host function (``flyte.map``, the gather fan-out: ``_HOST_FUNCTIONS``), or a host
    object (a record class, a task handle: ``_Compiled.dispatch``).
    """

    __slots__ = ("c", "ex", "groups", "lease", "limit_s", "pending", "prog", "sb", "slept")

    def __init__(self, ex: SandboxExecutor, lease: Lease, c: _Compiled, task: TaskTemplate[Any, Any],
                 sb: Sandbox) -> None:
        self.ex = ex
        self.lease = lease
        self.c = c
        self.prog = c.program
        self.sb = sb
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.slept = 0.0
        # A binding task timeout= is the controller's to enforce on the wall clock (as locally)
        self.limit_s = float("inf") if sb.task_timeout_binds(task.timeout) else sb.timeout
        self.groups: list[Any] = []  # flyte.group(...) blocks the body is inside, innermost last

    async def run(self, inputs: dict[str, Any]) -> Any:
        lease = self.lease
        lease.feeds += 1
        lease.restored = False
        snap = await lease.session.feed_start(self.prog.call_code, inputs=inputs, mount=self.ex._mount(self.sb))
        handlers = _snapshot_handlers()
        handler = handlers.get(type(snap), Feed.on_name_lookup)
        if handler is None:  # completed without asking the host anything (a leaf body)
            return snap.output
        driving = DRIVING.set((self.ex, lease))
        try:
            while handler is not None:
                lease.calls += 1
                snap = await handler(self, snap)
                handler = handlers.get(type(snap), Feed.on_name_lookup)
            return snap.output
        finally:
            DRIVING.reset(driving)
            for f in self.pending.values():
                f.cancel()
            while self.groups:  # the body stopped inside a group (a limit, a crash): leave it
                self.groups.pop().__exit__(None, None, None)

    # -- snapshots ---------------------------------------------------------------------------------

    async def on_call(self, snap: Any) -> Any:
        name = snap.function_name
        if snap.is_os_function:
            if name in _SLEEPS:
                return await self.sleep(snap)
            return await self.ex._os_call(snap, self.sb)
        if snap.object_id is None:
            handler, target = _HOST_FUNCTIONS.get(name), name
        else:
            handler, target = self.c.dispatch.get(snap.object_id, (None, None))
        if handler is None and name in MODEL_METHODS:
            if not self.lease.restored:  # `model.model_dump()`: pydantic-monty calls it on the host's record
                return await snap.resume_auto()
            return await snap.resume({"exception": AttributeError(
                f"'{name}()' cannot be called here: this body was parked while it waited for child tasks and "
                "pydantic-monty cannot reach the record's host object after that; call it before waiting")})
        if handler is None and snap.object_id is not None:  # a method of a record that crossed in
            return await snap.resume({"exception": AttributeError(
                f"'{name}()' cannot be called in the sandbox: records (dataclasses, pydantic models, File/Dir) "
                "cross as data and their methods stay on the host; compute it in the body or in a helper "
                "function")})
        if handler is None:
            return await snap.resume({"exception": NameError(f"name '{name}' is not defined in the sandbox")})
        return await handler(self, snap, target)

    async def on_futures(self, snap: Any) -> Any:
        pending = self.pending
        ids = snap.pending_call_ids
        futs = [pending[i] for i in ids if i in pending]
        if futs and not any(f.done() for f in futs):
            await self.ex.pool.waiting(self.lease, snap)
            await asyncio.wait(futs, return_when=asyncio.FIRST_COMPLETED)
            snap = await self.ex._resumed(self.lease, snap, self.sb)
            ids = snap.pending_call_ids
        results: dict[int, Any] = {}
        for i in ids:
            f = pending.get(i)
            if f is None:
                results[i] = {"exception": RuntimeError("lost track of a host call")}
            elif f.done():
                del pending[i]
                exc = f.exception()
                results[i] = {"exception": crossable(exc)} if exc else {"return_value": f.result()}
        return await snap.resume(results)

    async def on_name_lookup(self, snap: Any) -> Any:
        """A name the body reads but never defined: a NameError in the body, as in Python."""
        return await snap.resume()

    # -- calls out -----------------------------------------------------------------------------------

    async def sleep(self, snap: Any) -> Any:
        """Sleeps are the host's (the pool cannot serve them to a stepped feed), budgeted here."""
        seconds = max(0.0, float(snap.args[0] if snap.args else 0.0))
        self.slept += seconds
        if self.slept > self.limit_s:
            raise SleepLimit(self.limit_s)
        return await self.answer(snap, asyncio.sleep(seconds), wait=snap.function_name not in _ASYNC_SLEEPS)

    async def construct(self, snap: Any, cls: Any) -> Any:
        return await snap.resume(settle(lambda: cls.construct(snap.args, snap.kwargs)))

    async def task_method(self, snap: Any, task: Any) -> Any:
        method = snap.function_name
        if method == "override":
            return await snap.resume(settle(lambda: self.c.task_ref(task.override(**snap.kwargs))))
        if method not in TASK_METHODS:
            return await snap.resume({"exception": AttributeError(f"'{method}' is not available on task objects "
                                                                  "in the sandbox")})
        if method == "__call__" and self.prog.is_async and not task.is_async:  # one the check could not see
            return await snap.resume({"exception": TypeError(
                f"Sync task '{task.name}' was called from async code without awaiting; this would block the event "
                f"loop. Use `await {task.short_name}.aio(...)` instead.")})
        pool = self.ex.pool
        if self.prog.is_async and snap.allow_eager_await and pool.pinned < pool.max_pinned \
                and not self.lease.restored:
            # Awaited in place (see _task_instance_class). The worker is busy meanwhile and cannot be
            # parked, so only so many bodies may wait this way.
            pool.pinned += 1
            try:
                return await snap.resume_auto()
            finally:
                pool.pinned -= 1
        return await self.answer(snap, self.ex._call_task(task, snap.args, snap.kwargs))

    async def map(self, snap: Any, name: str) -> Any:
        """``flyte.map(...)`` waits for all results even in an async body; ``flyte.map.aio(...)`` is a future."""
        return await self.answer(snap, self.ex._map(snap.args, snap.kwargs), wait=name == MAP_HOST)

    async def gather(self, snap: Any, name: str) -> Any:
        return await self.answer(snap, self.ex._gather(snap.args, snap.kwargs))

    async def group(self, snap: Any, name: str) -> Any:
        """``with flyte.group(g):`` in the body: the host enters (or leaves) ``flyte.group(g)`` in this feed's
        context, so the actions the body starts inside the block are grouped as in local."""
        def enter_or_leave() -> None:
            group_name, entering = snap.args
            if entering:
                cm = flyte.group(group_name)
                cm.__enter__()
                self.groups.append(cm)
            elif self.groups:
                self.groups.pop().__exit__(None, None, None)

        return await snap.resume(settle(enter_or_leave))

    async def dataclass_function(self, snap: Any, name: str) -> Any:
        """``dataclasses.replace/asdict/astuple(record, ...)`` in the body (pydantic-monty has none of them): the
        record is the host's (or, for a class the body defines, its fields), so the host computes the result."""
        def call() -> Any:
            import dataclasses

            import pydantic_monty as pm

            operation, obj, changes = snap.args
            if isinstance(obj, pm.MontyClassProxy):  # an instance of a class the body defines
                if operation == "replace":
                    raise TypeError("dataclasses.replace() of a class the body defines itself is not available in "
                                    "the sandbox; call the class with the new values")
                return _plain(obj, dict if operation == "asdict" else tuple)
            if operation == "replace":
                return to_sandbox(dataclasses.replace(obj, **changes))
            return to_sandbox(dataclasses.asdict(obj) if operation == "asdict" else dataclasses.astuple(obj))

        return await snap.resume(settle(call))

    async def round(self, snap: Any, name: str) -> Any:
        """``round(x, n)`` of a float, as CPython rounds it (see shims.ROUND_SHIM)."""
        return await snap.resume(settle(lambda: round(float(snap.args[0]), snap.args[1])))

    async def answer(self, snap: Any, coro: Coroutine[Any, Any, Any], wait: bool = False) -> Any:
        """Resume with ``coro``'s outcome: a future in an async body (unless ``wait``), else its result, the
        worker marked as waiting meanwhile (so it may be parked)."""
        if self.prog.is_async and not wait:
            self.pending[snap.call_id] = asyncio.ensure_future(coro)
            return await snap.resume({"future": ...})
        await self.ex.pool.waiting(self.lease, snap)
        try:
            result: Any = {"return_value": await coro}
        except Exception as e:
            result = {"exception": crossable(e)}
        snap = await self.ex._resumed(self.lease, snap, self.sb)
        return await snap.resume(result)


_Handler = Callable[[Feed, Any], Awaitable[Any]]  # (feed, snapshot) -> the next snapshot
ObjectHandler = Callable[[Feed, Any, Any], Awaitable[Any]]  # (feed, snapshot, what is called) -> next snapshot
_HOST_FUNCTIONS: dict[str, ObjectHandler] = {
    MAP_HOST: Feed.map,
    MAP_AIO_HOST: Feed.map,
    GATHER_HOST: Feed.gather,
    GROUP_HOST: Feed.group,
    DATACLASSES_HOST: Feed.dataclass_function,
    ROUND_HOST: Feed.round,
}
_SNAPSHOT_HANDLERS: dict[type, _Handler | None] = {}


def _snapshot_handlers() -> dict[type, _Handler | None]:
    """Snapshot type -> its handler (None: the body completed). Built on first use: pydantic-monty loads lazily."""
    if not _SNAPSHOT_HANDLERS:
        import pydantic_monty as pm

        _SNAPSHOT_HANDLERS.update({
            pm.MontyComplete: None,
            pm.AsyncFunctionSnapshot: Feed.on_call,
            pm.AsyncFutureSnapshot: Feed.on_futures,
            pm.AsyncNameLookupSnapshot: Feed.on_name_lookup,
        })
    return _SNAPSHOT_HANDLERS


def settle(fn: Any) -> Any:
    try:
        return {"return_value": fn()}
    except Exception as e:
        return {"exception": crossable(e)}


# Exceptions that crossed into a body as a builtin copy (a child task's RuntimeUserError, say), by
# (builtin class, message): if the body lets the copy escape, the host raises the original again, so the
# parent's error reads as under the local runtime. Bounded: only the most recent ones are kept.
CROSSED: collections.OrderedDict[tuple[type, str], BaseException] = collections.OrderedDict()
_CROSSED_MAX = 256


def crossable(e: BaseException) -> BaseException:
    """Exceptions of flyte's own classes cross as the builtin they derive from, message kept."""
    if type(e).__module__ == "builtins":
        return e
    for base in type(e).__mro__:
        if base.__module__ == "builtins" and issubclass(base, Exception):
            copy: BaseException = base(str(e))
            break
    else:
        copy = RuntimeError(str(e))
    key = (type(copy), str(copy))
    CROSSED[key] = e
    CROSSED.move_to_end(key)
    while len(CROSSED) > _CROSSED_MAX:
        CROSSED.popitem(last=False)
    return copy


def _plain(value: Any, record: type[dict[str, Any]] | type[tuple[Any, ...]]) -> Any:
    """``asdict``/``astuple`` of a value holding instances of classes the body defined (pydantic-monty proxies)."""
    import pydantic_monty as pm

    if isinstance(value, pm.MontyClassProxy):
        fields = {k: _plain(v, record) for k, v in value.attributes.items()}
        return fields if record is dict else tuple(fields.values())
    if isinstance(value, list | tuple):
        return type(value)(_plain(v, record) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v, record) for k, v in value.items()}
    return value
