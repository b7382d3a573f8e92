"""A run whose process died reads ABORTED everywhere: its action counts in `flyte get runs` say no action is running."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from flyte._builtin.local.records import ActionRecord, list_runs, load_run, write_actions
from flyte.runtime import Phase


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_counts_of_a_run_whose_process_died_have_nothing_running(runs_base: Path) -> None:
    d = runs_base / "died"
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({
        "name": "died", "task": "t", "phase": "RUNNING", "start": time.time(), "end": 0, "error": None,
        "counts": {}, "pid": _dead_pid(), "pid_start": 1, "host": socket.gethostname(),
    }))
    write_actions(d, [
        ActionRecord("a0", "t", None, phase=Phase.RUNNING, attempts=1, start=time.time()),
        ActionRecord("a1", "c", "a0", phase=Phase.SUCCEEDED, attempts=1, start=time.time(), end=time.time(),
                     outputs={}),
        ActionRecord("a2", "c", "a0", phase=Phase.QUEUED),
    ])
    listed = next(r for r in list_runs() if r["name"] == "died")
    assert listed["phase"] == "ABORTED" and listed["process_died"] is True
    assert listed["counts"] == {"aborted": 2, "succeeded": 1}
    summary, actions = load_run("died")
    assert {a["name"]: a["phase"] for a in actions} == {"a0": "ABORTED", "a1": "SUCCEEDED", "a2": "ABORTED"}
