"""flyte-devbox benchmarks: unary round trips over gRPC and Connect, watch throughput, serve-to-ready,
1,000 concurrent CreateRun.

    .venv/bin/python benchmarks/admin/bench_devbox.py [--quick] [--json out.json]

Each measurement runs against a real devbox process on loopback (flyte_devbox.testing.DevboxProcess).
Targets (issue 11): unary GetRunDetails p50 < 1 ms over gRPC and < 2 ms over Connect; a watch delivers
>= 10,000 updates/s; `devbox serve` to ready < 1 s; 1,000 concurrent CreateRun complete (rate reported).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flyte_devbox.testing import DevboxProcess
from flyteidl2.actions import actions_service_pb2 as asp
from flyteidl2.actions import actions_service_pb2_grpc as asg
from flyteidl2.common import identifier_pb2 as ids
from flyteidl2.common import phase_pb2
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = ids.ProjectIdentifier(name="flytesnacks", domain="development")


def spec(args: list[str]) -> td.TaskSpec:
    s = td.TaskSpec()
    s.task_template.id.name = "bench"
    s.task_template.container.args.extend(args)
    return s


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_ready(reps: int) -> dict[str, Any]:
    times = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            box = DevboxProcess(d).start()
            times.append(box.ready_seconds or 0.0)
            box.stop()
    return {"serve_to_ready_s_median": statistics.median(times), "samples": times}


def bench_unary(box: DevboxProcess, n: int) -> dict[str, Any]:
    import grpc

    ch = grpc.insecure_channel(box.endpoint)
    run = rsg.RunServiceStub(ch)
    created = run.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec(["true"])))
    req = rs.GetRunDetailsRequest(run_id=created.run.action.id.run)
    for _ in range(200):
        run.GetRunDetails(req)
    g = []
    for _ in range(n):
        t = time.perf_counter()
        run.GetRunDetails(req)
        g.append(time.perf_counter() - t)
    ch.close()

    body = req.SerializeToString()
    conn = http.client.HTTPConnection("127.0.0.1", box.port)
    headers = {"content-type": "application/proto", "connect-protocol-version": "1"}

    def call() -> None:
        conn.request("POST", "/flyteidl2.workflow.RunService/GetRunDetails", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, (r.status, data[:200])

    for _ in range(200):
        call()
    c = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        c.append(time.perf_counter() - t)
    conn.close()
    return {"grpc_p50_ms": p50_ms(g), "connect_http1_p50_ms": p50_ms(c), "n": n}


async def _populate(box: DevboxProcess, parent: ids.ActionIdentifier, n: int) -> None:
    """n task children of ``parent`` that stay queued: with one slot (lent by the waiting parent) one
    child at a time runs, and it sleeps."""
    import grpc

    child_spec = spec(["sleep", "600"])
    async with grpc.aio.insecure_channel(box.endpoint) as ch:
        stub = asg.ActionsServiceStub(ch)
        sem = asyncio.Semaphore(64)

        async def one(i: int) -> None:
            a = asp.Action(parent_action_name=parent.name, input_uri="/dev/null", run_output_base="")
            a.action_id.run.CopyFrom(parent.run)
            a.action_id.name = f"c{i}"
            a.task.spec.CopyFrom(child_spec)
            async with sem:
                await stub.Enqueue(asp.EnqueueRequest(action=a))

        await asyncio.gather(*(one(i) for i in range(n)))


async def bench_watch(box: DevboxProcess, n: int) -> dict[str, Any]:
    """Snapshot rate: a new watch of a parent with n children. Live rate: the same watch receiving the
    n ABORTED updates that aborting the parent causes (one burst, measured at the watcher)."""
    # concurrency 1 (see main): the parent and one sleeping child run, the other children stay queued.
    import grpc

    async with grpc.aio.insecure_channel(box.endpoint) as ch:
        run = rsg.RunServiceStub(ch)
        created = await run.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec(["sleep", "600"])))
        parent = created.run.action.id
        stub = asg.ActionsServiceStub(ch)
        t0 = time.perf_counter()
        await _populate(box, parent, n)
        produced = time.perf_counter() - t0

        snap_count = live = 0
        t_snap = t_abort = t_last = 0.0
        sentinel = asyncio.Event()

        async def watcher() -> None:
            nonlocal snap_count, live, t_snap, t_last
            t = time.perf_counter()
            async for msg in stub.WatchForUpdates(asp.WatchForUpdatesRequest(parent_action_id=parent)):
                if msg.HasField("control_message"):
                    t_snap = time.perf_counter() - t
                    sentinel.set()
                    continue
                if not sentinel.is_set():
                    snap_count += 1
                    continue
                if msg.action_update.phase == phase_pb2.ACTION_PHASE_ABORTED:
                    live += 1
                    t_last = time.perf_counter()
                    if live >= n:
                        return

        w = asyncio.create_task(watcher())
        await sentinel.wait()
        t_abort = time.perf_counter()
        await run.AbortAction(rs.AbortActionRequest(action_id=parent, reason="benchmark"))
        await asyncio.wait_for(w, 120)
    return {
        "n": n,
        "snapshot_updates_per_s": snap_count / t_snap,
        "live_updates_per_s": live / (t_last - t_abort),
        "enqueue_per_s": n / produced,
    }


async def bench_create_runs(box: DevboxProcess, n: int) -> dict[str, Any]:
    import grpc

    async with grpc.aio.insecure_channel(box.endpoint) as ch:
        run = rsg.RunServiceStub(ch)
        s = spec(["true"])
        t = time.perf_counter()
        results = await asyncio.gather(
            *(run.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=s)) for _ in range(n)),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - t
    errors = [r for r in results if isinstance(r, BaseException)]
    names = {r.run.action.id.run.name for r in results if not isinstance(r, BaseException)}
    return {"n": n, "seconds": elapsed, "runs_per_s": n / elapsed, "errors": len(errors), "distinct": len(names)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    n_unary = 500 if args.quick else 3000
    n_watch = 5000 if args.quick else 20000
    out: dict[str, Any] = {}
    out["ready"] = bench_ready(3 if args.quick else 7)
    print(f"serve to ready: {out['ready']['serve_to_ready_s_median'] * 1000:.0f} ms (median)", flush=True)
    with tempfile.TemporaryDirectory() as d:
        box = DevboxProcess(d, concurrency=1).start()
        try:
            out["unary"] = bench_unary(box, n_unary)
            u = out["unary"]
            g, c = u["grpc_p50_ms"], u["connect_http1_p50_ms"]
            print(f"GetRunDetails p50: gRPC {g:.3f} ms, Connect {c:.3f} ms", flush=True)
            out["watch"] = asyncio.run(bench_watch(box, n_watch))
            w = out["watch"]
            print(
                f"watch (n={w['n']}): snapshot {w['snapshot_updates_per_s']:.0f} updates/s, live burst "
                f"{w['live_updates_per_s']:.0f} updates/s (children enqueued at {w['enqueue_per_s']:.0f}/s)",
                flush=True,
            )
            out["create_runs"] = asyncio.run(bench_create_runs(box, 1000))
            c = out["create_runs"]
            print(
                f"1,000 concurrent CreateRun: {c['seconds']:.2f} s, {c['runs_per_s']:.0f} runs/s, "
                f"errors {c['errors']}, distinct runs {c['distinct']}",
                flush=True,
            )
        finally:
            box.stop()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
