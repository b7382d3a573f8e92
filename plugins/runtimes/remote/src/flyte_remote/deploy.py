"""``flyte deploy`` and ``flyte run deployed-task``: tasks registered on the control plane, and runs of them.

Deploying bundles the code once (the same deterministic bundle a run uploads), then sends one
``TaskService.DeployTask`` per task of every environment found and of the environments they
``depends_on``. The version is ``--version`` or a content hash of the bundle and the image mapping,
so deploying unchanged code again is a no-op (the control plane already has that version with
that spec). Running a deployed task sends its id, not its spec: ``UploadInputs`` then ``CreateRun``
with ``task_id``.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.runtime import RunOptions

from flyte_remote.submit import Submission, phase_of, run_spec

if TYPE_CHECKING:
    from flyte import TaskEnvironment, TaskTemplate
    from flyte.remote.connection import Target
    from flyte.remote.task import Task


class DeployError(Exception):
    """A deployment that cannot go ahead; the message says which task and what to do."""


@dataclass(frozen=True)
class DeployedTask:
    name: str
    version: str
    image: str
    spec: Any  # flyteidl2.task.TaskSpec
    created: bool  # False: this version was already there with this spec (or a dry run)


def environments_of(objects: list[Any]) -> list[TaskEnvironment]:
    """The TaskEnvironments among ``objects`` and, transitively, those they ``depends_on``, each once, in order."""
    from flyte import TaskEnvironment

    out: list[TaskEnvironment] = []
    seen: set[int] = set()
    by_name: dict[str, TaskEnvironment] = {}
    stack = [o for o in reversed(objects) if isinstance(o, TaskEnvironment)]
    while stack:
        env = stack.pop()
        if id(env) in seen:
            continue
        other = by_name.get(env.name)
        if other is not None:
            raise DeployError(f"Two different environments are named {env.name!r}; environment names must be unique")
        seen.add(id(env))
        by_name[env.name] = env
        out.append(env)
        stack.extend(reversed(env.depends_on))
    return out


def code_root(path: Path) -> Path:
    """The folder to bundle for FILE or DIR: its folder, walking up packages (folders with ``__init__.py``) as
    ``flyte run`` does, so the worker imports each module under the same dotted name."""
    root = path.resolve()
    if root.is_file():
        root = root.parent
    while (root / "__init__.py").is_file():
        root = root.parent
    return root


def _module_name(task: TaskTemplate[Any, Any], root: Path) -> str:
    path = Path(inspect.getfile(task.func)).resolve()
    try:
        rel = path.relative_to(root)
    except ValueError:
        raise DeployError(f"task {task.name} is defined in {path}, outside the code being deployed ({root}); "
                          "deploy a folder that holds both") from None
    return ".".join(rel.with_suffix("").parts)


def parse_images(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--image NAME=URI`` (an environment's image) or ``--image URI`` (the default image)."""
    images: dict[str, str] = {}
    for v in values:
        name, sep, uri = v.partition("=")
        if not sep:
            name, uri = "default", v
        if not name or not uri:
            raise DeployError(f"--image {v!r}: expected NAME=URI (an environment's image) or URI (the default)")
        images[name] = uri
    return images


async def deploy(
    envs: list[TaskEnvironment], *, root: Path, target: Target, version: str | None = None,
    images: dict[str, str] | None = None, dry_run: bool = False,
) -> list[DeployedTask]:
    """Deploy every task of ``envs`` (see the module docstring); ``dry_run`` builds the specs and sends nothing."""
    from flyte.admin import connect
    from flyte.remote.pod_template import check_pod_template
    from flyte.remote.spec import SpecContext, image_uri, task_spec, version_of
    from flyte.remote.task import status_of
    from flyte.types.interface import default_inputs
    from flyteidl2.task import task_definition_pb2, task_service_pb2

    from flyte_remote.code_bundle import build_bundle
    from flyte_remote.images import is_devbox, resolve_images, transport_name
    from flyte_remote.submit import upload_bundle

    images = dict(images or {})
    root = root.resolve()
    tasks = [t for env in envs for t in env.tasks.values()]
    if not tasks:
        raise DeployError(f"No tasks to deploy under {root}: declare them with @env.task in a TaskEnvironment")
    modules = {t.name: _module_name(t, root) for t in tasks}
    for t in tasks:  # before anything is uploaded
        check_pod_template(t.pod_template, f"task {t.name!r}")
    bundle = await asyncio.to_thread(build_bundle, root)

    async def specs(bundle_uri: str, images: dict[str, str]) -> list[tuple[TaskTemplate[Any, Any], Any]]:
        out = []
        for t in tasks:
            ctx = SpecContext(project=target.project, domain=target.domain, org=target.org, version=ver,
                              bundle_uri=bundle_uri, module=modules[t.name], images=images)
            spec = task_spec(t, ctx)
            spec.default_inputs.extend(await default_inputs(t.interface))  # runs by id apply them
            out.append((t, spec))
        return out

    if dry_run:  # images resolved to their URIs, nothing built
        resolved = await resolve_images(envs, overrides=images, build=False, transport=transport_name())
        ver = version or version_of(bundle.md5, *(f"{k}={v}" for k, v in sorted(resolved.items())))
        return [DeployedTask(t.name, ver, image_uri(t, SpecContext(project="", domain="", version=ver,
                                                                   images=resolved)), spec, created=False)
                for t, spec in await specs(f"<bundle {bundle.md5}, not uploaded>", resolved)]
    done: list[DeployedTask] = []
    async with await connect(target.settings) as client:
        # every image there (built and pushed if missing) before anything is registered
        resolved = await resolve_images(envs, overrides=images, build=not await is_devbox(client),
                                        transport=transport_name())
        ver = version or version_of(bundle.md5, *(f"{k}={v}" for k, v in sorted(resolved.items())))
        bundle_uri = await upload_bundle(client, target, bundle)
        for t, spec in await specs(bundle_uri, resolved):
            tid = task_definition_pb2.TaskIdentifier(org=target.org, project=target.project, domain=target.domain,
                                                     name=t.name, version=ver)
            ours = spec.task_template.SerializeToString(deterministic=True)

            # Asked first: a control plane may answer OK (not ALREADY_EXISTS) to an identical spec, and the
            # CLI then says "already deployed" rather than "Deployed".
            created = not await _already_there(client, tid, ours)
            if created:
                try:
                    await client.task.DeployTask(task_service_pb2.DeployTaskRequest(task_id=tid, spec=spec))
                except Exception as e:
                    if status_of(e) != "ALREADY_EXISTS" or not await _already_there(client, tid, ours):
                        raise
                    created = False
            done.append(DeployedTask(t.name, ver, spec.task_template.container.image
                                     or _pod_image(spec), spec, created))
    return done


async def _already_there(client: Any, tid: Any, template: bytes) -> bool:
    """Whether task ``tid`` is deployed with this serialized template (DeployError: with another one)."""
    from flyte.remote.task import status_of
    from flyteidl2.task import task_service_pb2

    try:
        existing = await client.task.GetTaskDetails(task_service_pb2.GetTaskDetailsRequest(task_id=tid))
    except Exception as e:
        if status_of(e) == "NOT_FOUND":
            return False
        raise
    if existing.details.spec.task_template.SerializeToString(deterministic=True) != template:
        raise DeployError(
            f"task {tid.name} version {tid.version} is already deployed with a different spec; "
            "deploy with another --version (or without --version: it follows the code)"
        )
    return True


def _pod_image(spec: Any) -> str:
    tt = spec.task_template
    primary = tt.config.get("primary_container_name", "primary")
    for c in tt.k8s_pod.pod_spec.fields["containers"].list_value.values:
        fields = c.struct_value.fields
        if fields["name"].string_value == primary:
            return str(fields["image"].string_value)
    return ""


async def submit_deployed(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions,
                          target: Target) -> Submission:
    """Run a deployed task: its inputs through ``UploadInputs``, then ``CreateRun`` naming the task by id."""
    from flyte.admin import connect
    from flyte.remote.io import inputs_message
    from flyte.storage.data_access import using
    from flyte.types.interface import inputs_to_literals
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
    from flyteidl2.workflow import run_service_pb2 as rs

    from flyte_remote.uploads import DataProxyAccess

    async with await connect(target.settings) as client:
        with using(DataProxyAccess(client, target.project, target.domain, target.org, target.settings.timeout)):
            in_lits = await inputs_to_literals(task.interface, args, kwargs)
        project_id = identifier_pb2.ProjectIdentifier(organization=target.org, name=target.project,
                                                      domain=target.domain)
        up = dp.UploadInputsRequest(task_id=task.task_id(), inputs=inputs_message(in_lits))
        req = rs.CreateRunRequest(task_id=task.task_id(), run_spec=run_spec(options))
        if options.name:
            run_id = identifier_pb2.RunIdentifier(org=target.org, project=target.project, domain=target.domain,
                                                  name=options.name)
            up.run_id.CopyFrom(run_id)
            req.run_id.CopyFrom(run_id)
        else:
            up.project_id.CopyFrom(project_id)
            req.project_id.CopyFrom(project_id)
        uploaded = await client.dataproxy.UploadInputs(up)
        req.offloaded_input_data.CopyFrom(uploaded.offloaded_input_data)
        resp = await client.run.CreateRun(req)
    action = resp.run.action
    return Submission(name=action.id.run.name, phase=phase_of(action.status.phase), bundle=None,  # type: ignore[arg-type]
                      bundle_uri=task.spec.task_template.metadata.code_bundle_uri, spec=task.spec)
