#!/usr/bin/env python3
"""Image benchmarks: content hash of a large source folder, and the "already built" path.

    .venv/bin/python benchmarks/images/bench_images.py [--files 5000] [--reps 9]

1. hash: ``Image.tag`` for an image that copies a folder of N small files (page cache warm).
2. already built: ``build_images([image])`` when the registry has the image: hash + manifest
   HEAD against a local ``docker-registry`` on loopback; no engine is touched. Measured for a
   small image and for the N-file one. The first call (which imports httpx) is shown apart.

Prints medians (ms). Targets: hash of 5,000 files < 500 ms; already-built path < 150 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def make_tree(root: Path, n: int) -> Path:
    src = root / "src"
    for i in range(n):
        d = src / f"pkg{i % 50}" / f"sub{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"mod_{i}.py").write_text(f"# module {i}\n" + "x = 1\n" * 40)
    (src / ".dockerignore").write_text("*.log\n")
    return src


def push_tag(host: str, repo: str, tag: str) -> None:
    """Put a minimal manifest for ``repo:tag`` into the registry (no engine needed)."""
    import httpx

    base = f"http://{host}/v2/{repo}"
    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    with httpx.Client(timeout=10) as c:
        r = c.post(f"{base}/blobs/uploads/")
        r.raise_for_status()
        loc = r.headers["location"]
        loc = loc if loc.startswith("http") else f"http://{host}{loc}"
        sep = "&" if "?" in loc else "?"
        c.put(f"{loc}{sep}digest={digest}", content=config,
              headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                       "digest": digest},
            "layers": [],
        }
        c.put(f"{base}/manifests/{tag}", content=json.dumps(manifest),
              headers={"Content-Type": manifest["mediaType"]}).raise_for_status()


COLD = """
import sys
from pathlib import Path
from flyte._image import Image
from flyte.images.build import build_images
from flyte.images.registry import manifest_exists

class B:
    name = "b"
    exists = staticmethod(manifest_exists)

img = Image.from_base("127.0.0.1:1/base:latest").with_source_folder(Path(sys.argv[2]), "/app")
img = img.with_commands(["true"]).clone(registry=sys.argv[1])
[r] = build_images([img], builder=B())
assert r.status == "exists", r
"""


def cold_process_ms(host: str, src: Path, reps: int) -> float:
    import subprocess

    def run() -> None:
        subprocess.run([sys.executable, "-c", COLD, host, str(src)], check=True)

    return median_ms(run, max(3, reps // 2))[0]


def median_ms(fn, reps: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=9)
    args = ap.parse_args()

    from flyte._image import Image
    from flyte.images.build import build_images
    from flyte.images.builder import ImageBuilder
    from flyte_testing.engines import EngineUnavailable, start_registry

    class NoEngine(ImageBuilder):
        name = "no-engine"

        def check_available(self) -> str | None:
            return None

        def build(self, image, *, push=True, on_output=None):  # type: ignore[no-untyped-def]
            raise AssertionError("the already-built path must not build")

    with tempfile.TemporaryDirectory() as tmp:
        src = make_tree(Path(tmp), args.files)
        big = Image.from_base("127.0.0.1:1/base:latest").with_source_folder(src, "/app").with_commands(["true"])
        t0 = time.perf_counter()
        _ = big.tag
        first = (time.perf_counter() - t0) * 1000
        med, _ = median_ms(lambda: big.tag, args.reps)
        print(f"hash, {args.files} files: median {med:.1f} ms (first {first:.1f} ms)  target < 500 ms")
        results = {"hash_files": args.files, "hash_median_ms": med}

        try:
            with start_registry() as reg:
                small = Image.from_debian_base(python_version=(3, 12)).with_pip_packages("requests").clone(
                    registry=reg.host)
                big_r = big.clone(registry=reg.host)
                for img in (small, big_r):
                    name_tag = img.uri.split("/", 1)[1]
                    push_tag(reg.host, *name_tag.rsplit(":", 1))
                builder = NoEngine()
                for label, img in (("small image", small), (f"{args.files}-file image", big_r)):
                    t0 = time.perf_counter()
                    [r] = build_images([img], builder=builder)
                    first = (time.perf_counter() - t0) * 1000
                    assert r.status == "exists", r
                    med, _ = median_ms(lambda img=img: build_images([img], builder=builder), args.reps)
                    print(f"already built ({label}): median {med:.1f} ms (first call {first:.1f} ms, "
                          f"opens the connection)  target < 150 ms")
                    results[f"already_built_{label.replace(' ', '_')}_median_ms"] = med
                cold = cold_process_ms(reg.host, src, args.reps)
                print(f"already built, whole fresh process (python start + imports incl. httpx + hash of "
                      f"{args.files} files + HEAD): median {cold:.0f} ms")
                results["already_built_fresh_process_median_ms"] = cold
        except EngineUnavailable as e:
            print(f"already built: skipped ({e})")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
