"""Code bundle of a 5,000-file project (issue 12): list + tar + gzip + MD5, target under 1 s.

    .venv/bin/python benchmarks/remote/bench_bundle.py [--files 5000] [--reps 7] [--json out.json]

The project: ``--files`` Python files of 1-4 KiB spread over 50 packages two levels deep, a
``.gitignore`` with a few patterns, plus what must be skipped (a virtualenv with 500 files, a
``.git`` folder, ``__pycache__`` folders). Each repetition builds the bundle from scratch (no
caching between repetitions; the OS page cache is warm after the first). Reported: min, median and
max seconds, files bundled and bundle size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flyte_remote.code_bundle import build_bundle


def make_project(root: Path, files: int) -> None:
    rnd = random.Random(7)
    per_pkg = max(1, files // 50)
    made = 0
    pkg = 0
    while made < files:
        folder = root / f"pkg{pkg // 10}" / f"sub{pkg % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(min(per_pkg, files - made)):
            body = "".join(f"def f{j}(x):\n    return x + {rnd.randint(0, 10**6)}\n"
                           for j in range(rnd.randint(25, 100)))
            (folder / f"mod{i}.py").write_text(body)
            made += 1
        (folder / "__pycache__").mkdir(exist_ok=True)
        (folder / "__pycache__" / "mod0.cpython-311.pyc").write_bytes(b"\0" * 2048)
        pkg += 1
    (root / ".gitignore").write_text("*.log\n/build/\ndata/\n!keep.log\n")
    venv = root / ".venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    for i in range(500):
        (venv / "lib" / f"site{i}.py").write_text("x = 1\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_project(root, args.files)
        out = Path(tmp) / "out"
        times = []
        bundle = None
        for _ in range(args.reps):
            t = time.perf_counter()
            bundle = build_bundle(root, out)
            times.append(time.perf_counter() - t)
            bundle.path.unlink()
        assert bundle is not None
        result = {
            "files": bundle.files, "bundle_bytes": bundle.size, "reps": args.reps,
            "min_s": round(min(times), 4), "median_s": round(statistics.median(times), 4),
            "max_s": round(max(times), 4), "target_s": 1.0,
        }
    print(f"bundle of {result['files']} files ({result['bundle_bytes'] / 1024:.0f} KiB): "
          f"median {result['median_s']:.3f} s (min {result['min_s']:.3f}, max {result['max_s']:.3f}; target < 1 s)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if result["median_s"] >= 1.0:
        sys.exit(1)


if __name__ == "__main__":
    main()
