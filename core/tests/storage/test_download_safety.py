"""A folder download never writes outside its destination, whatever the object keys say.

The local backend's own listing cannot produce ``..`` or absolute keys, so its ``find`` is
wrapped to return them the way an object store does (keys are arbitrary strings there);
the S3 plugin's tests do the same against moto with real keys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import flyte.storage as storage
import pytest
from flyte.storage.errors import StorageError, UnsafeKeyError
from flyte.storage.transfer import safe_local_path


def _with_extra_keys(monkeypatch: pytest.MonkeyPatch, extra: dict[str, int], hide: tuple[str, ...] = ()) -> None:
    """LocalFileSystem.find also returns ``extra`` (path -> size), as a store listing would,
    and leaves out the paths in ``hide``."""
    from fsspec.implementations.local import LocalFileSystem

    real_find = LocalFileSystem.find

    def find(self: Any, path: str, *args: Any, **kwargs: Any) -> Any:
        found = real_find(self, path, *args, **kwargs)
        if kwargs.get("detail"):
            found = {p: v for p, v in found.items() if p not in hide}
            for p, size in extra.items():
                found[p] = {"name": p, "type": "file", "size": size}
        return found

    monkeypatch.setattr(LocalFileSystem, "find", find)


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "store" / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "ok.txt").write_text("fine")
    return src


@pytest.mark.parametrize("shape", ["dotdot", "absolute"])
async def test_escaping_key_is_refused_and_nothing_written(
    shape: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _tree(tmp_path)
    dst = tmp_path / "out" / "a" / "dst"
    if shape == "dotdot":
        # object tree/sub/../../../x.txt: the bytes exist (path resolution walks through sub/)
        (tmp_path / "x.txt").write_text("evil")
        key = "sub/../../../x.txt"
        escaped = dst / "sub" / ".." / ".." / ".." / "x.txt"  # = out/x.txt
    else:
        # object tree//<abs>/x: joined to dst it would be the absolute path itself
        target = tmp_path / "abs" / "x"
        (src / str(target).lstrip("/")).parent.mkdir(parents=True)
        (src / str(target).lstrip("/")).write_text("evil")
        key = str(target)  # starts with '/'
        escaped = target
    obj = str(src) + "/" + key
    _with_extra_keys(monkeypatch, {obj: 4})
    with pytest.raises(UnsafeKeyError) as e:
        await storage.get(src.as_uri(), dst, recursive=True)
    msg = str(e.value)
    assert src.as_uri() in msg and key in msg
    assert isinstance(e.value, StorageError)
    assert e.value.key == key
    assert not os.path.exists(os.path.normpath(escaped))
    assert not dst.exists(), "nothing may be written, not even the good files"


async def test_symlink_in_destination_pointing_outside_is_refused(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    (src / "sub" / "x.txt").write_text("data")
    outside = tmp_path / "outside"
    outside.mkdir()
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeKeyError, match="sub/x.txt"):
        await storage.get(src.as_uri(), dst, recursive=True)
    assert list(outside.iterdir()) == []


async def test_keys_that_normalise_inside_are_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _tree(tmp_path)
    (src / "sub" / "y.txt").write_text("y")
    _with_extra_keys(monkeypatch, {str(src) + "/sub/./../sub//y.txt": 1}, hide=(str(src / "sub" / "y.txt"),))
    dst = tmp_path / "dst"
    await storage.get(src.as_uri(), dst, recursive=True)
    assert (dst / "ok.txt").read_text() == "fine"
    assert (dst / "sub" / "y.txt").read_text() == "y"
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()) == ["ok.txt", "sub/y.txt"]


@pytest.mark.parametrize(
    "rel",
    ["../x", "a/../../x", "/etc/passwd", "//etc/passwd", ".", "", "a/..", "..", "sub/../../x"],
)
def test_safe_local_path_refuses(rel: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafeKeyError) as e:
        safe_local_path(str(tmp_path), rel, "s3://b/prefix?X-Amz-Signature=SIGVALUE123")
    assert "s3://b/prefix" in str(e.value) and repr(rel) in str(e.value) and "SIGVALUE123" not in str(e.value)


async def test_two_keys_for_one_local_file_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _tree(tmp_path)
    (src / "sub" / "y.txt").write_text("y")
    _with_extra_keys(monkeypatch, {str(src) + "/sub//y.txt": 1})
    with pytest.raises(UnsafeKeyError, match="same local file"):
        await storage.get(src.as_uri(), tmp_path / "dst", recursive=True)
    assert not (tmp_path / "dst").exists()


@pytest.mark.parametrize(("rel", "want"), [("a/b", "a/b"), ("a/./b", "a/b"), ("a//b", "a/b"), ("a/../b", "b")])
def test_safe_local_path_normalises(rel: str, want: str, tmp_path: Path) -> None:
    assert safe_local_path(str(tmp_path), rel, "s3://b/p") == os.path.join(str(tmp_path), *want.split("/"))
