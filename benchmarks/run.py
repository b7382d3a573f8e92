#!/usr/bin/env python3
"""Benchmarks: flyte-core against the official SDK (flyte==2.12.1) in the same run.

    python3 dev.py bench                      # default sizes, 5 repetitions
    python3 dev.py bench --quick              # small sizes, 3 repetitions
    python3 dev.py bench --only fanout --sizes 1000,100000 --reps 3
    python3 dev.py bench --all                # then storage, images and sandbox benchmarks

Each measurement runs in a fresh process. Reported: median wall time, ms per task,
peak RSS, and the ratio ours/official where the official SDK could be installed
(into benchmarks/.official-venv, once; needs PyPI). Results are also written to
benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OURS = ROOT / ".venv" / "bin" / "python"
OFFICIAL_VENV = HERE / ".official-venv"
OFFICIAL = OFFICIAL_VENV / "bin" / "python"
OFFICIAL_SPEC = "flyte==2.12.1"


def ensure_official() -> Path | None:
    if OFFICIAL.exists():
        return OFFICIAL
    print(f"installing {OFFICIAL_SPEC} into {OFFICIAL_VENV} for comparison ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(OFFICIAL_VENV)], check=True)
        subprocess.run([str(OFFICIAL), "-m", "pip", "install", "-q", OFFICIAL_SPEC], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        return OFFICIAL
    except (subprocess.SubprocessError, OSError) as e:
        print(f"official SDK not available ({e}); reporting ours only")
        return None


def _clean_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FLYTE_HOME"] = str(home)
    env["HOME"] = str(home)  # the official SDK keeps its local state under ~
    env.pop("FLYTE_CONFIG", None)
    return env


def time_cmd(cmd: list[str], reps: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        out.append(time.perf_counter() - t)
    return out


def run_workload(python: Path, workload: str, n: int, reps: int, env: dict[str, str]) -> dict[str, float] | None:
    secs, rss = [], []
    for _ in range(reps):
        p = subprocess.run([str(python), str(HERE / "workloads.py"), workload, str(n)], capture_output=True,
                           text=True, env=env, cwd=HERE, timeout=1800)
        if p.returncode != 0:
            print(f"  {python.parent.parent.name}: {workload} n={n} failed:\n{p.stderr[-2000:]}")
            return None
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1]
        r = json.loads(line)
        secs.append(r["seconds"])
        rss.append(r["peak_rss_mb"])
    med = statistics.median(secs)
    return {"median_s": med, "ms_per_task": med * 1000 / n, "peak_rss_mb": max(rss), "runs": len(secs)}


def fmt_ratio(ours: float, theirs: float | None) -> str:
    return f"{ours / theirs:6.2f}x" if theirs else "   n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="startup,fanout,chain,map,cli")
    ap.add_argument("--sizes", default=None, help="fan-out sizes, comma separated (default 1000,10000,100000)")
    ap.add_argument("--no-official", action="store_true")
    ap.add_argument("--all", action="store_true",
                    help="then run the storage, images and sandbox benchmarks too (see their folders)")
    args = ap.parse_args()
    reps = 3 if args.quick else args.reps
    sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else "1000,10000,100000")).split(",")]
    only = set(args.only.split(","))
    official = None if args.no_official else ensure_official()
    import tempfile

    results: dict[str, object] = {"reps": reps, "official": OFFICIAL_SPEC if official else None}
    with tempfile.TemporaryDirectory() as tmp:
        env = _clean_env(Path(tmp))
        print(f"{'benchmark':34} {'ours':>12} {'official':>12} {'ratio':>8}   notes")
        if "startup" in only:
            for label, ours_cmd, off_cmd in (
                ("python -c 'import flyte'", [str(OURS), "-c", "import flyte"],
                 [str(official), "-c", "import flyte"] if official else None),
                ("flyte --help", [str(OURS.parent / "flyte"), "--help"],
                 [str(official.parent / "flyte"), "--help"] if official else None),
            ):
                time_cmd(ours_cmd, 1, env)  # warm the file cache
                o = statistics.median(time_cmd(ours_cmd, reps * 2, env))
                t = statistics.median(time_cmd(off_cmd, reps * 2, env)) if off_cmd else None
                results[label] = {"ours_s": o, "official_s": t}
                print(f"{label:34} {o * 1000:10.1f}ms {(t or 0) * 1000:10.1f}ms {fmt_ratio(o, t)}   median wall")
        plan = []
        if "fanout" in only:
            plan += [("fanout", n) for n in sizes]
        if "chain" in only:
            plan.append(("chain", 1000))
        if "map" in only:
            plan.append(("map", 10000))
        for workload, n in plan:
            ours = run_workload(OURS, workload, n, reps, env)
            theirs = run_workload(official, workload, n, max(1, reps if n <= 10000 else 1), env) if official else None
            results[f"{workload}-{n}"] = {"ours": ours, "official": theirs}
            if ours is None:
                continue
            ratio = fmt_ratio(ours["ms_per_task"], theirs["ms_per_task"] if theirs else None)
            print(f"{workload + ' n=' + str(n):34} {ours['ms_per_task']:9.4f}ms/t "
                  f"{(theirs or {}).get('ms_per_task', 0):9.4f}ms/t {ratio}   "
                  f"median {ours['median_s']:.2f}s, peak {ours['peak_rss_mb']:.0f} MB"
                  + (f" (official {theirs['median_s']:.2f}s, {theirs['peak_rss_mb']:.0f} MB)" if theirs else ""))
        if "cli" in only:
            hello = [str(OURS.parent / "flyte"), "run", "--no-progress", "examples/hello.py", "main"]
            time_cmd(hello, 1, env)
            o = statistics.median(time_cmd(hello, reps, env))
            results["flyte run hello"] = {"ours_s": o}
            print(f"{'flyte run examples/hello.py main':34} {o * 1000:10.1f}ms {'':>12} {'':>8}   end to end, median")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    if args.all:
        for script in ("storage/bench_storage.py", "images/bench_images.py", "sandbox/bench_sandbox.py"):
            print(f"\n== benchmarks/{script}", flush=True)
            subprocess.run([str(OURS), str(HERE / script)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
