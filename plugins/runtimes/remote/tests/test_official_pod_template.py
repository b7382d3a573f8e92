"""A pod template program run by the official SDK 2.12.1 and by flyte-core on one flyte-devbox: both send
TaskTemplate.k8s_pod (no container), the devbox runs each SDK's primary container, the outputs agree."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest
from flyte_devbox.testing import DevboxProcess, official_python, run_sdk_program

OFFICIAL = official_python()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(OFFICIAL is None, reason="the official SDK's virtualenv is missing (python3 dev.py setup)"),
]
pytest.importorskip("kubernetes")

PROGRAM = textwrap.dedent(
    """
    import asyncio, os, sys
    import flyte
    from kubernetes.client import V1Container, V1EnvVar, V1PodSpec

    env = flyte.TaskEnvironment(
        name="pod_both_env",
        image="ghcr.io/flyteorg/flyte:py3.11-v2.12.1",
        pod_template=flyte.PodTemplate(
            pod_spec=V1PodSpec(containers=[V1Container(name="primary", env=[V1EnvVar(name="FROM_POD", value="p")])],
                               node_selector={"pool": "any"}),
            labels={"team": "ml"},
        ),
    )

    @env.task
    async def square(x: int) -> int:
        return x * x + len(os.environ.get("FROM_POD", ""))

    @env.task
    async def main(n: int) -> int:
        return sum(await asyncio.gather(*(square(i) for i in range(n))))

    if __name__ == "__main__":
        flyte.init(endpoint=f"dns:///127.0.0.1:{sys.argv[1]}", insecure=True, project="flytesnacks",
                   domain="development")
        r = flyte.run(main, n=int(sys.argv[2]))
        r.wait()
        print("RUN", r.name)
        print("OUTPUT", r.outputs()[0])
    """
)


def test_both_sdks_pod_template_programs_on_one_devbox(tmp_path: Path) -> None:
    ours_bin = os.path.dirname(sys.executable)
    official_bin = str(Path(OFFICIAL).parent)  # type: ignore[arg-type]
    prog = tmp_path / "prog"
    prog.mkdir()
    (prog / "podprog.py").write_text(PROGRAM)
    with DevboxProcess(tmp_path / "box", worker_paths=(ours_bin, official_bin), concurrency=6) as box:
        outs = {}
        for who, python in (("official", OFFICIAL), ("ours", sys.executable)):
            r, outs[who] = run_sdk_program(python, "podprog.py", str(box.port), "3", cwd=prog, home=tmp_path)
            assert r.returncode == 0, f"{who}: {r.stdout[-2000:]}{r.stderr[-3000:]}"
        assert outs["official"]["OUTPUT"] == outs["ours"]["OUTPUT"] == "8"  # 0+1+4 and FROM_POD in each child
        import grpc
        from flyteidl2.common import identifier_pb2
        from flyteidl2.workflow import run_service_pb2 as rs
        from flyteidl2.workflow import run_service_pb2_grpc as rsg
        from google.protobuf.json_format import MessageToDict

        with grpc.insecure_channel(box.endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            for who, entry in (("official", "a0"), ("ours", "flyte-core-worker")):
                rid = identifier_pb2.RunIdentifier(org="devbox", project="flytesnacks", domain="development",
                                                   name=outs[who]["RUN"])
                tt = stub.GetRunDetails(rs.GetRunDetailsRequest(run_id=rid)).details.action.task.task_template
                assert tt.WhichOneof("target") == "k8s_pod", who
                assert tt.config["primary_container_name"] == "primary", who
                primary = MessageToDict(tt.k8s_pod.pod_spec)["containers"][0]
                assert primary["args"][0] == entry, who
                assert dict(tt.k8s_pod.metadata.labels) == {"team": "ml"}, who
