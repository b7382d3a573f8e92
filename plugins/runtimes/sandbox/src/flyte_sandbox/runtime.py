"""The ``sandbox`` runtime: an in-process run whose task bodies run in pydantic-monty workers.

Built on flyte's public execution seam (:mod:`flyte.runtime`): orchestration (literals, cache,
retries, timeouts, concurrency, run records) is :class:`flyte.runtime.InProcessRuntime`'s own;
:class:`SandboxBodyRunner` only replaces how a body runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flyte.runtime import RunOptions
from flyte.runtime.body import BodyRunner
from flyte.runtime.controller import Controller
from flyte.runtime.inprocess import InProcessRuntime

if TYPE_CHECKING:
    from flyte import TaskTemplate
    from flyte.runtime.records import ActionRecord

    from flyte_sandbox.executor import SandboxExecutor


class SandboxBodyRunner(BodyRunner):
    """Runs each task body in a pydantic-monty worker; the body's task calls come back to the controller."""

    mode = "sandbox"

    def __init__(self, executor: SandboxExecutor) -> None:
        self.executor = executor

    def attach(self, controller: Controller, max_concurrency: int) -> None:
        super().attach(controller, max_concurrency)
        self.executor.controller = controller

    async def run(self, task: TaskTemplate[Any, Any], kwargs: dict[str, Any], record: ActionRecord) -> Any:
        return await self.executor.invoke(task, kwargs, record)

    async def close(self) -> None:
        await self.executor.close()


class SandboxRuntime(InProcessRuntime):
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

    async def open_runner(self, task: TaskTemplate[Any, Any], options: RunOptions) -> BodyRunner:
        from flyte_sandbox.executor import SandboxExecutor  # imports pydantic_monty: only when a run starts

        executor = SandboxExecutor(max_running=_workers_setting(options.extra.get("sandbox_workers")),
                                   batch=_batch_setting(options.extra.get("sandbox_batch")))
        programs = executor.prepare(task)  # host-side checks: nothing has started yet
        try:
            await executor.start()
            await executor.check(programs)
        except BaseException:
            await executor.close()
            raise
        return SandboxBodyRunner(executor)


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
