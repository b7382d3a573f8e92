"""Nested fan-outs wider than the worker pool finish, with a bounded number of worker processes.

Each case runs in a subprocess with a timeout, so a regression fails instead of hanging the suite.
"""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import asyncio, os, sys
    import flyte
    import flyte_sandbox.hooks
    from flyte.plugins import isolated_plugins

    env = flyte.TaskEnvironment(name="nest")

    @env.task
    async def leaf(i: int) -> int:
        return i

    @env.task
    async def mid(i: int) -> int:
        return await leaf(i) + 1

    @env.task
    async def top(i: int) -> int:
        return await mid(i) + 1

    @env.task
    async def twice(i: int) -> int:
        a = await leaf(i)
        b = await leaf(i)  # after a park and restore: host objects must still be reachable
        return a + b

    @env.task
    async def chain(d: int) -> int:
        return 0 if d == 0 else await chain(d - 1) + 1

    @env.task
    async def wide_twice(n: int) -> int:
        return sum(await asyncio.gather(*(twice(i) for i in range(n))))

    @env.task
    async def wide_chain(n: int) -> int:
        return sum(await asyncio.gather(*(chain(6) for i in range(n))))

    @env.task
    def sync_mid(i: int) -> int:
        return leaf(i) * 2

    @env.task
    async def main(n: int) -> int:
        return sum(await asyncio.gather(*(mid(i) for i in range(n))))

    @env.task
    async def deep(n: int) -> int:
        return sum(await asyncio.gather(*(top(i) for i in range(n))))

    @env.task
    async def loop(n: int) -> int:
        coros = [sync_mid.aio(i) for i in range(n)]
        return sum(await asyncio.gather(*coros))

    from flyte_sandbox import workers
    peak = [0]
    acquire = workers.WorkerPool.acquire
    async def counting(self, *a, **k):
        lease = await acquire(self, *a, **k)
        peak[0] = max(peak[0], self.peak_open)
        return lease
    workers.WorkerPool.acquire = counting

    with isolated_plugins(("sandbox", flyte_sandbox.hooks)):
        task = {"main": main, "deep": deep, "loop": loop, "wide_twice": wide_twice, "wide_chain": wide_chain,
                "chain": chain}[sys.argv[1]]
        n = int(sys.argv[2])
        kw = {"d": n} if task is chain else {"n": n}
        out = flyte.with_runcontext(mode="sandbox").run(task, **kw).outputs()
        print("RESULT", out[0] if isinstance(out, tuple) else out, peak[0])
''')


@pytest.mark.parametrize("task, n, expected", [
    ("main", 300, sum(range(300)) + 300),
    ("deep", 120, sum(range(120)) + 2 * 120),
    ("loop", 150, 2 * sum(range(150))),
    ("wide_twice", 200, 2 * sum(range(200))),
    ("wide_chain", 60, 6 * 60),
    ("chain", 80, 80),
])
def test_nested_fanout_wider_than_pool_finishes(tmp_path, task, n, expected):
    script = tmp_path / "nest.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "FLYTE_HOME": str(tmp_path / "home")}
    env.pop("FLYTE_CONFIG", None)
    try:
        proc = subprocess.run([sys.executable, str(script), task, str(n)], capture_output=True, text=True,
                              timeout=60, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{task}(n={n}) hung: nested fan-out wider than the worker pool did not finish in 60 s")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    _, value, peak = line.split()
    assert int(value) == expected
    cpus = os.cpu_count() or 2
    assert int(peak) <= max(8, 4 * cpus), f"{peak} worker processes open at once on {cpus} CPUs"
