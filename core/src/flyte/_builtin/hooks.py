"""Hooks of the built-in plugin: local runtime, local storage, and the File/Dir type transformers."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_storage_backends() -> list[type[Any]]:
    from flyte._builtin.local_storage import LocalStorage

    return [LocalStorage]


@hookimpl
def flyte_runtimes() -> list[type[Any]]:
    from flyte._builtin.local.runtime import LocalRuntime

    return [LocalRuntime]


@hookimpl
def flyte_type_transformers() -> list[Any]:
    from flyte.io._transformers import DIR, FILE

    return [FILE, DIR]
