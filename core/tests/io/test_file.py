# ruff: noqa: UP045  (typing.Optional/Union on purpose: they must work like X | Y)
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional

import pydantic
import pytest
from flyte.errors import TypeTransformerError
from flyte.io import Dir, File
from flyte.types import TypeEngine


async def to_lit(v, t=File):
    return await TypeEngine.to_literal(v, t, TypeEngine.to_literal_type(t))


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "src" / "data.txt"
    p.parent.mkdir()
    p.write_text("hello")
    return p


def test_value_semantics():
    a = File(path="s3://b/k/x.csv", format="csv")
    assert a.name == "x.csv"
    assert a == File(path="s3://b/k/x.csv", name="x.csv", format="csv")
    assert a != File(path="s3://b/k/x.csv")
    assert len({a, File(path="s3://b/k/x.csv", format="csv")}) == 1
    assert a != Dir(path="s3://b/k/x.csv", format="csv")
    assert "format='csv'" in repr(a)
    assert File.from_existing_remote("s3://b/y", "key").hash == "key"
    assert a.is_remote and not File(path="/tmp/x").is_remote


async def test_from_local_outside_a_run_keeps_the_path(src):
    f = await File.from_local(src)
    assert f.path == str(src) and f.name == "data.txt"
    assert File.from_local_sync(src).path == str(src)
    lit = await to_lit(f)
    assert lit.scalar.blob.uri == str(src)
    with pytest.raises(FileNotFoundError):
        await File.from_local(src.parent / "missing")
    with pytest.raises(FileNotFoundError):
        File.from_local_sync(src.parent)


async def test_from_local_inside_a_run_uploads(src, tmp_path, run_context):
    raw = tmp_path / "raw"
    with run_context(raw):
        f = await File.from_local(src)
        g = File.from_local_sync(src)
    for x in (f, g):
        assert x.path.startswith(str(raw)) and x.path.endswith("/data.txt")
        assert Path(x.path).read_text() == "hello"
    assert f.path != g.path


async def test_from_local_to_an_explicit_destination(src, memory_store):
    f = await File.from_local(src, "memory://bucket/in/d.txt")
    assert f.path == "memory://bucket/in/d.txt" and f.name == "data.txt"
    g = File.from_local_sync(src, "memory://bucket/in/e.txt")
    assert memory_store.cat("/bucket/in/d.txt") == b"hello"
    assert memory_store.cat("/bucket/in/e.txt") == b"hello"
    assert await f.exists() and g.exists_sync()
    assert not File(path="memory://bucket/none").exists_sync()
    assert not await File(path="memory://bucket/none").exists()


async def test_literal_upload_inside_a_run_once_per_object(src, tmp_path, run_context):
    raw = tmp_path / "raw"
    f = File(path=str(src))
    with run_context(raw):
        a = await to_lit(f)
        b = await to_lit(f)
        uri = a.scalar.blob.uri
        assert uri == b.scalar.blob.uri
        assert uri.startswith(str(raw)) and Path(uri).read_text() == "hello"
        assert len(os.listdir(raw)) == 1
        # a file already under the run's raw data is not copied again
        inside = File(path=uri)
        assert (await to_lit(inside)).scalar.blob.uri == uri
        # and remote paths are never touched
        assert (await to_lit(File(path="s3://b/k"))).scalar.blob.uri == "s3://b/k"
        with pytest.raises(TypeTransformerError, match="does not exist"):
            await to_lit(File(path=str(tmp_path / "gone.txt")))


async def test_files_nested_in_structs_are_uploaded(src, tmp_path, run_context):
    @dataclasses.dataclass
    class Bundle:
        files: list[File]
        extra: Optional[File] = None

    class Model(pydantic.BaseModel):
        f: File

    raw = tmp_path / "raw"
    with run_context(raw):
        for t, v in [(Bundle, Bundle([File(path=str(src))])), (Model, Model(f=File(path=str(src))))]:
            lit = await to_lit(v, t)
            back = await TypeEngine.to_python_value(lit, t)
            f = back.files[0] if t is Bundle else back.f
            assert f.path.startswith(str(raw)) and Path(f.path).read_text() == "hello"
    # outside a run nothing moves, and a sync encoder is not even needed for remote data
    lit = await to_lit(Bundle([File(path="s3://b/x")]), Bundle)
    assert (await TypeEngine.to_python_value(lit, Bundle)).files == [File(path="s3://b/x")]


async def test_literal_shape_and_hash():
    f = File(path="s3://b/x.parquet", format="parquet", hash="h1")
    lit = await to_lit(f)
    assert lit.hash == "h1"
    assert lit.scalar.blob.metadata.type.format == "parquet"
    assert lit.scalar.blob.metadata.type.dimensionality == 0
    assert TypeEngine.to_literal_type(File).blob.format == ""
    assert await TypeEngine.to_python_value(lit, File) == f
    with pytest.raises(TypeTransformerError, match="single-part"):
        await TypeEngine.to_python_value(await to_lit(Dir(path="s3://b/d"), Dir), File)
    with pytest.raises(TypeTransformerError, match=r"Expected a flyte\.io\.File"):
        await to_lit("s3://b/x")


async def test_open_download_and_new_remote(src, tmp_path, memory_store):
    remote = await File.from_local(src, "memory://bucket/r/data.txt")
    async with remote.open("rb") as fh:
        assert await fh.read() == b"hello"
    with remote.open_sync("rb") as fh:
        assert fh.read() == b"hello"
    local = await remote.download(tmp_path / "dl")
    assert local == str(tmp_path / "dl") and Path(local).read_text() == "hello"
    (tmp_path / "dir").mkdir()
    local2 = remote.download_sync(tmp_path / "dir")
    assert local2 == str(tmp_path / "dir" / "data.txt") and Path(local2).read_text() == "hello"
    # a local file is its own download
    assert await File(path=str(src)).download() == str(src)
    assert File(path=str(src)).download_sync() == str(src)
    copied = await File(path=str(src)).download(tmp_path / "copy.txt")
    assert Path(copied).read_text() == "hello"

    out = File.new_remote("made.txt")
    try:
        async with out.open("wb") as fh:
            await fh.write(b"new")
        assert out.name == "made.txt" and Path(out.path).read_bytes() == b"new"
    finally:
        import shutil

        shutil.rmtree(os.path.dirname(out.path))


async def test_new_remote_inside_a_run(tmp_path, run_context):
    with run_context(tmp_path / "raw"):
        f = File.new_remote()
    assert f.path.startswith(str(tmp_path / "raw"))
    with f.open_sync("wb") as fh:
        fh.write(b"x")
    assert f.exists_sync()
    async with f.open("rb") as fh:
        lines = [line async for line in fh]
    assert lines == [b"x"]


async def test_parametrized_file_and_dir():
    t = File[str]
    f = File(path="s3://b/x.csv", format="csv")
    lit = await TypeEngine.to_literal(f, t, TypeEngine.to_literal_type(t))
    back = await TypeEngine.to_python_value(lit, t)
    assert back == f and type(back) is File
    assert TypeEngine.to_literal_type(Dir[int]).blob.dimensionality == 1
