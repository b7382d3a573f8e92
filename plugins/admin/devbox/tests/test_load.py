"""1,000 concurrent CreateRun calls; bounded action concurrency."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import grpc
import pytest
from flyte_devbox.testing import DevboxProcess, project_id, py_spec, wait_phase
from flyteidl2.common import list_pb2, phase_pb2
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = project_id()


@pytest.mark.slow
def test_a_thousand_concurrent_create_runs(tmp_path):
    spec = td.TaskSpec()
    spec.task_template.id.name = "noop"
    spec.task_template.container.args.append("true")

    async def fire(endpoint: str) -> list:
        async with grpc.aio.insecure_channel(endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            return await asyncio.gather(
                *(stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec)) for _ in range(1000)),
                return_exceptions=True,
            )

    with DevboxProcess(tmp_path / "box", concurrency=2) as box:
        t = time.perf_counter()
        results = asyncio.run(fire(box.endpoint))
        elapsed = time.perf_counter() - t
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, errors[:3]
        names = {r.run.action.id.run.name for r in results}
        assert len(names) == 1000
        print(f"1,000 concurrent CreateRun in {elapsed:.2f}s ({1000 / elapsed:.0f}/s)")
        with grpc.insecure_channel(box.endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            listed: set[str] = set()
            token = ""
            while True:
                page = stub.ListRuns(
                    rs.ListRunsRequest(project_id=PROJECT, request=list_pb2.ListRequest(limit=300, token=token))
                )
                listed |= {r.action.id.run.name for r in page.runs}
                token = page.token
                if not token:
                    break
            assert names <= listed


TRACK = """
import json, os, sys, time, pathlib
log = pathlib.Path(os.environ["TRACK_FILE"])
start = time.time(); time.sleep(1.5); end = time.time()
with log.open("a") as f:
    f.write(json.dumps([start, end]) + "\\n")
"""


@pytest.mark.slow
def test_concurrency_is_bounded(tmp_path):
    track = tmp_path / "track.jsonl"
    spec = py_spec(TRACK)
    spec.task_template.container.env.add(key="TRACK_FILE", value=str(track))
    with DevboxProcess(tmp_path / "box", concurrency=2) as box, grpc.insecure_channel(box.endpoint) as ch:
        stub = rsg.RunServiceStub(ch)
        ids = [stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec)).run.action.id for _ in range(6)]
        for aid in ids:
            d = wait_phase(stub, aid.run, {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED}, 60)
            assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    spans = [json.loads(line) for line in Path(track).read_text().splitlines()]
    assert len(spans) == 6
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2  # overlapping, but never more than the limit


@pytest.mark.slow
def test_queued_timeout(tmp_path):
    with DevboxProcess(tmp_path / "box", concurrency=1) as box, grpc.insecure_channel(box.endpoint) as ch:
        stub = rsg.RunServiceStub(ch)
        blocker = stub.CreateRun(
            rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec("import time; time.sleep(30)"))
        )
        spec = py_spec("pass")
        spec.task_template.metadata.timeouts.queued_timeout.FromSeconds(1)
        waiting = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec)).run.action.id
        d = wait_phase(stub, waiting.run, {phase_pb2.ACTION_PHASE_TIMED_OUT, phase_pb2.ACTION_PHASE_SUCCEEDED}, 20)
        assert d.action.status.phase == phase_pb2.ACTION_PHASE_TIMED_OUT
        assert "queue" in d.action.error_info.message
        stub.AbortRun(rs.AbortRunRequest(run_id=blocker.run.action.id.run))


NESTED = """
import os, sys, pathlib, grpc
from flyteidl2.actions import actions_service_pb2 as asp, actions_service_pb2_grpc as asg
from flyteidl2.common import phase_pb2
from flyteidl2.task import task_definition_pb2 as td
pathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
depth = int(os.environ["DEPTH"])
if depth < 3:
    stub = asg.ActionsServiceStub(grpc.insecure_channel(os.environ["_U_EP_OVERRIDE"].removeprefix("dns:///")))
    a = asp.Action(parent_action_name=os.environ["ACTION_NAME"], input_uri=sys.argv[2],
                   run_output_base=os.environ["_U_RUN_BASE"])
    run = a.action_id.run
    run.org, run.name = os.environ["_U_ORG_NAME"], os.environ["RUN_NAME"]
    run.project = os.environ["FLYTE_INTERNAL_EXECUTION_PROJECT"]
    run.domain = os.environ["FLYTE_INTERNAL_EXECUTION_DOMAIN"]
    a.action_id.name = f"d{depth + 1}"
    c = a.task.spec.task_template.container
    c.args.extend([sys.executable, __file__, "{{.outputPrefix}}", "{{.input}}"])
    c.env.add(key="DEPTH", value=str(depth + 1))
    stub.Enqueue(asp.EnqueueRequest(action=a))
    parent = asp.WatchForUpdatesRequest()
    parent.parent_action_id.run.CopyFrom(run)
    parent.parent_action_id.name = os.environ["ACTION_NAME"]
    for msg in stub.WatchForUpdates(parent):
        if msg.action_update.phase == phase_pb2.ACTION_PHASE_SUCCEEDED:
            break
"""


@pytest.mark.slow
def test_nesting_deeper_than_the_concurrency_limit_does_not_deadlock(tmp_path):
    script = tmp_path / "nested.py"
    script.write_text(NESTED)
    spec = td.TaskSpec()
    spec.task_template.id.name = "nested"
    spec.task_template.container.args.extend([sys.executable, str(script), "{{.outputPrefix}}", "{{.input}}"])
    spec.task_template.container.env.add(key="DEPTH", value="0")
    with DevboxProcess(tmp_path / "box", concurrency=1) as box, grpc.insecure_channel(box.endpoint) as ch:
        stub = rsg.RunServiceStub(ch)
        run = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec)).run.action.id.run
        d = wait_phase(stub, run, {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED}, 60)
        assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action.error_info.message
        names = {a.id.name for a in stub.ListActions(rs.ListActionsRequest(run_id=run)).actions}
        assert names == {"a0", "d1", "d2", "d3"}
