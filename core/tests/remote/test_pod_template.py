"""flyte.PodTemplate -> TaskTemplate.k8s_pod: the task merged into the primary container; checked against Kubernetes."""

from __future__ import annotations

from typing import Any

import flyte
import pytest
from flyte.remote.pod_template import PodTemplateError, check_task_pod_templates
from flyte.remote.spec import SpecContext, task_spec, worker_args
from google.protobuf.json_format import MessageToDict

pytest.importorskip("kubernetes")

CTX = SpecContext(project="p", domain="d", version="v1", bundle_uri="file:///b/code.tar.gz", module="m")


def _template(pod: Any, **task_kw: Any) -> Any:
    env = flyte.TaskEnvironment(name="podenv", resources=flyte.Resources(cpu="2", memory="1Gi"),
                                env_vars={"A": "1"}, image="img:1")

    @env.task(pod_template=pod, **task_kw)
    async def work(x: int) -> int:
        return x

    return work, task_spec(work, CTX).task_template


def test_dict_pod_spec_becomes_k8s_pod_with_the_task_merged_into_the_primary_container() -> None:
    pod = flyte.PodTemplate(
        pod_spec={
            "nodeSelector": {"pool": "gpu"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [
                {"name": "primary", "env": [{"name": "B", "value": "2"}],
                 "resources": {"limits": {"smarter-devices/fuse": "1"}}},
                {"name": "sidecar", "image": "busybox", "args": ["sleep", "inf"]},
            ],
        },
        labels={"team": "ml"},
        annotations={"note": "x"},
    )
    task, tt = _template(pod)
    assert tt.WhichOneof("target") == "k8s_pod"
    assert tt.config["primary_container_name"] == "primary"
    assert dict(tt.k8s_pod.metadata.labels) == {"team": "ml"}
    assert dict(tt.k8s_pod.metadata.annotations) == {"note": "x"}
    spec = MessageToDict(tt.k8s_pod.pod_spec)
    assert spec["nodeSelector"] == {"pool": "gpu"}
    assert spec["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    primary, sidecar = spec["containers"]
    assert primary["image"] == "img:1"
    assert primary["args"] == worker_args(task, CTX)
    assert primary["command"] == []
    assert primary["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert primary["resources"] == {"requests": {"cpu": "2", "memory": "1Gi"},
                                    "limits": {"smarter-devices/fuse": "1"}}
    assert sidecar == {"name": "sidecar", "image": "busybox", "args": ["sleep", "inf"]}


def test_v1podspec_and_dict_give_the_same_k8s_pod() -> None:
    from kubernetes.client import V1Container, V1PodSpec, V1Toleration

    obj = flyte.PodTemplate(pod_spec=V1PodSpec(
        containers=[V1Container(name="main", image_pull_policy="Always")],
        tolerations=[V1Toleration(key="k", operator="Exists")],
    ), primary_container_name="main")
    as_dict = flyte.PodTemplate(pod_spec={
        "containers": [{"name": "main", "imagePullPolicy": "Always"}],
        "tolerations": [{"key": "k", "operator": "Exists"}],
    }, primary_container_name="main")
    _, a = _template(obj)
    _, b = _template(as_dict)
    assert a.k8s_pod == b.k8s_pod
    assert a.config["primary_container_name"] == "main"


def test_labels_only_template_gets_the_primary_container() -> None:
    _, tt = _template(flyte.PodTemplate(labels={"queue": "q1"}))
    spec = MessageToDict(tt.k8s_pod.pod_spec)
    assert [c["name"] for c in spec["containers"]] == ["primary"]
    assert spec["containers"][0]["image"] == "img:1"


def test_a_named_cluster_pod_template_keeps_the_container() -> None:
    _, tt = _template("gpu-template")
    assert tt.WhichOneof("target") == "container"
    assert tt.metadata.pod_template_name == "gpu-template"


def test_environment_template_is_inherited_and_a_task_one_wins() -> None:
    env = flyte.TaskEnvironment(name="e2", pod_template=flyte.PodTemplate(labels={"from": "env"}))

    @env.task
    async def a() -> None: ...

    @env.task(pod_template=flyte.PodTemplate(labels={"from": "task"}))
    async def b() -> None: ...

    assert dict(task_spec(a, CTX).task_template.k8s_pod.metadata.labels) == {"from": "env"}
    assert dict(task_spec(b, CTX).task_template.k8s_pod.metadata.labels) == {"from": "task"}
    c = a.override(pod_template=flyte.PodTemplate(labels={"from": "override"}))
    assert dict(task_spec(c, CTX).task_template.k8s_pod.metadata.labels) == {"from": "override"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"containers": [{"name": "primary", "imagePullPolicyy": "Always"}]},
         "task 'podenv.work': pod_template spec.containers[0].imagePullPolicyy: unknown field of V1Container "
         "(did you mean 'imagePullPolicy'?)"),
        ({"nodeSelector": "gpu"},
         "task 'podenv.work': pod_template spec.nodeSelector: expected a mapping, got str 'gpu'"),
        ({"containers": [{"name": "primary", "ports": [{"containerPort": "eighty"}]}]},
         "spec.containers[0].ports[0].containerPort: expected int, got str 'eighty'"),
        ({"containers": [{"image": "x"}]}, "spec.containers[0]: invalid V1Container: name"),
        ({"containers": [{"name": "a"}, {"name": "b"}]},
         "pod_template has no container named 'primary' (the primary container); containers: ['a', 'b']"),
        ({"tolerations": {"key": "k"}}, "spec.tolerations: expected a list, got dict"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(PodTemplateError) as info:
        _template(flyte.PodTemplate(pod_spec=spec))
    message = str(info.value)
    assert "\n" not in message
    assert expected in message


def test_check_covers_the_environment_and_its_dependencies() -> None:
    dep = flyte.TaskEnvironment(name="dep")

    @dep.task(pod_template=flyte.PodTemplate(pod_spec={"containers": [{"name": "primary", "bogus": 1}]}))
    async def child() -> None: ...

    env = flyte.TaskEnvironment(name="top", depends_on=[dep])

    @env.task
    async def main() -> None: ...

    with pytest.raises(PodTemplateError, match=r"task 'dep.child': pod_template spec.containers\[0\].bogus"):
        check_task_pod_templates(main)


def test_from_spec_picks_the_primary_container_as_the_official_sdk() -> None:
    one = flyte.PodTemplate.from_spec({"containers": [{"name": "only"}]})
    assert one.primary_container_name == "only"
    two = flyte.PodTemplate.from_spec({"containers": [{"name": "x"}, {"name": "primary"}]})
    assert two.primary_container_name == "primary"
    with pytest.raises(ValueError, match="primary_container_name="):
        flyte.PodTemplate.from_spec({"containers": [{"name": "x"}, {"name": "y"}]})
    with pytest.raises(ValueError, match="'z' is not a container"):
        flyte.PodTemplate.from_spec({"containers": [{"name": "x"}]}, primary_container_name="z")


def test_import_flyte_does_not_import_kubernetes() -> None:
    import subprocess
    import sys

    code = "import flyte; flyte.PodTemplate(pod_spec={}); import sys; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_numbers_are_quantities_in_resource_maps_but_not_strings_elsewhere() -> None:
    spec = {"containers": [{"name": "primary", "resources": {"limits": {"cpu": 2, "memory": "1Gi"}}}]}
    _, tt = _template(flyte.PodTemplate(pod_spec=spec))
    assert MessageToDict(tt.k8s_pod.pod_spec)["containers"][0]["resources"]["limits"]["cpu"] == "2"
    with pytest.raises(PodTemplateError, match=r"spec.restartPolicy: expected str, got int 5"):
        _template(flyte.PodTemplate(pod_spec={"restartPolicy": 5}))


def test_images_reach_the_worker_for_child_actions() -> None:
    from flyte.remote.spec import decode_images

    ctx = SpecContext(project="p", domain="d", version="v1", module="m",
                      images={"podenv": "reg/app:1", "default": "reg/flyte:2"})
    env = flyte.TaskEnvironment(name="podenv")

    @env.task
    async def t() -> None: ...

    args = list(task_spec(t, ctx).task_template.container.args)
    assert task_spec(t, ctx).task_template.container.image == "reg/app:1"
    assert decode_images(args[args.index("--image-cache") + 1]) == ctx.images
    assert decode_images("not-ours") == {}
