"""Submitting a run: bundle and upload the code, upload the inputs, CreateRun with the TaskSpec inline."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte.runtime import Phase, RunOptions

from flyte_remote.code_bundle import Bundle, build_bundle
from flyte_remote.uploads import DataProxyAccess

if TYPE_CHECKING:
    from flyte import TaskTemplate
    from flyte.remote.connection import Target

logger = logging.getLogger("flyte.remote")

_PHASES = {
    "QUEUED": Phase.QUEUED, "WAITING_FOR_RESOURCES": Phase.QUEUED, "INITIALIZING": Phase.RUNNING,
    "RUNNING": Phase.RUNNING, "SUCCEEDED": Phase.SUCCEEDED, "FAILED": Phase.FAILED, "ABORTED": Phase.ABORTED,
    "TIMED_OUT": Phase.TIMED_OUT,
}


def phase_of(phase: int) -> Phase:
    """A flyteidl2 ``ActionPhase`` as a :class:`flyte.runtime.Phase` (UNSPECIFIED: queued)."""
    from flyte.remote.names import phase_name

    return _PHASES.get(phase_name(phase), Phase.QUEUED)


@dataclass
class Submission:
    name: str
    phase: Phase
    bundle: Bundle
    bundle_uri: str
    spec: Any


async def upload_bundle(client: Any, target: Target, bundle: Bundle) -> str:
    """Upload the bundle through DataProxy (CreateUploadLocation + signed PUT with Content-MD5); its native URL.

    Skipped when this digest is already there (see flyte_remote.code_bundle.upload_bundle_to).
    """
    from flyte_remote.code_bundle import upload_bundle_to

    uploaded = await upload_bundle_to(client.dataproxy, bundle, org=target.org,
                                      project=target.project, domain=target.domain, timeout=target.settings.timeout)
    if uploaded.skipped:
        logger.info("code bundle %s already uploaded", bundle.md5)
    return uploaded.native_url


def run_spec(options: RunOptions) -> Any:
    from flyteidl2.core import literals_pb2
    from flyteidl2.task import run_pb2

    spec = run_pb2.RunSpec(overwrite_cache=options.overwrite_cache)
    if options.env_vars:
        spec.envs.values.extend(literals_pb2.KeyValuePair(key=k, value=v) for k, v in options.env_vars.items())
    if options.labels:
        spec.labels.values.update(options.labels)
    if options.max_action_concurrency:
        spec.max_action_concurrency = options.max_action_concurrency
    if options.raw_data_path:
        spec.raw_data_storage.raw_data_prefix = options.raw_data_path
    if options.run_base_dir:
        spec.run_base_dir = options.run_base_dir
    return spec


async def submit_run(
    task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions, target: Target
) -> Submission:
    """Everything ``flyte run --runtime remote`` does before the run is on its way (see the module docstring)."""
    from flyte.remote.pod_template import check_task_pod_templates
    from flyte.remote.spec import module_of, version_of

    check_task_pod_templates(task)  # so do pod templates Kubernetes would refuse
    module, root = module_of(task)
    if target.root_dir is not None:
        root = target.root_dir.resolve()
        module = _module_under(task, root) or module
    bundle = await asyncio.to_thread(build_bundle, root)
    version = str(options.extra.get("version") or version_of(bundle.md5))
    try:
        return await _submit(task, args, kwargs, options, target, module, bundle, version)
    except Exception as e:
        err = admin_error(e, target)
        if err is None:
            raise
        raise err from None


async def _submit(task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions,
                  target: Target, module: str, bundle: Bundle, version: str) -> Submission:
    from flyte.admin import connect
    from flyte.remote.io import inputs_message
    from flyte.remote.spec import SpecContext, task_spec
    from flyte.storage.data_access import using
    from flyte.types.interface import default_inputs, inputs_to_literals
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
    from flyteidl2.workflow import run_service_pb2 as rs

    async with await connect(target.settings) as client:
        # Inputs first (bad ones fail before the bundle is uploaded); local File/Dir inputs go up through DataProxy.
        with using(DataProxyAccess(client, target.project, target.domain, target.org, target.settings.timeout)):
            in_lits = await inputs_to_literals(task.interface, args, kwargs)
        # built and pushed first when missing (flyte_remote.images); with_runcontext(images={env: uri}) maps them
        images = await _images(client, task, target, dict(options.extra.get("images") or {}))
        bundle_uri = await upload_bundle(client, target, bundle)
        ctx = SpecContext(project=target.project, domain=target.domain, org=target.org, version=version,
                          bundle_uri=bundle_uri, module=module, images=images)
        spec = task_spec(task, ctx, await default_inputs(task.interface))
        project_id = identifier_pb2.ProjectIdentifier(organization=target.org, name=target.project,
                                                      domain=target.domain)
        run_id = None
        if options.name:
            run_id = identifier_pb2.RunIdentifier(org=target.org, project=target.project, domain=target.domain,
                                                  name=options.name)
        up = dp.UploadInputsRequest(task_spec=spec, inputs=inputs_message(in_lits))
        if run_id is not None:
            up.run_id.CopyFrom(run_id)
        else:
            up.project_id.CopyFrom(project_id)
        uploaded = await client.dataproxy.UploadInputs(up)
        req = rs.CreateRunRequest(task_spec=spec, offloaded_input_data=uploaded.offloaded_input_data,
                                  run_spec=run_spec(options))
        if run_id is not None:
            req.run_id.CopyFrom(run_id)
        else:
            req.project_id.CopyFrom(project_id)
        resp = await client.run.CreateRun(req)
    action = resp.run.action
    return Submission(name=action.id.run.name, phase=phase_of(action.status.phase), bundle=bundle,
                      bundle_uri=bundle_uri, spec=spec)


_HINTS = {
    "UNAVAILABLE": "is the control plane at {endpoint} up? Check admin.endpoint and admin.insecure (TLS is the "
                   "default); for a devbox: flyte devbox start",
    "UNAUTHENTICATED": "the credentials were refused; check admin.authType and the client id/secret, or FLYTE_API_KEY",
    "PERMISSION_DENIED": "your identity may not do this in {project}/{domain}; `flyte whoami` shows who you are",
    "ALREADY_EXISTS": "a run of that name exists in {project}/{domain}; pick another name (or none)",
    "NOT_FOUND": "check the project and domain ({project}/{domain}): `flyte get projects` lists them",
    "DEADLINE_EXCEEDED": "the control plane did not answer in time (admin.timeout)",
}


def admin_error(e: BaseException, target: Target) -> Exception | None:
    """A failed control-plane call as one line: the status, the server's message and what to check."""
    from flyte.admin import AdminError

    code = getattr(e, "code", None)
    if isinstance(e, AdminError) or not callable(code):
        return None
    try:
        name = str(code().name)
    except Exception:
        return None
    details = e.details() if callable(getattr(e, "details", None)) else str(e)  # type: ignore[attr-defined]
    hint = _HINTS.get(name, "").format(endpoint=target.settings.endpoint, project=target.project,
                                       domain=target.domain)
    from flyte_remote.images import not_a_control_plane

    if not_a_control_plane(e):
        hint = (f"{target.settings.endpoint} answered as a plain web server, not a Flyte control plane; check "
                "admin.endpoint: it is the control plane's gRPC host:port")
    elif name == "UNAVAILABLE" and "WRONG_VERSION_NUMBER" in str(details):
        hint = (f"the TLS handshake failed: {target.settings.endpoint} speaks plaintext; set admin.insecure: true "
                "(--insecure, flyte.init(insecure=True)) for a local control plane such as flyte devbox")
    msg = f"Submitting the run to {target.settings.endpoint} failed: {name}: {details}" + (f" ({hint})" if hint else "")
    return AdminError(msg, code=name)


async def _images(client: Any, task: TaskTemplate[Any, Any], target: Target,
                  overrides: dict[str, str]) -> dict[str, str]:
    from flyte_remote.deploy import environments_of
    from flyte_remote.images import is_devbox, resolve_images, transport_name

    envs = environments_of([task.env]) if task.env is not None else []
    return await resolve_images(envs, overrides=overrides, build=not await is_devbox(client),
                                transport=transport_name())


def _module_under(task: TaskTemplate[Any, Any], root: Any) -> str | None:
    """The module name of ``task``'s file relative to ``root`` (flyte.init(root_dir=...)), if it is under it."""
    import inspect
    from pathlib import Path

    path = Path(inspect.getfile(task.func)).resolve()
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    return ".".join(rel.with_suffix("").parts)
