"""File.named_remote, Dir.empty / is_empty / EmptyDir and Dir.walk_sync(file_pattern=) as in the official SDK 2.12.1
(review R1-10): same signatures, and the behaviour a user relies on, in real runs."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import flyte
import pytest
from flyte.io import Dir, EmptyDir, File
from flyte.types import TypeEngine

env = flyte.TaskEnvironment(name="io_official_members")
attempts: dict[str, int] = {}


@env.task(retries=2)
async def write_named(key: str) -> File:
    attempts[key] = attempts.get(key, 0) + 1
    f = File.named_remote("out.txt")
    if attempts[key] == 1:
        with open(f.path, "w") as fh:  # the first attempt writes, then fails
            fh.write(f"written by attempt 1 of {key}")
        raise RuntimeError("first attempt fails after writing")
    assert os.path.exists(f.path), "a retry must find what the first attempt wrote at the named path"
    return f


@env.task
async def two_names() -> list[str]:
    a, b, a2 = File.named_remote("a.csv"), File.named_remote("b.csv"), File.named_remote("a.csv")
    return [a.path, b.path, a2.path]


@env.task
async def two_actions() -> list[str]:
    a, b = await two_names(), await two_names()
    return [a[0], b[0], a[2], b[2]]


@env.task
async def maybe_dir(produce: bool) -> Dir:
    return Dir.empty()


@env.task
async def consume(produce: bool) -> str:
    d = await maybe_dir(produce)
    return f"empty={d.is_empty} path={d.path}"


def test_named_remote_is_the_same_path_on_every_attempt() -> None:
    out = flyte.with_runcontext(name="named-retry").run(write_named, key="k1").outputs()[0]
    assert attempts["k1"] == 2
    with out.open_sync("rb") as fh:
        assert fh.read() == b"written by attempt 1 of k1"


def test_named_remote_same_name_same_path_other_name_other_path() -> None:
    a, b, a2 = flyte.run(two_names).outputs()[0]
    assert a == a2 and a != b
    assert a.endswith("/a.csv") and b.endswith("/b.csv")


def test_named_remote_differs_between_actions() -> None:
    """The in-process controller shares one DataAccess across the run: named paths must still be per action."""
    first, second, first_again, second_again = flyte.run(two_actions).outputs()[0]
    assert first != second, "two actions asking for the same name must not share the path"
    assert first == first_again and second == second_again  # and stable within each action
    assert first.endswith("/a.csv") and second.endswith("/a.csv")


def test_named_remote_outside_a_task_and_with_a_folder_is_refused() -> None:
    with pytest.raises(ValueError, match="active task execution context"):
        File.named_remote("x.csv")
    with pytest.raises(ValueError, match="plain file name"):
        File.named_remote("sub/x.csv")


def test_dir_empty_crosses_a_task_boundary_and_reads_empty() -> None:
    assert flyte.run(consume, produce=False).outputs()[0] == "empty=True path=::flyte-empty-dir::"


async def test_empty_dir_literal_is_the_official_sentinel_and_round_trips() -> None:
    d = Dir.empty()
    assert isinstance(d, EmptyDir) and d.is_empty and not Dir(path="/tmp/x").is_empty
    assert EmptyDir(path="/ignored").path == "::flyte-empty-dir::"
    lit = await TypeEngine.to_literal(d, Dir, TypeEngine.to_literal_type(Dir))
    assert lit.scalar.blob.uri == "::flyte-empty-dir::"
    back = await TypeEngine.to_python_value(lit, Dir)
    assert back.is_empty


def test_walk_sync_file_pattern(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "sub").mkdir(parents=True)
    for p in ("a.txt", "b.csv", "sub/c.txt", "sub/d.csv"):
        (root / p).write_text(p)
    d = Dir(path=str(root))
    assert sorted(f.name for f in d.walk_sync(file_pattern="*.txt")) == ["a.txt", "c.txt"]
    assert sorted(f.name for f in d.walk_sync(False, "*.csv")) == ["b.csv"]  # positional, official order
    assert len(list(d.walk_sync())) == 4


def test_signatures_match_the_official_sdk() -> None:
    assert list(inspect.signature(File.named_remote).parameters) == ["name"]
    assert list(inspect.signature(Dir.empty).parameters) == []
    assert list(inspect.signature(Dir.walk_sync).parameters) == ["self", "recursive", "file_pattern", "max_depth"]
    assert inspect.signature(Dir.walk_sync).parameters["file_pattern"].default == "*"


def test_a_shared_data_access_names_the_action_asking(tmp_path: Path) -> None:
    """A DataAccess without its own scope (one per run) puts named paths under the action running now; one with
    a scope keeps it; the context hands out the very object the runtime placed (no per-action copy)."""
    from flyte._context import ActionID, TaskContext, reset_current, set_current
    from flyte.storage import data_access
    from flyte.storage.data_access import DataAccess

    shared = DataAccess(str(tmp_path))
    own = DataAccess(str(tmp_path), scope="mine")
    assert shared.named_path("x.csv") == f"{tmp_path}/named/x.csv"  # outside any action
    for action in ("a1", "a2"):
        tc = TaskContext(action=ActionID(action, "r0"), raw_data_path=str(tmp_path), run_base_dir=str(tmp_path),
                         data_access=shared)
        token = set_current(tc)
        try:
            assert data_access.current() is shared
            assert shared.named_path("x.csv") == f"{tmp_path}/named/{action}/x.csv"
            assert own.named_path("x.csv") == f"{tmp_path}/named/mine/x.csv"
        finally:
            reset_current(token)
