from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def _run_context(raw: Path | str) -> Iterator[None]:
    from flyte._context import ActionID, TaskContext, reset_current, set_current

    tc = TaskContext(action=ActionID(name="a0", run_name="r0"), raw_data_path=str(raw), run_base_dir=str(raw))
    token = set_current(tc)
    try:
        yield
    finally:
        reset_current(token)


@pytest.fixture
def run_context():
    """``with run_context(raw_dir):`` runs the block as if inside a run writing to raw_dir."""
    return _run_context


class _MemoryHooks:
    from flyte.plugins import hookimpl

    @hookimpl
    def flyte_storage_backends(self):
        from flyte.storage.backend import StorageBackend

        class MemoryBackend(StorageBackend):
            name = "memory"
            protocols = ("memory",)

            def filesystem(self):
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
