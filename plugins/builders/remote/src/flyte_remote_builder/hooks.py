"""Hooks of flyte-remote-builder: registers the ``remote`` image builder."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_image_builders() -> list[type[Any]]:
    from flyte_remote_builder.builder import RemoteBuilder

    return [RemoteBuilder]
