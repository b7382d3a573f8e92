"""Benchmark workloads, written only with the authoring API both SDKs share.

Run as a script in a fresh process by run.py:
    python workloads.py WORKLOAD N
prints one JSON line: {"workload", "n", "seconds", "peak_rss_mb"}. `seconds` times the run of n
tasks after a one-task warm-up run, so per-task cost excludes imports and one-time set-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time

import flyte

env = flyte.TaskEnvironment(name="bench")


@env.task
async def noop(x: int) -> int:
    return x


@env.task
async def fanout(n: int) -> int:
    out = await asyncio.gather(*(noop(i) for i in range(n)))
    return len(out)


@env.task
async def chain(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await noop(x + 1)
    return x


@env.task
async def mapped(n: int) -> int:
    count = 0
    async for _ in flyte.map.aio(noop, range(n)):
        count += 1
    return count


WORKLOADS = {"fanout": fanout, "chain": chain, "map": mapped}


def main() -> None:
    workload, n = sys.argv[1], int(sys.argv[2])
    task = WORKLOADS[workload]
    if hasattr(flyte, "init"):
        with contextlib.suppress(Exception):
            flyte.init()
    runner = flyte.with_runcontext(mode="local")
    # Warm-up run of one task: imports and one-time set-up are start-up cost (measured separately), not per task.
    runner.run(task, n=1)
    started = time.perf_counter()
    run = runner.run(task, n=n)
    result = run.outputs()[0] if hasattr(run, "outputs") else run
    seconds = time.perf_counter() - started
    assert int(result) == n, (result, n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"workload": workload, "n": n, "seconds": seconds, "peak_rss_mb": round(peak, 1)}))


if __name__ == "__main__":
    main()
