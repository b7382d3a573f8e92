"""A runtime plugin written on flyte's public execution seam (shown in docs/plugins.md).

``timed`` runs a task tree exactly like ``local`` (literals, cache, retries, timeouts,
concurrency and run records all come from flyte.runtime.InProcessRuntime) and only changes
how one body runs: it measures each body and keeps the timings.

    python examples/plugins/timing_runtime.py
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import flyte
from flyte.plugins import hookimpl
from flyte.runtime import BodyRunner, InProcessBodyRunner, InProcessRuntime, RunOptions


class TimingRunner(InProcessBodyRunner):
    """Runs bodies in this process, like local, and records how long each one took."""

    mode = "timed"  # what flyte.ctx().mode says inside a body

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = {}

    async def run(self, task: Any, kwargs: dict[str, Any], record: Any) -> Any:
        started = time.perf_counter()
        try:
            return await super().run(task, kwargs, record)
        finally:
            self.seconds[record.name] = time.perf_counter() - started


class TimingRuntime(InProcessRuntime):
    name = "timed"
    description = "runs tasks in this process and times every body (example)"
    last: TimingRunner | None = None

    async def open_runner(self, task: Any, options: RunOptions) -> BodyRunner:
        TimingRuntime.last = TimingRunner()
        return TimingRuntime.last


@hookimpl
def flyte_runtimes() -> list[type[Any]]:
    return [TimingRuntime]


env = flyte.TaskEnvironment(name="timing")


@env.task
async def nap(s: float) -> str:
    await asyncio.sleep(s)
    return flyte.ctx().mode


@env.task
async def main(n: int) -> list[str]:
    return list(await asyncio.gather(*(nap(0.01 * i) for i in range(n))))


if __name__ == "__main__":
    import sys

    from flyte.plugins import isolated_plugins

    with isolated_plugins(("timing", sys.modules[__name__])):
        run = flyte.with_runcontext(mode="timed").run(main, n=3)
        print(run.outputs().o0)  # ['timed', 'timed', 'timed']
        assert TimingRuntime.last is not None
        print({a: round(s, 2) for a, s in sorted(TimingRuntime.last.seconds.items())})
