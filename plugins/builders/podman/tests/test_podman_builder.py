"""flyte-podman against ``podman system service`` (the libpod API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flyte.testing.builders import BuilderConformance, BuilderTarget, podman_stack
from flyte_podman.builder import PodmanBuilder


@pytest.fixture(scope="module")
def builder_target() -> Iterator[BuilderTarget]:
    with podman_stack() as stack:
        yield BuilderTarget.from_stack(
            stack,
            PodmanBuilder(base_url=stack.service.url, network="none"),
            unavailable=PodmanBuilder(base_url=f"unix://{stack.service.root}/missing.sock"),
        )


class TestPodmanBuilder(BuilderConformance):
    pass
