"""Hooks of flyte-podman: registers the ``podman`` image builder."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_image_builders() -> list[type[Any]]:
    from flyte_podman.builder import PodmanBuilder

    return [PodmanBuilder]
