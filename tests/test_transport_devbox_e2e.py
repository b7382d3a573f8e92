"""End to end: the `flyte` CLI and flyte-grpc's client against a real flyte-devbox process on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flyte_devbox")
pytest.importorskip("flyte_grpc")

import grpc  # noqa: E402
from flyte.admin import AdminSettings  # noqa: E402
from flyte_devbox.testing import DevboxProcess, project_id, py_spec, wait_phase  # noqa: E402
from flyte_grpc.transport import GrpcClient  # noqa: E402
from flyteidl2.common import phase_pb2  # noqa: E402
from flyteidl2.workflow import run_service_pb2 as rs  # noqa: E402
from flyteidl2.workflow import run_service_pb2_grpc as rsg  # noqa: E402

pytestmark = pytest.mark.slow
PHASE = phase_pb2.ActionPhase.Value
FLYTE = str(Path(sys.executable).parent / "flyte")


@pytest.fixture(scope="module")
def devbox(tmp_path_factory: pytest.TempPathFactory):
    box = DevboxProcess(tmp_path_factory.mktemp("devbox")).start()
    yield box
    box.stop()


def flyte(box: DevboxProcess, *args: str, home: Path, extra_env: dict[str, str] | None = None,
          input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
    env.update(HOME=str(home), FLYTE_HOME=str(home / ".flyte"), FLYTE_CONFIG="",
               FLYTE_ADMIN_ENDPOINT=box.endpoint, FLYTE_ADMIN_INSECURE="true",
               FLYTE_TASK_PROJECT="flytesnacks", FLYTE_TASK_DOMAIN="development", **(extra_env or {}))
    return subprocess.run([FLYTE, *args], capture_output=True, text=True, env=env, cwd=home, timeout=120,
                          input=input)


def create_run(box: DevboxProcess, code: str, **kw) -> object:
    with grpc.insecure_channel(box.endpoint) as ch:
        created = rsg.RunServiceStub(ch).CreateRun(rs.CreateRunRequest(project_id=project_id(),
                                                                        task_spec=py_spec(code, **kw)))
    return created.run.action.id.run


def test_cli_against_the_devbox(devbox, tmp_path):
    r = flyte(devbox, "get", "projects", "-o", "json", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "flytesnacks" in [p["id"] for p in json.loads(r.stdout)]

    run_id = create_run(devbox, "import sys; print('hello from the devbox', flush=True)")
    with grpc.insecure_channel(devbox.endpoint) as ch:
        wait_phase(rsg.RunServiceStub(ch), run_id, {PHASE("ACTION_PHASE_SUCCEEDED"), PHASE("ACTION_PHASE_FAILED")})
    r = flyte(devbox, "get", "runs", home=tmp_path)
    assert r.returncode == 0 and run_id.name in r.stdout, r.stdout + r.stderr
    r = flyte(devbox, "get", "run", run_id.name, home=tmp_path)
    assert r.returncode == 0 and "SUCCEEDED" in r.stdout, r.stdout + r.stderr
    r = flyte(devbox, "get", "logs", run_id.name, home=tmp_path)
    assert r.returncode == 0 and "hello from the devbox" in r.stdout, r.stdout + r.stderr


def test_get_runs_of_a_project_that_does_not_exist_is_an_error(devbox, tmp_path):
    """A mistyped project listed "No runs" and exit 0, as if it were an empty project."""
    r = flyte(devbox, "--project", "no-such-project", "get", "runs", home=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "Project 'no-such-project' does not exist" in r.stderr and "flyte get projects" in r.stderr
    r = flyte(devbox, "create", "project", "--id", "empty-one", home=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    r = flyte(devbox, "--project", "empty-one", "get", "runs", home=tmp_path)
    assert r.returncode == 0 and "No runs" in r.stderr, r.stdout + r.stderr


def test_get_run_action_phase_and_limit_on_the_control_plane(devbox, tmp_path):
    """`flyte get run NAME --action a0` shows that action in full (inputs, outputs, error); --phase filters the
    actions; these options were silently ignored for runs on a control plane."""
    from flyteidl2.task import common_pb2

    code = ("import sys, pathlib\nfrom flyteidl2.task import common_pb2\n"
            "p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True)\n"
            "out = common_pb2.Outputs(); lit = out.literals.add(name='o0'); lit.value.scalar.primitive.integer = 42\n"
            "(p / 'outputs.pb').write_bytes(out.SerializeToString())")
    inputs = common_pb2.Inputs()
    lit = inputs.literals.add(name="who")
    lit.value.scalar.primitive.string_value = "devbox"
    with grpc.insecure_channel(devbox.endpoint) as ch:
        stub = rsg.RunServiceStub(ch)
        run_id = stub.CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=py_spec(code, outputs=True),
                                                    inputs=inputs)).run.action.id.run
        wait_phase(stub, run_id, {PHASE("ACTION_PHASE_SUCCEEDED"), PHASE("ACTION_PHASE_FAILED")})
    r = flyte(devbox, "get", "run", run_id.name, "--action", "a0", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{run_id.name} a0") and "SUCCEEDED" in r.stdout
    assert "who = 'devbox'" in r.stdout and "o0 = 42" in r.stdout, r.stdout
    r = flyte(devbox, "get", "run", run_id.name, "--phase", "failed", home=tmp_path)
    assert r.returncode == 0 and "\na0 " not in r.stdout, r.stdout
    r = flyte(devbox, "get", "run", run_id.name, "--phase", "succeeded", home=tmp_path)
    assert r.returncode == 0 and "\na0 " in r.stdout, r.stdout


def test_follow_logs_and_abort(devbox, tmp_path):
    run_id = create_run(devbox, "import time\nfor i in range(3):\n    print('tick', i, flush=True); time.sleep(0.3)")
    r = flyte(devbox, "get", "logs", run_id.name, "--follow", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [ln for ln in r.stdout.splitlines() if ln.startswith("tick")] == ["tick 0", "tick 1", "tick 2"]

    sleeper = create_run(devbox, "import time; time.sleep(60)")
    r = flyte(devbox, "abort", "run", sleeper.name, home=tmp_path)
    assert r.returncode == 0, r.stderr
    with grpc.insecure_channel(devbox.endpoint) as ch:
        wait_phase(rsg.RunServiceStub(ch), sleeper, {PHASE("ACTION_PHASE_ABORTED")})


def test_projects_and_secrets(devbox, tmp_path):
    r = flyte(devbox, "create", "project", "--id", "e2e-proj", "--description", "from the CLI", home=tmp_path)
    assert r.returncode == 0, r.stderr
    r = flyte(devbox, "get", "projects", home=tmp_path)
    assert "e2e-proj" in r.stdout
    r = flyte(devbox, "create", "secret", "e2e-secret", home=tmp_path, input="value-123\n")
    assert r.returncode == 0 and "value-123" not in r.stdout + r.stderr, r.stderr
    r = flyte(devbox, "get", "secret", home=tmp_path)
    assert r.returncode == 0 and "e2e-secret" in r.stdout and "value-123" not in r.stdout, r.stderr
    r = flyte(devbox, "delete", "secret", "e2e-secret", home=tmp_path)
    assert r.returncode == 0, r.stderr
    r = flyte(devbox, "get", "secret", "e2e-secret", home=tmp_path)
    assert r.returncode != 0 and "NOT_FOUND" in r.stderr


def test_client_credentials_and_whoami_under_auth(tmp_path):
    with DevboxProcess(tmp_path / "box", auth=True) as box:
        r = flyte(box, "get", "projects", home=tmp_path)
        assert r.returncode != 0 and "requires credentials" in r.stderr and "FLYTE_API_KEY" in r.stderr, r.stderr
        (tmp_path / "secret").write_text(box.client_secret or "")
        creds = {"FLYTE_ADMIN_AUTHTYPE": "ClientSecret", "FLYTE_ADMIN_CLIENTID": box.client_id or "",
                 "FLYTE_ADMIN_CLIENTSECRETLOCATION": str(tmp_path / "secret")}
        r = flyte(box, "whoami", home=tmp_path, extra_env=creds)
        assert r.returncode == 0, r.stderr
        assert box.endpoint in r.stdout
        assert (box.client_secret or "x") not in r.stdout + r.stderr
        cached = list((tmp_path / ".flyte" / "tokens").iterdir())
        assert len(cached) == 1 and (cached[0].stat().st_mode & 0o777) == 0o600


def test_a_browser_login_against_the_devbox_fails_at_once_naming_the_options(tmp_path):
    """The devbox serves client credentials only: a PKCE login (what a terminal user gets with no authType)
    must fail right away with what to set, not wait minutes for a browser on an authorize URL that 404s."""
    import time

    from flyte.admin import AdminAuthError

    opened: list[str] = []

    async def main(box: DevboxProcess) -> None:
        s = AdminSettings(endpoint=box.endpoint, insecure=True, token_cache=tmp_path / "tokens")
        async with GrpcClient(s, auth_kwargs={"open_browser": opened.append}) as c:
            from flyteidl2.project import project_service_pb2 as pj

            await c.project.ListProjects(pj.ListProjectsRequest())

    with DevboxProcess(tmp_path / "box", auth=True) as box:
        t0 = time.monotonic()
        with pytest.raises(AdminAuthError) as e:
            asyncio.run(asyncio.wait_for(main(box), 30))
        assert time.monotonic() - t0 < 10 and not opened
        assert "ClientSecret" in str(e.value) and "FLYTE_API_KEY" in str(e.value)
        # Device flow: the devbox has none, and no browser login either: the error must not send the user there.
        s = AdminSettings(endpoint=box.endpoint, insecure=True, auth_type="DeviceFlow", token_cache=tmp_path / "t2")

        async def device() -> None:
            async with GrpcClient(s, auth_kwargs={"out": opened.append}) as c:
                from flyteidl2.project import project_service_pb2 as pj

                await c.project.ListProjects(pj.ListProjectsRequest())

        with pytest.raises(AdminAuthError) as e:
            asyncio.run(asyncio.wait_for(device(), 30))
        assert "Pkce" not in str(e.value) and "ClientSecret" in str(e.value), str(e.value)


def test_watch_survives_a_devbox_restart(tmp_path):
    """The devbox is killed mid-watch and restarted on the same port and data: the watch resumes and no
    update is repeated; the run's final state arrives."""
    data = tmp_path / "box"
    box = DevboxProcess(data).start()
    port = box.port
    run_id = create_run(box, "import time; time.sleep(1.5)", retries=2)
    seen: list[tuple[int, int]] = []
    reconnects: list[int] = []

    async def watch() -> None:
        settings = AdminSettings(endpoint=f"127.0.0.1:{port}", insecure=True, token_cache=None)
        async with GrpcClient(settings, backoff_base=0.05, backoff_cap=0.3) as c:
            req = rs.WatchRunDetailsRequest(run_id=run_id)
            async for u in c.watch(c.run.WatchRunDetails, req, on_reconnect=reconnects.append):
                s = u.details.action.status
                seen.append((s.phase, s.attempts))
                if s.phase in (PHASE("ACTION_PHASE_SUCCEEDED"), PHASE("ACTION_PHASE_FAILED")):
                    return

    async def scenario() -> None:
        task = asyncio.create_task(watch())
        for _ in range(200):
            if any(p == PHASE("ACTION_PHASE_RUNNING") for p, _ in seen):
                break
            await asyncio.sleep(0.02)
        box.kill()
        await asyncio.sleep(0.3)
        restarted = DevboxProcess(data, port=port)
        await asyncio.get_running_loop().run_in_executor(None, restarted.start)
        try:
            await asyncio.wait_for(task, 60)
        finally:
            restarted.stop()

    asyncio.run(scenario())
    assert reconnects, "the watch never saw the devbox go away"
    assert seen[-1][0] in (PHASE("ACTION_PHASE_SUCCEEDED"), PHASE("ACTION_PHASE_FAILED"))
    assert len(seen) == len(set(seen)), f"repeated updates: {seen}"
