"""Hooks of flyte-docker: registers the ``docker`` image builder."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_image_builders() -> list[type[Any]]:
    from flyte_docker.builder import DockerBuilder

    return [DockerBuilder]
