"""The type engine is a pure codec: no run context, no flyte.io import; File/Dir come from the built-in plugin,
and the only I/O (uploading a local File) goes through the running task's data access."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flyte._context import ActionID, TaskContext, reset_current, set_current
from flyte.errors import TypeTransformerError
from flyte.io import Dir, File
from flyte.plugins.manager import isolated_plugins
from flyte.storage import data_access
from flyte.storage.data_access import DataAccess
from flyte.types import Pickled, TypeEngine


def run(code: str) -> str:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_engine_loads_neither_io_nor_the_run_context() -> None:
    out = run(
        "import sys, asyncio, dataclasses\n"
        "from flyte.types import TypeEngine\n"
        "@dataclasses.dataclass\n"
        "class D:\n"
        "    x: list[int]\n"
        "lit = asyncio.run(TypeEngine.to_literal(D([1]), D))\n"
        "assert asyncio.run(TypeEngine.to_python_value(lit, D)) == D([1])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('flyte.io', 'flyte._context', 'flyte._task', "
        "'flyte.runtime', 'flyte._builtin.local'))))"
    )
    assert out == "[]"


def test_file_and_dir_are_registered_by_the_builtin_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_TYPES_PICKLE", "error")  # else File would travel pickled without the built-in plugin
    with isolated_plugins() as pm:
        names = dict(pm.transformers.snapshot(full=False))
        assert names["File"] == ("local", TypeEngine.get_transformer(File))
        assert names["Dir"] == ("local", TypeEngine.get_transformer(Dir))
        assert not pm.fully_loaded  # the built-in plugin answered: no entry-point scan
    with isolated_plugins(builtins=False):
        with pytest.raises(TypeTransformerError, match=r"flyte\.io\._file\.File is not supported"):
            TypeEngine.to_literal_type(File)
    assert TypeEngine.to_literal_type(File).blob.dimensionality == 0  # plans follow the plugins back


def test_guessed_blob_types_come_from_the_transformers() -> None:
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(File)) is File
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(list[Dir])) == list[Dir]
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(Pickled[set[int]])) == Pickled[Any]


class RecordingAccess(DataAccess):
    """A data access that records what it was asked to move (what a remote worker would override)."""

    def __init__(self, raw: str) -> None:
        super().__init__(raw)
        self.uploads: list[str] = []
        self.writes: list[int] = []

    async def upload(self, local_path: str, name: str | None = None) -> str:
        self.uploads.append(local_path)
        return await super().upload(local_path, name)

    async def write_bytes(self, data: bytes, name: str | None = None) -> str:
        self.writes.append(len(data))
        return await super().write_bytes(data, name)


async def test_uploads_go_through_the_data_access_in_the_context(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hi")

    @dataclasses.dataclass
    class Box:
        f: File

    da = RecordingAccess(str(tmp_path / "raw"))
    tc = TaskContext(
        action=ActionID("a0", "r0"), raw_data_path=str(tmp_path / "raw"), run_base_dir=str(tmp_path), data_access=da
    )
    assert data_access.current() is None
    token = set_current(tc)
    try:
        assert data_access.current() is da
        lit = await TypeEngine.to_literal(File(path=str(src)), File)
        boxed = await TypeEngine.to_literal(Box(File(path=str(src))), Box)
        big = await TypeEngine.to_literal(set(range(5000)), Pickled[set[int]])
        made = await File.from_local(src)
    finally:
        reset_current(token)
    assert data_access.current() is None
    assert da.uploads == [str(src)] * 3 and len(da.writes) == 1
    assert lit.scalar.blob.uri.startswith(str(tmp_path / "raw")) and Path(lit.scalar.blob.uri).read_text() == "hi"
    back = await TypeEngine.to_python_value(boxed, Box)
    assert back.f.path.startswith(str(tmp_path / "raw"))
    assert big.scalar.blob.uri.startswith(str(tmp_path / "raw"))
    assert made.path.startswith(str(tmp_path / "raw")) and made.name == "a.txt"


async def test_no_data_access_keeps_local_paths(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hi")
    assert (await TypeEngine.to_literal(File(path=str(src)), File)).scalar.blob.uri == str(src)
    small_inline = await TypeEngine.to_literal(set(range(5000)), Pickled[set[int]])
    assert small_inline.scalar.WhichOneof("value") == "binary"  # no raw data to offload to: stays inline


def test_context_data_access_defaults_and_follows_the_raw_path(tmp_path: Path) -> None:
    tc = TaskContext(action=ActionID("a0", "r0"), raw_data_path=str(tmp_path / "one"), run_base_dir=str(tmp_path))
    assert isinstance(tc.data_access, DataAccess) and tc.data_access.raw_data_path == str(tmp_path / "one")
    assert tc.replace(group=("g",)).data_access is tc.data_access
    moved = tc.replace(raw_data_path=str(tmp_path / "two"))
    assert moved.data_access is not None and moved.data_access.raw_data_path == str(tmp_path / "two")
    assert "data_access=" not in repr(tc)
