"""`flyte get runs` / `flyte get run`: listings people can use (names never cut, failures first,
filters, one action with its traceback, a live view), checked on real run records as a user sees
them: piped, and on an 80-column terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flyte._builtin.local.records import ActionRecord, RunRecord, write_actions
from flyte.cli.table import Column, render, wrap
from flyte.runtime import Phase

FLYTE = [sys.executable, "-m", "flyte.cli.main"]
LONG = "a-very-long-run-name-that-must-never-be-truncated-0042"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def make_run(base: Path, name: str, n: int = 3, fail_at: int | None = None, phase: Phase = Phase.SUCCEEDED,
             start: float | None = None) -> RunRecord:
    d = base / name
    d.mkdir(parents=True, exist_ok=True)
    t0 = start or time.time() - 100
    task = "an_environment_with_a_long_name.main"
    rec = RunRecord(name=name, task=task, directory=d, phase=phase, start=t0,
                    end=0.0 if phase == Phase.RUNNING else t0 + 5)
    acts = [ActionRecord(name="a0", task=task, parent=None, phase=phase, attempts=1, start=t0,
                         end=rec.end)]
    for i in range(1, n):
        failed = i == fail_at
        acts.append(ActionRecord(
            name=f"a{i}", task="an_environment_with_a_long_name.leaf", parent="a0",
            phase=Phase.FAILED if failed else Phase.SUCCEEDED, attempts=2 if failed else 1,
            start=t0 + i * 0.01, end=t0 + i * 0.01 + 0.5,
            error=(f"ValueError: bad value {i}, a long message that has to wrap in a narrow terminal"
                   if failed else None),
            traceback=(f'Traceback (most recent call last):\n  File "wf.py", line 7, in leaf\n'
                       f"    raise ValueError(x)\nValueError: bad value {i}") if failed else None,
        ))
    if fail_at is not None and phase == Phase.FAILED:
        rec.error = f"Task an_environment_with_a_long_name.leaf (action a{fail_at}) failed: ValueError"
    rec.counts = {"succeeded": n - (fail_at is not None)} | ({"failed": 1} if fail_at is not None else {})
    rec.write()
    write_actions(d, acts)
    return rec


def flyte(*args: str, base: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, FLYTE_LOCAL_RUNS_DIR=str(base), **(env or {}))
    return subprocess.run([*FLYTE, *args], capture_output=True, text=True, env=e, timeout=60)


def on_terminal(*args: str, base: Path, columns: int = 80) -> list[str]:
    """Run flyte with stdout on a pseudo-terminal COLUMNS wide; the lines it drew, colors removed."""
    import pty

    leader, follower = pty.openpty()
    e = dict(os.environ, FLYTE_LOCAL_RUNS_DIR=str(base), COLUMNS=str(columns), TERM="xterm")
    p = subprocess.Popen([*FLYTE, *args], stdout=follower, stderr=subprocess.PIPE, env=e)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=60)
    os.close(leader)
    return [ANSI.sub("", line) for line in b"".join(chunks).decode().replace("\r\n", "\n").splitlines()]


@pytest.fixture
def base(tmp_path: Path) -> Path:
    b = tmp_path / "runs"
    make_run(b, LONG, n=300, fail_at=250, phase=Phase.FAILED, start=time.time() - 50)
    for i in range(3):
        make_run(b, f"nightly-{i}", start=time.time() - 200 + i)
    return b


# -- the table renderer ------------------------------------------------------------------------


def test_render_never_cuts_what_does_not_wrap_and_wraps_the_rest() -> None:
    cols = [Column("name"), Column("task", wrap=True, min_width=6), Column("error", wrap=True, min_width=6)]
    rows = [[LONG, "env.some_task_name", "ValueError: something went wrong here"]]
    lines = render(cols, rows, width=80)
    assert LONG in lines[1]
    assert all(len(ANSI.sub("", x)) <= 80 for x in lines)
    assert len(lines) > 2  # task and error wrapped onto more lines
    assert "".join(ANSI.sub("", x)[len(LONG) + 2:].split()[0] for x in lines[1:3]).startswith("env.some_task")
    # without a width (not a terminal) every row stays on one line
    assert len(render(cols, rows, width=None)) == 2
    # narrower than the name: the name is still whole
    assert LONG in render(cols, rows, width=30)[1]


def test_wrap_breaks_after_punctuation() -> None:
    assert wrap("an_environment.leaf_task", 16) == ["an_environment.", "leaf_task"]
    assert wrap("x" * 10, 4) == ["xxxx", "xxxx", "xx"]


# -- get runs ----------------------------------------------------------------------------------


def test_get_runs_piped_shows_whole_names_one_per_line(base: Path) -> None:
    p = flyte("get", "runs", base=base, env={"COLUMNS": "40"})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "task", "phase"]
    assert lines[1].split()[0] == LONG  # newest first
    assert [x.split()[0] for x in lines[2:]] == ["nightly-2", "nightly-1", "nightly-0"]
    assert "\x1b[" not in p.stdout


def test_get_runs_on_an_80_column_terminal_wraps_other_columns(base: Path) -> None:
    # short names: one row per run, the task column wraps
    short = base.parent / "short"
    make_run(short, "nightly-1")
    lines = on_terminal("get", "runs", base=short, columns=70)
    assert all(len(line) <= 70 for line in lines), lines
    assert lines[1].startswith("nightly-1  an_environ"), lines
    assert re.search(r"\d\d:\d\d:\d\d$", lines[2].rstrip()) or re.search(r" \d\d:\d\d:\d\d ", lines[2]), lines
    assert "an_environment_with_a_long_name.main" not in "\n".join(lines)  # wrapped, not cut
    # a name too long for a row of its own with the rest: it gets its own line, whole
    lines = on_terminal("get", "runs", base=base)
    assert LONG in lines, lines
    assert all(len(line) <= 80 for line in lines), lines
    assert any(x.startswith("  an_environment_with_a_long") for x in lines), lines


def test_get_runs_says_when_limit_cut_the_list(base: Path) -> None:
    p = flyte("get", "runs", "--limit", "2", base=base)
    assert len(p.stdout.splitlines()) == 3
    assert "Showing the newest 2 of 4 runs; --limit 4 shows all." in p.stderr
    assert "Showing" not in flyte("get", "runs", base=base).stderr
    rows = json.loads(flyte("get", "runs", "--limit", "2", "-o", "json", base=base).stdout)
    assert [r["name"] for r in rows] == [LONG, "nightly-2"]


# -- get run -----------------------------------------------------------------------------------


def test_get_run_lists_failed_actions_first_even_past_the_limit(base: Path) -> None:
    p = flyte("get", "run", LONG, "--limit", "5", base=base)
    assert p.returncode == 0, p.stderr
    rows = [x.split()[0] for x in p.stdout.splitlines() if re.match(r"a\d+\s", x)]
    assert rows == ["a0", "a250", "a1", "a2", "a3"]
    assert "Actions (300), failed first" in p.stdout
    assert "... 295 more; --limit 300 shows all" in p.stdout
    assert "bad value 250, a long message that has to wrap in a narrow terminal" in p.stdout


def test_get_run_phase_filter(base: Path) -> None:
    p = flyte("get", "run", LONG, "--phase", "failed", base=base)
    rows = [x.split()[0] for x in p.stdout.splitlines() if re.match(r"a\d+\s", x)]
    assert rows == ["a0", "a250"]
    assert "Failed actions (2 of 300)" in p.stdout
    p = flyte("get", "run", LONG, "--phase", "running", base=base)
    assert "No running actions (of 300)." in p.stdout
    doc = json.loads(flyte("get", "run", LONG, "--phase", "FAILED", "-o", "json", base=base).stdout)
    assert [a["name"] for a in doc["actions"]] == ["a0", "a250"]
    bad = flyte("get", "run", LONG, "--phase", "exploded", base=base)
    assert bad.returncode == 2 and "exploded" in bad.stderr


def test_get_run_action_shows_its_traceback(base: Path) -> None:
    p = flyte("get", "run", LONG, "--action", "a250", base=base)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "a250 of run " + LONG in out and "FAILED" in out and "attempts 2" in out
    assert "traceback:" in out and 'File "wf.py", line 7, in leaf' in out and "ValueError: bad value 250" in out
    doc = json.loads(flyte("get", "run", LONG, "--action", "a250", "-o", "json", base=base).stdout)
    assert doc["traceback"].endswith("ValueError: bad value 250") and doc["parent"] == "a0"
    missing = flyte("get", "run", LONG, "--action", "a999", base=base)
    assert missing.returncode == 1 and "has no action 'a999'; it has a0, a1" in missing.stderr


def test_get_run_on_an_80_column_terminal(base: Path) -> None:
    lines = on_terminal("get", "run", LONG, "--limit", "3", base=base)
    table = lines[lines.index(next(x for x in lines if x.startswith("action "))):]
    assert all(len(x) <= 80 for x in table), table
    text = "\n".join(table)
    assert "ValueError: bad" in text and "value 250, a long" in text  # the error wraps in its column


def test_watch_waits_for_a_running_run_and_shows_its_end(tmp_path: Path) -> None:
    base = tmp_path / "runs"
    rec = make_run(base, "live", n=4, phase=Phase.RUNNING)  # owned by this (living) process
    e = dict(os.environ, FLYTE_LOCAL_RUNS_DIR=str(base))
    p = subprocess.Popen([*FLYTE, "get", "run", "live", "--watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=e)
    time.sleep(1.0)
    assert p.poll() is None, p.communicate()  # still watching
    rec.phase = Phase.SUCCEEDED
    rec.end = time.time()
    rec.write()
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert "live" in out and "SUCCEEDED" in out


def test_watch_on_a_terminal_redraws_until_the_end(tmp_path: Path) -> None:
    import threading

    base = tmp_path / "runs"
    rec = make_run(base, "live", n=4, phase=Phase.RUNNING)

    def finish() -> None:
        time.sleep(1.5)
        rec.phase = Phase.SUCCEEDED
        rec.end = time.time()
        rec.write()

    threading.Thread(target=finish, daemon=True).start()
    text = "\n".join(on_terminal("get", "run", "live", "--watch", base=base))
    assert "watching; refreshed" in text  # the live view was drawn while the run went
    assert "SUCCEEDED" in text


SLOW = '''
import asyncio
import flyte
env = flyte.TaskEnvironment(name="slow")

@env.task
async def step(i: int) -> int:
    await asyncio.sleep(0.15 * i)
    if i == 3:
        raise ValueError("step 3 broke")
    return i

@env.task
async def main(n: int) -> int:
    r = await asyncio.gather(*(step(i) for i in range(n)), return_exceptions=True)
    return sum(x for x in r if isinstance(x, int))
'''


@pytest.mark.slow
def test_a_real_run_is_readable_while_it_goes_and_watch_follows_it(tmp_path: Path) -> None:
    wf = tmp_path / "slow.py"
    wf.write_text(SLOW)
    base = tmp_path / "runs"
    e = dict(os.environ, FLYTE_LOCAL_RUNS_DIR=str(base))
    run = subprocess.Popen([*FLYTE, "run", "--name", "livex", str(wf), "main", "--n", "12"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    try:
        deadline = time.time() + 30
        doc: dict[str, object] = {}
        while time.time() < deadline:
            p = flyte("get", "run", "livex", "-o", "json", base=base)
            if p.returncode == 0:
                doc = json.loads(p.stdout)
                if doc["phase"] == "RUNNING" and len(doc["actions"]) > 1:  # type: ignore[arg-type]
                    break
            time.sleep(0.1)
        assert doc.get("phase") == "RUNNING", doc
        watched = flyte("get", "run", "livex", "--watch", base=base)
        assert watched.returncode == 0, watched.stderr
        assert "SUCCEEDED" in watched.stdout.splitlines()[0]
        rows = [x.split()[0] for x in watched.stdout.splitlines() if re.match(r"a\d+\s", x)]
        assert rows[0] == "a4" and len(rows) == 13  # the failed action first
        one = flyte("get", "run", "livex", "--action", "a4", base=base).stdout
        assert "ValueError: step 3 broke" in one and "line 10, in step" in one
    finally:
        run.communicate(timeout=30)
