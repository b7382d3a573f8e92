#!/usr/bin/env python3
"""Storage throughput and memory: flyte.storage vs plain s3fs / httpx, on loopback servers.

    python benchmarks/storage/bench_storage.py                 # ~256 MiB file, 2,000-file dir, 3 runs
    python benchmarks/storage/bench_storage.py --full          # 1 GiB file, 10,000-file dir
    python benchmarks/storage/bench_storage.py --file-mb 64 --files 500 --repeats 5 --backends s3,azure

Each measurement runs in a fresh subprocess (so peak RSS is that transfer's alone) against
the same server started here (moto server mode for S3, Azurite for Azure). For signed PUTs the
file's MD5 is computed before timing (the DataProxy flow needs it for CreateUploadLocation
anyway); flyte still sends Content-MD5, the httpx baseline does not. Prints the median
seconds, MB/s (files/s for folders), ours/theirs throughput ratio and peak RSS per case. Needs flyte-s3's test
extra (moto, boto3); Azure needs Azurite (`python3 dev.py setup`) and flyte-azure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1 << 20


# -- workers (run in a subprocess) -------------------------------------------------------


def _peak_mb() -> float:
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child would report its parent's peak
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(spec: dict[str, Any]) -> dict[str, float]:
    import asyncio

    case, impl, env = spec["case"], spec["impl"], spec["env"]
    src, dst = spec["src"], spec["dst"]
    if impl == "flyte":
        import flyte.storage as storage

        storage.configure(env["options"])
        # warm up what a long-lived process already has: plugin lookup, filesystem, httpx
        import httpx

        for u in (src, dst):
            if "://" in u and not u.startswith("http"):
                storage.filesystem(u)
        if case in ("file-put", "dir-put"):
            op: Any = lambda: storage.put(src, dst)  # noqa: E731
        elif case == "file-get":
            op = lambda: storage.get(src, dst)  # noqa: E731
        elif case == "dir-get":
            op = lambda: storage.get(src, dst, recursive=True)  # noqa: E731
        elif case == "signed-put":
            from flyte.storage import signed_url

            # The DataProxy flow hashes the file once, before asking for the URL (the request carries
            # content_md5), so the transfer itself starts with the MD5 known.
            md5 = base64.b64encode(signed_url.md5_of_file(src)).decode()
            op = lambda: signed_url.put_file(dst, src, headers=env.get("headers"), content_md5=md5)  # noqa: E731
        elif case == "signed-get":
            from flyte.storage import signed_url

            op = lambda: signed_url.get_file(src, dst)  # noqa: E731
        t0 = time.perf_counter()
        asyncio.run(op())
        return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}
    if impl == "fsspec":
        fs = _plain_fs(env)
        t0 = time.perf_counter()
        if case == "file-put":
            fs.put_file(src, dst)
        elif case == "file-get":
            fs.get_file(src, dst)
        elif case == "dir-put":
            fs.put(src.rstrip("/") + "/", dst, recursive=True)
        elif case == "dir-get":
            fs.get(src.rstrip("/") + "/", dst.rstrip("/") + "/", recursive=True)
        return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}
    if impl == "httpx":
        import httpx

        t0 = time.perf_counter()
        with httpx.Client(timeout=300) as c:
            if case == "signed-put":

                def chunks() -> Any:
                    with open(src, "rb") as f:
                        while b := f.read(MiB):
                            yield b

                headers = {"Content-Length": str(os.path.getsize(src)), **(env.get("headers") or {})}
                c.put(dst, content=chunks(), headers=headers).raise_for_status()
            else:
                with c.stream("GET", src) as r, open(dst, "wb") as f:
                    r.raise_for_status()
                    for b in r.iter_raw(MiB):
                        f.write(b)
        return {"seconds": time.perf_counter() - t0, "peak_mb": _peak_mb()}
    raise SystemExit(f"unknown impl {impl}")


def _plain_fs(env: dict[str, Any]) -> Any:
    if env["backend"] == "s3":
        import s3fs

        o = env["options"]
        return s3fs.S3FileSystem(endpoint_url=o["endpoint"], key=o["access_key_id"], secret=o["secret_access_key"])
    import adlfs

    return adlfs.AzureBlobFileSystem(connection_string=env["options"]["connection_string"])


# -- driver ------------------------------------------------------------------------------


def run_worker(spec: dict[str, Any]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{spec['case']}/{spec['impl']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def make_data(root: Path, file_mb: int, files: int) -> tuple[Path, Path, int]:
    root.mkdir(parents=True, exist_ok=True)
    big = root / "big.bin"
    block = os.urandom(MiB)
    with open(big, "wb") as f:
        for i in range(file_mb):
            f.write(i.to_bytes(8, "little") + block[8:])
    tree = root / "tree"
    total = 0
    for i in range(files):
        p = tree / f"d{i % 50:02d}" / f"f{i:05d}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        data = (f"{i}\n" * (200 + i % 700)).encode()
        p.write_bytes(data)
        total += len(data)
    return big, tree, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--full", action="store_true", help="1 GiB file and 10,000 files (the issue's sizes)")
    ap.add_argument("--file-mb", type=int, default=256)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", default="s3", help="comma list of s3, azure")
    ap.add_argument("--cases", default="file-put,file-get,dir-put,dir-get,signed-put,signed-get")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.full:
        args.file_mb, args.files = 1024, 10_000

    work = Path(tempfile.mkdtemp(prefix="flyte-bench-"))
    rows: list[tuple[str, str, float, float, float, float]] = []
    try:
        print(f"# data: {args.file_mb} MiB file, {args.files} small files; {args.repeats} runs each; dir {work}")
        big, tree, tree_bytes = make_data(work / "data", args.file_mb, args.files)
        for backend in args.backends.split(","):
            svc, env, base = start_backend(backend, work)
            try:
                rows += bench_backend(backend, svc, env, base, big, tree, tree_bytes, work, args)
            finally:
                svc.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"{'backend':8} {'case':11} {'flyte s':>8} {'base s':>8} {'flyte rate':>13} {'base rate':>13} "
        f"{'ratio':>6} {'flyte peak MB':>13} {'base peak MB':>12}"
    )
    for backend, case, fs_, bs, fpeak, bpeak in rows:
        if case.startswith("dir"):
            rate = lambda sec: f"{args.files / sec:7.0f} file/s"  # noqa: E731
        else:
            rate = lambda sec: f"{args.file_mb * MiB / 1e6 / sec:8.1f} MB/s"  # noqa: E731
        print(
            f"{backend:8} {case:11} {fs_:8.2f} {bs:8.2f} {rate(fs_):>13} {rate(bs):>13} {bs / fs_:6.2f} "
            f"{fpeak:13.0f} {bpeak:12.0f}"
        )
    print("\nratio = flyte throughput / baseline throughput (>= 0.90 is the target); baseline: s3fs/adlfs or httpx")
    return 0


def start_backend(backend: str, work: Path) -> tuple[Any, dict[str, Any], str]:
    from flyte_testing import services

    if backend == "s3":
        import boto3

        svc = services.start_moto(work / "moto")
        opts = {"endpoint": svc.url, "access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}
        boto3.client(
            "s3",
            endpoint_url=svc.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket="bench")
        return svc, {"backend": "s3", "options": opts}, "s3://bench"
    if backend == "azure":
        from azure.storage.blob import BlobServiceClient

        svc = services.start_azurite(work / "azurite")
        conn = svc.extra["connection_string"]
        BlobServiceClient.from_connection_string(conn).create_container("bench")
        return svc, {"backend": "azure", "options": {"connection_string": conn}}, "abfs://bench"
    raise SystemExit(f"unknown backend {backend}")


def bench_backend(
    backend: str,
    svc: Any,
    env: dict[str, Any],
    base: str,
    big: Path,
    tree: Path,
    tree_bytes: int,
    work: Path,
    args: argparse.Namespace,
) -> list[tuple[str, str, float, float, float, float]]:
    import asyncio

    import flyte.storage as storage

    storage.configure(env["options"])
    rows = []
    cases = args.cases.split(",")
    # objects to download, uploaded once
    asyncio.run(storage.put(big, f"{base}/seed/big.bin"))
    asyncio.run(storage.put(tree, f"{base}/seed/tree"))
    b = storage.backend_for(base + "/x")
    for case in cases:
        results: dict[str, list[dict[str, float]]] = {}
        impls = ["flyte", "httpx"] if case.startswith("signed") else ["flyte", "fsspec"]
        for r in range(args.repeats):
            for impl in impls:  # interleaved, so server warm-up or drift hits both alike
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                spec: dict[str, Any] = {"case": case, "impl": impl, "env": dict(env)}
                key = f"{base}/{case}/{impl}/{r}"
                if case == "file-put":
                    spec.update(src=str(big), dst=key + "/big.bin")
                elif case == "file-get":
                    spec.update(src=f"{base}/seed/big.bin", dst=str(out / "big.bin"))
                elif case == "dir-put":
                    spec.update(src=str(tree), dst=key)
                elif case == "dir-get":
                    spec.update(src=f"{base}/seed/tree", dst=str(out / "tree"))
                elif case == "signed-put":
                    spec.update(src=str(big), dst=b.sign_url(key + "/big.bin", method="PUT", expires_in=3600))
                    spec["env"]["headers"] = {
                        k: v for k, v in b.signed_put_headers(content_length=0).items() if k != "Content-Length"
                    }
                elif case == "signed-get":
                    spec.update(
                        src=b.sign_url(f"{base}/seed/big.bin", method="GET", expires_in=3600), dst=str(out / "big.bin")
                    )
                results.setdefault(impl, []).append(run_worker(spec))
                if case == "dir-get":
                    n = sum(1 for p in (out / "tree").rglob("*") if p.is_file()) if impl == "flyte" else None
                    if n is not None and n != args.files:
                        raise RuntimeError(f"dir-get: {n} files downloaded, expected {args.files}")
        ours, theirs = results["flyte"], results[impls[1]]
        med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
        row = (
            backend,
            case,
            med(ours, "seconds"),
            med(theirs, "seconds"),
            max(x["peak_mb"] for x in ours),
            max(x["peak_mb"] for x in theirs),
        )
        print(
            f"{backend} {case}: flyte {row[2]:.2f}s, {impls[1]} {row[3]:.2f}s, peak {row[4]:.0f}/{row[5]:.0f} MB",
            flush=True,
        )
        rows.append(row)
    return rows


if __name__ == "__main__":
    sys.exit(main())
