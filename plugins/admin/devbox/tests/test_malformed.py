"""Bad requests get proper status codes and clear messages, and the server keeps serving."""

from __future__ import annotations

import grpc
import httpx
import pytest
from flyte_devbox.testing import project_id, py_spec
from flyteidl2.common import identifier_pb2 as ids
from flyteidl2.project import project_service_pb2 as pj
from flyteidl2.project import project_service_pb2_grpc as pjg
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.task import task_service_pb2 as tsp
from flyteidl2.task import task_service_pb2_grpc as tsg
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = project_id()
RUN_PATH = "/flyteidl2.workflow.RunService/CreateRun"


def grpc_error(fn, req) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as e:
        fn(req)
    return e.value


def test_missing_fields_name_the_field(channel):
    stub = rsg.RunServiceStub(channel)
    e = grpc_error(stub.CreateRun, rs.CreateRunRequest(task_spec=py_spec("pass")))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'id'" in e.details() and "project_id" in e.details()
    e = grpc_error(stub.CreateRun, rs.CreateRunRequest(project_id=PROJECT))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "task_spec or task_id" in e.details()
    e = grpc_error(stub.GetRunDetails, rs.GetRunDetailsRequest(run_id=ids.RunIdentifier(project="flytesnacks")))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "run_id.domain" in e.details()
    no_container = td.TaskSpec()
    no_container.task_template.id.name = "x"
    e = grpc_error(stub.CreateRun, rs.CreateRunRequest(project_id=PROJECT, task_spec=no_container))
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "container" in e.details()


def test_unknown_things_are_not_found(channel):
    stub = rsg.RunServiceStub(channel)
    tid = td.TaskIdentifier(project="flytesnacks", domain="development", name="nope", version="v1")
    e = grpc_error(stub.CreateRun, rs.CreateRunRequest(project_id=PROJECT, task_id=tid))
    assert e.code() == grpc.StatusCode.NOT_FOUND and "nope" in e.details() and "deploy" in e.details()
    e = grpc_error(tsg.TaskServiceStub(channel).GetTaskDetails, tsp.GetTaskDetailsRequest(task_id=tid))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    rid = ids.RunIdentifier(project="flytesnacks", domain="development", name="missing")
    e = grpc_error(stub.GetRunDetails, rs.GetRunDetailsRequest(run_id=rid))
    assert e.code() == grpc.StatusCode.NOT_FOUND and "missing" in e.details()
    other = ids.ProjectIdentifier(name="ghost", domain="development")
    e = grpc_error(stub.CreateRun, rs.CreateRunRequest(project_id=other, task_spec=py_spec("pass")))
    assert e.code() == grpc.StatusCode.NOT_FOUND and "ghost" in e.details()
    e = grpc_error(pjg.ProjectServiceStub(channel).GetProject, pj.GetProjectRequest(id="ghost"))
    assert e.code() == grpc.StatusCode.NOT_FOUND


def test_duplicate_run_name_is_already_exists(channel):
    stub = rsg.RunServiceStub(channel)
    rid = ids.RunIdentifier(project="flytesnacks", domain="development", name="dup-run")
    stub.CreateRun(rs.CreateRunRequest(run_id=rid, task_spec=py_spec("pass")))
    e = grpc_error(stub.CreateRun, rs.CreateRunRequest(run_id=rid, task_spec=py_spec("pass")))
    assert e.code() == grpc.StatusCode.ALREADY_EXISTS


def test_oversized_payloads_are_refused(devbox, channel):
    big = py_spec("pass")
    big.task_template.custom.fields["blob"].string_value = "x" * (17 * 1024 * 1024)
    e = grpc_error(rsg.RunServiceStub(channel).CreateRun, rs.CreateRunRequest(project_id=PROJECT, task_spec=big))
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    body = rs.CreateRunRequest(project_id=PROJECT, task_spec=big).SerializeToString()
    r = httpx.post(devbox.url + RUN_PATH, content=body, headers={"content-type": "application/proto"}, timeout=30)
    assert r.status_code == 429 and r.json()["code"] == "resource_exhausted", r.text


def test_connect_wrong_content_type_and_garbage(devbox):
    body = rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec("pass")).SerializeToString()
    r = httpx.post(devbox.url + RUN_PATH, content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = httpx.post(
        devbox.url + RUN_PATH, content=b"\xff\xff\xff garbage", headers={"content-type": "application/proto"}
    )
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"
    assert "flyteidl2.workflow.CreateRunRequest" in r.json()["message"]
    r = httpx.post(devbox.url + RUN_PATH, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_argument"
    r = httpx.get(devbox.url + "/no/such/thing")
    assert r.status_code == 404
    r = httpx.post(devbox.url + RUN_PATH, content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "'id'" in r.json()["message"]


def test_server_still_healthy_after_abuse(devbox, channel):
    with httpx.Client() as c:
        for ctype in ("application/proto", "application/json", "application/grpc", "application/connect+proto", ""):
            c.post(devbox.url + RUN_PATH, content=b"\x00\x00\x00\x00\x09abc", headers={"content-type": ctype})
    assert httpx.get(devbox.url + "/healthz").text == "ok\n"
    assert pjg.ProjectServiceStub(channel).ListProjects(pj.ListProjectsRequest()).projects.projects


def test_offloaded_inputs_must_come_from_the_devbox(channel):
    from flyteidl2.common import run_pb2 as crun

    stub = rsg.RunServiceStub(channel)
    for uri in ("/etc/passwd", "/tmp/../etc/hosts"):
        e = grpc_error(
            stub.CreateRun,
            rs.CreateRunRequest(
                project_id=PROJECT, task_spec=py_spec("pass"), offloaded_input_data=crun.OffloadedInputData(uri=uri)
            ),
        )
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "UploadInputs" in e.details()
