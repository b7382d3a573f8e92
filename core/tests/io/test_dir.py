from __future__ import annotations

import os
from pathlib import Path

import pytest
from flyte.errors import TypeTransformerError
from flyte.io import Dir, File
from flyte.types import TypeEngine


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "b.txt").write_text("b")
    (root / "sub" / "c.txt").write_text("c")
    (root / "sub" / "deep" / "d.txt").write_text("d")
    return root


def names(files):
    return sorted(os.path.basename(f.path) for f in files)


async def to_lit(v):
    return await TypeEngine.to_literal(v, Dir, TypeEngine.to_literal_type(Dir))


async def test_local_walk_and_list(tree):
    d = await Dir.from_local(tree)
    assert d.path == str(tree) and d.name == "tree"
    assert names([f async for f in d.walk()]) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert names([f async for f in d.walk(max_depth=2)]) == ["a.txt", "b.txt", "c.txt"]
    assert names(await d.list_files()) == ["a.txt", "b.txt"]
    assert names(d.list_files_sync()) == ["a.txt", "b.txt"]
    assert names(d.walk_sync()) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert all(isinstance(f, File) for f in d.walk_sync())
    assert d.exists_sync() and await d.exists()
    with pytest.raises(NotADirectoryError):
        await Dir.from_local(tree / "a.txt")
    with pytest.raises(NotADirectoryError):
        Dir.from_local_sync(tree / "missing")


@pytest.mark.parametrize("sync", [False, True])
async def test_remote_dir_upload_walk_download(tree, tmp_path, memory_store, sync):
    dest = "memory://bucket/dirs/t"
    d = Dir.from_local_sync(tree, dest) if sync else await Dir.from_local(tree, dest)
    assert d.path == dest and d.name == "tree"
    assert memory_store.cat("/bucket/dirs/t/sub/deep/d.txt") == b"d"
    assert names([f async for f in d.walk()]) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert names(d.walk_sync(max_depth=2)) == ["a.txt", "b.txt", "c.txt"]
    assert names(await d.list_files()) == ["a.txt", "b.txt"]
    assert d.exists_sync()
    out = tmp_path / ("dl-sync" if sync else "dl")
    local = d.download_sync(out) if sync else await d.download(out)
    assert Path(os.path.join(local, "sub", "deep", "d.txt")).read_text() == "d"
    assert sorted(os.listdir(local)) == ["a.txt", "b.txt", "sub"]


async def test_local_download_copies_or_returns_itself(tree, tmp_path):
    d = Dir(path=str(tree))
    assert await d.download() == str(tree)
    assert d.download_sync() == str(tree)
    copy = await d.download(tmp_path / "copy")
    assert Path(os.path.join(copy, "sub", "c.txt")).read_text() == "c"
    copy2 = d.download_sync(tmp_path / "copy2")
    assert sorted(os.listdir(copy2)) == ["a.txt", "b.txt", "sub"]


async def test_dir_literal_uploads_inside_a_run(tree, tmp_path, run_context):
    raw = tmp_path / "raw"
    with run_context(raw):
        inside = Dir.from_local_sync(tree)
        assert inside.path.startswith(str(raw))
        assert Path(os.path.join(inside.path, "sub", "c.txt")).read_text() == "c"
        lit = await to_lit(Dir(path=str(tree), format="txt"))
    uri = lit.scalar.blob.uri
    assert uri.startswith(str(raw)) and uri.endswith("/tree")
    assert lit.scalar.blob.metadata.type.dimensionality == 1
    assert sorted(os.listdir(uri)) == ["a.txt", "b.txt", "sub"]
    back = await TypeEngine.to_python_value(lit, Dir)
    assert back == Dir(path=uri, format="txt")
    with pytest.raises(TypeTransformerError, match="multipart"):
        await TypeEngine.to_python_value(await TypeEngine.to_literal(File(path="s3://b/f"), File), Dir)


async def test_dir_outside_a_run_keeps_the_path(tree):
    lit = await to_lit(Dir(path=str(tree)))
    assert lit.scalar.blob.uri == str(tree)
    assert TypeEngine.to_literal_type(Dir).blob.dimensionality == 1


async def test_get_file(tree, memory_store):
    d = Dir(path=str(tree))
    f = await d.get_file("a.txt")
    assert f is not None and Path(f.path).read_text() == "a"
    assert d.get_file_sync("nope.txt") is None
    remote = await Dir.from_local(tree, "memory://bucket/g")
    g = remote.get_file_sync("b.txt")
    assert g is not None and g.path == "memory://bucket/g/b.txt"
    assert await remote.get_file("zzz") is None
