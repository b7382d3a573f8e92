"""A small in-memory control plane on loopback for tests and benchmarks of the transport.

It implements, with real grpcio aio servicers, what the transport's tests and the CLI need: projects,
runs (list, get, watch, abort), tasks, secrets, identity, logs, and AuthMetadataService plus an OAuth2
token endpoint (client credentials, device flow, refresh) over plain HTTP. It can require bearer
tokens, serve TLS, fail the next calls with a status, and be stopped and restarted on the same port
with its state kept. It is not the devbox (flyte-devbox): nothing here executes tasks.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import grpc.aio
from flyteidl2.auth import auth_service_pb2, auth_service_pb2_grpc, identity_pb2, identity_pb2_grpc
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2, dataproxy_service_pb2_grpc
from flyteidl2.project import project_service_pb2, project_service_pb2_grpc
from flyteidl2.secret import definition_pb2, payload_pb2, secret_pb2_grpc
from flyteidl2.task import task_definition_pb2, task_service_pb2, task_service_pb2_grpc
from flyteidl2.workflow import run_definition_pb2, run_service_pb2, run_service_pb2_grpc


class TokenServer:
    """OAuth2 token endpoint (``/token``) and device authorization (``/device``) on a thread."""

    def __init__(self, client_id: str = "flyte-test", client_secret: str = "s3cr/et+= x", expires_in: int = 3600):
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.valid: set[str] = set()
        self.requests: list[dict[str, str]] = []
        self.device_approved = False
        self._counter = itertools.count(1)
        self._refresh: dict[str, str] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(n).decode()).items()}
                code, body = outer._handle(self.path, form, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def issue(self) -> dict[str, Any]:
        tok = f"tok-{next(self._counter)}"
        refresh = f"ref-{tok}"
        self._refresh[refresh] = tok
        self.valid.add(tok)
        return {"access_token": tok, "token_type": "bearer", "expires_in": self.expires_in, "refresh_token": refresh}

    def _handle(self, path: str, form: dict[str, str], authz: str) -> tuple[int, dict[str, Any]]:
        self.requests.append(dict(form, _path=path))
        if path == "/device":
            return 200, {"device_code": "dev-1", "user_code": "ABCD-EFGH", "verification_uri": "http://example/verify",
                         "expires_in": 30, "interval": 0}
        grant = form.get("grant_type")
        if grant == "client_credentials":
            expected = "Basic " + base64.b64encode(
                f"{self.client_id}:{urllib.parse.quote_plus(self.client_secret)}".encode()).decode()
            if authz != expected:
                return 401, {"error": "invalid_client"}
            return 200, self.issue()
        if grant == "refresh_token":
            if form.get("refresh_token") not in self._refresh:
                return 400, {"error": "invalid_grant"}
            return 200, self.issue()
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if not self.device_approved:
                self.device_approved = True  # approved on the second poll
                return 400, {"error": "authorization_pending"}
            return 200, self.issue()
        return 400, {"error": "unsupported_grant_type"}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _phase(name: str) -> int:
    return int(phase_pb2.ActionPhase.Value(f"ACTION_PHASE_{name}"))


class ControlPlane:
    """In-memory state shared by every server incarnation (so a restart keeps it)."""

    def __init__(self, *, tokens: TokenServer | None = None) -> None:
        self.tokens = tokens
        self.projects: dict[str, project_service_pb2.Project] = {}
        self.runs: dict[str, run_definition_pb2.RunDetails] = {}
        self.tasks: list[task_definition_pb2.Task] = []
        self.secrets: dict[str, payload_pb2.CreateSecretRequest] = {}
        self.logs: dict[str, list[str]] = {}
        self.fail: dict[str, list[grpc.StatusCode]] = {}  # method name -> codes to fail the next calls with
        self.calls: dict[str, int] = {}
        self.delay: dict[str, float] = {}  # method name -> seconds to sleep before answering
        self.metadata: list[dict[str, str]] = []
        self.changed = asyncio.Condition()
        self.add_project("flytesnacks", "development", "staging", "production")

    # -- state helpers ---------------------------------------------------------------

    def add_project(self, name: str, *domains: str) -> None:
        p = project_service_pb2.Project(id=name, name=name)
        for d in domains or ("development", "staging", "production"):
            p.domains.add(id=d, name=d)
        self.projects[name] = p

    def add_run(self, name: str, phase: str = "RUNNING", task: str = "hello.main", project: str = "flytesnacks",
                domain: str = "development") -> run_definition_pb2.RunDetails:
        d = run_definition_pb2.RunDetails()
        d.action.id.run.CopyFrom(identifier_pb2.RunIdentifier(project=project, domain=domain, name=name))
        d.action.id.name = "a0"
        d.action.metadata.task.id.name = task
        d.action.status.phase = _phase(phase)
        d.action.status.attempts = 1
        d.action.status.start_time.FromSeconds(int(time.time()))
        self.runs[name] = d
        return d

    async def set_phase(self, name: str, phase: str, attempts: int | None = None) -> None:
        d = self.runs[name]
        d.action.status.phase = _phase(phase)
        if attempts is not None:
            d.action.status.attempts = attempts
        async with self.changed:
            self.changed.notify_all()

    async def log(self, name: str, *lines: str) -> None:
        self.logs.setdefault(name, []).extend(lines)
        async with self.changed:
            self.changed.notify_all()

    def _enter(self, method: str, context: grpc.aio.ServicerContext) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        md = {k: v for k, v in context.invocation_metadata() or ()}
        self.metadata.append(dict(md, _method=method))
        codes = self.fail.get(method)
        if codes:
            context_code = codes.pop(0)
            raise _Abort(context_code, f"injected {context_code.name}")
        if self.tokens is not None and not method.startswith("GetOAuth2Metadata") \
                and method != "GetPublicClientConfig":
            got = md.get("authorization", "")
            if not got.startswith("Bearer ") or got[7:] not in self.tokens.valid:
                raise _Abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


async def _guard(plane: ControlPlane, method: str, context: grpc.aio.ServicerContext) -> None:
    try:
        plane._enter(method, context)
    except _Abort as e:
        await context.abort(e.code, e.details)
    if plane.delay.get(method):
        await asyncio.sleep(plane.delay[method])


class _Project(project_service_pb2_grpc.ProjectServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    async def ListProjects(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "ListProjects", context)
        resp = project_service_pb2.ListProjectsResponse()
        resp.projects.projects.extend(self.p.projects.values())
        return resp

    async def CreateProject(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "CreateProject", context)
        if not request.project.id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "project.id is required")
        if request.project.id in self.p.projects:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"project {request.project.id} exists")
        self.p.projects[request.project.id] = request.project
        return project_service_pb2.CreateProjectResponse()


class _Run(run_service_pb2_grpc.RunServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    def _find(self, run_id: Any) -> run_definition_pb2.RunDetails | None:
        return self.p.runs.get(run_id.name)

    async def ListRuns(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "ListRuns", context)
        resp = run_service_pb2.ListRunsResponse()
        for d in self.p.runs.values():
            r = resp.runs.add()
            r.action.id.CopyFrom(d.action.id)
            r.action.metadata.CopyFrom(d.action.metadata)
            r.action.status.CopyFrom(d.action.status)
        return resp

    async def GetRunDetails(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "GetRunDetails", context)
        d = self._find(request.run_id)
        if d is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"run {request.run_id.name} not found")
        return run_service_pb2.GetRunDetailsResponse(details=d)

    async def ListActions(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "ListActions", context)
        d = self._find(request.run_id)
        if d is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"run {request.run_id.name} not found")
            raise AssertionError("unreachable")
        resp = run_service_pb2.ListActionsResponse()
        a = resp.actions.add()
        a.id.CopyFrom(d.action.id)
        a.metadata.CopyFrom(d.action.metadata)
        a.status.CopyFrom(d.action.status)
        return resp

    async def GetActionDetails(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "GetActionDetails", context)
        d = self._find(request.action_id.run)
        if d is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"run {request.action_id.run.name} not found")
            raise AssertionError("unreachable")
        return run_service_pb2.GetActionDetailsResponse(details=d.action)

    async def AbortRun(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "AbortRun", context)
        if self._find(request.run_id) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"run {request.run_id.name} not found")
        await self.p.set_phase(request.run_id.name, "ABORTED")
        return run_service_pb2.AbortRunResponse()

    async def WatchRunDetails(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "WatchRunDetails", context)
        name = request.run_id.name
        if name not in self.p.runs:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"run {name} not found")
        last: bytes | None = None
        while True:
            d = self.p.runs[name]
            cur = d.SerializeToString(deterministic=True)
            if cur != last:
                last = cur
                yield run_service_pb2.WatchRunDetailsResponse(details=d)
            if d.action.status.phase in (_phase("SUCCEEDED"), _phase("FAILED"), _phase("ABORTED")):
                return
            async with self.p.changed:
                await self.p.changed.wait()


class _Task(task_service_pb2_grpc.TaskServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    async def ListTasks(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "ListTasks", context)
        return task_service_pb2.ListTasksResponse(tasks=self.p.tasks)


class _Secret(secret_pb2_grpc.SecretServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    async def CreateSecret(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "CreateSecret", context)
        if request.id.name in self.p.secrets:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"secret {request.id.name} exists")
        self.p.secrets[request.id.name] = request
        return payload_pb2.CreateSecretResponse()

    async def GetSecret(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "GetSecret", context)
        s = self.p.secrets.get(request.id.name)
        if s is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"secret {request.id.name} not found")
            raise AssertionError("unreachable")
        return payload_pb2.GetSecretResponse(secret=definition_pb2.Secret(id=s.id))

    async def ListSecrets(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "ListSecrets", context)
        secrets = [definition_pb2.Secret(id=s.id) for s in self.p.secrets.values()]
        return payload_pb2.ListSecretsResponse(secrets=secrets)

    async def DeleteSecret(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "DeleteSecret", context)
        if self.p.secrets.pop(request.id.name, None) is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"secret {request.id.name} not found")
        return payload_pb2.DeleteSecretResponse()


class _Identity(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    async def UserInfo(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "UserInfo", context)
        return identity_pb2.UserInfoResponse(subject="u-1", name="Test User", email="test@example.com")


class _AuthMeta(auth_service_pb2_grpc.AuthMetadataServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    async def GetOAuth2Metadata(self, request: Any, context: Any) -> Any:
        self.p.calls["GetOAuth2Metadata"] = self.p.calls.get("GetOAuth2Metadata", 0) + 1
        if self.p.tokens is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "auth is off")
        url = self.p.tokens.url  # type: ignore[union-attr]
        return auth_service_pb2.GetOAuth2MetadataResponse(
            issuer=url, token_endpoint=f"{url}/token", authorization_endpoint=f"{url}/authorize",
            device_authorization_endpoint=f"{url}/device")

    async def GetPublicClientConfig(self, request: Any, context: Any) -> Any:
        return auth_service_pb2.GetPublicClientConfigResponse(client_id="flytectl", authorization_metadata_key="",
                                                              redirect_uri="http://localhost:53593/callback")


class _DataProxy(dataproxy_service_pb2_grpc.DataProxyServiceServicer):
    def __init__(self, plane: ControlPlane) -> None:
        self.p = plane

    async def TailLogs(self, request: Any, context: Any) -> Any:
        await _guard(self.p, "TailLogs", context)
        name = request.action_id.run.name
        sent = 0
        while True:
            lines = self.p.logs.get(name, [])
            if len(lines) > sent:
                resp = dataproxy_service_pb2.TailLogsResponse()
                entry = resp.logs.add()
                for ln in lines[sent:]:
                    entry.lines.add(message=ln)
                sent = len(lines)
                yield resp
            d = self.p.runs.get(name)
            if d is None or d.action.status.phase in (_phase("SUCCEEDED"), _phase("FAILED"), _phase("ABORTED")):
                return
            async with self.p.changed:
                await self.p.changed.wait()


class LoopbackServer:
    """Serves a :class:`ControlPlane` on 127.0.0.1; ``stop()``/``start()`` keep the port and the state."""

    def __init__(self, plane: ControlPlane | None = None, *, tls: tuple[bytes, bytes] | None = None,
                 port: int = 0) -> None:
        self.plane = plane or ControlPlane()
        self.tls = tls
        self.port = port
        self.server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> LoopbackServer:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        p = self.plane
        project_service_pb2_grpc.add_ProjectServiceServicer_to_server(_Project(p), server)
        run_service_pb2_grpc.add_RunServiceServicer_to_server(_Run(p), server)
        task_service_pb2_grpc.add_TaskServiceServicer_to_server(_Task(p), server)
        secret_pb2_grpc.add_SecretServiceServicer_to_server(_Secret(p), server)
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(_Identity(p), server)
        auth_service_pb2_grpc.add_AuthMetadataServiceServicer_to_server(_AuthMeta(p), server)
        dataproxy_service_pb2_grpc.add_DataProxyServiceServicer_to_server(_DataProxy(p), server)
        addr = f"127.0.0.1:{self.port}"
        if self.tls:
            creds = grpc.ssl_server_credentials([(self.tls[0], self.tls[1])])
            self.port = server.add_secure_port(addr, creds)
        else:
            self.port = server.add_insecure_port(addr)
        await server.start()
        self.server = server
        return self

    async def stop(self, grace: float | None = None) -> None:
        if self.server is not None:
            await self.server.stop(grace)
            self.server = None
        async with self.plane.changed:  # wake streams so they notice
            self.plane.changed.notify_all()

    async def __aenter__(self) -> LoopbackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def names(items: Iterable[Any]) -> list[str]:
    return [getattr(i, "name", str(i)) for i in items]


class ThreadedServer:
    """A :class:`LoopbackServer` on its own event loop in a thread: for driving it from sync code (CLI tests)."""

    def __init__(self, plane: ControlPlane | None = None, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self.run(self._make(plane, kwargs))

    async def _make(self, plane: ControlPlane | None, kwargs: dict[str, Any]) -> LoopbackServer:
        return await LoopbackServer(plane or ControlPlane(), **kwargs).start()

    @property
    def plane(self) -> ControlPlane:
        return self.server.plane

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


async def _serve_forever(port: int, auth: bool) -> None:
    tokens = TokenServer() if auth else None
    srv = await LoopbackServer(ControlPlane(tokens=tokens), port=port).start()
    srv.plane.add_run("bench", "RUNNING")
    info: dict[str, Any] = {"port": srv.port}
    if tokens is not None:
        info.update(client_id=tokens.client_id, client_secret=tokens.client_secret)
    print(json.dumps(info), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, __import__("sys").stdin.read)  # until stdin closes
    await srv.stop()
    if tokens is not None:
        tokens.close()


if __name__ == "__main__":
    # python -m flyte_grpc.testing [--auth] [PORT]: serve a loopback control plane (with run "bench") until
    # stdin closes; prints {"port": ..., "client_id": ..., "client_secret": ...} on its first line.
    import sys

    rest = [a for a in sys.argv[1:] if a != "--auth"]
    asyncio.run(_serve_forever(int(rest[0]) if rest else 0, "--auth" in sys.argv[1:]))
