"""How one task body runs: the :class:`BodyRunner` interface and the in-process runner.

The controller (:class:`flyte.runtime.InProcessController`) decides *when* a body runs and
handles everything around it: literals, cache, retries, the task's timeout, concurrency.
A body runner only runs the body. ``local`` runs it in this process
(:class:`InProcessBodyRunner`); ``flyte-sandbox`` runs it in a pydantic-monty worker; the
remote worker runs it in process inside its container, with a controller of its own whose
``submit`` hands child calls to the control plane.

Example: a runner that logs each body and then runs it in process::

    class LoggingRunner(InProcessBodyRunner):
        async def run(self, task, kwargs, record):
            print("running", task.name, "as", record.name)
            return await super().run(task, kwargs, record)
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from flyte._builtin.local.stopping import DaemonThreadPool, stop_reason

if TYPE_CHECKING:
    from flyte._task import TaskTemplate
    from flyte.runtime.controller import Controller
    from flyte.runtime.records import ActionRecord

# Sync bodies that may run at once on threads. A sync body blocked waiting on a child gives its
# place back (see run_blocking), so sync parents calling sync children never exhaust the pool.
MAX_RUNNING_SYNC_BODIES = 64
_thread_state = threading.local()


class BodyRunner(abc.ABC):
    """Runs one task body. Subclass it to run bodies somewhere other than this process.

    The controller calls :meth:`attach` once, then :meth:`run` for every attempt of every
    action, with the action's context set (``flyte.ctx()`` names the action; child task calls
    made by the body go to ``flyte.ctx().controller``), and :meth:`close` is awaited by the
    runtime when the run ends.
    """

    mode: ClassVar[str] = "local"  # what flyte.ctx().mode reports inside the body
    controller: Controller | None = None
    loop: asyncio.AbstractEventLoop | None = None
    #: True when :meth:`run` of an async task is exactly ``await task.func(**kwargs)``: the controller then
    #: awaits the body itself (the hot path of fan-outs). Set by :class:`InProcessBodyRunner` unless a
    #: subclass overrides ``run``.
    awaits_async_bodies: bool = False

    def attach(self, controller: Controller, max_concurrency: int) -> None:
        """Called by the controller that will use this runner (on its event loop)."""
        self.controller = controller
        self.loop = asyncio.get_running_loop()

    @abc.abstractmethod
    async def run(self, task: TaskTemplate[Any, Any], kwargs: dict[str, Any], record: ActionRecord) -> Any:
        """Run ``task``'s body with the decoded ``kwargs`` and return what it returned.

        Raise what the body raised. The controller applies the task's timeout (by cancelling
        this coroutine), its retries and the cache; the runner need not.
        """

    def run_blocking(self, coro: Any) -> Any:
        """Run ``coro`` on the run's loop from a thread (a sync body) and wait for its result."""
        if self.loop is None:
            raise RuntimeError(f"{type(self).__name__}.run_blocking() before attach()")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def close(self) -> None:  # noqa: B027 - optional hook: most runners hold nothing
        """Release what the runner holds (threads, workers). Called once, when the run ends."""


class InProcessBodyRunner(BodyRunner):
    """Runs bodies in this process: async bodies on the run's loop, sync bodies on threads.

    At most ``MAX_RUNNING_SYNC_BODIES`` sync bodies run at once; one blocked on its children
    (``child(x)`` from a sync body) gives its place back while it waits.
    """

    def __init__(self) -> None:
        self._executor: DaemonThreadPool | None = None
        self._sync_gate: asyncio.Semaphore | None = None
        self._said_abandoned = False

    def attach(self, controller: Controller, max_concurrency: int) -> None:
        super().attach(controller, max_concurrency)
        self._sync_gate = asyncio.Semaphore(min(MAX_RUNNING_SYNC_BODIES, max_concurrency))
        self.awaits_async_bodies = type(self).run is InProcessBodyRunner.run

    async def run(self, task: TaskTemplate[Any, Any], kwargs: dict[str, Any], record: ActionRecord) -> Any:
        if task.is_async:
            return await task.func(**kwargs)
        return await self.run_on_thread(task.func, kwargs, label=f"task '{task.name}' ({record.name})")

    async def run_on_thread(self, func: Any, kwargs: dict[str, Any], label: str | None = None) -> Any:
        """Run a sync body on a thread, in a copy of the current context.

        Cancelled (timeout, abort) while the body runs, the thread is abandoned: it cannot be stopped.
        That is said once per run (``label`` names the body), and the thread, a daemon, never keeps
        the process alive.
        """
        gate = self._sync_gate
        if gate is None or self.loop is None:
            raise RuntimeError("InProcessBodyRunner.run() before attach()")
        if self._executor is None:
            # Threads are created on demand; the cap is only a backstop. What bounds them is the gate
            # for running bodies, plus one per sync parent blocked on its children. Daemon threads: a
            # body abandoned after its timeout or a Ctrl-C never keeps the process alive.
            self._executor = DaemonThreadPool(max_workers=100_000, thread_name_prefix="flyte-task")
        ctx = contextvars.copy_context()

        def body() -> Any:
            _thread_state.holds_gate = True
            try:
                return ctx.run(func, **kwargs)
            finally:
                _thread_state.holds_gate = False

        await gate.acquire()
        try:
            done = self._executor.submit(body)
            try:
                return await asyncio.wrap_future(done, loop=self.loop)
            except asyncio.CancelledError:
                # The thread cannot be stopped; it finishes in the background and its result is dropped.
                if done.running() and not self._said_abandoned and stop_reason() is None:  # not when stopping
                    self._said_abandoned = True
                    logging.getLogger("flyte.local").warning(
                        "%s is still running on its thread after its action stopped (timeout or abort). A thread "
                        "cannot be stopped: it is abandoned and its result dropped; it does not keep the process "
                        "alive after the run.", label or f"sync body {getattr(func, '__name__', func)!r}")
                raise
        finally:
            gate.release()

    def run_blocking(self, coro: Any) -> Any:
        """As :meth:`BodyRunner.run_blocking`; while it waits the body gives back its place among
        running sync bodies, so a tree of sync tasks calling sync tasks cannot deadlock."""
        loop = self.loop
        gate = self._sync_gate
        if loop is None or gate is None:
            raise RuntimeError("InProcessBodyRunner.run_blocking() before attach()")
        holds = getattr(_thread_state, "holds_gate", False)
        if holds:
            loop.call_soon_threadsafe(gate.release)
            _thread_state.holds_gate = False
        try:
            return asyncio.run_coroutine_threadsafe(coro, loop).result()
        finally:
            if holds:
                asyncio.run_coroutine_threadsafe(gate.acquire(), loop).result()
                _thread_state.holds_gate = True

    async def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


__all__ = ["MAX_RUNNING_SYNC_BODIES", "BodyRunner", "InProcessBodyRunner"]
