"""Hooks of flyte-remote: registers the ``remote`` runtime (grpc is imported only when a run is submitted)."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_runtimes() -> list[type[Any]]:
    from flyte_remote.runtime import RemoteRuntime

    return [RemoteRuntime]
