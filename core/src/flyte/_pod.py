"""``flyte.PodTemplate``: the Kubernetes pod a task runs in on a Flyte 2 cluster.

A ``kubernetes.client.V1PodSpec`` or the same as a plain dict (Kubernetes' JSON/YAML spelling,
``imagePullPolicy``; the Python client's ``image_pull_policy`` is accepted too), the name of the
primary container (the one Flyte puts the task's image, command, args, resources and env into),
and pod labels/annotations. Nothing here imports ``kubernetes``: the spec is checked against the
Kubernetes models when the task is serialized for a control plane (``flyte run --runtime remote``,
``flyte deploy``), before anything is uploaded (``pip install 'flyte-core[k8s]'``).

Example::

    pod = flyte.PodTemplate(
        pod_spec={"containers": [{"name": "primary"}], "nodeSelector": {"pool": "gpu"}},
        labels={"team": "ml"},
    )
    env = flyte.TaskEnvironment(name="train", pod_template=pod)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

PRIMARY_CONTAINER_DEFAULT_NAME = "primary"


@dataclass
class PodTemplate:
    """A task's Kubernetes pod: spec (``V1PodSpec`` or dict), primary container name, labels, annotations."""

    pod_spec: Any = None
    primary_container_name: str = PRIMARY_CONTAINER_DEFAULT_NAME
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.primary_container_name, str) or not self.primary_container_name:
            raise TypeError(f"PodTemplate.primary_container_name must be a non-empty string, "
                            f"got {self.primary_container_name!r}")
        for what in ("labels", "annotations"):
            value = getattr(self, what)
            if value is not None and (
                not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in value.items())
            ):
                raise TypeError(f"PodTemplate.{what} must be a dict of strings to strings, got {value!r}")

    @classmethod
    def from_spec(
        cls,
        pod_spec: Any,
        *,
        primary_container_name: str | None = None,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> PodTemplate:
        """A template around a deep copy of ``pod_spec``, picking the primary container as the official SDK does:
        the named one (which must exist), else one called ``primary``, else the only container."""
        names = [_container_name(c) for c in (_containers(pod_spec) or [])]
        if primary_container_name is not None:
            if primary_container_name not in names:
                raise ValueError(f"primary_container_name {primary_container_name!r} is not a container of the pod "
                                 f"spec; containers: {names}")
            resolved = primary_container_name
        elif PRIMARY_CONTAINER_DEFAULT_NAME in names:
            resolved = PRIMARY_CONTAINER_DEFAULT_NAME
        elif len(names) == 1 and names[0]:
            resolved = str(names[0])
        else:
            raise ValueError(f"Cannot tell the primary container: the pod spec has containers {names} and none is "
                             f"named 'primary'. Pass primary_container_name= to pick one.")
        return cls(pod_spec=copy.deepcopy(pod_spec), primary_container_name=resolved,
                   labels=dict(labels) if labels else None, annotations=dict(annotations) if annotations else None)


def _containers(spec: Any) -> Any:
    if spec is None:
        return None
    if isinstance(spec, dict):
        return spec.get("containers")
    return getattr(spec, "containers", None)


def _container_name(c: Any) -> Any:
    return c.get("name") if isinstance(c, dict) else getattr(c, "name", None)


__all__ = ["PodTemplate"]
