"""Everything stops: Ctrl-C / SIGTERM end `flyte run` within 2 s whatever the bodies do, after the
record is written; a second Ctrl-C prints no traceback; an abandoned sync body never keeps the
process alive (issue 10, item 2)."""

from __future__ import annotations

import json
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
    import asyncio, os, time
    from pathlib import Path
    import flyte

    env = flyte.TaskEnvironment(name="stop")
    MARK = Path(os.environ["STOP_MARK"])

    @env.task
    async def quick(i: int) -> int:
        return i

    def _spin(seconds: float) -> int:
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:  # CPU-bound pure Python: no sleep, no I/O
            n += 1
        return n

    @env.task
    def cpu_sync(seconds: float) -> int:
        MARK.write_text("started")
        return _spin(seconds)

    @env.task
    async def cpu_async(seconds: float) -> int:
        MARK.write_text("started")
        return _spin(seconds)  # holds the event loop

    @env.task
    async def sleeper(seconds: float) -> int:
        MARK.write_text("started")
        await asyncio.sleep(seconds)
        return 0

    @env.task
    async def fan_then(kind: str, seconds: float = 60.0) -> int:
        done = await asyncio.gather(*(quick(i) for i in range(20)))
        body = {"cpu_sync": cpu_sync.aio, "cpu_async": cpu_async, "sleeper": sleeper}[kind]
        return sum(done) + await body(seconds)

    @env.task(timeout=0.5)
    def slow_sync() -> int:
        return _spin(60.0)

    @env.task
    async def times_out() -> int:
        return await slow_sync.aio()
    """
)


@pytest.fixture
def program(tmp_path: Path) -> Path:
    p = tmp_path / "stopprog.py"
    p.write_text(PROGRAM)
    return p


def _record(runs_base: Path, name: str) -> dict:
    return json.loads((runs_base / name / "run.json").read_text())


def _stop_case(program: Path, runs_base: Path, start_flyte, wait_for, kind: str, sig: int, name: str,
               second: bool = False) -> tuple[subprocess.CompletedProcess[str], float]:
    mark = program.parent / f"{name}.mark"
    proc = start_flyte("run", "--no-progress", "--name", name, program.name, "fan_then", "--kind", kind,
                       cwd=program.parent, env={"STOP_MARK": str(mark)})
    try:
        wait_for(mark.exists, timeout=30, what=f"the {kind} body to start")
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(sig)
        if second:
            time.sleep(0.05)
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), took


@pytest.mark.parametrize("kind", ["cpu_sync", "cpu_async", "sleeper"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_stops_the_run_within_two_seconds_and_records_it(
    program: Path, runs_base: Path, start_flyte, wait_for, kind: str, sig: int
) -> None:
    name = f"stop-{kind.replace('_', '-')}-{sig}"
    result, took = _stop_case(program, runs_base, start_flyte, wait_for, kind, sig, name)
    assert took < 2.0, f"{kind}: exited {took:.2f}s after the signal\n{result.stderr}"
    assert result.returncode == 128 + sig, result.stderr
    assert f"Run {name} aborted" in result.stderr and f"runs/{name}" in result.stderr  # says where the record is
    assert "Traceback" not in result.stderr, result.stderr
    record = _record(runs_base, name)
    assert record["phase"] == "ABORTED", record
    expected = "interrupted" if sig == signal.SIGINT else "terminated"
    assert expected in (record["error"] or ""), record
    from flyte._builtin.local.records import load_run

    run, actions = load_run(name)
    assert run["phase"] == "ABORTED"
    # the 20 children that finished before the signal are in the record
    assert sum(1 for a in actions if a["task"].endswith("quick") and a["phase"] == "SUCCEEDED") == 20
    assert not any(a["phase"] == "RUNNING" for a in actions)


def test_a_second_ctrl_c_prints_no_traceback(program: Path, runs_base: Path, start_flyte, wait_for) -> None:
    result, took = _stop_case(program, runs_base, start_flyte, wait_for, "cpu_sync", signal.SIGINT, "twice",
                              second=True)
    assert took < 2.0
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert _record(runs_base, "twice")["phase"] == "ABORTED"


def test_a_sync_body_past_its_timeout_is_abandoned_and_does_not_keep_the_process(
    program: Path, runs_base: Path, run_flyte
) -> None:
    started = time.monotonic()
    result = run_flyte("run", "--no-progress", "--name", "abandon", program.name, "times_out",
                       cwd=program.parent, env={"STOP_MARK": str(program.parent / "m")}, timeout=30)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert took < 10, f"the process stayed {took:.1f}s: the abandoned body kept it alive"
    assert "timed out" in result.stderr
    assert result.stderr.count("abandoned") == 1, result.stderr
    assert _record(runs_base, "abandon")["phase"] == "FAILED"


def test_daemon_pool_threads_do_not_block_interpreter_exit(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import time
        from flyte._builtin.local.stopping import DaemonThreadPool
        pool = DaemonThreadPool()
        pool.submit(time.sleep, 60)
        f = pool.submit(lambda: 42)
        assert f.result(timeout=5) == 42
        pool.shutdown(wait=False)
        print("done")
        """
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
    assert time.monotonic() - started < 5


def test_thread_pool_executor_would_have_blocked_exit(tmp_path: Path) -> None:
    """The control: concurrent.futures' pool joins its threads at exit (why DaemonThreadPool exists)."""
    code = (
        "import time\nfrom concurrent.futures import ThreadPoolExecutor\nThreadPoolExecutor().submit(time.sleep, 3)\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert time.monotonic() - started >= 2.5


def test_daemon_pool_reuses_idle_threads_and_caps_them() -> None:
    import threading

    from flyte._builtin.local.stopping import DaemonThreadPool

    pool = DaemonThreadPool(max_workers=3)
    try:
        for _ in range(20):  # one at a time: the idle thread is reused
            assert pool.submit(lambda: 1).result(timeout=5) == 1
        assert len(pool._workers) == 1
        gate = threading.Event()
        futures = [pool.submit(gate.wait, 5) for _ in range(10)]
        time.sleep(0.1)
        assert len(pool._workers) == 3  # never more than max_workers; the rest wait in the queue
        gate.set()
        assert all(f.result(timeout=5) for f in futures)
        assert all(t.daemon for t in pool._workers)
    finally:
        pool.shutdown(wait=True)
