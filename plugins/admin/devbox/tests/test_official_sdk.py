"""The official SDK (flyte==2.12.1, its own virtualenv) against the devbox over Connect, unchanged."""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path

import grpc
import pytest
from flyte_devbox.testing import DevboxProcess, official_python, project_id, py_spec, run_sdk_program
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

OFFICIAL = official_python()
pytestmark = pytest.mark.skipif(
    OFFICIAL is None, reason="the official SDK's virtualenv is missing (python3 dev.py setup)"
)

CLIENT = textwrap.dedent(
    """
    import pathlib, sys
    import flyte, flyte.remote as remote
    flyte.init(endpoint=f"dns:///127.0.0.1:{sys.argv[1]}", insecure=True, project="flytesnacks", domain="development")
    print("PROJECTS", ",".join(sorted(p.pb2.id for p in remote.Project.listall())))
    print("RUNS", ",".join(sorted(r.name for r in remote.Run.listall())))
    digest, native = remote.upload_file(pathlib.Path(sys.argv[2]))
    print("UPLOAD", digest, native)
    """
)

PROGRAM = textwrap.dedent(
    """
    import asyncio, sys
    import flyte

    env = flyte.TaskEnvironment(name="devbox_env", image="ghcr.io/flyteorg/flyte:py3.11-v2.12.1")

    @env.task
    async def square(x: int) -> int:
        return x * x

    @env.task
    async def main(n: int) -> int:
        return sum(await asyncio.gather(*(square(i) for i in range(n))))

    if __name__ == "__main__":
        flyte.init(endpoint=f"dns:///127.0.0.1:{sys.argv[1]}", insecure=True, project="flytesnacks",
                   domain="development")
        r = flyte.run(main, n=4)
        r.wait()
        print("PHASE", r.phase)
        print("OUTPUT", r.outputs()[0])
    """
)


def test_official_client_lists_projects_and_runs_and_uploads(devbox, channel, tmp_path):
    run = rsg.RunServiceStub(channel).CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=py_spec("pass")))
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(100_000))
    out, lines = run_sdk_program(
        OFFICIAL, str(script), str(devbox.port), str(payload), cwd=tmp_path, home=tmp_path, timeout=120  # type: ignore[arg-type]
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "flytesnacks" in lines["PROJECTS"].split(",")
    assert run.run.action.id.run.name in lines["RUNS"].split(",")
    digest, native = lines["UPLOAD"].split()
    assert Path(native).read_bytes() == payload.read_bytes()
    assert digest == hashlib.md5(payload.read_bytes()).hexdigest()


@pytest.mark.slow
def test_official_sdk_runs_a_fan_out_on_the_devbox(tmp_path):
    """flyte.run from the official SDK; its own `a0` worker runs the parent and children as subprocesses."""
    worker_bin = str(Path(OFFICIAL).parent)  # type: ignore[arg-type]
    prog = tmp_path / "prog"
    prog.mkdir()
    (prog / "fanout.py").write_text(PROGRAM)
    with DevboxProcess(tmp_path / "box", worker_paths=(worker_bin,), concurrency=6) as box:
        out, _ = run_sdk_program(OFFICIAL, "fanout.py", str(box.port), cwd=prog, home=tmp_path)  # type: ignore[arg-type]
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        assert "PHASE ActionPhase.SUCCEEDED" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
        assert "OUTPUT 14" in out.stdout
        with grpc.insecure_channel(box.endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            runs = stub.ListRuns(rs.ListRunsRequest(project_id=project_id())).runs
            actions = stub.ListActions(rs.ListActionsRequest(run_id=runs[0].action.id.run)).actions
        assert len(actions) == 5  # a0 and four children, each run by the official worker
