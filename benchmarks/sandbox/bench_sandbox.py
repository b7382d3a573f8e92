#!/usr/bin/env python3
"""Per-task overhead of the sandbox runtime against the local runtime.

    .venv/bin/python benchmarks/sandbox/bench_sandbox.py            # n=1000, 7 runs each
    .venv/bin/python benchmarks/sandbox/bench_sandbox.py --n 1000 --reps 9

One process; runs alternate between runtimes so both see the same machine state.
Workload: a parent task gathers N trivial child tasks (``noop(x) -> x``). Reported:
the median wall time per run divided by N+1 actions (µs per task), and the ratio
sandbox / local. ``sandbox (no batching)`` runs every child in its own worker feed;
``sandbox (call per child)`` builds the coroutines in a loop, so each child call is its own
host round trip (the ``gather(*(t(x) for x in xs))`` idiom is one host call).
The target is a ratio of at most 3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("FLYTE_HOME", tempfile.mkdtemp(prefix="flyte-bench-sandbox-"))

import flyte

env = flyte.TaskEnvironment(name="bench_sandbox")


@env.task
async def noop(x: int) -> int:
    return x


@env.task
async def fanout(n: int) -> int:
    out = await asyncio.gather(*(noop(i) for i in range(n)))
    return len(out)


@env.task
async def fanout_loop(n: int) -> int:
    coros = []
    for i in range(n):
        coros.append(noop(i))
    out = await asyncio.gather(*coros)
    return len(out)


MODES = {
    "local": {"mode": "local"},
    "sandbox": {"mode": "sandbox"},
    "sandbox (no batching)": {"mode": "sandbox", "env": {"FLYTE_SANDBOX_BATCH": "0"}},
    # Not the `gather(*(t(x) for x in xs))` idiom: one host round trip per child call.
    "sandbox (call per child)": {"mode": "sandbox", "workload": "loop"},
}


def one(n: int, opts: dict[str, object]) -> float:
    opts = dict(opts)
    mode = opts.pop("mode")
    task = fanout_loop if opts.pop("workload", None) == "loop" else fanout
    env = opts.pop("env", None) or {}
    saved = {k: os.environ.get(k) for k in env}  # type: ignore[union-attr]
    os.environ.update(env)  # type: ignore[arg-type]
    try:
        started = time.perf_counter()
        run = flyte.with_runcontext(mode=mode, **opts).run(task, n=n)  # type: ignore[arg-type]
        assert run.outputs()[0] == n
        return time.perf_counter() - started
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = ap.parse_args()
    for opts in MODES.values():  # warm up imports, plugin lookup, type plans
        one(min(args.n, 50), opts)
    times: dict[str, list[float]] = {k: [] for k in MODES}
    for _ in range(args.reps):
        for name, opts in MODES.items():
            times[name].append(one(args.n, opts))
    actions = args.n + 1
    per_task = {k: statistics.median(v) / actions * 1e6 for k, v in times.items()}
    result = {
        "n": args.n,
        "reps": args.reps,
        "cpus": os.cpu_count(),
        "us_per_task": {k: round(v, 1) for k, v in per_task.items()},
        "ratio_vs_local": {k: round(v / per_task["local"], 2) for k, v in per_task.items() if k != "local"},
        "median_run_s": {k: round(statistics.median(v), 4) for k, v in times.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"fan-out of {args.n} trivial tasks, median of {args.reps} runs, {os.cpu_count()} CPUs")
    for k, v in per_task.items():
        ratio = "" if k == "local" else f"  {v / per_task['local']:.2f}x local"
        print(f"  {k:<25} {v:8.1f} µs/task  (run {statistics.median(times[k]) * 1000:.0f} ms){ratio}")
    ok = per_task["sandbox"] / per_task["local"] <= 3
    print(f"target (sandbox <= 3x local): {'met' if ok else 'MISSED'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
