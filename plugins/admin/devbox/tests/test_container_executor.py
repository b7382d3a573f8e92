"""``--executor docker|podman``: actions in containers of their image, on a real dockerd and a real podman.

Each engine comes from flyte-testing (a private dockerd with vfs and no bridge, or ``podman system
service`` with private config) with a loopback registry; the task images start FROM flyte-testing's
``python_base`` (this machine's Python with flyte-core). Under ``FLYTE_TESTING_REQUIRE_SERVICES=1``
a missing engine fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyte_devbox.testing import DevboxProcess, project_id, wait_phase
from flyteidl2.common import phase_pb2
from flyteidl2.core import tasks_pb2
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

pytestmark = pytest.mark.slow

PROG = str(Path(__file__).parent / "programs" / "in_image.py")
DONE = {
    phase_pb2.ACTION_PHASE_SUCCEEDED,
    phase_pb2.ACTION_PHASE_FAILED,
    phase_pb2.ACTION_PHASE_ABORTED,
    phase_pb2.ACTION_PHASE_TIMED_OUT,
}


@dataclass
class Engine:
    kind: str
    stack: Any  # flyte_testing.engines.Stack
    python_base: str

    def api(self) -> Any:
        import docker

        return docker.APIClient(base_url=self.stack.service.url, version="auto", timeout=120)

    def containers(self, **labels: str) -> list[dict[str, Any]]:
        api = self.api()
        try:
            return list(api.containers(all=True, filters={"label": [f"{k}={v}" for k, v in labels.items()]}))
        finally:
            api.close()


@pytest.fixture(scope="module", params=["docker", "podman"])
def engine(request: pytest.FixtureRequest, python_base: Any) -> Engine:
    stack = request.getfixturevalue("dockerd_stack" if request.param == "docker" else "podman_stack")
    return Engine(request.param, stack, python_base.image(stack))


@pytest.fixture(scope="module")
def cbox(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevboxProcess]:
    box = DevboxProcess(tmp_path_factory.mktemp(f"cbox-{engine.kind}"), concurrency=4, executor=engine.kind,
                        engine_url=engine.stack.service.url)
    box.start(timeout=60)
    yield box
    box.stop(timeout=30)
    left = [c for c in engine.containers() if "flyte.devbox.id" in (c.get("Labels") or {})]
    assert not left, f"containers left after the devbox stopped: {left}"


@pytest.fixture
def stub(cbox: DevboxProcess) -> Iterator[rsg.RunServiceStub]:
    ch = grpc.insecure_channel(cbox.endpoint)
    yield rsg.RunServiceStub(ch)
    ch.close()


def spec_in(image: str, code: str, *, retries: int = 0, timeout_s: int = 0, outputs: bool = False) -> td.TaskSpec:
    """A TaskSpec whose container runs ``python3 -c code OUTPUT_PREFIX INPUT`` in ``image``."""
    s = td.TaskSpec()
    s.task_template.id.name = "in-container"
    s.task_template.type = "python"
    s.task_template.container.image = image
    s.task_template.container.args.extend(["python3", "-c", code, "{{.outputPrefix}}", "{{.input}}"])
    if retries:
        s.task_template.metadata.retries.retries = retries
    if timeout_s:
        s.task_template.metadata.timeout.FromSeconds(timeout_s)
    if outputs:
        s.task_template.interface.outputs.variables.add(key="o0")
    return s


def run(stub: rsg.RunServiceStub, spec: td.TaskSpec) -> Any:
    return stub.CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=spec)).run.action.id


def attempt_containers(engine: Engine, run_name: str, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in engine.containers(**{"flyte.devbox.run": run_name}) if c.get("State") == "running"]
        if found:
            return found
        assert time.monotonic() < deadline, f"no running container for run {run_name}"
        time.sleep(0.1)


def no_containers_left(engine: Engine, run_name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while engine.containers(**{"flyte.devbox.run": run_name}):
        assert time.monotonic() < deadline, f"containers of run {run_name} were not removed"
        time.sleep(0.1)


def test_a_remote_fan_out_reads_the_file_its_image_baked(engine: Engine, cbox: DevboxProcess, tmp_path: Path) -> None:
    """flyte run --runtime remote builds the image (flyte-docker, FROM the python base, a RUN step) and pushes it;
    every action runs in it and reads the file the RUN step wrote."""
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path), "FLYTE_IMAGE_BUILDER": "docker",
           "DOCKER_HOST": engine.stack.service.url, "FLYTE_IMAGE_REGISTRY": engine.stack.registry.host,
           "FLYTE_TEST_PYTHON_BASE": engine.python_base}
    r = subprocess.run([exe, "--endpoint", cbox.endpoint, "--insecure", "run", "--runtime", "remote", PROG, "fan_out",
                        "--n", "2"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for i in range(2):
        assert f"{i}:baked-in-the-image" in r.stdout, r.stdout
    assert "3 actions: 3 succeeded" in r.stdout, r.stdout


LIMITS_AND_ENV = """
import json, os, pathlib, sys, time
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
keep = ["ACTION_NAME", "_U_EP_OVERRIDE", "_U_RUN_BASE", "FROM_POD", "FLYTE_AWS_ENDPOINT", "PATH", "HOME_OF_DEVBOX"]
(prefix / "env.json").write_text(json.dumps({k: os.environ.get(k) for k in keep}))
print("hello from the container", flush=True)
time.sleep(120)
"""


def test_pod_template_resources_are_limits_env_reaches_and_abort_removes(
    engine: Engine, stub: Any, cbox: DevboxProcess
) -> None:
    spec = td.TaskSpec()
    spec.task_template.id.name = "pod-task"
    spec.task_template.type = "python"
    spec.task_template.config["primary_container_name"] = "main"
    spec.task_template.k8s_pod.pod_spec.update({"containers": [
        {"name": "main", "image": engine.python_base,
         "args": ["python3", "-c", LIMITS_AND_ENV, "{{.outputPrefix}}", "{{.input}}"],
         "env": [{"name": "FROM_POD", "value": "yes"}],
         "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "250m"}}},
    ]})
    aid = run(stub, spec)
    (c,) = attempt_containers(engine, aid.run.name)
    api = engine.api()
    try:
        hc = api.inspect_container(c["Id"])["HostConfig"]
    finally:
        api.close()
    assert hc["NanoCpus"] == 500_000_000 and hc["Memory"] == 256 * 2**20, hc
    assert hc["NetworkMode"] == "host"
    d = stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details
    prefix = Path(d.attempts[0].outputs.output_uri)
    deadline = time.monotonic() + 30
    while not (prefix / "env.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    import json

    env = json.loads((prefix / "env.json").read_text())
    assert env["FROM_POD"] == "yes" and env["ACTION_NAME"] == "a0" and env["_U_EP_OVERRIDE"].startswith("dns:///127.")
    assert env["PATH"] == "/usr/local/bin:/bin"  # the image's own, not the devbox's
    # output reaches the attempt's log file while the container runs (TailLogs follows that file)
    stdout = next(cbox.data_dir.joinpath("logs").rglob(f"{aid.run.name}/a0")) / "1" / "stdout"
    while "hello from the container" not in (stdout.read_text() if stdout.exists() else ""):
        assert time.monotonic() < deadline, "the container's output did not reach its log file while it ran"
        time.sleep(0.1)
    stub.AbortRun(rs.AbortRunRequest(run_id=aid.run, reason="enough"))
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_ABORTED
    no_containers_left(engine, aid.run.name)


FLAKY = """
import os, pathlib, sys, time
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
attempt = os.environ["FLYTE_ATTEMPT_NUMBER"]
if attempt == "0":
    print("first attempt fails on purpose", file=sys.stderr, flush=True)
    sys.exit(3)
if attempt == "1":
    print("second attempt hangs past its timeout", file=sys.stderr, flush=True)
    time.sleep(120)
from flyteidl2.task import common_pb2
out = common_pb2.Outputs(); out.literals.add(name="o0").value.scalar.primitive.integer = 7
(prefix / "outputs.pb").write_bytes(out.SerializeToString())
print("third attempt wrote outputs")
"""


def docker_only(engine: Engine) -> None:
    """Engine-independent behaviour (the executor's, not the engine's) is checked on dockerd only, for time."""
    if engine.kind != "docker":
        pytest.skip("the executor's own logic, checked on dockerd")


def test_a_failure_and_a_timeout_are_retried_each_in_a_new_container(
    engine: Engine, stub: Any, cbox: DevboxProcess
) -> None:
    """Attempt 1 exits 3 (a system error), attempt 2 outlives its 4 s timeout (its container is killed), attempt 3
    succeeds; every attempt's output is in its own log files and no container is left."""
    docker_only(engine)
    aid = run(stub, spec_in(engine.python_base, FLAKY, retries=2, timeout_s=4, outputs=True))
    d = wait_phase(stub, aid.run, DONE, timeout=240)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action
    details = stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details
    phases = [a.phase for a in details.attempts]
    assert phases == [phase_pb2.ACTION_PHASE_FAILED, phase_pb2.ACTION_PHASE_TIMED_OUT,
                      phase_pb2.ACTION_PHASE_SUCCEEDED], phases
    assert "code 3" in details.attempts[0].error_info.message
    assert "max runtime of 4s" in details.attempts[1].error_info.message
    logs = next(cbox.data_dir.joinpath("logs").rglob(f"{aid.run.name}/a0"))
    assert "first attempt fails on purpose" in (logs / "1" / "stderr").read_text()
    assert "second attempt hangs past its timeout" in (logs / "2" / "stderr").read_text()
    assert "third attempt wrote outputs" in (logs / "3" / "stdout").read_text()
    no_containers_left(engine, aid.run.name)


def test_an_image_without_the_worker_is_a_clear_error(engine: Engine, stub: Any) -> None:
    spec = spec_in(engine.stack.base_image, "")  # busybox: no python3, no flyte-core-worker
    del spec.task_template.container.args[:]
    spec.task_template.container.args.extend(["flyte-core-worker", "--inputs", "{{.input}}"])
    aid = run(stub, spec)
    d = wait_phase(stub, aid.run, DONE, timeout=60)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    msg = d.action.error_info.message
    assert engine.stack.base_image in msg and "flyte-core-worker" in msg and "a0" in msg, msg


def test_a_missing_image_is_a_clear_error(engine: Engine, stub: Any) -> None:
    missing = f"{engine.stack.registry.host}/flyte-test/not-there:1"
    aid = run(stub, spec_in(missing, "pass"))
    d = wait_phase(stub, aid.run, DONE, timeout=60)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    assert missing in d.action.error_info.message and "could not be pulled" in d.action.error_info.message


def test_a_private_registry_is_pulled_from_with_the_devbox_credentials(engine: Engine, stub: Any,
                                                                     tmp_path: Path) -> None:
    """The image is only in a registry with htpasswd auth: without credentials the action fails naming the image;
    a devbox whose flyte config has them (image.registry_username/password) pulls it and runs it."""
    docker_only(engine)
    from flyte.testing.builders import AUTH_PASSWORD, AUTH_USER
    from flyte_testing.python_image import push_python_base, python_rootfs


    host = engine.stack.auth_registry.host
    private = push_python_base(engine.stack.podman, host, python_rootfs(), repo="flyte-test/private",
                               login=(AUTH_USER, AUTH_PASSWORD))
    spec = spec_in(private, "print('pulled with credentials')")
    d = wait_phase(stub, run(stub, spec).run, DONE, timeout=120)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    assert private in d.action.error_info.message and "could not be pulled" in d.action.error_info.message
    assert AUTH_PASSWORD not in d.action.error_info.message
    # flyte's image settings (the docker package alone would only read the Docker config file)
    env = {**os.environ, "FLYTE_IMAGE_REGISTRY": host, "FLYTE_IMAGE_REGISTRY_USERNAME": AUTH_USER,
           "FLYTE_IMAGE_REGISTRY_PASSWORD": AUTH_PASSWORD}
    with DevboxProcess(tmp_path / "box", executor=engine.kind, engine_url=engine.stack.service.url, env=env) as box:
        ch = grpc.insecure_channel(box.endpoint)
        own = rsg.RunServiceStub(ch)
        d = wait_phase(own, run(own, spec).run, DONE, timeout=180)
        ch.close()
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action.error_info.message


def test_podman_without_a_socket_gets_a_service_of_the_devbox(engine: Engine, tmp_path: Path) -> None:
    """No --engine-url, CONTAINER_HOST or podman socket: the devbox starts `podman system service` itself (with
    the podman configuration of its environment) and stops it when it stops; one a killed devbox left is
    stopped by the next start."""
    if engine.kind != "podman":
        pytest.skip("podman only")
    env = {k: v for k, v in engine.stack.podman.env.items() if k not in ("CONTAINER_HOST", "DOCKER_HOST")}
    data = tmp_path / "box"
    with DevboxProcess(data, executor="podman", env=env) as box:
        ch = grpc.insecure_channel(box.endpoint)
        own = rsg.RunServiceStub(ch)
        d = wait_phase(own, run(own, spec_in(engine.python_base, "print('via the own service')")).run, DONE,
                       timeout=120)
        ch.close()
        assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action.error_info.message
        assert (data / "podman.sock").exists()
        first = int((data / "podman-service.pid").read_text())
        box.kill()  # SIGKILL: its service stays; the next start stops it and starts its own
        assert Path(f"/proc/{first}").exists()
        box.start(timeout=60)
        assert int((data / "podman-service.pid").read_text()) != first
        assert not Path(f"/proc/{first}").exists() or "Z" in Path(f"/proc/{first}/stat").read_text().split()[2]
    sock = str(data / "podman.sock")
    own_service = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, sock)]
    assert not own_service, "the devbox's podman service outlived it"


def _cmdline_has(proc: Path, needle: str) -> bool:
    try:
        return needle in (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_a_restart_removes_orphaned_containers(engine: Engine, tmp_path: Path) -> None:
    docker_only(engine)
    with DevboxProcess(tmp_path / "box", executor=engine.kind, engine_url=engine.stack.service.url) as box:
        ch = grpc.insecure_channel(box.endpoint)
        aid = run(rsg.RunServiceStub(ch), spec_in(engine.python_base, "import time; time.sleep(120)"))
        ch.close()
        attempt_containers(engine, aid.run.name)
        box.kill()  # SIGKILL: the container stays behind
        assert engine.containers(**{"flyte.devbox.run": aid.run.name})
        box.start(timeout=60)
        assert not engine.containers(**{"flyte.devbox.run": aid.run.name})


def test_an_engine_that_does_not_answer_stops_the_devbox_with_a_clear_error(tmp_path: Path) -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    r = subprocess.run([exe, "devbox", "serve", "--port", "0", "--data", str(tmp_path), "--executor", "docker",
                        "--engine-url", f"unix://{tmp_path}/nothing.sock"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "no container engine answers at unix://" in r.stderr and "start dockerd" in r.stderr, r.stderr


def test_resource_quantities() -> None:
    from flyte_devbox.containers import container_limits, parse_quantity

    assert parse_quantity("500m") == 0.5 and parse_quantity("2") == 2 and parse_quantity("1Gi") == 2**30
    assert parse_quantity("1G") == 10**9 and parse_quantity("1.5") == 1.5
    with pytest.raises(ValueError, match="not a resource quantity"):
        parse_quantity("lots")
    names = tasks_pb2.Resources.ResourceName
    c = tasks_pb2.Container(resources=tasks_pb2.Resources(
        requests=[tasks_pb2.Resources.ResourceEntry(name=names.CPU, value="1"),
                  tasks_pb2.Resources.ResourceEntry(name=names.MEMORY, value="100Mi")],
        limits=[tasks_pb2.Resources.ResourceEntry(name=names.CPU, value="2")]))
    assert container_limits(c) == {"nano_cpus": 2_000_000_000, "mem_limit": 100 * 2**20}


def test_devbox_start_passes_the_executor_and_reports_an_engine_it_cannot_reach(tmp_path: Path) -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "HOME": str(tmp_path), "FLYTE_CONFIG": ""}
    r = subprocess.run([exe, "devbox", "start", "--port", "0", "--data", str(tmp_path / "box"), "--executor", "podman",
                        "--engine-url", f"unix://{tmp_path}/none.sock"], capture_output=True, text=True, timeout=60,
                       env=env)
    assert r.returncode != 0
    assert "--executor podman: no container engine answers at unix://" in r.stderr, r.stderr
    assert "podman system service" in r.stderr
