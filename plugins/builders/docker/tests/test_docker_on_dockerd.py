"""flyte-docker against a private dockerd (vfs storage, no bridge, no iptables changes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flyte.testing.builders import BuilderConformance, BuilderTarget, dockerd_stack
from flyte_docker.builder import DockerBuilder


@pytest.fixture(scope="module")
def builder_target() -> Iterator[BuilderTarget]:
    with dockerd_stack() as stack:
        yield BuilderTarget.from_stack(
            stack,
            DockerBuilder(base_url=stack.service.url, network="none"),
            unavailable=DockerBuilder(base_url=f"unix://{stack.service.root}/missing.sock"),
        )


class TestDockerBuilderOnDockerd(BuilderConformance):
    pass
