"""Remote runtime benchmarks on flyte-devbox (issue 12).

    .venv/bin/python benchmarks/remote/bench_remote.py [--reps 3] [--big 1000] [--json out.json]

1. 20-way ``asyncio.gather`` fan-out, end-to-end wall time (submit -> outputs received), flyte-core's client and
   worker against the official SDK 2.12.1's client and worker, on the SAME devbox in the same invocation
   (both entry points on the actions' PATH), alternating, each submission in a fresh process. Reported: the
   in-process time from ``flyte.run`` to the outputs, and the whole process (imports included). Target: ours at
   most 0.5x the official's.
2. ``flyte run`` to the first action running: from spawning ``flyte --endpoint E run --detach prog.py main`` to
   the devbox starting the root action's first attempt (its recorded start time). Target: under 1.5 s.
3. A 1,000-action fan-out with flyte-core: wall time, actions per second, and per-action overhead (wall time
   x devbox concurrency / actions).
The devbox runs each action as a subprocess (concurrency 8 by default), so worker start-up dominates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from flyte_devbox.testing import DevboxProcess, official_python, run_sdk_program

PROGRAM = textwrap.dedent(
    """
    import asyncio, sys, time
    t_import = time.perf_counter()
    import flyte

    env = flyte.TaskEnvironment(name="bench_env", image="ghcr.io/flyteorg/flyte:py3.11-v2.12.1")

    @env.task
    async def square(x: int) -> int:
        return x * x

    @env.task
    async def main(n: int) -> int:
        return sum(await asyncio.gather(*(square(i) for i in range(n))))

    if __name__ == "__main__":
        flyte.init(endpoint=f"dns:///127.0.0.1:{sys.argv[1]}", insecure=True, project="flytesnacks",
                   domain="development")
        n = int(sys.argv[2])
        t0 = time.perf_counter()
        r = flyte.run(main, n=n)
        r.wait()
        out = r.outputs()[0]
        t1 = time.perf_counter()
        assert out == sum(i * i for i in range(n)), out
        print("ELAPSED", t1 - t0)
        print("RUN", r.name)
    """
)


def _submit(python: str, prog: Path, port: int, n: int, home: Path) -> tuple[float, float]:
    t0 = time.perf_counter()
    r, lines = run_sdk_program(python, "fanout.py", str(port), str(n), cwd=prog, home=home, timeout=1800)
    total = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return float(lines["ELAPSED"]), total


def bench_fan_out(box: DevboxProcess, prog: Path, home: Path, reps: int, official: str | None) -> dict[str, Any]:
    who = [("flyte-core", sys.executable)] + ([("official 2.12.1", official)] if official else [])
    samples: dict[str, list[tuple[float, float]]] = {w: [] for w, _ in who}
    for _w, py in who:  # warm-up (page cache, .pyc)
        _submit(py, prog, box.port, 2, home)
    for _ in range(reps):
        for w, py in who:
            samples[w].append(_submit(py, prog, box.port, 20, home))
    out: dict[str, Any] = {}
    for w, s in samples.items():
        out[w] = {"run_to_outputs_s": statistics.median(x[0] for x in s),
                  "process_s": statistics.median(x[1] for x in s), "samples": s}
    if official:
        out["ratio_run_to_outputs"] = out["flyte-core"]["run_to_outputs_s"] / out["official 2.12.1"]["run_to_outputs_s"]
        out["ratio_process"] = out["flyte-core"]["process_s"] / out["official 2.12.1"]["process_s"]
    return out


def _root_start(box: DevboxProcess, run_name: str) -> float:
    import grpc
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import run_service_pb2 as rs
    from flyteidl2.workflow import run_service_pb2_grpc as rsg

    rid = identifier_pb2.RunIdentifier(org="devbox", project="flytesnacks", domain="development", name=run_name)
    with grpc.insecure_channel(box.endpoint) as ch:
        stub = rsg.RunServiceStub(ch)
        deadline = time.time() + 60
        while time.time() < deadline:
            d = stub.GetRunDetails(rs.GetRunDetailsRequest(run_id=rid)).details
            if d.action.attempts:
                return d.action.attempts[0].start_time.ToNanoseconds() / 1e9
            time.sleep(0.02)
    raise RuntimeError(f"run {run_name} never started")


def bench_first_action(box: DevboxProcess, prog: Path, home: Path, reps: int) -> dict[str, Any]:
    flyte = os.path.join(os.path.dirname(sys.executable), "flyte")
    times = []
    for _ in range(reps + 1):
        t0 = time.time()
        r, _ = run_sdk_program(flyte, "--endpoint", box.endpoint, "--insecure", "run", "--detach", "fanout.py", "main",
                               "--n", "1", cwd=prog, home=home, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        name = r.stderr.split("Run ", 1)[1].split(" ", 1)[0]
        times.append(_root_start(box, name) - t0)
    times = times[1:]  # the first one warms the bundle upload
    return {"median_s": statistics.median(times), "samples": times}


def bench_big(box: DevboxProcess, prog: Path, home: Path, n: int, concurrency: int) -> dict[str, Any]:
    elapsed, _total = _submit(sys.executable, prog, box.port, n, home)
    return {"actions": n + 1, "wall_s": elapsed, "actions_per_s": (n + 1) / elapsed,
            "per_action_overhead_s": elapsed * concurrency / (n + 1), "devbox_concurrency": concurrency}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--big", type=int, default=1000, help="size of the big fan-out (0 skips it)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only-big", action="store_true", help="run only the big fan-out")
    a = ap.parse_args()
    official = official_python()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        prog = tmp / "prog"
        prog.mkdir()
        (prog / "fanout.py").write_text(PROGRAM)
        paths = [os.path.dirname(sys.executable)] + ([str(Path(official).parent)] if official else [])
        with DevboxProcess(tmp / "box", worker_paths=tuple(paths), concurrency=a.concurrency) as box:
            if not a.only_big:
                results["fan_out_20"] = bench_fan_out(box, prog, tmp, a.reps, official)
                print(json.dumps(results["fan_out_20"], indent=1, default=str), flush=True)
                results["flyte_run_to_first_action"] = bench_first_action(box, prog, tmp, a.reps)
                print(json.dumps(results["flyte_run_to_first_action"], indent=1), flush=True)
            if a.big:
                results[f"fan_out_{a.big}"] = bench_big(box, prog, tmp, a.big, a.concurrency)
                print(json.dumps(results[f"fan_out_{a.big}"], indent=1), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
