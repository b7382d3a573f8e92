"""What a task body must not do in the sandbox, each failing clearly; the host and the next task are fine."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import flyte
import pytest
from flyte.errors import RuntimeUserError, SandboxError
from flyte_sandbox import Sandbox
from flyte_sandbox.errors import SandboxCrashError, SandboxLimitError

strict = Sandbox(timeout=0.5, memory="32MB", max_recursion_depth=100)
env = flyte.TaskEnvironment(name="sec", sandbox=strict)


@env.task
def read_passwd() -> str:
    return open("/etc/passwd").read()


@env.task
def read_passwd_pathlib() -> str:
    import pathlib

    return pathlib.Path("/etc/passwd").read_text()


@env.task
def write_file(path: str) -> int:
    with open(path, "w") as f:
        return f.write("pwned")


@env.task
def list_root() -> list[str]:
    import os

    return os.listdir("/")


@env.task
def open_socket() -> int:
    import socket

    return socket.socket().fileno()


@env.task
def run_shell() -> int:
    import os

    return os.system("touch /tmp/flyte-sandbox-pwned")


@env.task
def run_subprocess() -> str:
    return subprocess.check_output(["id"]).decode()


@env.task
def read_secret() -> str:
    import os

    return os.getenv("FLYTE_TEST_SECRET", "none")


@env.task
def read_environ() -> dict[str, str]:
    import os

    return dict(os.environ)


@env.task
def import_outside() -> str:
    import ctypes

    return str(ctypes.c_int(1))


@env.task
def escape_via_dunder() -> str:
    return str((1).__class__.__bases__[0].__subclasses__())


@env.task
def spin() -> int:
    n = 0
    while True:
        n += 1


@env.task
def memory_bomb() -> int:
    chunks = []
    while True:
        chunks.append("x" * 1_000_000)


@env.task
def deep(n: int) -> int:
    return 0 if n == 0 else 1 + deep_helper(n - 1)


def deep_helper(n: int) -> int:
    return 0 if n == 0 else 1 + deep_helper(n - 1)


@env.task
def healthy(x: int) -> int:
    return x + 1


@env.task
async def fan_out_with_a_spinner(n: int) -> list[str]:
    out = []
    async for r in flyte.map.aio(maybe_spin, range(n)):
        out.append(("limit: " + str(r).split(" exceeded ")[1].split(";")[0]) if isinstance(r, Exception) else str(r))
    return out


@env.task
def maybe_spin(x: int) -> int:
    while x == 2:
        x = x
    return x


def _next_task_is_fine(sandbox_run):
    assert sandbox_run(healthy, x=41) == (42,)


def test_cannot_read_files(sandbox_run):
    for task in (read_passwd, read_passwd_pathlib):
        with pytest.raises(RuntimeUserError, match=r"PermissionError: sandbox: no access to '/etc/passwd'"):
            sandbox_run(task)
    with pytest.raises(RuntimeUserError, match=r"PermissionError: sandbox: no access to '/'"):
        sandbox_run(list_root)
    _next_task_is_fine(sandbox_run)


def test_cannot_write_files(sandbox_run, tmp_path):
    target = tmp_path / "pwned.txt"
    with pytest.raises(RuntimeUserError, match="PermissionError: sandbox: no access"):
        sandbox_run(write_file, path=str(target))
    assert not target.exists()
    _next_task_is_fine(sandbox_run)


@pytest.mark.parametrize("task, words", [
    (open_socket, "imports 'socket', which the sandbox does not provide"),
    (run_shell, "os.system is not available in the sandbox"),
    (run_subprocess, "uses module 'subprocess', which the sandbox does not provide"),
    (import_outside, "imports 'ctypes', which the sandbox does not provide"),
])
def test_no_network_no_processes_no_other_modules(sandbox_run, task, words):
    with pytest.raises(SandboxError, match=rf"Task '{task.name}' cannot run in the sandbox \(test_security.py:\d+\)"):
        sandbox_run(task)
    with pytest.raises(SandboxError, match=words):
        sandbox_run(task)
    assert not os.path.exists("/tmp/flyte-sandbox-pwned")
    _next_task_is_fine(sandbox_run)


def test_no_environment_secrets(sandbox_run, monkeypatch):
    monkeypatch.setenv("FLYTE_TEST_SECRET", "hunter2")
    with pytest.raises(RuntimeUserError, match="'FLYTE_TEST_SECRET' is not granted") as e:
        sandbox_run(read_secret)
    assert "hunter2" not in str(e.value)
    assert sandbox_run(read_environ) == ({},)
    _next_task_is_fine(sandbox_run)


def test_no_escape_through_object_internals(sandbox_run):
    with pytest.raises(RuntimeUserError, match="AttributeError"):
        sandbox_run(escape_via_dunder)
    _next_task_is_fine(sandbox_run)


def test_infinite_loop_hits_the_time_limit(sandbox_run):
    with pytest.raises(SandboxLimitError, match=r"task 'sec.spin' \(action a0\) exceeded the sandbox time limit "
                                                r"of 0.5 s") as e:
        sandbox_run(spin)
    assert e.value.limit == "time"
    _next_task_is_fine(sandbox_run)


def test_memory_bomb_hits_the_memory_limit(sandbox_run):
    with pytest.raises(SandboxLimitError, match=r"task 'sec.memory_bomb' \(action a0\) exceeded the sandbox "
                                                r"memory limit of 32 MB"):
        sandbox_run(memory_bomb)
    _next_task_is_fine(sandbox_run)


def test_deep_recursion_hits_the_depth_limit(sandbox_run):
    with pytest.raises(SandboxLimitError, match=r"task 'sec.deep' \(action a0\) exceeded the sandbox recursion "
                                                r"depth limit of 100"):
        sandbox_run(deep, n=10_000)
    assert sandbox_run(deep, n=50) == (50,)
    _next_task_is_fine(sandbox_run)


def test_one_bad_child_in_a_fan_out(sandbox_run):
    """Children share feeds when they can; the one that spins is reported alone, the others succeed."""
    assert sandbox_run(fan_out_with_a_spinner, n=5) == (["0", "1", "limit: the sandbox time limit of 0.5 s", "3", "4"],)


def _children() -> list[str]:
    """``pid (name) state`` of every process whose parent is this one (the sandbox's workers are)."""
    me = str(os.getpid())
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split()
        except OSError:
            continue
        if fields[3] == me:
            out.append(" ".join(fields[:3]))
    return out


def _host_state() -> tuple[int, int, int, float]:
    """Python threads, OS threads, open file descriptors, resident memory (MB) of this process."""
    rss_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return (threading.active_count(), len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd")),
            rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_host_process_stays_healthy(sandbox_run):
    """All of the above in one process, then a fan-out: the host still works and owns no stray workers.

    Healthy means: no worker process is left (alive or unreaped) once the runs end, no threads or file
    descriptors leak, the memory bomb's memory never lands in the host, and a fan-out still runs.
    """
    # Services other tests of this session started (moto, a devbox ...) are children too: not ours.
    others = set(_children())
    _next_task_is_fine(sandbox_run)  # warm-up: imports, plugin lookup, the runtime's own threads
    threads, os_threads, fds, rss = _host_state()
    assert sorted(set(_children()) - others) == []
    for task in (spin, memory_bomb, read_passwd, read_secret, escape_via_dunder, huge_power):
        with pytest.raises(FlyteErrorTypes):
            sandbox_run(task)
    with pytest.raises(SandboxLimitError):
        sandbox_run(deep, n=10_000)
    assert sandbox_run(fan_out_with_a_spinner, n=5) == (["0", "1", "limit: the sandbox time limit of 0.5 s", "3",
                                                        "4"],)
    assert sandbox_run(healthy, x=1) == (2,)
    deadline = time.monotonic() + 3
    while set(_children()) - others and time.monotonic() < deadline:  # a closed pool's workers exit on their own
        time.sleep(0.05)
    assert sorted(set(_children()) - others) == [], "sandbox workers outlived their run"
    now_threads, now_os_threads, now_fds, now_rss = _host_state()
    assert now_threads == threads, "Python threads leaked"
    assert now_os_threads <= os_threads + 2, f"OS threads leaked: {os_threads} -> {now_os_threads}"
    assert now_fds <= fds + 2, f"file descriptors leaked: {fds} -> {now_fds}"
    assert now_rss - rss < 24, f"host memory grew by {now_rss - rss:.0f} MB"
    assert asyncio.run(asyncio.sleep(0, result="loop ok")) == "loop ok"


FlyteErrorTypes = (RuntimeUserError, SandboxError)


def test_process_exits_cleanly_after_sandbox_runs(tmp_path):
    """The interpreter exits with status 0 after using the sandbox (pydantic-monty 1.4 needs a pause at exit)."""
    code = (
        "import flyte, flyte_sandbox.hooks\n"
        "from flyte.plugins import isolated_plugins\n"
        "env = flyte.TaskEnvironment(name='exit')\n"
        "@env.task\n"
        "def one(x: int) -> int:\n"
        "    return x\n"
        "with isolated_plugins(('sandbox', flyte_sandbox.hooks)):\n"
        "    assert flyte.with_runcontext(mode='sandbox').run(one, x=1).outputs() == (1,)\n"
    )
    script = tmp_path / "exit_check.py"
    script.write_text(code)
    envvars = {**os.environ, "FLYTE_HOME": str(tmp_path / "home")}
    for _ in range(5):
        subprocess.run([sys.executable, str(script)], check=True, env=envvars, cwd=tmp_path)


@env.task
def naps() -> int:
    import time

    time.sleep(0.4)
    return 1


def _kill_workers_soon(delay: float) -> threading.Thread:
    """Kill this process's monty workers after ``delay`` seconds (as an OOM killer or a segfault would)."""

    def kill() -> None:
        time.sleep(delay)
        me = str(os.getpid())
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().split()
            except OSError:
                continue
            if fields[1] == "(monty)" and fields[3] == me:
                os.kill(int(fields[0]), signal.SIGKILL)

    t = threading.Thread(target=kill, daemon=True)
    t.start()
    return t


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_dead_worker_is_reported_and_replaced(sandbox_run):
    killer = _kill_workers_soon(0.15)
    with pytest.raises(SandboxCrashError, match=r"task 'sec.naps' \(action a0\) failed: the sandbox worker died"):
        sandbox_run(naps)
    killer.join()
    _next_task_is_fine(sandbox_run)


@env.task(sandbox=Sandbox(timeout=1, memory="1GB"))
def huge_power() -> int:
    return len(str(7 ** (10**8)))


def test_one_long_operation_is_the_time_limit_not_a_crash(sandbox_run):
    """A single operation the sandbox cannot interrupt is stopped by the pool: reported as the time limit."""
    started = time.perf_counter()
    with pytest.raises(SandboxLimitError, match=r"task 'sec.huge_power' \(action a0\) exceeded the sandbox time "
                                                r"limit of 1 s") as e:
        sandbox_run(huge_power)
    assert time.perf_counter() - started < 2.5
    assert e.value.limit == "time"
    assert "worker died" not in str(e.value)
    _next_task_is_fine(sandbox_run)


@env.task(retries=3)
def spin_with_retries() -> int:
    n = 0
    while True:
        n += 1


def test_a_limit_hit_is_not_retried(sandbox_run):
    """Limits are deterministic: a limit hit fails the task at once, whatever retries= says."""
    started = time.perf_counter()
    with pytest.raises(SandboxLimitError, match="exceeded the sandbox time limit of 0.5 s") as e:
        sandbox_run(spin_with_retries)
    assert "attempts" not in str(e.value)
    assert time.perf_counter() - started < 1.8


@env.task
def environ_get() -> str:
    import os

    return str(os.environ.get("HOME"))


@env.task
def environ_item() -> str:
    import os

    return os.environ["HOME"]


@env.task(sandbox=Sandbox(env=["FLYTE_TEST_GRANTED", "FLYTE_TEST_UNSET"]))
def environ_granted() -> list[str]:
    import os

    out = [os.environ["FLYTE_TEST_GRANTED"], os.environ.get("FLYTE_TEST_GRANTED", "?"),
           str(os.environ.get("FLYTE_TEST_UNSET", "unset"))]
    try:
        os.environ["FLYTE_TEST_UNSET"]
    except KeyError:
        out.append("KeyError")
    except PermissionError as e:
        out.append(str(e).split(":")[0])
    return out


def test_environ_get_and_item_are_checked_like_getenv(sandbox_run, monkeypatch):
    monkeypatch.setenv("FLYTE_TEST_GRANTED", "yes")
    monkeypatch.delenv("FLYTE_TEST_UNSET", raising=False)
    for task in (environ_get, environ_item):
        with pytest.raises(RuntimeUserError, match=r"PermissionError.*environment variable 'HOME' is not granted"):
            sandbox_run(task)
    assert sandbox_run(environ_granted) == (["yes", "yes", "unset", "KeyError"],)
