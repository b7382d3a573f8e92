"""The official SDK 2.12.1 and flyte-core on ONE flyte-devbox: each submits with its own client and its
own worker entry point runs its actions (``a0`` and ``flyte-core-worker`` side by side on the actions' PATH)."""

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

PROGRAM = textwrap.dedent(
    """
    import asyncio, sys
    import flyte

    env = flyte.TaskEnvironment(name="both_env", image="ghcr.io/flyteorg/flyte:py3.11-v2.12.1")

    @env.task
    async def square(x: int) -> int:
        return x * x

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


def test_official_sdk_and_flyte_core_on_one_devbox(tmp_path: Path) -> None:
    ours_bin = os.path.dirname(sys.executable)
    official_bin = str(Path(OFFICIAL).parent)  # type: ignore[arg-type]
    prog = tmp_path / "prog"
    prog.mkdir()
    (prog / "fanout.py").write_text(PROGRAM)
    with DevboxProcess(tmp_path / "box", worker_paths=(ours_bin, official_bin), concurrency=6) as box:
        outs = {}
        for who, python in (("official", OFFICIAL), ("ours", sys.executable)):
            r, lines = run_sdk_program(python, "fanout.py", str(box.port), "4", cwd=prog, home=tmp_path)
            assert r.returncode == 0, f"{who}: {r.stdout[-2000:]}{r.stderr[-3000:]}"
            outs[who] = lines
        assert outs["official"]["OUTPUT"] == outs["ours"]["OUTPUT"] == "14"
        import grpc
        from flyteidl2.common import identifier_pb2
        from flyteidl2.workflow import run_service_pb2 as rs
        from flyteidl2.workflow import run_service_pb2_grpc as rsg

        with grpc.insecure_channel(box.endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            for who, entry in (("official", "a0"), ("ours", "flyte-core-worker")):
                rid = identifier_pb2.RunIdentifier(org="devbox", project="flytesnacks", domain="development",
                                                   name=outs[who]["RUN"])
                details = stub.GetRunDetails(rs.GetRunDetailsRequest(run_id=rid)).details
                assert details.action.task.task_template.container.args[0] == entry, who
                assert len(stub.ListActions(rs.ListActionsRequest(run_id=rid)).actions) == 5, who
