"""ClusterService, ProjectService, TaskService, DataProxyService, SecretService, auth and identity."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import secrets as _secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

from connectrpc.code import Code
from connectrpc.request import RequestContext
from flyteidl2.auth import auth_service_connect as authc
from flyteidl2.auth import auth_service_pb2 as authp
from flyteidl2.auth import identity_connect as idc
from flyteidl2.auth import identity_pb2 as idp
from flyteidl2.cluster import payload_pb2 as clp
from flyteidl2.cluster import service_connect as clc
from flyteidl2.dataproxy import dataproxy_service_connect as dpc
from flyteidl2.dataproxy import dataproxy_service_pb2 as dpp
from flyteidl2.logs.dataplane import payload_pb2 as logp
from flyteidl2.project import project_service_connect as pjc
from flyteidl2.project import project_service_pb2 as pjp
from flyteidl2.secret import definition_pb2 as secd
from flyteidl2.secret import payload_pb2 as secp
from flyteidl2.secret import secret_connect as secc
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.task import task_service_connect as tsc
from flyteidl2.task import task_service_pb2 as tsp

from flyte_devbox import convert as cv
from flyte_devbox.convert import fail, org_of, require
from flyte_devbox.core import Devbox
from flyte_devbox.images import check_enabled
from flyte_devbox.pod import MISSING, primary_container
from flyte_devbox.runs import Runs, action_data, page

MAX_URL_EXPIRY_S = 7 * 24 * 3600


class ClusterService(clc.ClusterService):
    def __init__(self, cluster: str = "devbox") -> None:
        # "devbox": actions run as subprocesses, images are not needed (flyte-remote skips building them);
        # "devbox-docker"/"devbox-podman": actions run in their images, which clients build as for a cluster.
        self.cluster = cluster

    async def select_cluster(self, request: clp.SelectClusterRequest, ctx: RequestContext) -> clp.SelectClusterResponse:
        # An empty endpoint tells clients to keep using this one.
        return clp.SelectClusterResponse(cluster_endpoint="", cluster=self.cluster)


_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_label(value: str, field: str) -> None:
    """Project and domain ids are DNS-1123 labels on a Flyte backend (they name namespaces): refuse the same here,
    so a name that works on the devbox also works on a cluster."""
    if len(value) > 63 or not _LABEL.match(value):
        fail(
            Code.INVALID_ARGUMENT,
            f"{field} '{value}' must be lower-case letters, digits and '-', start and end with a letter or digit, "
            "at most 63 characters",
        )


class ProjectService(pjc.ProjectService):
    def __init__(self, box: Devbox) -> None:
        self.box = box

    async def create_project(self, request: pjp.CreateProjectRequest, ctx: RequestContext) -> pjp.CreateProjectResponse:
        p = pjp.Project()
        p.CopyFrom(request.project)
        require(p.id, "project.id")
        _check_label(p.id, "project.id")
        p.name = p.name or p.id
        p.org = org_of(p.org)
        if not p.domains:
            for d in ("development", "staging", "production"):
                p.domains.add(id=d, name=d)
        for d in p.domains:
            _check_label(d.id, "project.domains.id")
        if not self.box.store.put_project(p.org, p, create=True):
            fail(Code.ALREADY_EXISTS, f"project '{p.id}' already exists")
        return pjp.CreateProjectResponse()

    async def update_project(self, request: pjp.UpdateProjectRequest, ctx: RequestContext) -> pjp.UpdateProjectResponse:
        p = pjp.Project()
        p.CopyFrom(request.project)
        require(p.id, "project.id")
        p.org = org_of(p.org)
        if not self.box.store.put_project(p.org, p, create=False):
            fail(Code.NOT_FOUND, f"project '{p.id}' not found")
        return pjp.UpdateProjectResponse()

    async def get_project(self, request: pjp.GetProjectRequest, ctx: RequestContext) -> pjp.GetProjectResponse:
        require(request.id, "id")
        body = self.box.store.get_project(org_of(request.org), request.id)
        if body is None:
            fail(Code.NOT_FOUND, f"project '{request.id}' not found")
        return pjp.GetProjectResponse(project=pjp.Project.FromString(body))

    async def list_projects(self, request: pjp.ListProjectsRequest, ctx: RequestContext) -> pjp.ListProjectsResponse:
        bodies = self.box.store.list_projects(org_of(request.org))
        projects = [pjp.Project.FromString(b) for b in bodies]
        for p in projects:
            p.org = p.org or org_of(request.org)
        return pjp.ListProjectsResponse(projects=pjp.Projects(projects=projects))


class TaskService(tsc.TaskService):
    def __init__(self, box: Devbox) -> None:
        self.box = box

    async def deploy_task(self, request: tsp.DeployTaskRequest, ctx: RequestContext) -> tsp.DeployTaskResponse:
        t = request.task_id
        cv.require_task_id(t)
        require(request.HasField("spec"), "spec")
        if primary_container(request.spec.task_template) is None:
            fail(Code.INVALID_ARGUMENT, f"spec.task_template {MISSING}")
        Runs(self.box).check_project(org_of(t.org), t.project, t.domain)
        got = self.box.store.put_task(
            org_of(t.org), t.project, t.domain, t.name, t.version, request.spec.SerializeToString()
        )
        if got == "conflict":
            fail(
                Code.ALREADY_EXISTS, f"task {t.name} version {t.version} exists with a different spec; bump the version"
            )
        return tsp.DeployTaskResponse()

    async def get_task_details(
        self, request: tsp.GetTaskDetailsRequest, ctx: RequestContext
    ) -> tsp.GetTaskDetailsResponse:
        t = request.task_id
        cv.require_task_id(t)
        check_enabled(self.box, t.project, t.domain, t.name)
        hit = self.box.store.get_task(org_of(t.org), t.project, t.domain, t.name, t.version)
        if hit is None:
            fail(Code.NOT_FOUND, f"task {t.project}/{t.domain}/{t.name}:{t.version} not found")
        spec = td.TaskSpec.FromString(hit[0])
        tid = td.TaskIdentifier()
        tid.CopyFrom(t)
        tid.org = org_of(t.org)
        md = td.TaskMetadata(
            short_name=spec.short_name, deployed_at=cv.ts(hit[1]), environment_name=spec.environment.name
        )
        return tsp.GetTaskDetailsResponse(details=td.TaskDetails(task_id=tid, metadata=md, spec=spec))

    async def list_tasks(self, request: tsp.ListTasksRequest, ctx: RequestContext) -> tsp.ListTasksResponse:
        org = org_of(request.org)
        project = domain = None
        if request.WhichOneof("scope_by") == "project_id":
            org = org_of(request.project_id.organization)
            project, domain = request.project_id.name or None, request.project_id.domain or None
        limit, offset = page(request.request)
        rows = self.box.store.list_tasks(org, project, domain)
        out = []
        for proj, dom, name, version, spec_b, at in rows[offset : offset + limit]:
            spec = td.TaskSpec.FromString(spec_b)
            tid = td.TaskIdentifier(org=org, project=proj, domain=dom, name=name, version=version)
            md = td.TaskMetadata(
                short_name=spec.short_name, deployed_at=cv.ts(at), environment_name=spec.environment.name
            )
            out.append(td.Task(task_id=tid, metadata=md))
        token = str(offset + limit) if len(rows) > offset + limit else ""
        meta = tsp.ListTasksResponse.ListTasksMetadata(total=len(rows), filtered_total=len(rows))
        return tsp.ListTasksResponse(tasks=out, token=token, metadata=meta)

    async def list_versions(self, request: tsp.ListVersionsRequest, ctx: RequestContext) -> tsp.ListVersionsResponse:
        n = request.task_name
        for f in ("project", "domain", "name"):
            require(getattr(n, f), f"task_name.{f}")
        check_enabled(self.box, n.project, n.domain, n.name)
        limit, offset = page(request.request)
        rows = self.box.store.list_versions(org_of(n.org), n.project, n.domain, n.name)
        versions = [
            tsp.ListVersionsResponse.VersionResponse(version=v, deployed_at=cv.ts(at))
            for v, at in rows[offset : offset + limit]
        ]
        return tsp.ListVersionsResponse(
            versions=versions, token=str(offset + limit) if len(rows) > offset + limit else ""
        )


class DataProxyService(dpc.DataProxyService):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs
        self.box = runs.box

    def _expiry(self, d: object) -> float:
        seconds = d.ToTimedelta().total_seconds() if d is not None else 0  # type: ignore[attr-defined]
        if seconds <= 0:
            seconds = 3600
        if seconds > MAX_URL_EXPIRY_S:
            fail(
                Code.INVALID_ARGUMENT, f"expires_in {seconds:g}s is longer than the devbox allows ({MAX_URL_EXPIRY_S}s)"
            )
        return seconds

    async def create_upload_location(
        self, request: dpp.CreateUploadLocationRequest, ctx: RequestContext
    ) -> dpp.CreateUploadLocationResponse:
        require(request.project, "project")
        require(request.domain, "domain")
        if request.content_md5 and len(request.content_md5) != 16:
            fail(
                Code.INVALID_ARGUMENT,
                f"content_md5 must be the 16 raw bytes of an MD5 digest, got {len(request.content_md5)}",
            )
        if not request.filename and not request.content_md5:
            fail(Code.INVALID_ARGUMENT, "missing field 'filename' (or 'content_md5' to name the upload by its digest)")
        org = org_of(request.org)
        self.runs.check_project(org, request.project, request.domain)
        root = request.filename_root
        if not root:
            root = (
                base64.b32encode(request.content_md5).decode().rstrip("=").lower()
                if request.content_md5
                else _secrets.token_hex(8)
            )
        filename = request.filename or base64.b32encode(request.content_md5).decode().rstrip("=").lower()
        for part, what in ((root, "filename_root"), (filename, "filename")):
            if part in (".", "..") or part.startswith("/") or "\\" in part or ".." in Path(part).parts:
                fail(Code.INVALID_ARGUMENT, f"{what} '{part}' must be a relative name without '..'")
        target = self.box.upload_uri(org, request.project, request.domain, root, filename)
        expires_in = self._expiry(request.expires_in if request.HasField("expires_in") else None)
        url, expires, headers = self.box.data.sign("PUT", target, expires_in, request.content_md5)
        resp = dpp.CreateUploadLocationResponse(signed_url=url, native_url=target, expires_at=cv.ts(expires))
        resp.headers.update(headers)
        return resp

    async def upload_inputs(self, request: dpp.UploadInputsRequest, ctx: RequestContext) -> dpp.UploadInputsResponse:
        key = self.runs.resolve_run_key(request)
        data = request.inputs.SerializeToString(deterministic=True)
        digest = hashlib.sha256(data).hexdigest()
        store = self.box.data
        target = store.join(store.root, "inputs", key.org, key.project, key.domain, digest, "inputs.pb")
        if not await store.exists(target):
            await store.write(target, data)
        from flyteidl2.common import run_pb2 as crun

        return dpp.UploadInputsResponse(offloaded_input_data=crun.OffloadedInputData(uri=target, inputs_hash=digest))

    async def create_download_link(
        self, request: dpp.CreateDownloadLinkRequest, ctx: RequestContext
    ) -> dpp.CreateDownloadLinkResponse:
        expires_in = self._expiry(request.expires_in if request.HasField("expires_in") else None)
        which = request.WhichOneof("source")
        if which != "action_attempt_id":
            fail(
                Code.UNIMPLEMENTED, f"download links for {which or 'nothing'} are not supported; use action_attempt_id"
            )
        aa = request.action_attempt_id
        row = self.runs.get_row(*cv.action_key(aa.action_id, "action_attempt_id.action_id"))
        attempt = aa.attempt or row.attempts or 1
        store = self.box.data
        if request.artifact_type != dpp.ARTIFACT_TYPE_REPORT:
            fail(Code.UNIMPLEMENTED, "only ARTIFACT_TYPE_REPORT download links are supported by the devbox")
        target = store.join(row.run_output_base, row.name, str(attempt), "report.html")
        if not await store.exists(target):
            fail(Code.NOT_FOUND, f"no report for action {row.name} attempt {attempt}")
        url, expires, _headers = store.sign("GET", target, expires_in)
        return dpp.CreateDownloadLinkResponse(
            pre_signed_urls=dpp.PreSignedURLs(signed_url=[url], expires_at=cv.ts(expires))
        )

    async def get_action_data(
        self, request: dpp.GetActionDataRequest, ctx: RequestContext
    ) -> dpp.GetActionDataResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        inputs, outputs = await action_data(self.box.data, row)
        out_uri = self.box.data.join(row.output_uri, "outputs.pb") if row.output_uri else ""
        return dpp.GetActionDataResponse(inputs=inputs, outputs=outputs, inputs_uri=row.input_uri, outputs_uri=out_uri)

    async def tail_logs(self, request: dpp.TailLogsRequest, ctx: RequestContext) -> AsyncIterator[dpp.TailLogsResponse]:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        attempts = self.box.store.attempts(row)
        if not attempts:
            if row.terminal:
                return
            # Not started yet: wait for the first attempt (or the end).
            while not attempts and not row.terminal:
                await asyncio.sleep(0.2)
                row = self.runs.get_row(row.run, row.name)
                attempts = self.box.store.attempts(row)
            if not attempts:
                return
        want = request.attempt or attempts[-1].attempt
        chosen = next((a for a in attempts if a.attempt == want), None)
        if chosen is None:
            fail(Code.NOT_FOUND, f"action {row.name} has no attempt {want} (it has {len(attempts)})")
        container = logp.ContainerIdentifier(
            kubernetes_container_name=row.name, kubernetes_pod_name=f"{row.run.name}-{row.name}-{want}"
        )
        files = {"stdout": Path(chosen.log_dir) / "stdout", "stderr": Path(chosen.log_dir) / "stderr"}
        pos = dict.fromkeys(files, 0)
        partial = dict.fromkeys(files, b"")
        while True:
            lines: list[logp.LogLine] = []
            for name, f in files.items():
                try:
                    with f.open("rb") as fh:
                        fh.seek(pos[name])
                        chunk = fh.read(1 << 20)
                except FileNotFoundError:
                    continue
                pos[name] += len(chunk)
                data = partial[name] + chunk
                *complete, partial[name] = data.split(b"\n")
                origin = logp.LogLine.Originator.USER if hasattr(logp.LogLine, "Originator") else 0
                for raw in complete:
                    lines.append(
                        logp.LogLine(
                            timestamp=cv.ts(time.time()), message=raw.decode(errors="replace"), originator=origin
                        )
                    )
            for i in range(0, len(lines), 500):
                yield dpp.TailLogsResponse(
                    logs=[dpp.TailLogsResponse.Logs(lines=lines[i : i + 500], container=container)]
                )
            current = next((a for a in self.box.store.attempts(row) if a.attempt == want), chosen)
            if current.end_time is not None and not lines:
                tail = [p for p in partial.values() if p]
                if tail:
                    msg = [logp.LogLine(timestamp=cv.ts(time.time()), message=p.decode(errors="replace")) for p in tail]
                    yield dpp.TailLogsResponse(logs=[dpp.TailLogsResponse.Logs(lines=msg, container=container)])
                return
            if not lines:
                await asyncio.sleep(0.1)


class SecretService(secc.SecretService):
    def __init__(self, box: Devbox) -> None:
        self.box = box

    @staticmethod
    def _id(sid: secd.SecretIdentifier) -> tuple[str, str, str, str]:
        require(sid.name, "id.name")
        return org_of(sid.organization), sid.project, sid.domain, sid.name

    @staticmethod
    def _value(spec: secd.SecretSpec) -> bytes:
        which = spec.WhichOneof("value")
        if which == "string_value":
            return spec.string_value.encode()
        if which == "binary_value":
            return spec.binary_value
        fail(Code.INVALID_ARGUMENT, "missing field 'secret_spec.value': set string_value or binary_value")

    async def create_secret(self, request: secp.CreateSecretRequest, ctx: RequestContext) -> secp.CreateSecretResponse:
        org, project, domain, name = self._id(request.id)
        value = self._value(request.secret_spec)
        if not self.box.store.put_secret(org, project, domain, name, value, request.secret_spec.type, create=True):
            fail(Code.ALREADY_EXISTS, f"secret '{name}' already exists; update or delete it first")
        return secp.CreateSecretResponse()

    async def update_secret(self, request: secp.UpdateSecretRequest, ctx: RequestContext) -> secp.UpdateSecretResponse:
        org, project, domain, name = self._id(request.id)
        value = self._value(request.secret_spec)
        if not self.box.store.put_secret(org, project, domain, name, value, request.secret_spec.type, create=False):
            fail(Code.NOT_FOUND, f"secret '{name}' not found")
        return secp.UpdateSecretResponse()

    def _secret(self, org: str, project: str, domain: str, name: str, kind: int, created: float) -> secd.Secret:
        md = secd.SecretMetadata(
            created_time=cv.ts(created), type=kind, secret_status=secd.SecretStatus(overall_status=secd.FULLY_PRESENT)
        )
        sid = secd.SecretIdentifier(name=name, organization=org, project=project, domain=domain)
        return secd.Secret(id=sid, secret_metadata=md)

    async def get_secret(self, request: secp.GetSecretRequest, ctx: RequestContext) -> secp.GetSecretResponse:
        org, project, domain, name = self._id(request.id)
        hit = self.box.store.get_secret(org, project, domain, name)
        if hit is None:
            fail(Code.NOT_FOUND, f"secret '{name}' not found")
        return secp.GetSecretResponse(secret=self._secret(org, project, domain, name, hit[1], hit[2]))

    async def delete_secret(self, request: secp.DeleteSecretRequest, ctx: RequestContext) -> secp.DeleteSecretResponse:
        org, project, domain, name = self._id(request.id)
        if not self.box.store.delete_secret(org, project, domain, name):
            fail(Code.NOT_FOUND, f"secret '{name}' not found")
        return secp.DeleteSecretResponse()

    async def list_secrets(self, request: secp.ListSecretsRequest, ctx: RequestContext) -> secp.ListSecretsResponse:
        org = org_of(request.organization)
        rows = list(self.box.store.list_secrets(org, request.project, request.domain))
        return secp.ListSecretsResponse(secrets=[self._secret(org, p, d, n, k, c) for p, d, n, k, c in rows])


class AuthMetadataService(authc.AuthMetadataService):
    def __init__(self, box: Devbox) -> None:
        self.box = box

    async def get_o_auth2_metadata(
        self, request: authp.GetOAuth2MetadataRequest, ctx: RequestContext
    ) -> authp.GetOAuth2MetadataResponse:
        url = self.box.url
        return authp.GetOAuth2MetadataResponse(
            issuer=url,
            token_endpoint=f"{url}/oauth2/token",
            # No authorization_endpoint: only client credentials are served, and advertising one (it was a
            # 404) left a PKCE client waiting minutes for a browser login that could never complete.
            response_types_supported=["token"],
            scopes_supported=["all"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            grant_types_supported=["client_credentials"],
        )

    async def get_public_client_config(
        self, request: authp.GetPublicClientConfigRequest, ctx: RequestContext
    ) -> authp.GetPublicClientConfigResponse:
        return authp.GetPublicClientConfigResponse(
            client_id="flyte-devbox-public",
            scopes=["all"],
            authorization_metadata_key="authorization",
            service_http_endpoint=self.box.url,
        )


class IdentityService(idc.IdentityService):
    """Who the caller is: under --auth the (only) client its token was issued to, else one local user.

    Never taken from a request header: a caller must not be able to name itself.
    """

    def __init__(self, subject: str = "devbox-user") -> None:
        self.subject = subject

    async def user_info(self, request: idp.UserInfoRequest, ctx: RequestContext) -> idp.UserInfoResponse:
        s = self.subject
        return idp.UserInfoResponse(subject=s, name=s, preferred_username=s)
