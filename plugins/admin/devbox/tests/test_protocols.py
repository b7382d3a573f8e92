"""One port, both protocols: gRPC (grpcio, h2c) and Connect (HTTP/1.1 and h2c, unary and streaming, gzip)."""

from __future__ import annotations

import gzip
import json
import struct

import grpc
import httpx
import pytest
from flyte_devbox.testing import project_id, py_spec, wait_phase
from flyteidl2.cluster import payload_pb2 as clp
from flyteidl2.cluster import service_pb2_grpc as clg
from flyteidl2.common import phase_pb2
from flyteidl2.project import project_service_pb2 as pj
from flyteidl2.project import project_service_pb2_grpc as pjg
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = project_id()

OK_CODE = "import sys, pathlib; pathlib.Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)"


def connect_unary(client: httpx.Client, url: str, path: str, msg, out_type, *, gzip_body: bool = False):
    body = msg.SerializeToString()
    headers = {"content-type": "application/proto", "connect-protocol-version": "1"}
    if gzip_body:
        body = gzip.compress(body)
        headers["content-encoding"] = "gzip"
    r = client.post(url + path, content=body, headers=headers)
    assert r.status_code == 200, r.text
    return out_type.FromString(r.content)


def connect_stream(client: httpx.Client, url: str, path: str, msg, out_type, limit: int):
    payload = msg.SerializeToString()
    body = struct.pack(">BI", 0, len(payload)) + payload
    headers = {"content-type": "application/connect+proto", "connect-protocol-version": "1"}
    out = []
    with client.stream("POST", url + path, content=body, headers=headers) as r:
        assert r.status_code == 200
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            while len(buf) >= 5:
                flags, n = struct.unpack(">BI", buf[:5])
                if len(buf) < 5 + n:
                    break
                frame, buf = buf[5 : 5 + n], buf[5 + n :]
                if flags & 0x02:  # end-of-stream message (JSON)
                    end = json.loads(frame or b"{}")
                    assert "error" not in end, end
                    return out
                out.append(out_type.FromString(frame))
                if len(out) >= limit:
                    return out
    return out


def test_same_handlers_over_grpc_and_connect(devbox, channel):
    g = pjg.ProjectServiceStub(channel).ListProjects(pj.ListProjectsRequest())
    with httpx.Client() as c:
        h1 = connect_unary(
            c,
            devbox.url,
            "/flyteidl2.project.ProjectService/ListProjects",
            pj.ListProjectsRequest(),
            pj.ListProjectsResponse,
        )
    with httpx.Client(http1=False, http2=True) as c:
        h2 = connect_unary(
            c,
            devbox.url,
            "/flyteidl2.project.ProjectService/ListProjects",
            pj.ListProjectsRequest(),
            pj.ListProjectsResponse,
            gzip_body=True,
        )
        assert c.get(devbox.url + "/healthz").http_version == "HTTP/2"
    assert g == h1 == h2
    snacks = [p for p in g.projects.projects if p.id == "flytesnacks"]
    assert [d.id for d in snacks[0].domains] == ["development", "staging", "production"]


def test_select_cluster_keeps_this_endpoint(channel):
    resp = clg.ClusterServiceStub(channel).SelectCluster(
        clp.SelectClusterRequest(
            project_id=PROJECT, operation=clp.SelectClusterRequest.OPERATION_CREATE_UPLOAD_LOCATION
        )
    )
    assert resp.cluster_endpoint == ""


def test_run_created_over_connect_is_seen_over_grpc_and_streamed_over_connect(devbox, channel):
    with httpx.Client() as c:
        created = connect_unary(
            c,
            devbox.url,
            "/flyteidl2.workflow.RunService/CreateRun",
            rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(OK_CODE)),
            rs.CreateRunResponse,
            gzip_body=True,
        )
        run_id = created.run.action.id.run
        stub = rsg.RunServiceStub(channel)
        d = wait_phase(stub, run_id, {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED})
        assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d
        msgs = connect_stream(
            c,
            devbox.url,
            "/flyteidl2.workflow.RunService/WatchRunDetails",
            rs.WatchRunDetailsRequest(run_id=run_id),
            rs.WatchRunDetailsResponse,
            limit=10,
        )
    assert msgs and msgs[-1].details.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED


def test_grpc_server_streaming(channel):
    stub = rsg.RunServiceStub(channel)
    run = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(OK_CODE)))
    phases = [
        m.details.action.status.phase
        for m in stub.WatchRunDetails(rs.WatchRunDetailsRequest(run_id=run.run.action.id.run), timeout=30)
    ]
    assert phases[-1] == phase_pb2.ACTION_PHASE_SUCCEEDED
    assert phases == sorted(phases)


def test_unknown_grpc_method_is_unimplemented(channel):
    call = channel.unary_unary(
        "/flyteidl2.nope.Service/Method", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    with pytest.raises(grpc.RpcError) as e:
        call(b"")
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_connect_server_streaming_over_h2c(devbox, channel):
    stub = rsg.RunServiceStub(channel)
    run = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(OK_CODE)))
    run_id = run.run.action.id.run
    wait_phase(stub, run_id, {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED})
    with httpx.Client(http1=False, http2=True) as c:
        msgs = connect_stream(
            c,
            devbox.url,
            "/flyteidl2.workflow.RunService/WatchActions",
            rs.WatchActionsRequest(run_id=run_id),
            rs.WatchActionsResponse,
            limit=5,
        )
    assert msgs[0].enriched_actions[0].action.id.name == "a0"
    assert msgs[-1].enriched_actions[-1].action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED


def test_grpc_web_over_http1(devbox):
    req = pj.ListProjectsRequest().SerializeToString()
    body = struct.pack(">BI", 0, len(req)) + req
    r = httpx.post(devbox.url + "/flyteidl2.project.ProjectService/ListProjects", content=body,
                   headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1"})  # fmt: skip
    assert r.status_code == 200
    flags, n = struct.unpack(">BI", r.content[:5])
    assert flags == 0
    msg = pj.ListProjectsResponse.FromString(r.content[5 : 5 + n])
    assert "flytesnacks" in [p.id for p in msg.projects.projects]
    trailer = r.content[5 + n :]
    assert trailer[0] & 0x80 and b"grpc-status:0" in trailer.replace(b" ", b"")


def test_identity_user_info(channel):
    from flyteidl2.auth import identity_pb2, identity_pb2_grpc

    info = identity_pb2_grpc.IdentityServiceStub(channel).UserInfo(identity_pb2.UserInfoRequest())
    assert info.subject
