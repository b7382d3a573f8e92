"""flyte-docker against a private dockerd (vfs storage, no bridge, no iptables changes)."""

from __future__ import annotations

import pytest
from flyte.testing.builders import BuilderConformance, BuilderTarget
from flyte_docker.builder import DockerBuilder
from flyte_testing.engines import Stack


@pytest.fixture(scope="module")
def builder_target(dockerd_stack: Stack) -> BuilderTarget:
    # `dockerd_stack` is a fixture of flyte-testing's pytest plugin
    return dockerd_stack.target(
        DockerBuilder(base_url=dockerd_stack.service.url, network="none"),
        unavailable=DockerBuilder(base_url=f"unix://{dockerd_stack.service.root}/missing.sock"),
    )


class TestDockerBuilderOnDockerd(BuilderConformance):
    pass
