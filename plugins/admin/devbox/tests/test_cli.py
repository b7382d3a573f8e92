"""`flyte devbox start|status|stop|serve` through the real flyte CLI (plugin loaded by its entry point)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FLYTE = shutil.which("flyte", path=str(Path(sys.executable).parent)) or "flyte"


def cli(*args: str, home: Path, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
    env.update(HOME=str(home), FLYTE_HOME=str(home / ".flyte"))
    return subprocess.run([FLYTE, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd or home)


def test_help_lists_the_commands(tmp_path):
    out = cli("devbox", "--help", home=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("serve", "start", "stop", "status"):
        assert name in out.stdout


@pytest.mark.slow
def test_start_writes_config_status_and_stop(tmp_path):
    data = tmp_path / "box"
    out = cli("devbox", "start", "--port", "0", "--data", str(data), home=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "running on http://127.0.0.1:" in out.stdout
    config = tmp_path / ".flyte" / "config.yaml"
    text = config.read_text()
    assert "endpoint: dns:///127.0.0.1:" in text and "insecure: true" in text
    try:
        st = cli("devbox", "status", "--data", str(data), home=tmp_path)
        assert st.returncode == 0 and "running on" in st.stdout
        again = cli("devbox", "start", "--port", "0", "--data", str(data), home=tmp_path)
        assert "already running" in again.stdout
        # The written config is what the CLI then uses (flyte-grpc's transport, no flags).
        projects = cli("get", "projects", home=tmp_path)
        assert projects.returncode == 0 and "flytesnacks" in projects.stdout, projects.stdout + projects.stderr
    finally:
        stop = cli("devbox", "stop", "--data", str(data), home=tmp_path)
    assert stop.returncode == 0 and "Stopped" in stop.stdout
    # The config it wrote still names the stopped devbox: say so (and how to get on).
    assert f"{config} still points the flyte CLI at it" in stop.stdout and "--local" in stop.stdout
    st = cli("devbox", "status", "--data", str(data), home=tmp_path)
    assert st.returncode == 1 and "not running" in st.stdout


@pytest.mark.slow
def test_start_never_replaces_a_users_config(tmp_path):
    config = tmp_path / ".flyte" / "config.yaml"
    config.parent.mkdir(parents=True)
    mine = "admin:\n  endpoint: dns:///my.cluster:443\n"
    config.write_text(mine)
    data = tmp_path / "box"
    out = cli("devbox", "start", "--port", "0", "--data", str(data), home=tmp_path)
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert config.read_text() == mine
        assert "left alone" in out.stdout and str(data / "config.yaml") in out.stdout
        assert "dns:///127.0.0.1:" in (data / "config.yaml").read_text()
    finally:
        cli("devbox", "stop", "--data", str(data), home=tmp_path)


def test_serve_refuses_unusable_storage_and_a_taken_port(tmp_path):
    out = cli(
        "devbox", "serve", "--port", "0", "--data", str(tmp_path / "b"), "--storage", "nosuch://bucket/x", home=tmp_path
    )
    assert out.returncode != 0 and "--storage" in out.stderr
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        port = s.getsockname()[1]
        out = cli("devbox", "serve", "--port", str(port), "--data", str(tmp_path / "b"), home=tmp_path)
        assert out.returncode != 0 and "pick another --port" in out.stderr
    finally:
        s.close()


@pytest.mark.slow
def test_actions_find_the_devboxs_own_worker_without_an_activated_environment(tmp_path):
    """`flyte devbox start` from a virtualenv that is not on PATH: actions still find its scripts."""
    import grpc
    from flyte_devbox.testing import DevboxProcess, project_id, wait_phase
    from flyteidl2.common import phase_pb2
    from flyteidl2.task import task_definition_pb2 as td
    from flyteidl2.workflow import run_service_pb2 as rs
    from flyteidl2.workflow import run_service_pb2_grpc as rsg

    bare = "/usr/bin:/bin"
    if shutil.which("flyte", path=bare):
        pytest.skip("a flyte script is installed system-wide")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
    env.update(PATH=bare, HOME=str(tmp_path), FLYTE_HOME=str(tmp_path / ".flyte"))
    with DevboxProcess(tmp_path / "box", env=env) as box, grpc.insecure_channel(box.endpoint) as ch:
        spec = td.TaskSpec()
        spec.task_template.id.name = "v"
        spec.task_template.container.args.extend(["flyte", "--version"])
        stub = rsg.RunServiceStub(ch)
        run = stub.CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=spec))
        done = {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED}
        d = wait_phase(stub, run.run.action.id.run, done)
        assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action.error_info.message


@pytest.mark.slow
def test_start_leaves_a_users_config_yml_alone(tmp_path):
    """~/.flyte/config.yml is the user's config too: a config.yaml written next to it would shadow it."""
    mine = tmp_path / ".flyte" / "config.yml"
    mine.parent.mkdir(parents=True)
    mine.write_text("admin:\n  endpoint: dns:///my.cluster:443\n")
    data = tmp_path / "box"
    out = cli("devbox", "start", "--port", "0", "--data", str(data), home=tmp_path)
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert not (tmp_path / ".flyte" / "config.yaml").exists()
        assert "left alone" in out.stdout and str(mine) in out.stdout
        assert "dns:///127.0.0.1:" in (data / "config.yaml").read_text()
    finally:
        cli("devbox", "stop", "--data", str(data), home=tmp_path)


@pytest.mark.slow
def test_start_says_when_another_config_is_read_first(tmp_path):
    """~/.union/config.yaml comes before ~/.flyte/config.yaml in the search order: no false "now talks to it"."""
    union = tmp_path / ".union" / "config.yaml"
    union.parent.mkdir(parents=True)
    union.write_text("admin:\n  endpoint: dns:///my.cluster:443\n")
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    data = tmp_path / "box"
    out = cli("devbox", "start", "--port", "0", "--data", str(data), home=tmp_path, cwd=elsewhere)
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert "now talks to the devbox" not in out.stdout
        assert f"reads {union} before it" in out.stdout and "flyte -c" in out.stdout
    finally:
        cli("devbox", "stop", "--data", str(data), home=tmp_path)


def test_stop_never_signals_a_process_that_is_not_the_devbox(tmp_path):
    """devbox.json outlives a killed devbox; its pid may belong to another process by the time of `stop`."""
    import json

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        data = tmp_path / "box"
        data.mkdir()
        state = {"endpoint": "127.0.0.1:1", "url": "http://127.0.0.1:1", "pid": other.pid}
        (data / "devbox.json").write_text(json.dumps(state))
        out = cli("devbox", "stop", "--data", str(data), home=tmp_path)
        assert out.returncode == 0 and "not running" in out.stdout, out.stdout + out.stderr
        assert other.poll() is None, "stop killed an unrelated process"
        assert not (data / "devbox.json").exists()
    finally:
        other.kill()
        other.wait()
