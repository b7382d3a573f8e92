#!/usr/bin/env python3
"""The remote builder's "already built" answer, against the local builders' in the same run.

    .venv/bin/python benchmarks/remote_builder/bench_remote_builder.py [--files 5000] [--reps 11]

Set-up: a loopback ``docker-registry``; a flyte-devbox started with ``--image-builder docker`` (no
engine is needed: nothing is built); an image that copies a folder of N small files, whose manifest is
put into the registry by hand; one remote build request, which the devbox answers by finding the image
in the registry and recording it (no build).

Measured (median ms of ``--reps`` calls in one warm process, page cache warm; remote and baseline calls
alternate, so the machine's load hits both alike):

1. remote: ``build_images([image], builder=RemoteBuilder(...))``: the content hash of the N files plus
   ``ImageService.GetImage`` (a new connection each call; the devbox checks the registry still has it).
2. baseline, docker: ``build_images([image], builder="docker")``: the same hash plus a manifest HEAD
   to the registry from this process (what the local builders do; no engine is touched either).
3. both again for an image without copied files (the fixed costs alone).

Target: (1) under 150 ms for 5,000 files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "images"))
from bench_images import make_tree, push_tag


def median_ms(fn, reps: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=21)
    args = ap.parse_args()

    from flyte import Image
    from flyte.images import build_images
    from flyte_devbox.testing import DevboxProcess
    from flyte_remote_builder.builder import RemoteBuilder
    from flyte_testing.engines import start_registry

    results: dict[str, float | int] = {"files": args.files, "reps": args.reps}
    with tempfile.TemporaryDirectory() as tmp, start_registry() as reg:
        src = make_tree(Path(tmp), args.files)
        big = (Image.from_base(f"{reg.host}/base:latest").with_source_folder(src, "/app").with_commands(["true"])
               .clone(registry=reg.host, name="bench"))
        small = Image.from_base(f"{reg.host}/base:latest").with_commands(["true"]).clone(registry=reg.host,
                                                                                          name="bench-small")
        for img in (big, small):
            name_tag = img.uri.split("/", 1)[1]
            push_tag(reg.host, *name_tag.rsplit(":", 1))
        with DevboxProcess(Path(tmp) / "devbox", image_builder="docker") as box:
            remote = RemoteBuilder(endpoint=f"dns:///{box.endpoint}", insecure=True)
            for img in (big, small):  # the devbox finds them in the registry and records them: no build
                [r] = build_images([img], builder=remote)
                assert r.uri == img.uri, r
            pair = (("remote", remote), ("docker (baseline)", "docker"))
            for label, img in ((f"{args.files} files", big), ("no files", small)):
                times: dict[str, list[float]] = {name: [] for name, _ in pair}
                for name, builder in pair:
                    [r] = build_images([img], builder=builder)  # warm-up: imports, first connection
                    assert r.status == "exists", (name, r)
                for i in range(args.reps):  # alternating, and which goes first, so load hits both alike
                    for name, builder in pair if i % 2 == 0 else pair[::-1]:
                        t = time.perf_counter()
                        build_images([img], builder=builder)
                        times[name].append((time.perf_counter() - t) * 1000)
                for name, _ in pair:
                    med, low = statistics.median(times[name]), min(times[name])
                    print(f"already built, {label}, {name}: median {med:.1f} ms (min {low:.1f})")
                    results[f"{name.split()[0]}_{label.replace(' ', '_')}_median_ms"] = round(med, 1)
            uri = big.uri
            med, low = median_ms(lambda: remote.exists(uri), args.reps)
            print(f"GetImage alone (exists(uri), tag already known): median {med:.1f} ms (min {low:.1f})")
            results["remote_exists_only_median_ms"] = round(med, 1)
    target = results[f"remote_{args.files}_files_median_ms"]
    print(f"target: remote, {args.files} files < 150 ms: {'met' if float(target) < 150 else 'NOT met'}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
