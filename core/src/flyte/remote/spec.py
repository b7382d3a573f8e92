"""A task as the control plane sees it: a flyteidl2 ``TaskSpec`` around a ``TaskTemplate``.

The container's ``args`` follow the Flyte 2 worker contract: the backend substitutes the
``{{.input}}``, ``{{.outputPrefix}}``, ``{{.rawOutputDataPrefix}}``... placeholders and runs
``args[0]`` (our worker, :data:`WORKER_SCRIPT`) with an empty command. The worker finds the task
again from ``--resolver flyte.remote mod <module> instance <task name>`` after extracting the
code bundle named by ``--tgz`` into ``--dest``.

Example::

    ctx = SpecContext(project="flytesnacks", domain="development", version="abc", bundle_uri="s3://b/x.tgz",
                      module="hello", root_dir=Path("."))
    spec = task_spec(say_hello, ctx)
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyteidl2.core import tasks_pb2
    from flyteidl2.task import task_definition_pb2

    from flyte._task import TaskTemplate

#: The console script flyte-core installs for task containers (named so it cannot clash with the
#: official SDK's ``a0`` on one PATH).
WORKER_SCRIPT = "flyte-core-worker"
#: ``--resolver`` value our worker understands: load ``instance`` from module ``mod``.
RESOLVER = "flyte.remote"
#: The official SDK's limits on names in a TaskSpec.
_MAX_ENV_NAME = 63
_MAX_SHORT_NAME = 63
DEFAULT_IMAGE = "ghcr.io/flyteorg/flyte-core:py3.11"


@dataclass(frozen=True)
class SpecContext:
    """Where and how a task is serialized: ids, the code bundle and the module holding the task."""

    project: str
    domain: str
    version: str
    org: str = ""
    bundle_uri: str | None = None
    module: str | None = None
    images: dict[str, str] = field(default_factory=dict)


def module_of(task: TaskTemplate[Any, Any]) -> tuple[str, Path]:
    """The importable module name of ``task``'s file and the folder that must be on ``sys.path``.

    Walks up packages (folders with ``__init__.py``), as ``flyte run`` does when loading a file, so
    the worker imports the same module from the extracted bundle.
    """
    try:
        path = Path(inspect.getfile(task.func)).resolve()
    except (TypeError, OSError):
        raise ValueError(
            f"task {task.name} has no source file; tasks run remotely must be defined in a .py file"
        ) from None
    parts = [path.stem]
    root = path.parent
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    return ".".join(parts), root


def worker_args(task: TaskTemplate[Any, Any], ctx: SpecContext) -> list[str]:
    """The container args of the worker contract (placeholders left for the backend)."""
    module = ctx.module or module_of(task)[0]
    args = [
        WORKER_SCRIPT,
        "--inputs", "{{.input}}",
        "--outputs-path", "{{.outputPrefix}}",
        "--version", ctx.version,
        "--raw-data-path", "{{.rawOutputDataPrefix}}",
        "--checkpoint-path", "{{.checkpointOutputPrefix}}",
        "--prev-checkpoint", "{{.prevCheckpointPrefix}}",
        "--run-name", "{{.runName}}",
        "--name", "{{.actionName}}",
        "--run-start-time", "{{.runStartTime}}",
    ]
    if ctx.bundle_uri:
        args += ["--tgz", ctx.bundle_uri, "--dest", "."]
    if ctx.images:  # the worker gives child actions the same images (environment name -> URI)
        args += ["--image-cache", encode_images(ctx.images)]
    args += ["--resolver", RESOLVER, "mod", module, "instance", task.name]
    return args


def encode_images(images: dict[str, str]) -> str:
    """``--image-cache`` of our worker: the environment -> image URI map as base64url JSON (sorted: deterministic)."""
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(images, sort_keys=True, separators=(",", ":")).encode()).decode()


def decode_images(value: str) -> dict[str, str]:
    """The map :func:`encode_images` made; ``{}`` for anything else (the official SDK's own image cache format)."""
    import base64
    import json

    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
    except (ValueError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def image_uri(task: TaskTemplate[Any, Any], ctx: SpecContext) -> str:
    """The container image of ``task``: mapped by environment name, the environment's, or the default."""
    env = task.env
    if env is not None and env.name in ctx.images:
        return ctx.images[env.name]
    img = getattr(env, "image", None) if env is not None else None
    if isinstance(img, str) and img != "auto":
        return img
    if img is not None and not isinstance(img, str):
        return str(img.uri)
    return ctx.images.get("default", DEFAULT_IMAGE)


def _duration(seconds: float) -> Any:
    from google.protobuf.duration_pb2 import Duration

    whole = int(seconds)
    return Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def _resources(task: TaskTemplate[Any, Any]) -> tasks_pb2.Resources | None:
    from flyteidl2.core import tasks_pb2

    res = task.resources
    if res is None:
        return None
    names = tasks_pb2.Resources.ResourceName
    requests: list[Any] = []
    limits: list[Any] = []

    def add(name: int, value: Any) -> None:
        if isinstance(value, tuple):
            requests.append(tasks_pb2.Resources.ResourceEntry(name=name, value=str(value[0])))
            limits.append(tasks_pb2.Resources.ResourceEntry(name=name, value=str(value[1])))
        else:
            requests.append(tasks_pb2.Resources.ResourceEntry(name=name, value=str(value)))

    if res.cpu is not None:
        add(names.CPU, res.cpu)
    if res.memory is not None:
        add(names.MEMORY, res.memory)
    if res.gpu is not None:
        gpu = res.gpu
        quantity = getattr(gpu, "quantity", None)
        if quantity is None:
            quantity = gpu if isinstance(gpu, int) else int(str(gpu).rsplit(":", 1)[-1]) if ":" in str(gpu) else 1
        add(names.GPU, str(quantity))
    if res.disk is not None:
        add(names.EPHEMERAL_STORAGE, res.disk)
    if not requests and not limits:
        return None
    return tasks_pb2.Resources(requests=requests, limits=limits)


def discovery_version(task: TaskTemplate[Any, Any]) -> str:
    """``metadata.discovery_version`` as the official SDK computes it, so both SDKs' results of the same code share
    a backend's cache: ``version_override``, else SHA-256 of the hex SHA-256 of the function's AST dump plus the
    salt (for a task without cache too, with no salt: the backend names actions by it)."""
    import ast
    import textwrap

    cache = task.cache
    if cache.enabled and cache.version_override:
        return str(cache.version_override)
    salt = cache.salt if cache.enabled else ""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(task.func)))
    except (OSError, TypeError, SyntaxError):
        return task.cache_version
    body_hash = hashlib.sha256(ast.dump(tree, include_attributes=False).encode() + salt.encode()).hexdigest()
    return hashlib.sha256(body_hash.encode()).hexdigest()


def _metadata(task: TaskTemplate[Any, Any]) -> tasks_pb2.TaskMetadata:
    from flyteidl2.core import literals_pb2, tasks_pb2
    from google.protobuf.wrappers_pb2 import BoolValue

    import flyte

    md = tasks_pb2.TaskMetadata(
        discoverable=task.cache.enabled,
        discovery_version=discovery_version(task),
        cache_serializable=bool(task.cache.serialize),
        runtime=tasks_pb2.RuntimeMetadata(
            version=flyte.__version__, type=tasks_pb2.RuntimeMetadata.RuntimeType.FLYTE_SDK, flavor="python"
        ),
        interruptible=bool(getattr(task.env, "interruptible", False)),
        generates_deck=BoolValue(value=bool(task.report)),
    )
    ignored = task.cache.ignored_inputs
    if task.cache.enabled and ignored:
        md.cache_ignore_input_vars.extend([ignored] if isinstance(ignored, str) else list(ignored))
    strategy = task.retries
    if strategy.count or strategy.backoff is not None:
        md.retries.CopyFrom(literals_pb2.RetryStrategy(retries=strategy.count))
        if strategy.backoff is not None:
            b = strategy.backoff
            md.retries.backoff.CopyFrom(
                literals_pb2.Backoff(base=_duration(b.base.total_seconds()), factor=b.factor)
            )
            if b.cap is not None:
                md.retries.backoff.cap.CopyFrom(_duration(b.cap.total_seconds()))
    if task.timeout:
        md.timeout.CopyFrom(_duration(task.timeout))
    if task.max_queued_time:  # flyte.Timeout(max_queued_time=, deadline=) as the official SDK sends them
        md.timeouts.queued_timeout.CopyFrom(_duration(task.max_queued_time))
    if task.deadline:
        md.timeouts.deadline.CopyFrom(_duration(task.deadline))
    return md


def _security_context(task: TaskTemplate[Any, Any]) -> Any:
    from flyteidl2.core import security_pb2

    if not task.secrets and not getattr(task.env, "service_account", None):
        return None
    sa = getattr(task.env, "service_account", None)
    mount = security_pb2.Secret.MountType
    return security_pb2.SecurityContext(
        run_as=security_pb2.Identity(k8s_service_account=sa) if sa else None,
        secrets=[
            security_pb2.Secret(
                group=s.group or "",
                key=s.key,
                mount_requirement=mount.FILE if s.mount is not None else mount.ENV_VAR,
                env_var=s.as_env_var or (s.env_var if s.mount is None else ""),  # the official default name
            )
            for s in task.secrets
        ],
    )


def task_template(task: TaskTemplate[Any, Any], ctx: SpecContext) -> tasks_pb2.TaskTemplate:
    """The flyteidl2 ``TaskTemplate`` of ``task`` (see the module docstring)."""
    from flyteidl2.core import identifier_pb2, literals_pb2, tasks_pb2

    env_vars = dict(task.env_vars or {})
    container = tasks_pb2.Container(
        image=image_uri(task, ctx),
        command=[],
        args=worker_args(task, ctx),
        resources=_resources(task),
        env=[literals_pb2.KeyValuePair(key=k, value=v) for k, v in env_vars.items()] or None,
    )
    tt = tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.ResourceType.TASK,
            project=ctx.project,
            domain=ctx.domain,
            org=ctx.org,
            name=task.name,
            version=ctx.version,
        ),
        type="python",
        metadata=_metadata(task),
        interface=task.interface.to_typed_interface(),
        security_context=_security_context(task),
    )
    pod = task.pod_template
    if pod is not None and not isinstance(pod, str):  # flyte.PodTemplate: k8s_pod replaces container (a oneof)
        from flyte.remote.pod_template import PRIMARY_CONTAINER_NAME_FIELD, k8s_pod

        tt.k8s_pod.CopyFrom(k8s_pod(pod, container, where=f"task {task.name!r}"))
        tt.config[PRIMARY_CONTAINER_NAME_FIELD] = pod.primary_container_name
    else:
        tt.container.CopyFrom(container)
        if pod:
            tt.metadata.pod_template_name = pod
    if ctx.bundle_uri:
        tt.metadata.code_bundle_uri = ctx.bundle_uri
    return tt


def task_spec(
    task: TaskTemplate[Any, Any], ctx: SpecContext, default_inputs: Sequence[Any] = ()
) -> task_definition_pb2.TaskSpec:
    """The flyteidl2 ``TaskSpec`` the control plane runs (CreateRun, Enqueue, DeployTask).

    ``default_inputs``: the inputs' defaults as ``NamedParameter`` s (``await
    flyte.types.interface.default_inputs(task.interface)``), as the official SDK sends them.
    """
    from flyteidl2.task import environment_pb2, task_definition_pb2

    env = None
    if task.env is not None:
        env = environment_pb2.Environment(name=task.env.name[:_MAX_ENV_NAME])
    return task_definition_pb2.TaskSpec(
        task_template=task_template(task, ctx),
        short_name=task.short_name[:_MAX_SHORT_NAME],
        environment=env,
        default_inputs=list(default_inputs),
    )


def version_of(*parts: str | bytes) -> str:
    """A short content version from the bundle digest and anything else that identifies the code."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:20]
