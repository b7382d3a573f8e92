"""The control-plane CLI commands against a loopback grpc server (in process, and one real `flyte` process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flyte.cli.main import cli
from flyte_grpc.testing import ControlPlane, ThreadedServer, TokenServer


@pytest.fixture
def plane_server():
    srv = ThreadedServer()
    yield srv
    srv.close()


def flyte(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def remote(srv, *args: str, **kw):
    return flyte("--endpoint", srv.endpoint, "--insecure", "--project", "flytesnacks", "--domain", "development",
                 *args, **kw)


def test_get_projects(plane_server):
    r = remote(plane_server, "get", "projects")
    assert r.exit_code == 0, r.output
    assert "flytesnacks" in r.output and "development, staging, production" in r.output
    r = remote(plane_server, "get", "projects", "-o", "json")
    assert json.loads(r.output)[0]["id"] == "flytesnacks"


def test_create_project_then_duplicate(plane_server):
    r = remote(plane_server, "create", "project", "--id", "p2", "--description", "second")
    assert r.exit_code == 0, r.output
    assert plane_server.plane.projects["p2"].description == "second"
    r = remote(plane_server, "create", "project", "--id", "p2")
    assert r.exit_code != 0 and "ALREADY_EXISTS" in r.output


def test_get_runs_and_run_from_the_control_plane(plane_server):
    plane_server.plane.add_run("r-remote", "SUCCEEDED", task="wf.main")
    r = remote(plane_server, "get", "runs")
    assert r.exit_code == 0, r.output
    assert "r-remote" in r.output and "SUCCEEDED" in r.output and "wf.main" in r.output
    r = remote(plane_server, "get", "run", "r-remote")
    assert r.exit_code == 0 and "r-remote" in r.output and "SUCCEEDED" in r.output
    assert "action" in r.output and "\na0 " in r.output
    doc = json.loads(remote(plane_server, "get", "run", "r-remote", "-o", "json").output)
    assert doc["action"]["id"]["run"]["name"] == "r-remote" and doc["actions"][0]["id"]["name"] == "a0"
    r = remote(plane_server, "get", "run", "nope")
    assert r.exit_code != 0 and "NOT_FOUND" in r.output


def test_get_runs_without_endpoint_shows_local_runs(tmp_path):
    r = flyte("get", "runs")
    assert r.exit_code == 0, r.output
    assert "flytesnacks" not in r.output


def test_get_runs_needs_a_project(plane_server):
    r = flyte("--endpoint", plane_server.endpoint, "--insecure", "get", "runs")
    assert r.exit_code != 0 and "--project" in r.output


def test_abort_run(plane_server):
    plane_server.plane.add_run("r-abort", "RUNNING")
    r = remote(plane_server, "abort", "run", "r-abort")
    assert r.exit_code == 0, r.output
    assert plane_server.plane.runs["r-abort"].action.status.phase == 7  # ABORTED


def test_get_logs_and_follow(plane_server):
    plane_server.plane.add_run("r-logs", "RUNNING")
    plane_server.run(plane_server.plane.log("r-logs", "hello", "world"))
    plane_server.run(plane_server.plane.set_phase("r-logs", "SUCCEEDED"))
    r = remote(plane_server, "get", "logs", "r-logs")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["hello", "world"]
    r = remote(plane_server, "get", "logs", "r-logs", "--follow")
    assert r.output.splitlines() == ["hello", "world"]


def test_get_tasks(plane_server):
    from flyteidl2.task import task_definition_pb2 as td

    t = td.Task()
    t.task_id.name, t.task_id.version = "wf.main", "v1"
    plane_server.plane.tasks.append(t)
    r = remote(plane_server, "get", "tasks")
    assert r.exit_code == 0 and "wf.main" in r.output and "v1" in r.output


def test_secrets(plane_server):
    r = remote(plane_server, "create", "secret", "db-pass", "--value", "hunter2")
    assert r.exit_code == 0 and "hunter2" not in r.output
    assert plane_server.plane.secrets["db-pass"].secret_spec.string_value == "hunter2"
    r = remote(plane_server, "create", "secret", "from-stdin", input="piped-value\n")
    assert plane_server.plane.secrets["from-stdin"].secret_spec.string_value == "piped-value"
    r = remote(plane_server, "get", "secret")
    assert "db-pass" in r.output and "from-stdin" in r.output and "hunter2" not in r.output
    r = remote(plane_server, "get", "secret", "db-pass")
    assert r.exit_code == 0 and "db-pass" in r.output
    r = remote(plane_server, "delete", "secret", "db-pass")
    assert r.exit_code == 0 and "db-pass" not in plane_server.plane.secrets
    r = remote(plane_server, "delete", "secret", "db-pass")
    assert r.exit_code != 0 and "NOT_FOUND" in r.output


def test_whoami(plane_server):
    r = remote(plane_server, "whoami")
    assert r.exit_code == 0, r.output
    assert "test@example.com" in r.output and plane_server.endpoint in r.output


def test_unreachable_endpoint_is_one_clear_line(tmp_path):
    r = flyte("--endpoint", "127.0.0.1:1", "--insecure", "get", "projects")
    assert r.exit_code != 0
    assert "UNAVAILABLE" in r.output and "--endpoint" in r.output and "Traceback" not in r.output


def test_no_endpoint_for_a_control_plane_command():
    r = flyte("get", "projects")
    assert r.exit_code != 0 and "flyte create config" in r.output


def test_create_config_and_use_it(plane_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLYTE_CONFIG")
    r = flyte("create", "config", "--endpoint", plane_server.endpoint, "--insecure", "--project", "flytesnacks",
              "--domain", "development")
    assert r.exit_code == 0, r.output
    written = (tmp_path / ".flyte" / "config.yaml").read_text()
    assert "endpoint: dns:///127.0.0.1:" in written and "insecure: true" in written
    from flyte.config import set_config

    set_config(None)
    plane_server.plane.add_run("r-cfg", "RUNNING")
    r = flyte("get", "runs")  # endpoint, project and domain from ./.flyte/config.yaml
    assert r.exit_code == 0 and "r-cfg" in r.output, r.output
    before = written
    r = flyte("create", "config", "--endpoint", "other:443")
    assert r.exit_code != 0 and "--force" in r.output
    assert (tmp_path / ".flyte" / "config.yaml").read_text() == before
    r = flyte("create", "config", "--endpoint", "other:443", "--force")
    assert r.exit_code == 0 and "other:443" in (tmp_path / ".flyte" / "config.yaml").read_text()


def test_create_config_keeps_an_http_endpoint_plaintext(plane_server, tmp_path, monkeypatch):
    """`--endpoint http://host:port` means no TLS: the file must say insecure, or the CLI then speaks TLS to it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLYTE_CONFIG")
    r = flyte("create", "config", "--endpoint", f"http://{plane_server.endpoint}", "-p", "flytesnacks",
              "-d", "development")
    assert r.exit_code == 0, r.output
    assert "insecure: true" in (tmp_path / ".flyte" / "config.yaml").read_text()
    from flyte.config import set_config

    set_config(None)
    r = flyte("get", "projects")
    assert r.exit_code == 0 and "flytesnacks" in r.output, r.output


def test_api_key_from_env_with_auth(tmp_path, monkeypatch):
    from flyte.admin import encode_api_key

    tokens = TokenServer()
    srv = ThreadedServer(ControlPlane(tokens=tokens))
    try:
        monkeypatch.setenv("FLYTE_API_KEY", encode_api_key(srv.endpoint, tokens.client_id, tokens.client_secret))
        r = flyte("--insecure", "whoami")
        assert r.exit_code == 0, r.output
        assert srv.plane.metadata[-1]["authorization"].startswith("Bearer tok-")
        assert tokens.client_secret not in r.output
    finally:
        srv.close()
        tokens.close()


def test_real_flyte_process(plane_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
    env.update(HOME=str(tmp_path), FLYTE_ADMIN_ENDPOINT=plane_server.endpoint, FLYTE_ADMIN_INSECURE="true",
               FLYTE_TASK_PROJECT="flytesnacks", FLYTE_TASK_DOMAIN="development", FLYTE_CONFIG="")
    plane_server.plane.add_run("r-proc", "RUNNING")
    exe = Path(sys.executable).parent / "flyte"
    out = subprocess.run([str(exe), "get", "runs", "-o", "json"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["action"]["id"]["run"]["name"] == "r-proc"
    assert out.stderr == ""


def test_get_run_watch_follows_the_phase(plane_server):
    import threading
    import time

    plane_server.plane.add_run("r-watch", "QUEUED")

    def later():
        time.sleep(0.4)
        plane_server.run(plane_server.plane.set_phase("r-watch", "RUNNING"))
        time.sleep(0.2)
        plane_server.run(plane_server.plane.set_phase("r-watch", "SUCCEEDED"))

    threading.Thread(target=later).start()
    r = remote(plane_server, "get", "run", "r-watch", "--watch")
    assert r.exit_code == 0, r.output
    phases = [ln.split()[-3] for ln in r.output.splitlines() if "attempt" in ln and "task" not in ln]
    assert phases == ["QUEUED", "RUNNING", "SUCCEEDED"]


def test_a_missing_config_file_names_the_option(tmp_path):
    """`flyte -c NOPE ...` blamed FLYTE_CONFIG, which the user never set."""
    r = flyte("-c", str(tmp_path / "nope.yaml"), "get", "projects")
    assert r.exit_code == 2 and "nope.yaml" in r.output, r.output
    assert "'-c' / '--config'" in r.output and "FLYTE_CONFIG" not in r.output, r.output


def test_error_lines_add_a_hint_only_where_it_helps():
    """An auth error already names what to set (no '(the credentials were refused ...)' after 'no credentials');
    a web server answering instead of a control plane is named as such."""
    from flyte.admin import AdminAuthError
    from flyte.cli.remote import describe_error

    e = AdminAuthError("The control plane at h:1 requires credentials and there is no terminal for a browser "
                       "login: set FLYTE_API_KEY, or admin.authType ClientSecret.", code="UNAUTHENTICATED")
    line = describe_error(e, "h:1")
    assert line.startswith("UNAUTHENTICATED: The control plane") and "were refused" not in line

    class FakeRpcError(Exception):
        def code(self):
            import grpc

            return grpc.StatusCode.UNKNOWN

        def details(self):
            return "Received http2 header with status: 405"

    line = describe_error(FakeRpcError(), "web.example:443")
    assert "not a Flyte control plane" in line and "admin.endpoint" in line


def test_tls_to_a_plaintext_server_says_add_insecure(tmp_path):
    """A real plaintext control plane dialled with TLS (the default): the line says to add --insecure."""
    srv = ThreadedServer()
    try:
        r = flyte("--endpoint", srv.endpoint, "--project", "flytesnacks", "--domain", "development", "get", "projects")
    finally:
        srv.close()
    assert r.exit_code == 1, r.output
    assert "speaks plaintext" in r.output and "--insecure" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_plain_http1_server_is_named_as_not_grpc(tmp_path):
    import http.server
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits one poll
    try:
        r = flyte("--endpoint", f"127.0.0.1:{httpd.server_port}", "--insecure", "get", "projects")
    finally:
        httpd.shutdown()
    assert r.exit_code == 1 and "not an HTTP/2 (gRPC) server" in r.output, r.output


def test_abort_of_a_finished_run_says_it_already_ended(plane_server):
    plane_server.plane.add_run("r-done", "SUCCEEDED")
    r = remote(plane_server, "abort", "run", "r-done")
    assert r.exit_code == 0, r.output
    assert "already ended (SUCCEEDED)" in r.output and "Abort requested" not in r.output
    assert plane_server.plane.runs["r-done"].action.status.phase != 7  # not turned into ABORTED


def test_logs_of_an_action_that_printed_nothing_say_so(plane_server):
    plane_server.plane.add_run("r-quiet", "FAILED")
    r = CliRunner().invoke(cli, ["--endpoint", plane_server.endpoint, "--insecure", "--project",
                                                 "flytesnacks", "--domain", "development", "get", "logs", "r-quiet"])
    assert r.exit_code == 0, r.output
    assert r.stdout == "" and "No log lines for action a0 of run r-quiet" in r.stderr
