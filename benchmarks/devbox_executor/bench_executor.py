"""Container start overhead per action: the devbox's subprocess executor next to docker and podman.

    .venv/bin/python benchmarks/devbox_executor/bench_executor.py [--n 24] [--concurrency 4] [--json out.json]

One invocation, same machine, same moment: for each executor a devbox (``--executor subprocess|docker|podman``)
runs N no-op actions (each its own run; ``python3 -c pass``: this machine's Python 3.11, in the containers the
same interpreter from flyte-testing's python base image) with ``--concurrency`` at a time. Reported per executor:
the median and p90 of an attempt's duration as the devbox records it (from the attempt's start, before the
image check and container creation, to its outcome read: the whole per-action cost), the wall time of the
batch divided by N, and the overhead over the subprocess executor's median.

The engines are flyte-testing's (a private dockerd with the vfs storage driver and no bridge, ``podman system
service`` with private config and vfs, a loopback registry), started and removed by this script; a missing engine
is reported and skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from flyte_devbox.testing import DevboxProcess, project_id
from flyteidl2.common import phase_pb2
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

TERMINAL = {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED, phase_pb2.ACTION_PHASE_ABORTED,
            phase_pb2.ACTION_PHASE_TIMED_OUT}


def noop_spec(image: str | None) -> td.TaskSpec:
    s = td.TaskSpec()
    s.task_template.id.name = "noop"
    s.task_template.type = "python"
    if image:
        s.task_template.container.image = image
    s.task_template.container.args.extend([sys.executable if image is None else "python3", "-c", "pass"])
    return s


def run_batch(box: DevboxProcess, image: str | None, n: int) -> dict[str, Any]:
    ch = grpc.insecure_channel(box.endpoint)
    stub = rsg.RunServiceStub(ch)
    spec = noop_spec(image)
    # one warm-up action (first image use, page cache), not counted
    warm = stub.CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=spec)).run.action.id
    _wait(stub, [warm])
    t0 = time.perf_counter()
    ids = [stub.CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=spec)).run.action.id
           for _ in range(n)]
    _wait(stub, ids)
    wall = time.perf_counter() - t0
    durations = []
    for aid in ids:
        d = stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details
        if d.status.phase != phase_pb2.ACTION_PHASE_SUCCEEDED:
            raise RuntimeError(f"action of run {aid.run.name} ended in phase {d.status.phase}: {d.error_info.message}")
        at = d.attempts[-1]
        durations.append(at.end_time.ToDatetime().timestamp() - at.start_time.ToDatetime().timestamp())
    ch.close()
    durations.sort()
    return {
        "n": n,
        "attempt_median_s": statistics.median(durations),
        "attempt_p90_s": durations[int(0.9 * (len(durations) - 1))],
        "wall_per_action_s": wall / n,
        "wall_s": wall,
    }


def _wait(stub: Any, ids: list[Any], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} actions still running after {timeout:.0f}s")
        pending = [a for a in pending if stub.GetRunDetails(rs.GetRunDetailsRequest(run_id=a.run)).details.action
                   .status.phase not in TERMINAL]
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from flyte_testing import engines, python_image

    results: dict[str, Any] = {}
    rootfs = python_image.python_rootfs()
    with tempfile.TemporaryDirectory(prefix="bench-exec-") as tmp:
        with DevboxProcess(Path(tmp) / "subprocess", concurrency=args.concurrency) as box:
            results["subprocess"] = run_batch(box, None, args.n)
        print(_line("subprocess", results["subprocess"], None), flush=True)
        for kind, make in (("docker", engines.dockerd_stack), ("podman", engines.podman_stack)):
            try:
                with make() as stack:
                    base = python_image.push_python_base(stack.podman, stack.registry.host, rootfs)
                    with DevboxProcess(Path(tmp) / kind, concurrency=args.concurrency, executor=kind,
                                       engine_url=stack.service.url) as box:
                        results[kind] = run_batch(box, base, args.n)
            except engines.EngineUnavailable as e:
                print(f"{kind}: skipped ({e})", flush=True)
                continue
            print(_line(kind, results[kind], results["subprocess"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _line(kind: str, r: dict[str, Any], base: dict[str, Any] | None) -> str:
    extra = ""
    if base is not None:
        extra = (f"; overhead over subprocess {1000 * (r['attempt_median_s'] - base['attempt_median_s']):.0f} ms "
                 f"per action ({r['attempt_median_s'] / base['attempt_median_s']:.1f}x)")
    return (f"{kind:>10}: attempt median {1000 * r['attempt_median_s']:.0f} ms, p90 {1000 * r['attempt_p90_s']:.0f} ms;"
            f" batch wall / N {1000 * r['wall_per_action_s']:.0f} ms (N={r['n']}){extra}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
