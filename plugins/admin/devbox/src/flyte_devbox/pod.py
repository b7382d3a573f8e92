"""What the devbox runs for a task: its ``container``, or the primary container of its ``k8s_pod``.

A task with a pod template (``flyte.PodTemplate``, either SDK) carries ``task_template.k8s_pod``
instead of ``container`` (they are a oneof): the pod spec is a Struct in Kubernetes' JSON and the
primary container is the one named by ``task_template.config["primary_container_name"]``
(``primary`` by default). The devbox runs that container's command, args and env (as a subprocess,
or with ``--executor docker|podman`` in its image with its cpu and memory as limits); the rest of the pod
(sidecars, volumes, node selectors) has no meaning on one machine.
"""

from __future__ import annotations

from typing import Any


def primary_container(tt: Any) -> Any:
    """The ``flyteidl2.core.Container`` to run for TaskTemplate ``tt``, or None when it has neither."""
    from flyteidl2.core import literals_pb2, tasks_pb2
    from google.protobuf.json_format import MessageToDict

    which = tt.WhichOneof("target")
    if which == "container":
        return tt.container
    if which != "k8s_pod":
        return None
    name = tt.config.get("primary_container_name") or "primary"
    for c in MessageToDict(tt.k8s_pod.pod_spec).get("containers") or []:
        if isinstance(c, dict) and c.get("name") == name:
            env = [literals_pb2.KeyValuePair(key=str(e["name"]), value=str(e.get("value", "")))
                   for e in c.get("env") or [] if isinstance(e, dict) and "name" in e]
            res = c.get("resources")
            res = res if isinstance(res, dict) else {}
            return tasks_pb2.Container(image=str(c.get("image", "")), command=[str(a) for a in c.get("command") or []],
                                       args=[str(a) for a in c.get("args") or []], env=env,
                                       resources=tasks_pb2.Resources(requests=_entries(res.get("requests")),
                                                                     limits=_entries(res.get("limits"))))
    return None


def _entries(quantities: Any) -> list[Any]:
    """Kubernetes ``resources.limits``/``requests`` (cpu, memory) as ``Resources.ResourceEntry`` items."""
    from flyteidl2.core import tasks_pb2

    names = {"cpu": tasks_pb2.Resources.ResourceName.CPU, "memory": tasks_pb2.Resources.ResourceName.MEMORY}
    if not isinstance(quantities, dict):
        return []
    return [tasks_pb2.Resources.ResourceEntry(name=names[k], value=str(v)) for k, v in quantities.items() if k in names]


MISSING = "has no container (nor a k8s_pod with its primary container): the devbox runs container tasks"
