"""Watches resume after the server is stopped and restarted mid-stream: nothing lost, nothing repeated."""

from __future__ import annotations

import asyncio

import pytest
from flyte.admin import AdminError, AdminSettings
from flyte_grpc.transport import GrpcClient
from flyte_grpc.watch import Deduplicator
from flyteidl2.common import identifier_pb2 as ci
from flyteidl2.common import phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import state_service_pb2 as ss

PHASE = phase_pb2.ActionPhase.Name


def client(srv) -> GrpcClient:
    return GrpcClient(AdminSettings(endpoint=srv.endpoint, insecure=True, token_cache=None),
                      backoff_base=0.05, backoff_cap=0.2)


async def _until(cond, timeout=5.0):
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.mark.parametrize("change_while_down", [False, True])
async def test_watch_resumes_after_restart(server, change_while_down):
    plane = server.plane
    plane.add_run("r1", "QUEUED")
    got: list[tuple[str, int]] = []
    reconnects: list[int] = []
    async with client(server) as c:
        req = rs.WatchRunDetailsRequest(run_id=ci.RunIdentifier(project="flytesnacks", domain="development", name="r1"))

        async def consume():
            async for u in c.watch(c.run.WatchRunDetails, req, on_reconnect=reconnects.append):
                got.append((PHASE(u.details.action.status.phase), u.details.action.status.attempts))

        task = asyncio.create_task(consume())
        await _until(lambda: len(got) == 1)
        await plane.set_phase("r1", "RUNNING")
        await _until(lambda: len(got) == 2)
        await server.stop()  # mid-stream: the watch is cut
        await _until(lambda: len(reconnects) >= 1)
        if change_while_down:
            await plane.set_phase("r1", "RUNNING", attempts=2)
        await server.start()
        n = len(reconnects)
        await _until(lambda: plane.calls["WatchRunDetails"] == 2)  # re-subscribed
        await asyncio.sleep(0.1)
        await plane.set_phase("r1", "SUCCEEDED", attempts=2 if change_while_down else 1)
        await asyncio.wait_for(task, 10)
    expected = [("ACTION_PHASE_QUEUED", 1), ("ACTION_PHASE_RUNNING", 1)]
    if change_while_down:
        expected += [("ACTION_PHASE_RUNNING", 2), ("ACTION_PHASE_SUCCEEDED", 2)]
    else:
        expected += [("ACTION_PHASE_SUCCEEDED", 1)]
    assert got == expected
    assert n >= 1


async def test_logs_resume_without_repeats(server):
    plane = server.plane
    plane.add_run("r2", "RUNNING")
    await plane.log("r2", "one", "two")
    lines: list[str] = []
    reconnects: list[int] = []
    async with client(server) as c:
        req = dp.TailLogsRequest(action_id=ci.ActionIdentifier(run=ci.RunIdentifier(name="r2"), name="a0"))

        async def consume():
            async for resp in c.watch(c.dataproxy.TailLogs, req, on_reconnect=reconnects.append):
                lines.extend(ln.message for logs in resp.logs for ln in logs.lines)

        task = asyncio.create_task(consume())
        await _until(lambda: len(lines) == 2)
        await server.stop()
        await plane.log("r2", "three")
        await _until(lambda: len(reconnects) >= 1)
        await server.start()
        await _until(lambda: len(lines) == 3)
        await plane.log("r2", "four")
        await _until(lambda: len(lines) == 4)
        await plane.set_phase("r2", "SUCCEEDED")
        await asyncio.wait_for(task, 10)
    assert lines == ["one", "two", "three", "four"]


async def test_watch_gives_up_after_max_reconnects(server):
    server.plane.add_run("r3", "RUNNING")
    async with client(server) as c:
        req = rs.WatchRunDetailsRequest(run_id=ci.RunIdentifier(name="r3"))
        await server.stop()
        with pytest.raises(AdminError, match="gave up after 2 reconnects"):
            async for _ in c.watch(c.run.WatchRunDetails, req, max_reconnects=2):
                pass


async def test_watch_raises_non_transient_errors(server):
    async with client(server) as c:
        req = rs.WatchRunDetailsRequest(run_id=ci.RunIdentifier(name="missing"))
        import grpc

        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for _ in c.watch(c.run.WatchRunDetails, req):
                pass
        assert e.value.code() == grpc.StatusCode.NOT_FOUND


def _update(name: str, phase: int) -> ss.WatchResponse:
    r = ss.WatchResponse()
    r.action_update.action_id.name = name
    r.action_update.phase = phase  # type: ignore[assignment]
    return r


def test_dedup_state_watch_snapshot_and_sentinel():
    d = Deduplicator()
    sentinel = ss.WatchResponse()
    sentinel.control_message.sentinel = True
    first = [_update("a1", 1), _update("a2", 4), sentinel, _update("a1", 4)]
    assert [d.filter(m) is not None for m in first] == [True, True, True, True]
    # after a reconnect: snapshot again (a1 unchanged, a2 changed), sentinel again, then a new child
    d.reset_stream()
    again = [_update("a1", 4), _update("a2", 5), sentinel, _update("a3", 1)]
    assert [d.filter(m) is not None for m in again] == [False, True, False, True]


def test_dedup_repeated_fields_keeps_only_new_items():
    d = Deduplicator()
    resp = rs.WatchRunsResponse()
    for name in ("x", "y"):
        resp.runs.add().action.id.run.name = name
    assert len(d.filter(resp).runs) == 2
    resp.runs[1].action.status.attempts = 2
    out = d.filter(resp)
    assert [r.action.id.run.name for r in out.runs] == ["y"]
    assert d.filter(resp) is None


async def test_watch_refreshes_a_revoked_token_on_resume(auth_server, tokens, tmp_path):
    plane = auth_server.plane
    plane.add_run("r4", "RUNNING")
    s = AdminSettings(endpoint=auth_server.endpoint, insecure=True, token_cache=tmp_path / "t",
                      auth_type="ClientSecret", client_id=tokens.client_id, client_secret=tokens.client_secret)
    got: list[str] = []
    async with GrpcClient(s, backoff_base=0.05, backoff_cap=0.2) as c:
        req = rs.WatchRunDetailsRequest(run_id=ci.RunIdentifier(name="r4"))

        async def consume():
            async for u in c.watch(c.run.WatchRunDetails, req):
                got.append(PHASE(u.details.action.status.phase))

        task = asyncio.create_task(consume())
        await _until(lambda: len(got) == 1)
        await auth_server.stop()
        tokens.valid.clear()  # the restarted server no longer accepts the token the stream opened with
        await auth_server.start()
        await _until(lambda: plane.calls.get("WatchRunDetails", 0) >= 3)  # refused once, then accepted
        await asyncio.sleep(0.1)
        await plane.set_phase("r4", "SUCCEEDED")
        await asyncio.wait_for(task, 10)
    assert got == ["ACTION_PHASE_RUNNING", "ACTION_PHASE_SUCCEEDED"]
    assert [r["grant_type"] for r in tokens.requests] == ["client_credentials"] * 2
