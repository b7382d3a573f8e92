#!/usr/bin/env python3
"""Benchmarks: flyte-core against the official SDK (flyte==2.12.1) in the same run.

    python3 dev.py bench                      # default sizes, 5 repetitions
    python3 dev.py bench --quick              # small sizes, 3 repetitions
    python3 dev.py bench --only fanout --sizes 1000,100000 --reps 3
    python3 dev.py bench --all                # then storage, images, remote builder, sandbox and console benchmarks
    python3 dev.py bench --baseline HEAD~3 --no-official   # this tree against an earlier commit

Each measurement runs in a fresh process. Reported: median wall time, ms per task,
peak RSS, and the ratio ours/official where the official SDK could be installed
(into .official-venv, once, by ``python3 dev.py setup``; needs PyPI). With ``--baseline REV`` the same
workloads also run on flyte-core as it was at commit REV (checked out into a temporary
git worktree and put first on PYTHONPATH), interleaved with this tree's runs, and the
ratio this/baseline is printed; start-up and ``flyte run`` alternate run by run and report CPU time too.
Results are also written to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OURS = ROOT / ".venv" / "bin" / "python"
# The same virtualenv as the tests' (made by `python3 dev.py setup`, which `dev.py bench` runs first).
OFFICIAL_VENV = ROOT / ".official-venv"
OFFICIAL = OFFICIAL_VENV / "bin" / "python"
OFFICIAL_SPEC = "flyte==2.12.1"


def ensure_official() -> Path | None:
    try:
        sys.path.insert(0, str(ROOT))
        import dev  # the set-up's own step (done once, stamped): the same venv as the tests'

        dev.setup_official()
        return OFFICIAL
    except (subprocess.SubprocessError, OSError) as e:
        print(f"official SDK not available ({e}); reporting ours only")
        return None


def _clean_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FLYTE_HOME"] = str(home)
    env["HOME"] = str(home)  # the official SDK keeps its local state under ~
    env.pop("FLYTE_CONFIG", None)
    # Users run with cached bytecode; without it every run compiles every module again (start-up x2).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_cmd(cmd: list[str], reps: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        out.append(time.perf_counter() - t)
    return out


def time_alternating(cmd: list[str], reps: int, env: dict[str, str], base_env: dict[str, str]
                     ) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU (user + system) seconds of ``cmd`` on this tree and on the baseline, alternating run by
    run (and which goes first), so machine noise hits both alike. CPU time is what a loaded machine
    disturbs least."""
    out: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in ("ours", "baseline")}
    pair = [("ours", env), ("baseline", base_env)]
    for e in (env, base_env):
        time_cmd(cmd, 1, e)  # warm the file and bytecode caches
    for i in range(reps):
        for label, e in pair if i % 2 == 0 else pair[::-1]:
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            (wall,) = time_cmd(cmd, 1, e)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            out[label]["wall"].append(wall)
            out[label]["cpu"].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return out


def _print_pair(label: str, t: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    med = {f"{k}_{m}_s": statistics.median(t[k][m]) for k in t for m in t[k]}
    print(f"{label:34} {med['ours_wall_s'] * 1000:10.1f}ms {med['baseline_wall_s'] * 1000:10.1f}ms "
          f"{fmt_ratio(med['ours_wall_s'], med['baseline_wall_s'])}   median wall; CPU "
          f"{med['ours_cpu_s'] * 1000:.1f} vs {med['baseline_cpu_s'] * 1000:.1f} ms "
          f"{fmt_ratio(med['ours_cpu_s'], med['baseline_cpu_s']).strip()}")
    return med


def _one_workload(python: Path, workload: str, n: int, env: dict[str, str]) -> tuple[float, float] | str:
    p = subprocess.run([str(python), str(HERE / "workloads.py"), workload, str(n)], capture_output=True,
                       text=True, env=env, cwd=HERE, timeout=1800)
    if p.returncode != 0:
        return p.stderr[-2000:]
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1]
    r = json.loads(line)
    return r["seconds"], r["peak_rss_mb"]


def _summary(samples: list[tuple[float, float]], n: int) -> dict[str, float]:
    med = statistics.median(s for s, _ in samples)
    return {"median_s": med, "ms_per_task": med * 1000 / n, "peak_rss_mb": max(r for _, r in samples),
            "runs": len(samples)}


def run_workload(python: Path, workload: str, n: int, reps: int, env: dict[str, str]) -> dict[str, float] | None:
    samples = []
    for _ in range(reps):
        r = _one_workload(python, workload, n, env)
        if isinstance(r, str):
            print(f"  {python.parent.parent.name}: {workload} n={n} failed:\n{r}")
            return None
        samples.append(r)
    return _summary(samples, n)


def run_against_baseline(workload: str, n: int, reps: int, env: dict[str, str], base_env: dict[str, str]
                         ) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """This tree and the baseline, alternating run by run so machine noise hits both alike."""
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for _ in range(reps):
        for samples, e, label in ((ours, env, "this tree"), (base, base_env, "baseline")):
            r = _one_workload(OURS, workload, n, e)
            if isinstance(r, str):
                print(f"  {label}: {workload} n={n} failed:\n{r}")
                return (_summary(ours, n) if ours else None), None
            samples.append(r)
    return _summary(ours, n), _summary(base, n)


@contextlib.contextmanager
def baseline_tree(rev: str) -> Iterator[Path]:
    """A temporary git worktree of ``rev``; removed afterwards."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flyte-bench-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=ROOT, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def fmt_ratio(ours: float, theirs: float | None) -> str:
    return f"{ours / theirs:6.2f}x" if theirs else "   n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="startup,fanout,chain,map,cli")
    ap.add_argument("--sizes", default=None, help="fan-out sizes, comma separated (default 1000,10000,100000)")
    ap.add_argument("--no-official", action="store_true")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also run the workloads on flyte-core at git commit REV and print this/baseline ratios")
    ap.add_argument("--all", action="store_true",
                    help="then run the storage, images, sandbox and console benchmarks too (see their folders)")
    args = ap.parse_args()
    reps = 3 if args.quick else args.reps
    sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else "1000,10000,100000")).split(",")]
    only = set(args.only.split(","))
    official = None if args.no_official else ensure_official()
    import tempfile

    results: dict[str, object] = {"reps": reps, "official": OFFICIAL_SPEC if official else None}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        env = _clean_env(Path(tmp))
        base_env: dict[str, str] | None = None
        if args.baseline:
            tree = stack.enter_context(baseline_tree(args.baseline))
            base_env = dict(env, PYTHONPATH=str(tree / "core" / "src"))
            results["baseline"] = args.baseline
        other = "baseline" if base_env else "official"
        print(f"{'benchmark':34} {'ours':>12} {other:>12} {'ratio':>8}   notes")
        if "startup" in only:
            for label, ours_cmd, off_cmd in (
                ("python -c 'import flyte'", [str(OURS), "-c", "import flyte"],
                 [str(official), "-c", "import flyte"] if official else None),
                ("flyte --help", [str(OURS.parent / "flyte"), "--help"],
                 [str(official.parent / "flyte"), "--help"] if official else None),
            ):
                if base_env is not None:
                    results[label] = _print_pair(label, time_alternating(ours_cmd, reps * 2, env, base_env))
                    continue
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
            if base_env is not None:
                ours, theirs = run_against_baseline(workload, n, reps, env, base_env)
                results[f"{workload}-{n}"] = {"ours": ours, "baseline": theirs}
            else:
                ours = run_workload(OURS, workload, n, reps, env)
                theirs = (run_workload(official, workload, n, max(1, reps if n <= 10000 else 1), env)
                          if official else None)
                results[f"{workload}-{n}"] = {"ours": ours, "official": theirs}
            if ours is None:
                continue
            ratio = fmt_ratio(ours["ms_per_task"], theirs["ms_per_task"] if theirs else None)
            print(f"{workload + ' n=' + str(n):34} {ours['ms_per_task']:9.4f}ms/t "
                  f"{(theirs or {}).get('ms_per_task', 0):9.4f}ms/t {ratio}   "
                  f"median {ours['median_s']:.2f}s, peak {ours['peak_rss_mb']:.0f} MB"
                  + (f" ({other} {theirs['median_s']:.2f}s, {theirs['peak_rss_mb']:.0f} MB)" if theirs else ""))
        if "cli" in only:
            hello = [str(OURS.parent / "flyte"), "run", "--no-progress", "examples/hello.py", "main"]
            if base_env is not None:
                results["flyte run hello"] = _print_pair("flyte run examples/hello.py main",
                                                         time_alternating(hello, reps * 3, env, base_env))
            else:
                time_cmd(hello, 1, env)
                o = statistics.median(time_cmd(hello, reps, env))
                results["flyte run hello"] = {"ours_s": o}
                print(f"{'flyte run examples/hello.py main':34} {o * 1000:10.1f}ms {'':>12} {'':>8}   end to end, "
                      "median")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    if args.all:
        for script in ("storage/bench_storage.py", "images/bench_images.py", "remote_builder/bench_remote_builder.py",
                       "sandbox/bench_sandbox.py", "console/bench_runs_list.py", "console/bench_run_page.py"):
            print(f"\n== benchmarks/{script}", flush=True)
            subprocess.run([str(OURS), str(HERE / script)], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
