"""Live updates (since cursors, a run whose process died), `flyte console` as a process, and `flyte run`'s link."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flyte.console.local import LocalRunStore
from flyte.console.store import BadRequest

FLYTE = str(Path(sys.executable).with_name("flyte"))


def _age(run_dir: Path, seconds: float = 100.0) -> None:
    """Make a run's files look ``seconds`` old (an mtime cursor then sees them as unchanged)."""
    t = time.time() - seconds
    for f in run_dir.iterdir():
        if f.is_file():
            os.utime(f, (t, t))


def test_runs_since_cursor_returns_what_changed(tmp_path: Path, run_sample: Any) -> None:
    base = tmp_path / "runs"
    old = run_sample(base, "fanout", name="old-one", n=2)
    _age(base / old)
    store = LocalRunStore(base)
    runs, cursor = store.list_runs()
    assert [r["name"] for r in runs] == [old]
    assert store.list_runs(since=cursor)[0] == []
    new = run_sample(base, "fanout", name="new-one", n=2)
    changed, cursor2 = store.list_runs(since=cursor)
    assert [r["name"] for r in changed] == [new]
    assert int(cursor2[1:]) > int(cursor[1:])
    with pytest.raises(BadRequest):
        store.list_runs(since="x123")


def test_run_since_cursor_returns_rewritten_actions_only(tmp_path: Path, run_sample: Any) -> None:
    base = tmp_path / "runs"
    name = run_sample(base, "fanout", name="live", n=3)
    store = LocalRunStore(base)
    _, actions, cursor = store.get_run(name)
    assert len(actions) == 8  # a0, 3 squares, middle and its 2 leaves, reporting
    second_square = [a for a in actions if a["task"] == "console_samples.square"][1]
    _, none, same = store.get_run(name, since=cursor)
    assert none == [] and same == cursor
    # the recorder rewrites a row with INSERT OR REPLACE when an action changes: do what it does
    db = sqlite3.connect(base / name / "actions.db")
    row = db.execute("SELECT * FROM actions WHERE name=?", (second_square["name"],)).fetchone()
    db.execute("INSERT OR REPLACE INTO actions VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
    db.commit()
    db.close()
    _, changed, later = store.get_run(name, since=cursor)
    assert [a["name"] for a in changed] == [second_square["name"]]
    assert changed[0]["map"] == {"of": "square_map", "index": 1}  # still known among all its siblings
    assert later != cursor


def test_a_running_run_whose_process_died_reads_aborted(tmp_path: Path, run_sample: Any) -> None:
    base = tmp_path / "runs"
    name = run_sample(base, "fanout", name="died", n=2)
    store = LocalRunStore(base)
    _, cursor = store.list_runs()
    _, _, run_cursor = store.get_run(name)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    f = base / name / "run.json"
    doc = json.loads(f.read_text())
    doc.update(phase="RUNNING", end=0, counts={}, pid=dead.pid, pid_start=None)
    f.write_text(json.dumps(doc))
    db = sqlite3.connect(base / name / "actions.db")
    db.execute("UPDATE actions SET phase='RUNNING' WHERE name='a1'")
    db.commit()
    db.close()
    runs, _ = store.list_runs(since=cursor)
    (run,) = [r for r in runs if r["name"] == name]
    assert run["phase"] == "ABORTED" and "process died" in run["error"]
    assert run["actions"]["ABORTED"] == 1
    summary, actions, _ = store.get_run(name)
    assert summary["phase"] == "ABORTED"
    assert {a["name"]: a["phase"] for a in actions}["a1"] == "ABORTED"


def test_a_run_whose_process_dies_later_reaches_a_live_list(tmp_path: Path, run_sample: Any) -> None:
    """Killed (SIGKILL, OOM) in the middle of a long action, a run leaves its files as they were: the answer to `since`
    skipped it (unchanged files, no longer RUNNING), and the page showed it RUNNING, its duration ticking, forever."""
    from flyte._builtin.local.record_reader import process_start_time

    base = tmp_path / "runs"
    name = run_sample(base, "fanout", name="dies-later", n=2)
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        f = base / name / "run.json"
        doc = json.loads(f.read_text())
        doc.update(phase="RUNNING", end=0, counts={}, pid=owner.pid, pid_start=process_start_time(owner.pid))
        f.write_text(json.dumps(doc))
        old = time.time() - 30  # its files were last written well before the page's cursor
        for p in (f, base / name / "actions.db"):
            os.utime(p, (old, old))
        store = LocalRunStore(base)
        runs, cursor = store.list_runs()
        assert [(r["name"], r["phase"]) for r in runs] == [(name, "RUNNING")]
    finally:
        owner.kill()
        owner.wait()
    runs, cursor = store.list_runs(since=cursor)
    assert [(r["name"], r["phase"]) for r in runs] == [(name, "ABORTED")]
    assert "process died" in runs[0]["error"]


def test_a_run_that_ends_within_one_clock_tick_of_its_start_is_not_listed_running(tmp_path: Path,
                                                                                   run_sample: Any) -> None:
    """File times tick coarsely (a few ms on Linux, 1-2 s elsewhere): a run that starts and ends within one tick, listed
    in between, left run.json with the same mtime, and the cached RUNNING summary stayed (as long as its process
    lived: a notebook's). run.json is replaced, never rewritten in place: its inode tells."""
    base = tmp_path / "runs"
    name = run_sample(base, "fanout", name="quick", n=2)
    f = base / name / "run.json"
    final = f.read_text()
    st = os.stat(f)
    doc = json.loads(final)
    doc.update(phase="RUNNING", end=None, counts={}, pid=os.getpid())  # this process: alive
    tmp = f.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    store = LocalRunStore(base)
    (run,), _ = store.list_runs()
    assert run["phase"] == "RUNNING"
    tmp.write_text(final)  # the end, written as the recorder does (a new file put in place), in the same tick
    os.replace(tmp, f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    (run,), _ = store.list_runs()
    assert run["phase"] == "SUCCEEDED"


def test_a_deleted_run_is_named_gone_in_the_next_live_answer(tmp_path: Path, run_sample: Any,
                                                             make_console: Any) -> None:
    """Run folders get pruned (rm -r ~/.flyte/runs/r*): the page merged `since` answers by name and kept showing a
    deleted run until a reload. The answer names what went."""
    import shutil
    import urllib.request

    base = tmp_path / "runs"
    keep = run_sample(base, "fanout", name="kept", n=1)
    drop = run_sample(base, "fanout", name="dropped", n=1)
    console = make_console(base)
    with urllib.request.urlopen(console.url + "/api/runs") as r:
        first = json.loads(r.read())
    assert {x["name"] for x in first["runs"]} == {keep, drop} and first.get("gone", []) == []
    shutil.rmtree(base / drop)
    with urllib.request.urlopen(f"{console.url}/api/runs?since={first['cursor']}") as r:
        later = json.loads(r.read())
    assert later["gone"] == [drop]
    with urllib.request.urlopen(console.url + "/api/runs") as r:
        assert json.loads(r.read())["gone"] == []  # a full answer has no news of what went


def test_flyte_console_prints_its_url_and_stops_on_sigint(tmp_path: Path, run_sample: Any) -> None:
    base = tmp_path / "runs"
    name = run_sample(base, "fanout", name="cli-run", n=2)
    proc = subprocess.Popen([FLYTE, "console", "--port", "0", "--run-base-dir", str(base)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert m, line
        import urllib.request

        with urllib.request.urlopen(m.group(1) + "/api/runs", timeout=10) as r:
            assert [x["name"] for x in json.loads(r.read())["runs"]] == [name]
        state = json.loads((base / ".console.json").read_text())
        assert state["url"] == m.group(1) and state["pid"] == proc.pid
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "stopped" in (proc.stderr.read() if proc.stderr else "")
        assert not (base / ".console.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_flyte_console_refuses_a_busy_port(tmp_path: Path) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        r = subprocess.run([FLYTE, "console", "--port", str(s.getsockname()[1]), "--run-base-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=30)
    finally:
        s.close()
    assert r.returncode != 0 and "Cannot listen on 127.0.0.1" in r.stderr and "--port" in r.stderr


@pytest.mark.slow
def test_flyte_run_prints_the_console_link_while_a_console_serves(tmp_path: Path, make_console: Any) -> None:
    base = tmp_path / "runs"
    tasks = str(Path(__file__).with_name("sample_tasks.py"))
    env = {**os.environ, "FLYTE_LOCAL_RUNS_DIR": str(base)}
    quiet = subprocess.run([FLYTE, "run", tasks, "square", "--x", "3"], capture_output=True, text=True, env=env,
                           timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert "Console:" not in quiet.stdout + quiet.stderr
    console = make_console(base)
    r = subprocess.run([FLYTE, "run", tasks, "square", "--x", "4"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    name = re.search(r"Run (\S+) succeeded", r.stdout).group(1)  # type: ignore[union-attr]
    assert f"Console: {console.url}/runs/{name}" in r.stdout
    failed = subprocess.run([FLYTE, "run", tasks, "failing"], capture_output=True, text=True, env=env, timeout=120)
    assert failed.returncode == 1 and f"Console: {console.url}/runs/" in failed.stderr


def test_a_state_file_of_a_dead_console_is_ignored(tmp_path: Path) -> None:
    from flyte.console.link import console_url, link_for_record, write_state

    write_state(tmp_path, "http://127.0.0.1:1234")
    assert console_url(tmp_path) == "http://127.0.0.1:1234"
    assert link_for_record((tmp_path / "r1").as_uri()) == "http://127.0.0.1:1234/runs/r1"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    doc = json.loads((tmp_path / ".console.json").read_text())
    (tmp_path / ".console.json").write_text(json.dumps(dict(doc, pid=dead.pid, pid_start=None)))
    assert console_url(tmp_path) is None
    assert link_for_record("https://example.com/x") is None


def test_a_damaged_record_is_a_500_naming_the_file_and_the_rest_still_lists(tmp_path: Path, run_sample: Any) -> None:
    from flyte.console.api import ConsoleApp

    base = tmp_path / "runs"
    good = run_sample(base, "fanout", name="good", n=2)
    bad = run_sample(base, "fanout", name="bad", n=2)
    (base / bad / "actions.db").write_bytes(b"this is not sqlite" * 100)
    (base / "half").mkdir()
    (base / "half" / "run.json").write_text("{not json")
    app = ConsoleApp(LocalRunStore(base))
    r = app.handle("GET", f"/api/runs/{bad}", "", {})
    assert r.status == 500 and "actions.db" in json.loads(r.body)["error"]
    r = app.handle("GET", "/api/runs", "", {})
    assert r.status == 200 and {x["name"] for x in json.loads(r.body)["runs"]} == {good, bad}
    assert app.handle("GET", "/api/runs/half", "", {}).status == 404


@pytest.mark.slow
def test_live_updates_follow_a_running_run(tmp_path: Path, run_sample: Any) -> None:
    """While a run goes, `since` answers carry it RUNNING with its actions as they are recorded, then its end."""
    import threading

    base = tmp_path / "runs"
    base.mkdir()
    store = LocalRunStore(base)
    _, cursor = store.list_runs()
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(run_sample(base, "slow", name="going", seconds=2.4,
                                                                    children=3)))
    worker.start()
    seen_running = False
    run_cursor = None
    names_seen: set[str] = set()
    inputs_seen: list[Any] = []
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:
        runs, cursor = store.list_runs(since=cursor)
        if any(r["name"] == "going" and r["phase"] == "RUNNING" for r in runs):
            seen_running = True
            summary, actions, run_cursor = store.get_run("going", since=run_cursor)
            assert summary["phase"] == "RUNNING" and summary["end"] is None
            names_seen |= {a["name"] for a in actions}
            if "a0" in names_seen:
                inputs_seen.append(summary["inputs"])
                running_child = [a["name"] for a in actions if a["name"] != "a0" and a["phase"] == "RUNNING"]
                if running_child:
                    inputs_seen.append(store.get_action("going", running_child[0])["inputs"])
        time.sleep(0.2)
    worker.join(30)
    assert done == ["going"] and seen_running
    assert len(names_seen) >= 2, names_seen  # the root and a running or finished child at least, while it ran
    # a running run's inputs are known while it runs (they were "not recorded yet" until its end)
    assert inputs_seen and all(x is not None for x in inputs_seen), inputs_seen
    assert {"name": "children", "type": "int", "value": "3", "uri": None} in inputs_seen[0]
    runs, _ = store.list_runs(since=cursor)
    (final,) = [r for r in runs if r["name"] == "going"]
    assert final["phase"] == "SUCCEEDED" and final["actions"] == {"total": 4, "SUCCEEDED": 4}
    summary, actions, _ = store.get_run("going", since=run_cursor)
    assert summary["phase"] == "SUCCEEDED" and {a["phase"] for a in actions} == {"SUCCEEDED"}
