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

from typing import TYPE_CHECKING

import pluggy

from flyte._lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


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
