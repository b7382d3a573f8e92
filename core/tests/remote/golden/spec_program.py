"""One program, serialized by both SDKs (test_spec_golden.py): every TaskSpec field the golden test compares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import flyte
from kubernetes.client import V1Container, V1PodSpec, V1Toleration


@dataclass
class Point:
    x: float
    y: float


env = flyte.TaskEnvironment(
    name="golden",
    image="ghcr.io/example/golden:1",
    resources=flyte.Resources(cpu="1", memory="2Gi"),
    env_vars={"MODE": "test"},
)

gpu_env = flyte.TaskEnvironment(
    name="golden_gpu",
    image="ghcr.io/example/golden:1",
    resources=flyte.Resources(cpu=("1", "2"), memory=("1Gi", "4Gi"), gpu=1, disk="10Gi"),
    pod_template=flyte.PodTemplate(
        pod_spec=V1PodSpec(
            containers=[V1Container(name="primary", image_pull_policy="Always")],
            tolerations=[V1Toleration(key="gpu", operator="Exists", effect="NoSchedule")],
            node_selector={"pool": "gpu"},
        ),
        labels={"team": "ml"},
        annotations={"owner": "golden"},
    ),
)


@env.task
async def plain(a: int, b: str = "x", c: list[float] | None = None) -> dict[str, int]:
    return {b: a}


@env.task(retries=3, timeout=120, cache="auto")
async def cached(p: Point, n: int) -> Point:
    return Point(p.x * n, p.y * n)


@env.task(
    retries=flyte.RetryStrategy(count=2),
    timeout=timedelta(minutes=5),
    cache=flyte.Cache(behavior="override", version_override="v7", serialize=True, ignored_inputs=("seed",)),
)
async def overridden(x: int, seed: int) -> int:
    return x + seed


@gpu_env.task
async def on_gpu(xs: list[int]) -> int:
    return sum(xs)


@env.task(
    pod_template=flyte.PodTemplate(
        pod_spec=V1PodSpec(containers=[V1Container(name="main"), V1Container(name="sidecar", image="busybox")]),
        primary_container_name="main",
    )
)
async def with_sidecar(s: str) -> str:
    return s


@env.task(timeout=flyte.Timeout(max_runtime=timedelta(minutes=10), max_queued_time=timedelta(minutes=2),
                                deadline=timedelta(hours=1)), retries=flyte.RetryStrategy(count=1))
async def bounded(x: int) -> int:
    return x


secret_env = flyte.TaskEnvironment(
    name="golden_secrets",
    image="ghcr.io/example/golden:1",
    secrets=[flyte.Secret(key="api-key", as_env_var="API_KEY"), flyte.Secret(group="db", key="password")],
    env_vars={"A": "1", "B": "2"},
)


@secret_env.task(report=True, cache=flyte.Cache(behavior="auto", salt="s1", ignored_inputs=("verbose",)))
async def with_secrets(q: str, verbose: bool = False) -> str:
    return q
