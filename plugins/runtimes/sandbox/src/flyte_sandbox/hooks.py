"""Hooks of flyte-sandbox: registers the ``sandbox`` runtime (pydantic-monty is imported only when it runs)."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_runtimes() -> list[type[Any]]:
    from flyte_sandbox.runtime import SandboxRuntime

    return [SandboxRuntime]
