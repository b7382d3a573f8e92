"""File.open's whole file-object API (sync and async, text and binary, inside and outside a run) and the
official constructors' keyword arguments (Dir.from_local(dir_cache_key=...), hash_method=, ...)."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import flyte
import pydantic
import pytest
from flyte.io import Dir, File

env = flyte.TaskEnvironment(name="filescompat")


@env.task
async def write_async() -> File:
    f = File.new_remote("notes.txt")
    async with f.open("w") as fh:
        await fh.write("one\n")
        await fh.writelines(["two\n", "three\n"])
        assert fh.writable() and not fh.closed
    return f


@env.task
async def read_async(f: File) -> list[str]:
    out = []
    async with f.open("r") as fh:
        out.append(await fh.readline())
        out += await fh.readlines()
        await fh.seek(0)
        assert await fh.tell() == 0
        out += [line async for line in fh]
    async with f.open("rb") as fh:
        data = await fh.read()
        assert isinstance(data, bytes)
    return out


@env.task
def read_sync(f: File) -> list[str]:
    with f.open_sync("r") as fh:
        lines = [line for line in fh]
    with f.open_sync("rb", block_size=1024, cache_type="readahead") as fh:
        assert fh.readlines()[0] == b"one\n"
    return lines


@env.task
async def main() -> tuple[list[str], list[str]]:
    f = await write_async()
    return await read_async(f), await read_sync.aio(f)


@env.task(cache="auto")
async def count(d: Dir) -> int:
    counted.append(1)
    return len(await d.list_files())


counted: list[int] = []


def test_file_objects_in_both_styles(tmp_path: Path) -> None:
    a, s = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(main).outputs()
    lines = ["one\n", "two\n", "three\n"]
    assert a == lines + lines and s == lines


@dataclasses.dataclass
class Bundle:
    report: File
    n: int


class Model(pydantic.BaseModel):
    files: list[File]


@env.task
async def make_nested(folder: str) -> tuple[Bundle, Model]:
    p = Path(folder) / "made.txt"
    p.write_text("nested")
    return Bundle(report=File(path=str(p)), n=1), Model(files=[File(path=str(p))])


@env.task
async def nested_parent(folder: str) -> tuple[File, File, File]:
    bundle, model = await make_nested(folder)
    p = Path(folder) / "top.txt"
    p.write_text("nested")
    return bundle.report, model.files[0], await passthrough(File(path=str(p)))


@env.task
async def passthrough(f: File) -> File:
    return f


def test_file_fields_in_dataclasses_and_models_are_uploaded(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    run = flyte.with_runcontext(run_base_dir=str(tmp_path / "runs")).run(nested_parent, folder=str(work))
    for f in run.outputs():  # nested in a dataclass, in a model's list, and top level: all uploaded alike
        assert str(tmp_path / "runs") in f.path and not f.path.startswith(str(work))  # under the run's data
        with f.open_sync("r") as fh:
            assert fh.read() == "nested"


def test_open_outside_a_run(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("a\nb\n")
    f = File(path=str(p))
    with f.open_sync("r", compression=None) as fh:
        assert fh.readlines() == ["a\n", "b\n"]


def test_constructor_keywords(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_bytes(b"data")
    assert File.from_local_sync(p, hash_method="abc", chunk_size=1 << 20, max_concurrency=4).hash == "abc"
    assert File.from_local_sync(p, hash_method=hashlib.sha256()).hash == hashlib.sha256(b"data").hexdigest()
    with pytest.raises(TypeError, match="hash_method must be"):
        File.from_local_sync(p, hash_method=42)
    assert File.new_remote("y.txt", hash_method="h").hash == "h"
    d = Dir.from_local_sync(tmp_path, dir_cache_key="v1", batch_size=10, chunk_size=1, max_concurrency=2)
    assert d.hash == "v1"
    nd = Dir.new_remote("out", hash="k")
    assert nd.path.endswith("out") and nd.hash == "k"


def test_dir_cache_key_decides_the_cache(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "a.txt").write_text("1")
    counted.clear()

    async def go(key: str) -> int:
        return await count(await Dir.from_local(data, dir_cache_key=key))

    @env.task
    async def with_key(key: str) -> int:
        return await go(key)

    run = flyte.with_runcontext(run_base_dir=str(tmp_path / "runs"))
    assert run.run(with_key, key="k1").outputs()[0] == 1
    (data / "b.txt").write_text("2")  # new content, same key: the cached result, as on the official SDK
    assert run.run(with_key, key="k1").outputs()[0] == 1
    assert run.run(with_key, key="k2").outputs()[0] == 2
    assert len(counted) == 2
