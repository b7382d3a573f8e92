"""A local run with raw_data_path on S3: File and Dir outputs land under that prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flyte
import flyte.storage as storage
import flyte_s3.hooks
import pytest
from flyte.io import Dir, File
from flyte.plugins.manager import isolated_plugins

env = flyte.TaskEnvironment(name="s3_runs")


@env.task
async def make_outputs(n: int, workdir: str) -> tuple[File, Dir]:
    root = Path(workdir)
    root.mkdir(parents=True, exist_ok=True)
    (root / "one.txt").write_text("hello from a task\n")
    for i in range(n):
        (root / "tree" / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (root / "tree" / f"d{i % 3}" / f"{i}.txt").write_text(str(i))
    return await File.from_local(root / "one.txt"), await Dir.from_local(root / "tree")


@env.task
async def consume(f: File, d: Dir) -> int:
    async with f.open("rb") as fh:
        text = (await fh.read()).decode()
    return len(text) + len([x async for x in d.walk()])


@env.task
async def pipeline(n: int, workdir: str) -> tuple[int, File, Dir]:
    f, d = await make_outputs(n, workdir)
    return await consume(f, d), f, d


@pytest.fixture
def s3(s3_options: dict[str, Any]) -> Iterator[None]:
    with isolated_plugins(("s3", flyte_s3.hooks)):
        storage.configure(s3_options)
        yield
        storage.configure({})


@pytest.mark.slow
async def test_outputs_land_under_raw_data_path(s3: None, bucket: str, boto_s3: Any, tmp_path: Path) -> None:
    raw = f"s3://{bucket}/runs"
    run = await flyte.with_runcontext(mode="local", raw_data_path=raw, run_base_dir=str(tmp_path / "runs")).run.aio(
        pipeline, n=12, workdir=str(tmp_path / "work")
    )
    total, f, d = await run.outputs.aio() if hasattr(run.outputs, "aio") else run.outputs()
    assert total == len("hello from a task\n") + 12
    assert f.path.startswith(raw + "/") and d.path.startswith(raw + "/")
    keys = [o["Key"] for o in boto_s3.list_objects_v2(Bucket=bucket, Prefix="runs/")["Contents"]]
    assert any(k.endswith("/one.txt") for k in keys)
    assert sum(1 for k in keys if k.endswith(".txt") and "/tree/" in k) == 12
    assert (await f.download(tmp_path / "back.txt")) and (tmp_path / "back.txt").read_text() == "hello from a task\n"
