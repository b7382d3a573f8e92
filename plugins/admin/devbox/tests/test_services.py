"""TaskService, child actions through ActionsService and QueueService/StateService, WatchActions, projects."""

from __future__ import annotations

import os
import threading

import grpc
import pytest
from flyte_devbox.testing import project_id, py_spec, wait_phase
from flyteidl2.actions import actions_service_pb2 as asp
from flyteidl2.actions import actions_service_pb2_grpc as asg
from flyteidl2.common import phase_pb2
from flyteidl2.project import project_service_pb2 as pj
from flyteidl2.project import project_service_pb2_grpc as pjg
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.task import task_service_pb2 as tsp
from flyteidl2.task import task_service_pb2_grpc as tsg
from flyteidl2.workflow import queue_service_pb2 as qsp
from flyteidl2.workflow import queue_service_pb2_grpc as qsg
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg
from flyteidl2.workflow import state_service_pb2 as ssp
from flyteidl2.workflow import state_service_pb2_grpc as ssg

PROJECT = project_id()
DONE = {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED, phase_pb2.ACTION_PHASE_ABORTED}
OK = "import sys, pathlib; pathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)"


def test_deploy_get_list_and_run_a_deployed_task(channel):
    stub = tsg.TaskServiceStub(channel)
    spec = py_spec(OK, name="deployed")
    for version in ("v1", "v2"):
        tid = td.TaskIdentifier(project="flytesnacks", domain="development", name="env.deployed", version=version)
        stub.DeployTask(tsp.DeployTaskRequest(task_id=tid, spec=spec))
    stub.DeployTask(tsp.DeployTaskRequest(task_id=tid, spec=spec))  # same spec again: fine
    other = py_spec("pass", name="different")
    with pytest.raises(grpc.RpcError) as e:
        stub.DeployTask(tsp.DeployTaskRequest(task_id=tid, spec=other))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS and "version" in e.value.details()
    got = stub.GetTaskDetails(tsp.GetTaskDetailsRequest(task_id=tid)).details
    assert got.spec == spec and got.task_id.version == "v2"
    listed = stub.ListTasks(tsp.ListTasksRequest(project_id=PROJECT)).tasks
    assert [t.task_id.version for t in listed if t.task_id.name == "env.deployed"] == ["v2"]
    name = td.TaskName(project="flytesnacks", domain="development", name="env.deployed")
    versions = stub.ListVersions(tsp.ListVersionsRequest(task_name=name)).versions
    assert sorted(v.version for v in versions) == ["v1", "v2"]
    runs = rsg.RunServiceStub(channel)
    created = runs.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_id=tid))
    d = wait_phase(runs, created.run.action.id.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    assert d.action.metadata.task.id.version == "v2"


def _parent(channel):
    runs = rsg.RunServiceStub(channel)
    created = runs.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec("import time; time.sleep(60)")))
    return runs, created.run.action.id


def test_children_through_actions_service_snapshot_sentinel_then_updates(channel):
    runs, parent = _parent(channel)
    actions = asg.ActionsServiceStub(channel)

    def child(name: str) -> asp.Action:
        a = asp.Action(parent_action_name=parent.name, input_uri=os.devnull)
        a.action_id.run.CopyFrom(parent.run)
        a.action_id.name = name
        a.task.spec.CopyFrom(py_spec(OK, name=name))
        return a

    actions.Enqueue(asp.EnqueueRequest(action=child("early")))
    actions.Enqueue(asp.EnqueueRequest(action=child("early")))  # idempotent
    seen: list = []
    got_all = threading.Event()
    snapshot_done = threading.Event()

    def watch() -> None:
        for msg in actions.WatchForUpdates(asp.WatchForUpdatesRequest(parent_action_id=parent), timeout=30):
            seen.append(msg)
            if msg.HasField("control_message"):
                snapshot_done.set()
            done = {m.action_update.action_id.name for m in seen if m.action_update.phase in DONE}
            if {"early", "late"} <= done:
                got_all.set()
                return

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    # "late" is enqueued once the snapshot is over, so it can only arrive as a live update.
    assert snapshot_done.wait(30), seen
    actions.Enqueue(asp.EnqueueRequest(action=child("late")))
    assert got_all.wait(30), seen
    sentinel = next(i for i, m in enumerate(seen) if m.HasField("control_message"))
    assert seen[sentinel].control_message.sentinel
    assert all(m.action_update.action_id.name == "early" for m in seen[:sentinel])
    assert any(m.action_update.action_id.name == "late" for m in seen[sentinel:])
    ok = [m.action_update for m in seen if m.action_update.phase == phase_pb2.ACTION_PHASE_SUCCEEDED]
    assert all(u.output_uri.endswith("/1") for u in ok)
    # Every update names an output prefix, also while queued or running (the official SDK warns otherwise).
    updates = [m.action_update for m in seen if m.HasField("action_update")]
    assert updates and all(u.output_uri.endswith(f"/{u.action_id.name}/1") for u in updates), updates
    listed = runs.ListActions(rs.ListActionsRequest(run_id=parent.run)).actions
    assert {a.id.name for a in listed} == {"a0", "early", "late"}
    assert {a.metadata.parent for a in listed if a.id.name != "a0"} == {"a0"}
    runs.AbortRun(rs.AbortRunRequest(run_id=parent.run))
    actions.Enqueue(asp.EnqueueRequest(action=child("early")))  # a retried enqueue of a known child: fine
    with pytest.raises(grpc.RpcError) as e:
        actions.Enqueue(asp.EnqueueRequest(action=child("too-late")))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "already finished" in e.value.details()


def test_queue_and_state_services(channel):
    runs, parent = _parent(channel)
    req = qsp.EnqueueActionRequest(parent_action_name=parent.name, input_uri=os.devnull)
    req.action_id.run.CopyFrom(parent.run)
    req.action_id.name = "queued-child"
    req.task.spec.CopyFrom(py_spec(OK))
    qsg.QueueServiceStub(channel).EnqueueAction(req)
    state = ssg.StateServiceStub(channel)
    first_terminal = None
    seen_sentinel = False
    for msg in state.Watch(ssp.WatchRequest(parent_action_id=parent), timeout=30):
        if msg.HasField("control_message"):
            seen_sentinel = True
            continue
        if msg.action_update.phase in DONE:
            first_terminal = msg.action_update
            break
    assert seen_sentinel and first_terminal.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    state.Put(ssp.PutRequest(action_id=first_terminal.action_id, state='{"k": 1}'))
    assert state.Get(ssp.GetRequest(action_id=first_terminal.action_id)).state == '{"k": 1}'
    qsg.QueueServiceStub(channel).AbortQueuedRun(qsp.AbortQueuedRunRequest(run_id=parent.run))
    d = wait_phase(runs, parent.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_ABORTED


def test_watch_actions_sends_all_then_changes_and_ends_with_the_run(channel):
    runs = rsg.RunServiceStub(channel)
    created = runs.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(OK)))
    msgs = list(runs.WatchActions(rs.WatchActionsRequest(run_id=created.run.action.id.run), timeout=30))
    last = msgs[-1].enriched_actions[-1].action
    assert last.id.name == "a0" and last.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED


def test_create_and_update_projects(channel):
    stub = pjg.ProjectServiceStub(channel)
    stub.CreateProject(pj.CreateProjectRequest(project=pj.Project(id="proj-x", description="x")))
    with pytest.raises(grpc.RpcError) as e:
        stub.CreateProject(pj.CreateProjectRequest(project=pj.Project(id="proj-x")))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    got = stub.GetProject(pj.GetProjectRequest(id="proj-x")).project
    assert [d.id for d in got.domains] == ["development", "staging", "production"]
    got.description = "changed"
    stub.UpdateProject(pj.UpdateProjectRequest(project=got))
    assert stub.GetProject(pj.GetProjectRequest(id="proj-x")).project.description == "changed"


def test_list_runs_filters_by_phase_and_task_name(channel):
    from flyteidl2.common import list_pb2

    runs = rsg.RunServiceStub(channel)
    ok = runs.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(OK, name="lister_ok")))
    bad = runs.CreateRun(
        rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec("import sys; sys.exit(2)", name="lister_bad"))
    )
    for r in (ok, bad):
        wait_phase(runs, r.run.action.id.run, DONE)

    def names(*filters) -> set[str]:
        req = rs.ListRunsRequest(project_id=PROJECT, request=list_pb2.ListRequest(filters=list(filters), limit=1000))
        return {r.action.id.run.name for r in runs.ListRuns(req).runs}

    F = list_pb2.Filter
    failed = names(F(function=F.EQUAL, field="phase", values=[str(phase_pb2.ACTION_PHASE_FAILED)]))
    assert bad.run.action.id.run.name in failed and ok.run.action.id.run.name not in failed
    both = names(F(function=F.VALUE_IN, field="phase", values=["SUCCEEDED", "FAILED"]))
    assert {ok.run.action.id.run.name, bad.run.action.id.run.name} <= both
    assert names(F(function=F.EQUAL, field="task_name", values=["lister_ok"])) == {ok.run.action.id.run.name}
    with pytest.raises(grpc.RpcError) as e:
        names(F(function=F.EQUAL, field="created_by", values=["x"]))
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED and "created_by" in e.value.details()


def test_project_ids_are_dns_labels_as_on_a_cluster(channel):
    """A project id a Flyte cluster would refuse (it names a namespace) is refused here too, with the rule."""
    stub = pjg.ProjectServiceStub(channel)
    for bad in ("Bad Id!", "UPPER", "-lead", "x" * 64):
        with pytest.raises(grpc.RpcError) as e:
            stub.CreateProject(pj.CreateProjectRequest(project=pj.Project(id=bad)))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "project.id" in e.value.details()
    stub.CreateProject(pj.CreateProjectRequest(project=pj.Project(id="ok-project-2")))
