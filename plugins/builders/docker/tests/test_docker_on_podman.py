"""flyte-docker against podman's Docker-compatible API service."""

from __future__ import annotations

import pytest
from flyte.testing.builders import BuilderConformance, BuilderTarget
from flyte_docker.builder import DockerBuilder
from flyte_testing.engines import Stack


@pytest.fixture(scope="module")
def builder_target(podman_stack: Stack) -> BuilderTarget:
    # `podman_stack` is a fixture of flyte-testing's pytest plugin
    return podman_stack.target(
        DockerBuilder(base_url=podman_stack.service.url, network="none"),
        unavailable=DockerBuilder(base_url=f"unix://{podman_stack.service.root}/missing.sock"),
    )


class TestDockerBuilderOnPodmanService(BuilderConformance):
    pass
