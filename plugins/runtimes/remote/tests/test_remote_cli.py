"""``flyte run`` on flyte-devbox: remote is the default with an endpoint; outputs, errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PROG = str(Path(__file__).parent / "programs" / "e2e_prog.py")


def _flyte(box: Any, *args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp)}
    return subprocess.run([exe, "--endpoint", box.endpoint, "--insecure", "run", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp)


def test_run_with_an_endpoint_goes_remote_and_prints_outputs(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, PROG, "fan_out", "--n", "5", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "submitted: http://" in r.stderr
    assert "succeeded" in r.stdout and "o0 = 30" in r.stdout
    assert "6 actions: 6 succeeded" in r.stdout


def test_a_failed_run_exits_1_with_the_error(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, PROG, "fail", "--x", "4", tmp=tmp_path)
    assert r.returncode == 1
    assert "failed" in r.stderr and "ValueError: boom 4" in r.stderr


def test_detach_returns_after_submission_with_hints(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, "--detach", PROG, "sleeper", "--seconds", "30", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "abort run" in r.stderr and "get logs" in r.stderr
    name = r.stderr.split("Run ", 1)[1].split(" ", 1)[0]
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    abort = r.stderr.split("abort it:", 1)[1].split()  # the hint's command, as printed
    assert abort[-3:] == ["abort", "run", name]
    a = subprocess.run([exe, "--endpoint", devbox.endpoint, "--insecure", *abort[1:]],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "FLYTE_CONFIG": ""})
    assert a.returncode == 0, a.stderr


def test_follow_streams_the_logs(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, "--follow", PROG, "chatty", "--n", "3", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "line 2 from the task" in r.stdout


def test_local_still_runs_in_process(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, "--local", PROG, "hello", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "hello world" in r.stdout and "submitted" not in r.stderr


def test_ctrl_c_detaches_and_the_run_goes_on(devbox: Any, tmp_path: Path) -> None:
    import signal
    import time

    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path)}
    p = subprocess.Popen([exe, "--endpoint", devbox.endpoint, "--insecure", "run", PROG, "sleeper", "--seconds", "20"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert p.stderr is not None
    first = p.stderr.readline()
    assert "submitted" in first, first
    name = first.split("Run ", 1)[1].split(" ", 1)[0]
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert f"Detached from run {name}" in err and "abort run" in err
    scope = ["--project", "flytesnacks", "--domain", "development"]
    got = subprocess.run([exe, "--endpoint", devbox.endpoint, "--insecure", *scope, "get", "run", name],
                         capture_output=True, text=True, timeout=60, env=env)
    assert got.returncode == 0, got.stderr
    assert "RUNNING" in got.stdout or "QUEUED" in got.stdout, got.stdout  # it went on without us
    subprocess.run([exe, "--endpoint", devbox.endpoint, "--insecure", *scope, "abort", "run", name],
                   capture_output=True, text=True, timeout=60, env=env, check=True)


def test_submission_errors_are_one_line(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, "--name", "twice-the-same", PROG, "hello", tmp=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _flyte(devbox, "--name", "twice-the-same", PROG, "hello", tmp=tmp_path)
    assert r.returncode == 1
    assert "ALREADY_EXISTS" in r.stderr and "pick another name" in r.stderr and "Traceback" not in r.stderr
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path), "FLYTE_ADMIN_RETRIES": "0"}
    down = subprocess.run([exe, "--endpoint", "127.0.0.1:9", "--insecure", "run", PROG, "hello"], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert down.returncode == 1
    lines = [ln for ln in down.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "UNAVAILABLE" in lines[0] and "127.0.0.1:9" in lines[0], down.stderr


_WEB_APP = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"not found"})
'''


def test_an_http2_web_server_instead_of_a_control_plane_is_named(tmp_path: Path) -> None:
    """An endpoint answered by a plain web server (a proxy, a wrong port) is one line saying so,
    not a complaint about image builders (SelectCluster's 404 used to read as 'not the devbox')."""
    import socket
    import time

    (tmp_path / "webapp.py").write_text(_WEB_APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "webapp:app"],
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the web server did not start"
                time.sleep(0.1)
        exe = os.path.join(os.path.dirname(sys.executable), "flyte")
        env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path), "FLYTE_ADMIN_RETRIES": "0"}
        r = subprocess.run([exe, "--endpoint", f"127.0.0.1:{port}", "--insecure", "run", PROG, "hello"],
                           capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "not a Flyte control plane" in lines[0] and f"127.0.0.1:{port}" in lines[0], r.stderr
    assert "builder" not in lines[0]


def test_a_control_plane_lost_while_following_is_one_line_not_a_failed_run(tmp_path: Path) -> None:
    """The devbox stopped while `flyte run` waits: the run did not fail, the connection did; one line says so
    and how to look again (no grpc error repr over five lines)."""
    import time

    from flyte_devbox.testing import DevboxProcess

    box = DevboxProcess(tmp_path / "box", worker_paths=(os.path.dirname(sys.executable),)).start()
    try:
        exe = os.path.join(os.path.dirname(sys.executable), "flyte")
        env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path), "FLYTE_REMOTE_LOST_AFTER": "5"}
        p = subprocess.Popen([exe, "--endpoint", box.endpoint, "--insecure", "run", PROG, "sleeper", "--seconds",
                              "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        time.sleep(4)
    finally:
        box.kill()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1, err
    lines = [ln for ln in err.splitlines() if ln.strip() and "submitted:" not in ln]
    assert "AioRpcError" not in err and "debug_error_string" not in err, err
    assert "failed after" not in err, err
    assert "lost contact with the control plane" in lines[0] and box.endpoint in lines[0], err
    assert "get run" in err, err


def test_a_run_aborted_while_followed_says_aborted_not_failed(devbox: Any, tmp_path: Path) -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path)}
    base = [exe, "--endpoint", devbox.endpoint, "--insecure"]
    p = subprocess.Popen([*base, "run", PROG, "sleeper", "--seconds", "60"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert p.stderr is not None
    name = p.stderr.readline().split()[1]
    subprocess.run([*base, "--project", "flytesnacks", "--domain", "development", "abort", "run", name],
                   capture_output=True, text=True, timeout=60, env=env, check=True)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert f"Run {name} was aborted" in err and "failed" not in err.split("was aborted")[0], err


def test_tls_to_a_plaintext_control_plane_says_insecure(devbox: Any, tmp_path: Path) -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path), "FLYTE_ADMIN_RETRIES": "0"}
    r = subprocess.run([exe, "--endpoint", devbox.endpoint, "run", PROG, "hello"], capture_output=True, text=True,
                       timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "speaks plaintext" in lines[0] and "insecure" in lines[0], r.stderr


def test_get_run_watch_and_logs_follow_give_up_when_the_control_plane_is_gone(tmp_path: Path) -> None:
    import time

    from flyte_devbox.testing import DevboxProcess

    box = DevboxProcess(tmp_path / "box", worker_paths=(os.path.dirname(sys.executable),)).start()
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path), "FLYTE_REMOTE_LOST_AFTER": "4"}
    base = [exe, "--endpoint", box.endpoint, "--insecure", "--project", "flytesnacks", "--domain", "development"]
    try:
        r = subprocess.run([*base, "run", "--detach", PROG, "sleeper", "--seconds", "60"], capture_output=True,
                           text=True, timeout=120, env=env, cwd=tmp_path)
        name = r.stderr.split()[1]
        procs = [subprocess.Popen([*base, "get", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env, cwd=tmp_path)
                 for args in (["run", name, "--watch"], ["logs", name, "--follow"])]
        time.sleep(4)
    finally:
        box.kill()
    for p in procs:
        _, err = p.communicate(timeout=90)
        assert p.returncode == 1, err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "lost contact with the control plane" in lines[0], err
