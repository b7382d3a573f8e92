"""``flyte.io.File``: a reference to one file, local or in object storage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any, Generic, TypeVar

import flyte.storage as storage
from flyte.io._blob import SINGLE, BlobBase, local_path_of
from flyte.storage import data_access

T = TypeVar("T")


async def _put_local(local: str, remote_destination: str | None) -> str | None:
    """Upload for ``from_local``: to the given destination, else through the run's data access; None: stay local."""
    if remote_destination:
        return await storage.put(local, remote_destination, recursive=os.path.isdir(local))
    da = data_access.current()
    return await da.upload(local) if da is not None else None


def _put_local_sync(local: str, remote_destination: str | None) -> str | None:
    """Blocking :func:`_put_local` (streams each file)."""
    if remote_destination:
        return storage.copy_sync(local, remote_destination, recursive=os.path.isdir(local))
    da = data_access.current()
    return da.upload_sync(local) if da is not None else None


class File(BlobBase, Generic[T]):
    """A file, local or remote, that can cross task boundaries.

    ``T`` optionally names the format (``File[csv]``); it is not checked. Inside a run a
    local file is uploaded under the run's raw data path when it is passed to another task
    or returned; outside a run the local path is kept.

    Example::

        @env.task
        async def write() -> File:
            with open("out.txt", "w") as f:
                f.write("hi")
            return await File.from_local("out.txt")

        @env.task
        async def read(f: File) -> str:
            async with f.open("rb") as fh:
                return (await fh.read()).decode()
    """

    __slots__ = ()

    _dimensionality = SINGLE
    _schema_title = "File"
    _schema_description = "A file reference with an optional format type."

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    async def from_local(cls, local_path: str | os.PathLike[str], remote_destination: str | None = None) -> File[T]:
        """A File for ``local_path``; uploaded to ``remote_destination`` or, inside a run, its raw data path."""
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(local):
            raise FileNotFoundError(f"File.from_local: {local} is not a file")
        target = await _put_local(local, remote_destination)
        return cls(path=local) if target is None else cls(path=target, name=os.path.basename(local))

    @classmethod
    def from_local_sync(cls, local_path: str | os.PathLike[str], remote_destination: str | None = None) -> File[T]:
        """Synchronous :meth:`from_local` (streams the copy)."""
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(local):
            raise FileNotFoundError(f"File.from_local_sync: {local} is not a file")
        target = _put_local_sync(local, remote_destination)
        return cls(path=local) if target is None else cls(path=target, name=os.path.basename(local))

    @classmethod
    def from_existing_remote(cls, remote_path: str, file_cache_key: str | None = None) -> File[T]:
        """A File for data already in storage (nothing is copied); ``file_cache_key`` becomes its hash."""
        return cls(path=remote_path, hash=file_cache_key)

    @classmethod
    def new_remote(cls, file_name: str | None = None) -> File[T]:
        """A File at a fresh path to write to with :meth:`open` / :meth:`open_sync`.

        Inside a run the path is a fresh one from the run's data access (under its raw data
        path); outside a run it is in a new folder under the system temporary directory.
        """
        name = file_name or uuid.uuid4().hex
        da = data_access.current()
        if da is None:
            return cls(path=os.path.join(tempfile.mkdtemp(prefix="flyte-"), name))
        return cls(path=da.new_path(name))

    # -- access ---------------------------------------------------------------------------

    async def exists(self) -> bool:
        return await storage.exists(self.path)

    def exists_sync(self) -> bool:
        if not self.is_remote:
            return os.path.exists(local_path_of(self.path))
        try:
            self.open_sync("rb").close()
        except FileNotFoundError:
            return False
        return True

    def open_sync(self, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """A file object (a context manager) reading or writing this file, streamed."""
        return storage.open_sync(self.path, mode, **kwargs)

    @contextlib.asynccontextmanager
    async def open(self, mode: str = "rb", **kwargs: Any) -> AsyncIterator[AsyncStream]:
        """``async with file.open("rb") as f: data = await f.read()``; blocking I/O runs in a thread."""
        fh = await asyncio.to_thread(self.open_sync, mode, **kwargs)
        try:
            yield AsyncStream(fh)
        finally:
            await asyncio.to_thread(fh.close)

    async def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy to ``local_path`` (default: a new temporary folder) and return the local path.

        A local file with no ``local_path`` is returned as is.
        """
        if local_path is None and not self.is_remote:
            return local_path_of(self.path)
        dst = os.fspath(local_path) if local_path is not None else self._default_download_path()
        if os.path.isdir(dst):
            dst = os.path.join(dst, self.name or "file")
        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        if self.is_remote:
            await storage.get(self.path, dst)
        else:
            await asyncio.to_thread(shutil.copyfile, local_path_of(self.path), dst)
        return dst

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Synchronous :meth:`download` (streams the copy)."""
        if local_path is None and not self.is_remote:
            return local_path_of(self.path)
        dst = os.fspath(local_path) if local_path is not None else self._default_download_path()
        if os.path.isdir(dst):
            dst = os.path.join(dst, self.name or "file")
        os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        storage.copy_sync(self.path, dst)
        return dst

    def _default_download_path(self) -> str:
        return os.path.join(tempfile.mkdtemp(prefix="flyte-"), self.name or "file")


class AsyncStream:
    """An async face over a blocking file object: ``await read()``, ``await write()``, ``async for``."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh

    async def read(self, size: int = -1) -> Any:
        return await asyncio.to_thread(self._fh.read, size)

    async def readline(self) -> Any:
        return await asyncio.to_thread(self._fh.readline)

    async def write(self, data: Any) -> int:
        return await asyncio.to_thread(self._fh.write, data)

    async def close(self) -> None:
        await asyncio.to_thread(self._fh.close)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        line = await self.readline()
        if not line:
            raise StopAsyncIteration
        return line

    @property
    def raw(self) -> Any:
        """The underlying blocking file object."""
        return self._fh


def iter_local_files(root: str, recursive: bool = True, max_depth: int | None = None) -> Iterator[str]:
    """Files under a local folder, sorted per level (used by Dir)."""
    root = os.path.abspath(root)
    base_depth = root.rstrip(os.sep).count(os.sep)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = dirpath.rstrip(os.sep).count(os.sep) - base_depth
        dirnames.sort()
        if not recursive or (max_depth is not None and depth + 1 >= max_depth):
            dirnames[:] = []
        for f in sorted(filenames):
            yield os.path.join(dirpath, f)
