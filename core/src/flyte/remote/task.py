"""Tasks deployed on a control plane (``flyte deploy``): fetch one, list them.

Example::

    import flyte
    import flyte.remote

    flyte.init_from_config()
    task = flyte.remote.Task.get("hello_env.say_hello")            # the latest version
    task = flyte.remote.Task.get("hello_env.say_hello", version="abc123")
    print(task.version, task.interface)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte.remote.connection import Target


@dataclass(frozen=True)
class TaskSummary:
    """One deployed task as ``flyte run deployed-task`` lists it (its latest version)."""

    name: str
    version: str
    environment: str
    short_name: str


@dataclass(frozen=True)
class Task:
    """A task deployed on the control plane: id, its TaskSpec and its interface (decoded to Python types)."""

    name: str
    version: str
    project: str
    domain: str
    org: str
    spec: Any = field(repr=False)  # flyteidl2.task.TaskSpec
    #: Runtimes check this to run a deployed task by its id instead of bundling code.
    deployed: bool = field(default=True, repr=False)

    @property
    def short_name(self) -> str:
        return str(self.spec.short_name) or self.name.rsplit(".", 1)[-1]

    @property
    def environment(self) -> str:
        return str(self.spec.environment.name)

    @property
    def interface(self) -> Any:
        """The task's :class:`flyte.types.interface.NativeInterface` (types guessed from the wire interface)."""
        cached = self.__dict__.get("_interface")
        if cached is None:
            from flyte.types.interface import NativeInterface

            tt = self.spec.task_template
            cached = NativeInterface.from_typed_interface(self.name, tt.interface, self.spec.default_inputs)
            object.__setattr__(self, "_interface", cached)
        return cached

    def task_id(self) -> Any:
        from flyteidl2.task import task_definition_pb2

        return task_definition_pb2.TaskIdentifier(org=self.org, project=self.project, domain=self.domain,
                                                  name=self.name, version=self.version)

    @classmethod
    async def get_async(cls, name: str, version: str | None = None, *, project: str | None = None,
                        domain: str | None = None) -> Task:
        """Fetch the deployed task ``name`` (``ENV.TASK``), the latest version unless ``version`` is given."""
        from flyte.admin import connect
        from flyte.remote.connection import target

        t = target(project, domain)
        async with await connect(t.settings) as client:
            return await fetch(client, t, name, version)

    @classmethod
    def get(cls, name: str, version: str | None = None, *, project: str | None = None,
            domain: str | None = None) -> Task:
        """Sync form of :meth:`get_async` (also from a thread that runs an event loop, e.g. a notebook)."""
        from flyte._syncify import run_sync

        return run_sync(cls.get_async, name, version, project=project, domain=domain)

    @classmethod
    async def listall_async(cls, *, project: str | None = None, domain: str | None = None) -> list[TaskSummary]:
        """The deployed tasks of the project/domain (latest version of each)."""
        from flyte.admin import connect
        from flyte.remote.connection import target

        t = target(project, domain)
        async with await connect(t.settings) as client:
            return await list_tasks(client, t)

    @classmethod
    def listall(cls, *, project: str | None = None, domain: str | None = None) -> list[TaskSummary]:
        from flyte._syncify import run_sync

        return run_sync(cls.listall_async, project=project, domain=domain)


def status_of(e: BaseException) -> str:
    """The gRPC status name of a failed call (``NOT_FOUND``...), from a transport error or an AdminError."""
    code = getattr(e, "code", None)
    if callable(code):
        try:
            return str(code().name)
        except Exception:
            return ""
    return code if isinstance(code, str) else ""


def _not_found(name: str, version: str | None, t: Target) -> LookupError:
    what = f"{name}:{version}" if version else name
    return LookupError(f"No deployed task {what} in project {t.project}, domain {t.domain}; "
                       f"`flyte run deployed-task` lists them, `flyte deploy FILE` deploys one.")


async def fetch(client: Any, t: Target, name: str, version: str | None = None) -> Task:
    """GetTaskDetails of ``name`` (latest version through ListVersions when ``version`` is None)."""
    from flyteidl2.common import list_pb2
    from flyteidl2.task import task_definition_pb2, task_service_pb2


    if not version:
        req = task_service_pb2.ListVersionsRequest(
            request=list_pb2.ListRequest(limit=1, sort_by=list_pb2.Sort(key="created_at",
                                                                        direction=list_pb2.Sort.DESCENDING)),
            task_name=task_definition_pb2.TaskName(org=t.org, project=t.project, domain=t.domain, name=name),
        )
        try:
            resp = await client.task.ListVersions(req)
        except Exception as e:
            if status_of(e) == "NOT_FOUND":
                raise _not_found(name, None, t) from None
            raise
        if not resp.versions:
            raise _not_found(name, None, t)
        version = str(resp.versions[0].version)
    tid = task_definition_pb2.TaskIdentifier(org=t.org, project=t.project, domain=t.domain, name=name,
                                             version=version)
    try:
        details = (await client.task.GetTaskDetails(task_service_pb2.GetTaskDetailsRequest(task_id=tid))).details
    except Exception as e:
        if status_of(e) == "NOT_FOUND":
            raise _not_found(name, version, t) from None
        raise
    return Task(name=name, version=version, project=t.project, domain=t.domain, org=t.org, spec=details.spec)


async def list_tasks(client: Any, t: Target) -> list[TaskSummary]:
    from flyteidl2.common import identifier_pb2, list_pb2
    from flyteidl2.task import task_service_pb2

    out: list[TaskSummary] = []
    token = ""
    while True:
        resp = await client.task.ListTasks(task_service_pb2.ListTasksRequest(
            request=list_pb2.ListRequest(limit=200, token=token),
            project_id=identifier_pb2.ProjectIdentifier(organization=t.org, name=t.project, domain=t.domain),
        ))
        for task in resp.tasks:
            out.append(TaskSummary(name=task.task_id.name, version=task.task_id.version,
                                   environment=task.metadata.environment_name, short_name=task.metadata.short_name))
        token = resp.token
        if not token or not resp.tasks:
            break
    return sorted(out, key=lambda s: s.name)


__all__ = ["Task", "TaskSummary", "fetch", "list_tasks", "status_of"]
