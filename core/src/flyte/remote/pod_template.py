"""``flyte.PodTemplate`` as ``TaskTemplate.k8s_pod``: checked against the Kubernetes models, merged with the task.

The pod spec (a ``V1PodSpec`` or a dict in Kubernetes' spelling) is walked field by field against
the models of the ``kubernetes`` package (``pip install 'flyte-core[k8s]'``, imported only here):
an unknown field, a value of the wrong type or a missing required field is one line naming the
task and the field path (``spec.containers[0].imagePullPolicyy``) with the closest valid name. Then,
as the official SDK does, the primary container receives the task's image (unless the spec sets
one), command, args (the worker contract), resources (merged, the task's win) and env (the task's
first), and the spec becomes a protobuf ``Struct`` in ``K8sPod.pod_spec``; the primary container's
name goes to ``TaskTemplate.config["primary_container_name"]``. A ``pod_template`` that is a string
names a pod template on the cluster (``metadata.pod_template_name``).

Example::

    pod = k8s_pod(task.pod_template, container, where="task 'env.train'")
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Any

from flyte.errors import TaskDefinitionError

if TYPE_CHECKING:
    from flyteidl2.core import tasks_pb2

PRIMARY_CONTAINER_NAME_FIELD = "primary_container_name"
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "bytes": (str, bytes),
    "datetime": (str,), "date": (str,),
}


class PodTemplateError(TaskDefinitionError):
    """A pod template that Kubernetes would refuse; the message names the task and the field."""


def _kubernetes() -> Any:
    try:
        import kubernetes.client as client
    except ImportError:
        raise PodTemplateError(
            "pod templates need the kubernetes package to be checked before they are sent to a cluster: "
            "pip install 'flyte-core[k8s]'"
        ) from None
    return client


def _split_generic(type_name: str) -> tuple[str, str] | None:
    m = re.fullmatch(r"(list|dict)\s*[\[(]\s*(.*)\s*[\])]", type_name, flags=re.IGNORECASE)
    if m is None:
        return None
    kind, inner = m.group(1).lower(), m.group(2)
    if kind == "dict":
        inner = inner.split(",", 1)[1].strip()
    return kind, inner


class _Checker:
    def __init__(self, where: str) -> None:
        self.client = _kubernetes()
        self.where = where

    def fail(self, path: str, what: str) -> PodTemplateError:
        return PodTemplateError(f"{self.where}: pod_template {path}: {what}")

    def check(self, value: Any, type_name: str, path: str) -> Any:
        """``value`` as an instance of the model ``type_name`` (dicts, lists and primitives checked in place)."""
        if value is None:
            return None
        generic = _split_generic(type_name)
        if generic is not None:
            kind, inner = generic
            if kind == "list":
                if not isinstance(value, (list, tuple)):
                    raise self.fail(path, f"expected a list, got {type(value).__name__} {value!r}")
                return [self.check(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
            if not isinstance(value, dict):
                raise self.fail(path, f"expected a mapping, got {type(value).__name__} {value!r}")
            if inner == "str":  # resource quantities are often written as numbers (cpu: 2): Kubernetes takes them
                value = {k: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                         for k, v in value.items()}
            return {str(k): self.check(v, inner, f"{path}.{k}") for k, v in value.items()}
        if type_name == "object":
            return value
        if type_name in _PRIMITIVES:
            ok = _PRIMITIVES[type_name]
            if not isinstance(value, ok) or (type_name in ("int", "float") and isinstance(value, bool)):
                raise self.fail(path, f"expected {type_name}, got {type(value).__name__} {value!r}")
            return value
        model = getattr(self.client, type_name, None) or getattr(self.client.models, type_name, None)
        if model is None:
            return value  # a type this client does not model: leave it to the API server
        if isinstance(value, model):
            value = self.client.ApiClient().sanitize_for_serialization(value)
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a {type_name} (a mapping), got {type(value).__name__} {value!r}")
        by_json = {j: a for a, j in model.attribute_map.items()}
        kwargs: dict[str, Any] = {}
        for key, v in value.items():
            attr = by_json.get(key) or (key if key in model.attribute_map else None)
            if attr is None:
                close = difflib.get_close_matches(str(key), list(by_json), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(f"{path}.{key}", f"unknown field of {type_name}{hint}")
            kwargs[attr] = self.check(v, model.openapi_types[attr], f"{path}.{model.attribute_map[attr]}")
        try:
            return model(**kwargs)
        except (ValueError, TypeError) as e:
            raise self.fail(path, f"invalid {type_name}: {_one_line(e, model)}") from None


def _one_line(e: Exception, model: Any) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):  # pydantic (kubernetes >= 35)
        try:
            first = errors()[0]
            loc = ".".join(model.attribute_map.get(str(p), str(p)) for p in first.get("loc", ()))
            return f"{loc}: {first.get('msg', '')}".strip(": ")
        except Exception:
            pass
    return " ".join(str(e).split())


def pod_spec_dict(pod_template: Any, where: str) -> dict[str, Any]:
    """The template's pod spec checked against ``V1PodSpec`` and in Kubernetes' JSON spelling."""
    checker = _Checker(where)
    spec = pod_template.pod_spec
    if spec is None:
        spec = {}
    elif not isinstance(spec, dict):
        if type(spec).__module__.startswith("kubernetes."):
            spec = checker.client.ApiClient().sanitize_for_serialization(spec)
        if not isinstance(spec, dict):
            raise PodTemplateError(f"{where}: pod_template.pod_spec must be a kubernetes V1PodSpec or a dict, "
                                   f"got {type(pod_template.pod_spec).__name__}")
    spec = dict(spec)
    if not spec.get("containers"):  # labels/annotations only (e.g. to pick a queue): just the primary container
        spec["containers"] = [{"name": pod_template.primary_container_name}]
    model = checker.check(spec, "V1PodSpec", "spec")
    out: dict[str, Any] = checker.client.ApiClient().sanitize_for_serialization(model)
    return out


def check_pod_template(pod_template: Any, where: str) -> None:
    """Raise :class:`PodTemplateError` when ``pod_template`` would be refused (no-op for None or a name)."""
    if pod_template is None or isinstance(pod_template, str):
        return
    _merge({**pod_spec_dict(pod_template, where)}, pod_template.primary_container_name, None, where)


def check_task_pod_templates(task: Any) -> None:
    """Check the pod templates of ``task`` and of every task of its environment and their ``depends_on``
    (children run as their own actions, so a bad template of a child must fail before submission too)."""
    seen_envs: set[int] = set()
    tasks = [task]
    stack = [task.env] if task.env is not None else []
    while stack:
        env = stack.pop()
        if id(env) in seen_envs:
            continue
        seen_envs.add(id(env))
        tasks.extend(env.tasks.values())
        stack.extend(env.depends_on)
    done: set[int] = set()
    for t in tasks:
        if id(t) not in done:
            done.add(id(t))
            check_pod_template(t.pod_template, f"task {t.name!r}")


def _resource_name(entry_name: int) -> str:
    from flyteidl2.core import tasks_pb2

    return str(tasks_pb2.Resources.ResourceName.Name(entry_name)).lower().replace("_", "-")


def _merge(spec: dict[str, Any], primary: str, container: tasks_pb2.Container | None, where: str) -> dict[str, Any]:
    containers = list(spec.get("containers") or [])
    if not containers:
        containers = [{"name": primary}]
    names = [c.get("name") for c in containers]
    if primary not in names:
        raise PodTemplateError(
            f"{where}: pod_template has no container named {primary!r} (the primary container); containers: "
            f"{names}. Name one {primary!r} or pass primary_container_name= (PodTemplate.from_spec picks it)."
        )
    if container is not None:
        for c in containers:
            if c.get("name") != primary:
                continue
            if not c.get("image"):
                c["image"] = container.image
            c["command"] = list(container.command)
            c["args"] = list(container.args)
            limits = {_resource_name(r.name): r.value for r in container.resources.limits}
            requests = {_resource_name(r.name): r.value for r in container.resources.requests}
            if limits or requests:
                res = dict(c.get("resources") or {})
                res["limits"] = {**(res.get("limits") or {}), **limits}
                res["requests"] = {**(res.get("requests") or {}), **requests}
                c["resources"] = res
            if container.env:
                c["env"] = [{"name": kv.key, "value": kv.value} for kv in container.env] + list(c.get("env") or [])
    spec["containers"] = containers
    return spec


def k8s_pod(pod_template: Any, container: tasks_pb2.Container, where: str) -> tasks_pb2.K8sPod:
    """``TaskTemplate.k8s_pod`` for ``pod_template`` with the task's ``container`` merged into the primary one."""
    from flyteidl2.core import tasks_pb2

    spec = _merge(pod_spec_dict(pod_template, where), pod_template.primary_container_name, container, where)
    return tasks_pb2.K8sPod(
        metadata=tasks_pb2.K8sObjectMetadata(labels=pod_template.labels, annotations=pod_template.annotations),
        pod_spec=spec,
    )


__all__ = [
    "PRIMARY_CONTAINER_NAME_FIELD", "PodTemplateError", "check_pod_template", "check_task_pod_templates", "k8s_pod",
    "pod_spec_dict",
]
