"""The local filesystem backend, built in and registered like any plugin's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte.storage.backend import StorageBackend

if TYPE_CHECKING:
    import fsspec


class LocalStorage(StorageBackend):
    name = "local"
    protocols = ("file", "local")

    def create_filesystem(self) -> fsspec.AbstractFileSystem:
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(auto_mkdir=True)
