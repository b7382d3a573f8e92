"""``flyte.run(...)`` called from a user's program (sync, main thread) stops like `flyte run` (review R1-12):
Ctrl-C ends it within about a second even when an async body holds the CPU, the record says ABORTED and the
caller gets KeyboardInterrupt; SIGTERM writes the record and ends the process with 143; the caller's own
signal handlers are respected and restored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    import flyte

    env = flyte.TaskEnvironment(name="lib")
    MARK = Path(os.environ["STOP_MARK"])

    @env.task
    async def hog(seconds: float = 30.0) -> int:
        MARK.write_text("started")
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # holds the event loop
            pass
        return 1

    @env.task
    async def quick() -> int:
        return 1

    if __name__ == "__main__":
        what = sys.argv[1]
        if what == "restore":
            def mine(signum, frame):
                pass
            signal.signal(signal.SIGTERM, mine)
            before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
            flyte.with_runcontext(name="restore").run(quick)
            after = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
            print("restored" if before == after else f"changed {before} -> {after}", flush=True)
            sys.exit(0)
        try:
            flyte.with_runcontext(name=what).run(hog)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
            again = flyte.with_runcontext(name=what + "-again").run(quick)  # the program goes on
            print("again", again.phase.value, again.outputs()[0], flush=True)
            sys.exit(7)
        print("returned", flush=True)
    """
)


def _start(tmp_path: Path, what: str) -> tuple[subprocess.Popen[str], Path]:
    prog = tmp_path / "libprog.py"
    prog.write_text(PROGRAM)
    mark = tmp_path / f"{what}.mark"
    env = dict(os.environ, PYTHONUNBUFFERED="1", STOP_MARK=str(mark))
    proc = subprocess.Popen([sys.executable, str(prog), what], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    return proc, mark


def _signal_after_start(proc: subprocess.Popen[str], mark: Path, sig: int, wait_for) -> tuple[str, str, float]:
    try:
        wait_for(lambda: mark.exists() or proc.poll() is not None, timeout=30, what="the body to start")
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        return out, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_ctrl_c_stops_a_cpu_bound_async_body_and_raises_keyboard_interrupt(tmp_path: Path, runs_base: Path,
                                                                           wait_for) -> None:
    proc, mark = _start(tmp_path, "lib-int")
    out, err, took = _signal_after_start(proc, mark, signal.SIGINT, wait_for)
    assert took < 2.0, f"exited {took:.2f}s after Ctrl-C\n{err}"
    assert proc.returncode == 7 and "KeyboardInterrupt" in out, (proc.returncode, out, err)
    assert "again SUCCEEDED 1" in out, (out, err)
    record = json.loads((runs_base / "lib-int" / "run.json").read_text())
    assert record["phase"] == "ABORTED", record
    assert "interrupted" in (record["error"] or ""), record


def test_sigterm_records_the_run_and_ends_with_143(tmp_path: Path, runs_base: Path, wait_for) -> None:
    proc, mark = _start(tmp_path, "lib-term")
    out, err, took = _signal_after_start(proc, mark, signal.SIGTERM, wait_for)
    assert took < 2.0, f"exited {took:.2f}s after SIGTERM\n{err}"
    assert proc.returncode == -signal.SIGTERM, (proc.returncode, out, err)  # died of SIGTERM, as without flyte
    record = json.loads((runs_base / "lib-term" / "run.json").read_text())
    assert record["phase"] == "ABORTED", record
    assert "terminated" in (record["error"] or ""), record


def test_the_callers_signal_handlers_are_kept_and_restored(tmp_path: Path) -> None:
    proc, _ = _start(tmp_path, "restore")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "restored", out
