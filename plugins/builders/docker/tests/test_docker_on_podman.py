"""flyte-docker against podman's Docker-compatible API service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flyte.testing.builders import BuilderConformance, BuilderTarget, podman_stack
from flyte_docker.builder import DockerBuilder


@pytest.fixture(scope="module")
def builder_target() -> Iterator[BuilderTarget]:
    with podman_stack() as stack:
        yield BuilderTarget.from_stack(
            stack,
            DockerBuilder(base_url=stack.service.url, network="none"),
            unavailable=DockerBuilder(base_url=f"unix://{stack.service.root}/missing.sock"),
        )


class TestDockerBuilderOnPodmanService(BuilderConformance):
    pass
