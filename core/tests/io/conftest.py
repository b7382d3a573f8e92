from __future__ import annotations

import pytest


class _MemoryHooks:
    from flyte.plugins import hookimpl

    @hookimpl
    def flyte_storage_backends(self):
        from flyte.storage.backend import StorageBackend

        class MemoryBackend(StorageBackend):
            name = "memory"
            protocols = ("memory",)

            def create_filesystem(self):
                import fsspec

                return fsspec.filesystem("memory", skip_instance_cache=False)

        return [MemoryBackend]


@pytest.fixture
def memory_store():
    """A ``memory://`` object store for the test's duration (stands in for s3/gs)."""
    import fsspec
    from flyte.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    pm.register(_MemoryHooks(), "memory-test")
    fs = fsspec.filesystem("memory")
    try:
        yield fs
    finally:
        pm.unregister("memory-test")
        fs.store.clear()
        fs.pseudo_dirs.clear()
        fs.pseudo_dirs.append("")
