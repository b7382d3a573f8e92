"""The container the devbox runs for a k8s_pod task: the pod spec's primary container."""

from __future__ import annotations

from flyte_devbox.pod import primary_container
from flyteidl2.core import tasks_pb2


def test_primary_container_of_a_pod_spec() -> None:
    tt = tasks_pb2.TaskTemplate()
    tt.config["primary_container_name"] = "main"
    tt.k8s_pod.pod_spec.update({"containers": [
        {"name": "sidecar", "image": "busybox", "args": ["sleep"]},
        {"name": "main", "image": "img:1", "command": [], "args": ["worker", "--inputs", "{{.input}}"],
         "env": [{"name": "A", "value": "1"}, {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {}}}]},
    ]})
    c = primary_container(tt)
    assert (c.image, list(c.args)) == ("img:1", ["worker", "--inputs", "{{.input}}"])
    assert [(kv.key, kv.value) for kv in c.env] == [("A", "1"), ("FROM_SECRET", "")]


def test_container_task_and_nothing() -> None:
    tt = tasks_pb2.TaskTemplate(container=tasks_pb2.Container(args=["x"]))
    assert list(primary_container(tt).args) == ["x"]
    assert primary_container(tasks_pb2.TaskTemplate()) is None
    pod_without_primary = tasks_pb2.TaskTemplate()
    pod_without_primary.k8s_pod.pod_spec.update({"containers": [{"name": "other"}]})
    assert primary_container(pod_without_primary) is None
