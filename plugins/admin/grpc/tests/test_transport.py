"""The transport against real grpcio servers on loopback: TLS, retries, deadlines, the typed client."""

from __future__ import annotations

import time

import grpc
import pytest
from flyte.admin import SERVICES, AdminSettings, connect
from flyte.errors import ConfigError
from flyte_grpc.transport import GrpcClient
from flyteidl2.project import project_service_pb2 as pb


def client_for(srv, **kw) -> GrpcClient:
    settings = AdminSettings(endpoint=srv.endpoint, insecure=kw.pop("insecure", True), token_cache=None,
                             **{k: v for k, v in kw.items() if k in ("timeout", "retries", "ca_cert_file_path",
                                                                     "insecure_skip_verify")})
    return GrpcClient(settings, backoff_base=0.01, backoff_cap=0.05)


async def test_connect_through_the_registry(server):
    client = await connect(AdminSettings(endpoint=server.endpoint, insecure=True))
    async with client:
        assert isinstance(client, GrpcClient)
        resp = await client.project.ListProjects(pb.ListProjectsRequest())
        assert [p.id for p in resp.projects.projects] == ["flytesnacks"]
    md = server.plane.metadata[-1]
    assert len(md["x-request-id"]) == 32
    assert "authorization" not in md  # nothing configured, nothing asked: no credentials sent


async def test_one_generated_stub_per_service(server):
    async with client_for(server) as c:
        for name in SERVICES:
            stub = getattr(c, name)
            assert type(stub).__name__.endswith("Stub"), name
            assert type(stub).__module__.startswith("flyteidl2."), name


async def test_tls_with_ca_file(tls_server, certs):
    async with client_for(tls_server, insecure=False, ca_cert_file_path=str(certs["ca_file"])) as c:
        resp = await c.project.ListProjects(pb.ListProjectsRequest())
        assert resp.projects.projects[0].id == "flytesnacks"


async def test_tls_without_the_ca_is_refused(tls_server):
    async with client_for(tls_server, insecure=False, retries=0, timeout=5) as c:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await c.project.ListProjects(pb.ListProjectsRequest())
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_tls_skip_verify(tls_server):
    async with client_for(tls_server, insecure=False, insecure_skip_verify=True) as c:
        resp = await c.project.ListProjects(pb.ListProjectsRequest())
        assert resp.projects.projects[0].id == "flytesnacks"


async def test_plaintext_client_against_tls_server_fails(tls_server):
    async with client_for(tls_server, insecure=True, retries=0, timeout=3) as c:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await c.project.ListProjects(pb.ListProjectsRequest())
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE


def test_unreadable_ca_file_is_a_config_error(tmp_path):
    from flyte_grpc.channel import create_channel

    with pytest.raises(ConfigError, match="caCertFilePath"):
        create_channel(AdminSettings(endpoint="localhost:1", ca_cert_file_path=str(tmp_path / "nope.pem")))


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
async def test_idempotent_calls_are_retried(server, code):
    server.plane.fail["ListProjects"] = [code, code, code]
    async with client_for(server) as c:
        resp = await c.project.ListProjects(pb.ListProjectsRequest())
    assert resp.projects.projects[0].id == "flytesnacks"
    assert server.plane.calls["ListProjects"] == 4


async def test_non_idempotent_calls_are_not_retried(server):
    server.plane.fail["CreateProject"] = [grpc.StatusCode.UNAVAILABLE]
    async with client_for(server) as c:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await c.project.CreateProject(pb.CreateProjectRequest(project=pb.Project(id="p2")))
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert server.plane.calls["CreateProject"] == 1
    assert "p2" not in server.plane.projects


async def test_other_errors_are_not_retried(server):
    server.plane.fail["ListProjects"] = [grpc.StatusCode.INVALID_ARGUMENT]
    async with client_for(server) as c:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await c.project.ListProjects(pb.ListProjectsRequest())
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert server.plane.calls["ListProjects"] == 1


async def test_retries_stop_after_the_configured_count(server):
    server.plane.fail["ListProjects"] = [grpc.StatusCode.UNAVAILABLE] * 10
    async with client_for(server, retries=2) as c:
        with pytest.raises(grpc.aio.AioRpcError):
            await c.project.ListProjects(pb.ListProjectsRequest())
    assert server.plane.calls["ListProjects"] == 3


async def test_default_deadline(server):
    server.plane.delay["ListProjects"] = 5
    async with client_for(server, timeout=0.3) as c:
        t0 = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await c.project.ListProjects(pb.ListProjectsRequest())
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 2


async def test_explicit_timeout_wins_and_retries_share_the_deadline(server):
    server.plane.fail["ListProjects"] = [grpc.StatusCode.UNAVAILABLE] * 100
    async with GrpcClient(AdminSettings(endpoint=server.endpoint, insecure=True, token_cache=None, retries=100),
                          backoff_base=0.05, backoff_cap=0.1) as c:
        t0 = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError):
            await c.project.ListProjects(pb.ListProjectsRequest(), timeout=0.5)
        assert time.monotonic() - t0 < 1.5
    assert 2 < server.plane.calls["ListProjects"] < 100


async def test_retries_ride_out_a_server_restart(server):
    settings = AdminSettings(endpoint=server.endpoint, insecure=True, token_cache=None, retries=50)
    async with GrpcClient(settings, backoff_base=0.05, backoff_cap=0.1) as c:
        await c.project.ListProjects(pb.ListProjectsRequest())
        await server.stop()
        import asyncio

        async def restart():
            await asyncio.sleep(0.3)
            await server.start()

        task = asyncio.create_task(restart())
        resp = await c.project.ListProjects(pb.ListProjectsRequest(), timeout=10)
        await task
    assert resp.projects.projects[0].id == "flytesnacks"


def test_import_flyte_and_help_do_not_import_grpc():
    import subprocess
    import sys

    code = ("import sys, flyte, flyte.admin; from flyte.cli.main import cli; "
            "from click.testing import CliRunner; r = CliRunner().invoke(cli, ['--help']); "
            "assert r.exit_code == 0, r.output; "
            "bad = [m for m in sys.modules if m == 'grpc' or m.startswith('grpc.') "
            "or (m.startswith('flyte_grpc.') and m != 'flyte_grpc.hooks')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_client_without_credentials_does_not_import_httpx():
    """httpx (tens of ms of imports) is for token requests only: `flyte get projects` on an open devbox skips it."""
    import subprocess
    import sys

    code = ("import sys, asyncio; from flyte.admin import AdminSettings; import flyte_grpc.transport as t; "
            "c = t.GrpcClient(AdminSettings(endpoint='127.0.0.1:1', insecure=True)); "
            "bad = [m for m in sys.modules if m == 'httpx' or m.startswith('httpx.')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
