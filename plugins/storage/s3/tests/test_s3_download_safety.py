"""A folder download from S3 never writes outside its destination (object keys are arbitrary)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flyte.storage as storage
import flyte_s3.hooks
import pytest
from flyte.io import Dir
from flyte.plugins.manager import isolated_plugins
from flyte.storage.errors import UnsafeKeyError


@pytest.fixture
def s3(s3_options: dict[str, Any]) -> Iterator[None]:
    with isolated_plugins(("s3", flyte_s3.hooks)):
        storage.configure(s3_options)
        yield
        storage.configure({})


def _keys(tmp_path: Path, shape: str) -> tuple[str, Path]:
    """The malicious key (relative to ``tree/``) and where it would land without the check."""
    if shape == "dotdot":  # joined to out/a/dst: out/x.txt
        return "sub/../../../x.txt", tmp_path / "out" / "x.txt"
    target = tmp_path / "abs" / "x"  # key tree//<tmp_path>/abs/x: an absolute path once joined
    return str(target), target


@pytest.mark.parametrize("shape", ["dotdot", "absolute"])
@pytest.mark.parametrize("how", ["storage.get", "Dir.download"])
async def test_escaping_key_is_refused(
    s3: None, bucket: str, boto_s3: Any, tmp_path: Path, shape: str, how: str
) -> None:
    rel, escaped = _keys(tmp_path, shape)
    boto_s3.put_object(Bucket=bucket, Key="tree/good.txt", Body=b"good")
    boto_s3.put_object(Bucket=bucket, Key="tree/sub/fine.txt", Body=b"fine")
    boto_s3.put_object(Bucket=bucket, Key=f"tree/{rel}", Body=b"evil")
    url = f"s3://{bucket}/tree"
    dst = tmp_path / "out" / "a" / "dst"
    with pytest.raises(UnsafeKeyError) as e:
        if how == "storage.get":
            await storage.get(url, dst, recursive=True)
        else:
            await Dir(path=url).download(dst)
    msg = str(e.value)
    assert url in msg and repr(rel) in msg and e.value.key == rel
    assert not os.path.exists(os.path.normpath(escaped))
    assert not dst.exists(), "nothing is written, not even the good objects"
    assert not list(tmp_path.rglob("*.part-*"))


async def test_normal_tree_still_downloads(s3: None, bucket: str, boto_s3: Any, tmp_path: Path) -> None:
    for k in ("tree/a.txt", "tree/d/b.txt", "tree/d/e/c.txt"):
        boto_s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    dst = tmp_path / "dst"
    await storage.get(f"s3://{bucket}/tree", dst, recursive=True)
    got = {p.relative_to(dst).as_posix(): p.read_bytes() for p in dst.rglob("*") if p.is_file()}
    assert got == {"a.txt": b"tree/a.txt", "d/b.txt": b"tree/d/b.txt", "d/e/c.txt": b"tree/d/e/c.txt"}
