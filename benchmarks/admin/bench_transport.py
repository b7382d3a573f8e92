"""flyte-grpc transport benchmark: unary round trip (GetRunDetails) p50 over gRPC on loopback.

    .venv/bin/python benchmarks/admin/bench_transport.py [--n 3000] [--devbox] [--json out.json]

The server runs in its own process (flyte_grpc.testing's in-memory control plane; with --devbox also a
real flyte-devbox). Each target is measured three ways, sequential calls after a warm-up:
- raw: a bare grpcio aio stub (no interceptors): the floor;
- client: flyte-grpc's GrpcClient (auth hook, request id, deadline, retry interceptors);
- client+auth: the same against a server that requires a bearer token (client credentials; the token is
  fetched once, then reused), in-memory server only.
Target (issue 11): unary GetRunDetails p50 under 1 ms over gRPC.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flyteidl2.common import identifier_pb2 as ids
from flyteidl2.workflow import run_service_pb2 as rs


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000


async def measure(fn: Any, n: int, warmup: int = 300) -> dict[str, float]:
    for _ in range(warmup):
        await fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append(time.perf_counter() - t)
    return {
        "p50_ms": round(statistics.median(out) * 1000, 3),
        "p90_ms": round(pct(out, 0.9), 3),
        "p99_ms": round(pct(out, 0.99), 3),
    }


async def bench_target(endpoint: str, run_id: Any, n: int, auth: tuple[str, str] | None = None) -> dict[str, Any]:
    import grpc
    from flyte.admin import AdminSettings
    from flyte_grpc.transport import GrpcClient
    from flyteidl2.workflow import run_service_pb2_grpc as rsg

    req = rs.GetRunDetailsRequest(run_id=run_id)
    results: dict[str, Any] = {}
    if auth is None:
        async with grpc.aio.insecure_channel(endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            results["raw"] = await measure(lambda: stub.GetRunDetails(req), n)
    with tempfile.TemporaryDirectory() as d:
        kw: dict[str, Any] = {}
        if auth and auth[0] == "client":
            cid, secret = auth[1].split(":", 1)
            kw = dict(auth_type="ClientSecret", client_id=cid, client_secret=secret)
        async with GrpcClient(AdminSettings(endpoint=endpoint, insecure=True, token_cache=Path(d), **kw)) as c:
            results["client+auth" if kw else "client"] = await measure(lambda: c.run.GetRunDetails(req), n)
    return results


def start_loopback(auth: bool = False) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flyte_grpc.testing", *(["--auth"] if auth else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    info["endpoint"] = f"127.0.0.1:{info['port']}"
    return proc, info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--devbox", action="store_true", help="also measure against a flyte-devbox process")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    report: dict[str, Any] = {}

    rid = ids.RunIdentifier(project="flytesnacks", domain="development", name="bench")
    proc, info = start_loopback()
    try:
        report["loopback (flyte_grpc.testing)"] = asyncio.run(bench_target(info["endpoint"], rid, args.n))
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(10)
    proc, info = start_loopback(auth=True)
    try:
        creds = f"{info['client_id']}:{info['client_secret']}"
        rows = asyncio.run(bench_target(info["endpoint"], rid, args.n, auth=("client", creds)))
        report["loopback (flyte_grpc.testing)"]["client+auth"] = rows["client+auth"]
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(10)

    if args.devbox:
        import grpc
        from flyte_devbox.testing import DevboxProcess
        from flyteidl2.task import task_definition_pb2 as td
        from flyteidl2.workflow import run_service_pb2_grpc as rsg

        with tempfile.TemporaryDirectory() as d:
            box = DevboxProcess(d).start()
            try:
                spec = td.TaskSpec()
                spec.task_template.id.name = "bench"
                spec.task_template.container.args.extend(["true"])
                with grpc.insecure_channel(box.endpoint) as ch:
                    created = rsg.RunServiceStub(ch).CreateRun(
                        rs.CreateRunRequest(
                            project_id=ids.ProjectIdentifier(name="flytesnacks", domain="development"), task_spec=spec
                        )
                    )
                report["flyte-devbox"] = asyncio.run(bench_target(box.endpoint, created.run.action.id.run, args.n))
            finally:
                box.stop()

    for target, rows in report.items():
        print(f"{target}: GetRunDetails, {args.n} sequential calls")
        for mode, r in rows.items():
            ok = "ok" if r["p50_ms"] < 1.0 else "OVER TARGET"
            print(
                f"  {mode:12s} p50 {r['p50_ms']:.3f} ms  p90 {r['p90_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
                f"(target p50 < 1 ms: {ok})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
