"""Records are durable and concurrent-safe (issue 10, items 1 and 6's storage side)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import flyte
import pytest
from flyte._builtin.local.records import (
    ActionRecord,
    RunRecord,
    RunRecorder,
    claim_run_dir,
    list_runs,
    load_run,
    validate_run_name,
)
from flyte.errors import InvalidInputError, RuntimeUserError
from flyte.runtime import Phase

env = flyte.TaskEnvironment(name="rel_records")


@env.task
async def leaf(i: int) -> int:
    return i * 2


@env.task
async def fan(n: int) -> int:
    import asyncio

    return sum(await asyncio.gather(*(leaf(i) for i in range(n))))


def explode(x: int) -> int:
    raise ValueError(f"exploded on {x}")


@env.task
async def failing_leaf(x: int) -> int:
    return explode(x)


@env.task
async def fails_in_child(x: int) -> int:
    return await failing_leaf(x)


_gate = threading.Event()


@env.task
def wait_for_gate() -> int:
    assert _gate.wait(30), "the test never opened the gate"
    return 1


@env.task
async def fan_then_wait(n: int) -> int:
    import asyncio

    done = await asyncio.gather(*(leaf(i) for i in range(n)))
    return sum(done) + await wait_for_gate.aio()


# -- names -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../../x", "a/b", "..", "a\\b", "x" * 101, "", "-lead", "sp ace", "new\nline",
                                 ".hidden", "a..b"])
def test_bad_run_names_are_refused_with_the_name(bad: str, runs_base: Path) -> None:
    with pytest.raises(InvalidInputError) as e:
        flyte.with_runcontext(name=bad).run(leaf, i=1)
    if bad:
        assert repr(bad)[:40].strip("'") in str(e.value) or bad[:20] in str(e.value)
    assert "not allowed" in str(e.value) or "empty" in str(e.value)
    # nothing was written anywhere, in the runs folder or beside it
    assert not runs_base.exists() or list(runs_base.iterdir()) == []
    assert not (runs_base.parent.parent / "x").exists()


def test_good_names_pass() -> None:
    for ok in ("nightly", "nightly-2026-11-29", "a.b_c-d", "R1", "x" * 100):
        assert validate_run_name(ok) == ok


def test_a_taken_name_gets_a_suffix_and_the_earlier_record_stays(runs_base: Path, caplog) -> None:
    first = flyte.with_runcontext(name="nightly").run(fan, n=3)
    with caplog.at_level("WARNING", logger="flyte"):
        second = flyte.with_runcontext(name="nightly").run(fan, n=1)
    third = flyte.with_runcontext(name="nightly").run(fan, n=2)
    assert (first.name, second.name, third.name) == ("nightly", "nightly-2", "nightly-3")
    assert "nightly-2" in caplog.text and "'nightly'" in caplog.text
    assert load_run("nightly")[0]["counts"] == {"succeeded": 4}
    assert load_run("nightly-2")[0]["counts"] == {"succeeded": 2}
    assert json.loads((runs_base / "nightly-2" / "run.json").read_text())["requested_name"] == "nightly"
    assert not (runs_base / "nightly.1").exists()


def test_claiming_a_name_is_atomic_under_contention(tmp_path: Path) -> None:
    got: list[str] = []
    barrier = threading.Barrier(16)

    def claim() -> None:
        barrier.wait()
        got.append(claim_run_dir(tmp_path, "cron")[0])

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 16
    assert "cron" in got


@pytest.mark.slow
def test_two_processes_with_the_same_name_never_share_a_record(tmp_path: Path, runs_base: Path,
                                                                start_flyte) -> None:
    prog = tmp_path / "same.py"
    prog.write_text(textwrap.dedent(
        """
        import asyncio
        import flyte
        env = flyte.TaskEnvironment(name="same")

        @env.task
        async def one(i: int) -> int:
            await asyncio.sleep(0.3)
            return i

        @env.task
        async def main(n: int) -> int:
            return sum(await asyncio.gather(*(one(i) for i in range(n))))
        """
    ))
    procs = [start_flyte("run", "--no-progress", "--name", "nightly", "same.py", "main", "--n", str(n), cwd=tmp_path)
             for n in (3, 5)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    names = sorted(d.name for d in runs_base.iterdir())
    assert names == ["nightly", "nightly-2"]
    counts = sorted(load_run(n)[0]["counts"]["succeeded"] for n in names)
    assert counts == [4, 6]
    assert all(load_run(n)[0]["phase"] == "SUCCEEDED" for n in names)
    # the one that got the suffix said so
    assert sum("nightly-2" in err for _, err in results) >= 1


# -- durable while running -------------------------------------------------------------


def test_actions_are_readable_while_the_run_goes() -> None:
    _gate.clear()
    box: dict[str, object] = {}

    def go() -> None:
        box["run"] = flyte.with_runcontext(name="live").run(fan_then_wait, n=30)

    t = threading.Thread(target=go)
    t.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                summary, actions = load_run("live")
            except FileNotFoundError:
                summary, actions = {}, []
            if sum(a["phase"] == "SUCCEEDED" for a in actions) >= 30:
                break
            time.sleep(0.05)
        assert summary["phase"] == "RUNNING"
        assert sum(a["phase"] == "SUCCEEDED" for a in actions) == 30
        running = {a["name"]: a["phase"] for a in actions if a["phase"] == "RUNNING"}
        assert "a0" in running  # the parent is recorded as running
        assert any(r["name"] == "live" and r["phase"] == "RUNNING" for r in list_runs())
    finally:
        _gate.set()
        t.join(30)
    summary, actions = load_run("live")
    assert summary["phase"] == "SUCCEEDED"
    assert summary["counts"] == {"succeeded": 32}
    assert all(a["outputs"] for a in actions)


def test_a_failed_action_keeps_its_traceback() -> None:
    with pytest.raises(RuntimeUserError):
        flyte.with_runcontext(name="tb").run(fails_in_child, x=7)
    _, actions = load_run("tb")
    leaf_rec = next(a for a in actions if a["task"].endswith("failing_leaf"))
    tb = leaf_rec["traceback"]
    assert tb and "Traceback" in tb
    assert "in explode" in tb and "exploded on 7" in tb
    assert "ValueError" in tb
    parent = next(a for a in actions if a["name"] == "a0")
    assert parent["traceback"] and "exploded on 7" in parent["traceback"]
    ok = [a for a in actions if a["phase"] == "SUCCEEDED"]
    assert all(a["traceback"] is None for a in ok)


# -- a record whose process died -----------------------------------------------------------


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write_running(base: Path, name: str, **owner: object) -> None:
    d = base / name
    d.mkdir(parents=True)
    doc = {"name": name, "task": "t", "phase": "RUNNING", "start": time.time(), "end": 0, "error": None,
           "counts": {}}
    doc.update(owner)
    (d / "run.json").write_text(json.dumps(doc))


def test_a_record_whose_process_died_reads_as_aborted(runs_base: Path) -> None:
    import socket

    _write_running(runs_base, "dead", pid=_dead_pid(), pid_start=1, host=socket.gethostname())
    summary, _ = load_run("dead")
    assert summary["phase"] == "ABORTED"
    assert "process died" in summary["error"]
    listed = next(r for r in list_runs() if r["name"] == "dead")
    assert listed["phase"] == "ABORTED"


def test_a_reused_pid_is_detected_by_its_start_time(runs_base: Path) -> None:
    import socket

    from flyte._builtin.local.records import process_start_time

    parent = os.getppid()  # alive, but not the process that wrote the record
    real_start = process_start_time(parent)
    if real_start is None:
        pytest.skip("process start times are read from /proc (Linux only)")
    _write_running(runs_base, "reused", pid=parent, pid_start=real_start - 1, host=socket.gethostname())
    assert load_run("reused")[0]["phase"] == "ABORTED"
    # the same pid with its true start time is a live owner: still RUNNING
    _write_running(runs_base, "alive", pid=parent, pid_start=real_start, host=socket.gethostname())
    assert load_run("alive")[0]["phase"] == "RUNNING"


@pytest.mark.slow
def test_a_killed_run_keeps_the_actions_that_finished(tmp_path: Path, runs_base: Path, start_flyte,
                                                      wait_for) -> None:
    prog = tmp_path / "killed.py"
    prog.write_text(textwrap.dedent(
        """
        import asyncio
        import flyte
        env = flyte.TaskEnvironment(name="killed")

        @env.task
        async def one(i: int) -> int:
            return i

        @env.task
        async def forever() -> int:
            await asyncio.sleep(600)
            return 0

        @env.task
        async def main(n: int) -> int:
            done = await asyncio.gather(*(one(i) for i in range(n)))
            return sum(done) + await forever()
        """
    ))
    proc = start_flyte("run", "--no-progress", "--name", "killed", "killed.py", "main", "--n", "300", cwd=tmp_path)
    try:
        def flushed() -> bool:
            try:
                return sum(a["phase"] == "SUCCEEDED" for a in load_run("killed")[1]) == 300
            except FileNotFoundError:
                return False

        wait_for(flushed, timeout=30, what="the finished actions to be flushed")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    summary, actions = load_run("killed")
    assert summary["phase"] == "ABORTED" and summary.get("process_died") is True
    assert "process died" in summary["error"]
    assert sum(a["phase"] == "SUCCEEDED" for a in actions) == 300
    assert not any(a["phase"] == "RUNNING" for a in actions)


# -- the writer itself ---------------------------------------------------------------


def test_the_recorder_batches_and_finishes_every_action(tmp_path: Path) -> None:
    (tmp_path / "w").mkdir()
    record = RunRecord(name="w", task="t", directory=tmp_path / "w")
    record.write()
    rec = RunRecorder(record, flush_seconds=0.05)
    actions: list[ActionRecord] = []
    rec.start(actions)
    for i in range(100):
        a = ActionRecord(f"a{i}", "t", None, phase=Phase.SUCCEEDED, outputs={}, inputs={})
        actions.append(a)
    pending = ActionRecord("a100", "t", None, phase=Phase.RUNNING)
    actions.append(pending)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(load_run("w", tmp_path)[1]) < 101:
        time.sleep(0.02)
    assert len(load_run("w", tmp_path)[1]) == 101
    rec.finish(Phase.ABORTED, "stopped")
    summary, rows = load_run("w", tmp_path)
    assert summary["phase"] == "ABORTED" and summary["error"] == "stopped"
    assert {r["phase"] for r in rows} == {"SUCCEEDED", "ABORTED"}
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["actions.db", "run.json"]  # no journal left behind


def test_a_batch_writes_at_most_max_running_rows_of_running_actions(tmp_path: Path) -> None:
    from flyte._builtin.local.records import MAX_RUNNING_ROWS

    (tmp_path / "big").mkdir()
    record = RunRecord(name="big", task="t", directory=tmp_path / "big")
    record.write()
    rec = RunRecorder(record)
    actions = [ActionRecord(f"a{i}", "t", None, phase=Phase.RUNNING) for i in range(MAX_RUNNING_ROWS + 500)]
    done = ActionRecord("a99999", "t", None, phase=Phase.SUCCEEDED, inputs={}, outputs={})
    actions.append(done)
    rec.actions = actions
    rec.flush()
    rows = load_run("big", tmp_path)[1]
    assert sum(r["phase"] == "RUNNING" for r in rows) == MAX_RUNNING_ROWS
    assert any(r["name"] == "a99999" and r["phase"] == "SUCCEEDED" for r in rows)  # finished ones always go
    rec.flush()
    assert sum(r["phase"] == "RUNNING" for r in load_run("big", tmp_path)[1]) == MAX_RUNNING_ROWS + 500
    rec.finish(Phase.ABORTED, "stopped")
    assert {r["phase"] for r in load_run("big", tmp_path)[1]} == {"ABORTED", "SUCCEEDED"}


@pytest.mark.slow
def test_a_process_that_exits_mid_run_finishes_the_record_as_aborted(tmp_path: Path, runs_base: Path) -> None:
    """The atexit path: the interpreter ends (main thread done) while a run goes on in a daemon thread."""
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent(
        """
        import asyncio, threading, time
        import flyte
        env = flyte.TaskEnvironment(name="exits")

        @env.task
        async def one(i: int) -> int:
            return i

        @env.task
        async def main(n: int) -> int:
            done = await asyncio.gather(*(one(i) for i in range(n)))
            await asyncio.sleep(600)
            return sum(done)

        threading.Thread(target=lambda: flyte.with_runcontext(name="exits").run(main, n=10), daemon=True).start()
        time.sleep(1.5)
        """
    ))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    summary, actions = load_run("exits")
    assert summary["phase"] == "ABORTED"
    assert summary["error"] == "the process exited before the run ended"
    assert sum(a["phase"] == "SUCCEEDED" for a in actions) == 10


def test_an_abort_says_why() -> None:
    import asyncio

    from flyte._builtin.local.records import abort_reason

    assert abort_reason(KeyboardInterrupt()) == "interrupted (KeyboardInterrupt)"
    assert abort_reason(asyncio.CancelledError()).startswith("cancelled")
    assert abort_reason(SystemExit(3)) == "sys.exit(3) in a task body"


@env.task
async def exits() -> int:
    raise SystemExit(4)


def test_sys_exit_in_a_body_is_recorded() -> None:
    with pytest.raises(SystemExit):
        flyte.with_runcontext(name="exited").run(exits)
    summary, _ = load_run("exited")
    assert summary["phase"] == "ABORTED" and summary["error"] == "sys.exit(4) in a task body"
