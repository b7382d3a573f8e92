"""Bad state never blocks work (issue 10, item 3): a corrupt cache, an unwritable home, files named."""

from __future__ import annotations

import json
import logging
import sqlite3
import textwrap
from pathlib import Path

import flyte
import pytest
from flyte._builtin.local.cache_store import CacheStore, cache_db_path
from flyte._builtin.local.records import load_run
from flyte.errors import InvalidInputError

env = flyte.TaskEnvironment(name="rel_bad_state")
calls = {"n": 0}


@env.task(cache="auto")
async def cached(x: int) -> int:
    calls["n"] += 1
    return x * 10


@env.task
async def root(x: int) -> int:
    return await cached(x) + 1


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    import flyte._builtin.local.cache_store as cs
    import flyte._builtin.local.records as rs

    cs._warned.clear()
    rs._warned.clear()


@pytest.mark.parametrize("garbage", [b"this is not a database, it is a text file\n" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_corrupt_cache_is_moved_aside_with_one_warning_and_the_run_goes_on(
    garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = cache_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(garbage)
    calls["n"] = 0
    with caplog.at_level(logging.WARNING, logger="flyte"):
        assert flyte.run(root, x=2).outputs()[0] == 21
        assert flyte.run(root, x=2).outputs()[0] == 21  # the fresh cache works: a hit
    assert calls["n"] == 1
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    aside = list(path.parent.glob("cache.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert str(path) in warnings[0] and str(aside[0]) in warnings[0]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM cache").fetchone()[0] == 1


def test_a_cache_damaged_while_open_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = CacheStore(tmp_path / "c.db")
    store.close()
    (tmp_path / "c.db").write_bytes(b"garbage" * 1000)
    store._db = sqlite3.connect(tmp_path / "c.db", check_same_thread=False, isolation_level=None)
    with caplog.at_level(logging.WARNING, logger="flyte"):
        assert store.get("k") is None
    from flyteidl2.core.literals_pb2 import Literal, Primitive, Scalar

    store.put("k", "t", "v", {"o0": Literal(scalar=Scalar(primitive=Primitive(integer=3)))})
    assert store.get("k")["o0"].scalar.primitive.integer == 3
    assert list(tmp_path.glob("c.db.corrupt-*"))
    assert any("c.db" in w for w in _warnings(caplog))


def _under_a_file(tmp_path: Path) -> Path:
    """A path nobody can create, even root: its parent is a regular file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    return blocker / "home"


def test_an_unwritable_home_runs_without_records_and_says_how_to_keep_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    home = _under_a_file(tmp_path)
    monkeypatch.setenv("FLYTE_HOME", str(home))
    calls["n"] = 0
    with caplog.at_level(logging.WARNING, logger="flyte"):
        run = flyte.run(root, x=3)
        assert run.outputs()[0] == 31
        assert flyte.run(root, x=3).outputs()[0] == 31
    assert run.url == ""
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings  # one warning, not one per run or per file
    assert str(home / "runs") in warnings[0]
    assert "FLYTE_HOME" in warnings[0] and "--run-base-dir" in warnings[0]
    # the same warning says the cache is not kept either (review R1-9): the second run recomputed
    assert f"task cache {home / 'cache.db'}" in warnings[0] and "kept in memory for this run only" in warnings[0]
    assert calls["n"] == 2


def test_an_unwritable_home_with_a_writable_cache_db_does_not_call_the_cache_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FLYTE_HOME", str(_under_a_file(tmp_path)))
    monkeypatch.setenv("FLYTE_LOCAL_CACHE_DB", str(tmp_path / "elsewhere" / "cache.db"))
    calls["n"] = 0
    with caplog.at_level(logging.WARNING, logger="flyte"):
        assert flyte.run(root, x=4).outputs()[0] == 41
        assert flyte.run(root, x=4).outputs()[0] == 41
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "Run records are off" in warnings[0], warnings
    assert "task cache" not in warnings[0]
    assert calls["n"] == 1  # the cache was kept


def test_an_explicit_unwritable_run_base_dir_is_an_error_naming_it(tmp_path: Path) -> None:
    bad = _under_a_file(tmp_path)
    with pytest.raises(InvalidInputError) as e:
        flyte.with_runcontext(run_base_dir=str(bad)).run(root, x=1)
    assert str(bad) in str(e.value)


def test_records_go_to_run_base_dir_when_home_is_unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_HOME", str(_under_a_file(tmp_path)))
    run = flyte.with_runcontext(name="kept", run_base_dir=str(tmp_path / "runs")).run(root, x=1)
    assert load_run("kept", tmp_path / "runs")[0]["phase"] == "SUCCEEDED"
    assert run.url.endswith("/runs/kept")


def test_an_unreadable_run_record_names_the_file(runs_base: Path) -> None:
    (runs_base / "broken").mkdir(parents=True)
    (runs_base / "broken" / "run.json").write_text("{not json")
    with pytest.raises(FileNotFoundError) as e:
        load_run("broken")
    assert str(runs_base / "broken" / "run.json") in str(e.value)
    (runs_base / "badacts").mkdir()
    (runs_base / "badacts" / "run.json").write_text(json.dumps({"name": "badacts", "phase": "SUCCEEDED"}))
    (runs_base / "badacts" / "actions.db").write_bytes(b"not a database" * 100)
    with pytest.raises(FileNotFoundError) as e:
        load_run("badacts")
    assert str(runs_base / "badacts" / "actions.db") in str(e.value)


@pytest.mark.slow
def test_cli_with_a_read_only_home_runs_and_warns_once(tmp_path: Path, run_flyte) -> None:
    (tmp_path / "prog.py").write_text(textwrap.dedent(
        """
        import flyte
        env = flyte.TaskEnvironment(name="ro")

        @env.task(cache="auto")
        async def sq(x: int) -> int:
            return x * x

        @env.task
        async def main(x: int) -> int:
            return await sq(x)
        """
    ))
    home = _under_a_file(tmp_path)
    result = run_flyte("run", "--no-progress", "prog.py", "main", "--x", "4", cwd=tmp_path,
                       env={"FLYTE_HOME": str(home), "HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "16" in result.stdout
    assert result.stderr.count("FLYTE_HOME") == 1, result.stderr
    assert result.stderr.count("kept in memory for this run only") == 1, result.stderr  # and the cache is said lost
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_with_a_corrupt_cache_warns_once_naming_the_file_and_succeeds(tmp_path: Path, run_flyte) -> None:
    (tmp_path / "prog.py").write_text(textwrap.dedent(
        """
        import flyte
        env = flyte.TaskEnvironment(name="cc")

        @env.task(cache="auto")
        async def sq(x: int) -> int:
            return x * x

        @env.task
        async def main(x: int) -> int:
            return await sq(x)
        """
    ))
    path = cache_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage, not sqlite\n" * 50)
    result = run_flyte("run", "--no-progress", "prog.py", "main", "--x", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "o0 = 25" in result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "corrupt-" in lines[0], result.stderr
    again = run_flyte("run", "--no-progress", "prog.py", "main", "--x", "5", cwd=tmp_path)
    assert again.returncode == 0 and again.stderr.strip() == "", again.stderr
