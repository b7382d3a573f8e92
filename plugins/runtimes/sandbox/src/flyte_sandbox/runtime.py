"""The ``sandbox`` runtime: the local runtime, with task bodies run in pydantic-monty workers.

Orchestration (literals, cache, retries, timeouts, concurrency, run records) is the
local runtime's own: :class:`SandboxController` only replaces how a body runs.
"""

from __future__ import annotations

import contextvars
import os
from typing import TYPE_CHECKING, Any

from flyte._builtin.local.controller import LocalController
from flyte._builtin.local.runtime import LocalRunHandle, LocalRuntime

if TYPE_CHECKING:
    from flyte._builtin.local.records import ActionRecord
    from flyte._task import TaskTemplate
    from flyte.runtime import RunOptions

    from flyte_sandbox.executor import SandboxExecutor

_EXECUTOR: contextvars.ContextVar[SandboxExecutor | None] = contextvars.ContextVar("flyte_sandbox_executor",
                                                                                  default=None)


class SandboxController(LocalController):
    """A LocalController whose task bodies run in the sandbox."""

    mode = "sandbox"

    def __init__(self, *, executor: SandboxExecutor, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.executor = executor
        executor.controller = self

    async def invoke_body(self, task: TaskTemplate[Any, Any], kwargs: dict[str, Any], rec: ActionRecord) -> Any:
        return await self.executor.invoke(task, kwargs, rec)


class SandboxRuntime(LocalRuntime):
    """Runs a task tree in this process with every task body isolated in a pydantic-monty worker.

    The body gets no file system, network, environment or processes unless its
    :class:`flyte_sandbox.Sandbox` grants them, and runs under time, memory and
    recursion limits. Tasks are checked when the run starts: a body or type the
    sandbox cannot run is a :class:`flyte.errors.SandboxError` naming the task and
    the line, before any task runs.

    ``FLYTE_SANDBOX_WORKERS=8`` (or ``flyte.with_runcontext(mode="sandbox", sandbox_workers=8)``)
    caps how many bodies execute at once (default: twice the CPU
    count, at least 4); ``FLYTE_SANDBOX_BATCH=0`` (``sandbox_batch=False``) runs every call
    of a pure leaf task in its own feed instead of sharing feeds.
    """

    name = "sandbox"
    run_options = frozenset({"sandbox_workers", "sandbox_batch"})
    description = "runs task bodies isolated in pydantic-monty workers with limits (flyte-sandbox)"

    def make_controller(self, **kwargs: Any) -> Any:
        executor = _EXECUTOR.get()
        if executor is None:
            raise RuntimeError("SandboxRuntime.make_controller() is only called from SandboxRuntime.submit()")
        return SandboxController(executor=executor, **kwargs)

    async def submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: RunOptions,
    ) -> LocalRunHandle:
        from flyte_sandbox.executor import SandboxExecutor

        executor = SandboxExecutor(max_running=_workers_setting(options.extra.get("sandbox_workers")),
                                   batch=_batch_setting(options.extra.get("sandbox_batch")))
        programs = executor.prepare(task)  # host-side checks: nothing has started yet
        await executor.start()
        try:
            await executor.check(programs)
            token = _EXECUTOR.set(executor)
            try:
                return await super().submit(task, args, kwargs, options)
            finally:
                _EXECUTOR.reset(token)
        finally:
            await executor.close()


def _workers_setting(value: Any) -> int | None:
    if value is None:
        value = os.environ.get("FLYTE_SANDBOX_WORKERS") or None
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ValueError(f"sandbox_workers / FLYTE_SANDBOX_WORKERS: give a positive number of bodies, got {value!r}")
    return n


def _batch_setting(value: Any) -> bool:
    if value is None:
        value = os.environ.get("FLYTE_SANDBOX_BATCH", "1").strip().lower() not in ("0", "false", "no", "off")
    return bool(value)
