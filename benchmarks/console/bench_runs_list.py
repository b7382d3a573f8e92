#!/usr/bin/env python3
"""The console's runs list over 1,000 local runs, answered over HTTP (target: under 300 ms).

    .venv/bin/python benchmarks/console/bench_runs_list.py                  # 1,000 runs, 30 requests
    .venv/bin/python benchmarks/console/bench_runs_list.py --runs 5000 --reps 20 --json out.json

One real local run is made with ``flyte.run`` (a 4-item ``flyte.map``: 5 actions), then its record is
copied ``--runs`` times under new names with their own start times (a real ``run.json`` and
``actions.db`` each; 10 of them left RUNNING with a live owner, so the list also reads their
``actions.db`` counts). ``flyte console``'s server (``flyte.console.server``) serves the folder on
loopback and ``GET /api/runs?limit=N`` (all runs in the answer) is timed end to end with a keep-alive
HTTP connection: the first request (cold: every ``run.json`` parsed) and then ``--reps`` more (the
summaries are cached by mtime; each request still lists the folder and stats every record), plus
``?since=<cursor>`` (the page's 1 s poll) and ``?phase=FAILED`` (a filter).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

os.environ.setdefault("FLYTE_HOME", tempfile.mkdtemp(prefix="flyte-bench-console-list-"))

import flyte

env = flyte.TaskEnvironment(name="bench_console_list")
TARGET_MS = 300.0


@env.task
def square(x: int) -> int:
    return x * x


@env.task
def main(n: int = 4) -> list[int]:
    return list(flyte.map(square, range(n)))


def make_runs(base: Path, count: int) -> None:
    seed = flyte.with_runcontext(name="seed", run_base_dir=str(base)).run(main, n=4).name
    src = base / seed
    doc = json.loads((src / "run.json").read_text())
    t0 = time.time() - count * 10
    for i in range(count):
        name = f"bench-{i:05d}"
        d = base / name
        shutil.copytree(src, d)
        running = i >= count - 10
        phase = "RUNNING" if running else ("FAILED" if i % 7 == 0 else "SUCCEEDED")
        (d / "run.json").write_text(json.dumps(dict(
            doc, name=name, start=t0 + i * 10, end=0 if running else t0 + i * 10 + 1.5, phase=phase,
            error="task 'bench' failed: ValueError: no" if phase == "FAILED" else None,
            counts={} if running else doc["counts"], pid=os.getpid(),
        ), indent=1))
    shutil.rmtree(src)


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, dict]:
    t = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    ms = (time.perf_counter() - t) * 1000
    assert r.status == 200, (r.status, body[:200])
    return ms, json.loads(body)


def main_cli() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    from flyte.console.api import ConsoleApp
    from flyte.console.local import LocalRunStore
    from flyte.console.server import serving

    with tempfile.TemporaryDirectory(prefix="flyte-bench-runs-") as tmp:
        base = Path(tmp)
        t = time.perf_counter()
        make_runs(base, args.runs)
        made = time.perf_counter() - t
        with serving(ConsoleApp(LocalRunStore(base))) as server:
            host, port = server.server_address[:2]
            conn = http.client.HTTPConnection(str(host), port, timeout=30)
            path = f"/api/runs?limit={args.runs}"
            cold, doc = timed_get(conn, path)
            assert len(doc["runs"]) == args.runs, len(doc["runs"])
            size = len(json.dumps(doc))
            warm = [timed_get(conn, path)[0] for _ in range(args.reps)]
            cursor = doc["cursor"]
            since = [timed_get(conn, f"{path}&since={quote(cursor)}")[0] for _ in range(args.reps)]
            failed = [timed_get(conn, f"{path}&phase=FAILED")[0] for _ in range(args.reps)]
            conn.close()
    result = {
        "runs": args.runs, "records_made_s": round(made, 2), "answer_bytes": size,
        "cold_ms": round(cold, 1),
        "warm_ms": {"median": round(statistics.median(warm), 1), "min": round(min(warm), 1),
                    "max": round(max(warm), 1)},
        "since_ms_median": round(statistics.median(since), 1),
        "phase_filter_ms_median": round(statistics.median(failed), 1),
        "target_ms": TARGET_MS,
    }
    ok = result["warm_ms"]["median"] < TARGET_MS and cold < TARGET_MS
    print(f"runs list, {args.runs} local runs ({size / 1e6:.2f} MB of JSON): first request {cold:.1f} ms, "
          f"then median {result['warm_ms']['median']} ms (min {result['warm_ms']['min']}, max "
          f"{result['warm_ms']['max']}) over {args.reps}; since-poll median {result['since_ms_median']} ms; "
          f"phase filter median {result['phase_filter_ms_median']} ms; target < {TARGET_MS:.0f} ms: "
          f"{'met' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_cli())
