"""The plugin API: the ``hookimpl`` marker and the interfaces plugins implement.

A third-party plugin module looks like this::

    from flyte.plugins import hookimpl

    @hookimpl
    def flyte_runtimes():
        from my_plugin.runtime import MyRuntime
        return [MyRuntime]

and is named in its distribution's ``pyproject.toml``::

    [project.entry-points."flyte.plugins"]
    my-plugin = "my_plugin.hooks"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

hookimpl = pluggy.HookimplMarker("flyte")

if TYPE_CHECKING:
    from flyte.admin import AdminTransport
    from flyte.images.builder import ImageBuilder
    from flyte.runtime import Runtime
    from flyte.storage.backend import StorageBackend
    from flyte.types import TypeTransformer

_LAZY = {
    "StorageBackend": "flyte.storage.backend",
    "ImageBuilder": "flyte.images.builder",
    "Runtime": "flyte.runtime",
    "AdminTransport": "flyte.admin",
    "TypeTransformer": "flyte.types",
    "get_plugin_manager": "flyte.plugins.manager",
    "isolated_plugins": "flyte.plugins.manager",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flyte.plugins' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AdminTransport",
    "ImageBuilder",
    "Runtime",
    "StorageBackend",
    "TypeTransformer",
    "get_plugin_manager",
    "hookimpl",
    "isolated_plugins",
]
