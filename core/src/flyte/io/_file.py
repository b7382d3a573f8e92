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


def hash_of(local: str, hash_method: Any) -> str | None:
    """The hash a ``hash_method=`` asks for: a string is the hash itself; an object with ``update(bytes)``
    and ``result()`` (the official SDK's HashMethod) or ``hexdigest()`` (hashlib) hashes the file's bytes."""
    if hash_method is None:
        return None
    if isinstance(hash_method, str):
        return hash_method
    update = getattr(hash_method, "update", None)
    if update is None:
        raise TypeError(f"hash_method must be a hash string or an object with update() (e.g. hashlib.sha256()), "
                        f"got {hash_method!r}")
    with open(local, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            update(chunk)
    done = getattr(hash_method, "result", None) or getattr(hash_method, "hexdigest", None)
    if done is None:
        raise TypeError(f"hash_method {hash_method!r} has neither result() nor hexdigest()")
    return str(done())


def _open_kwargs(block_size: int | None, cache_type: str | None, cache_options: dict[str, Any] | None,
                 compression: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The official ``open()`` options, passed on to the filesystem where they mean something."""
    out = dict(kwargs)
    if block_size is not None:
        out["block_size"] = block_size
    if cache_type is not None:
        out["cache_type"] = cache_type
    if cache_options is not None:
        out["cache_options"] = cache_options
    if compression is not None:
        out["compression"] = compression
    return out


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
    async def from_local(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        hash_method: Any = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> File[T]:
        """A File for ``local_path``; uploaded to ``remote_destination`` or, inside a run, its raw data path.

        ``hash_method`` (as in the official SDK): a hash string, or a hasher (``hashlib.sha256()``) run over
        the file's bytes; it becomes the File's ``hash`` (what the cache keys on). ``chunk_size`` and
        ``max_concurrency`` tune the official SDK's multipart upload and are accepted here.
        """
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(local):
            raise FileNotFoundError(f"File.from_local: {local} is not a file")
        digest = await asyncio.to_thread(hash_of, local, hash_method) if hash_method is not None else None
        target = await _put_local(local, remote_destination)
        if target is None:
            return cls(path=local, hash=digest)
        return cls(path=target, name=os.path.basename(local), hash=digest)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        hash_method: Any = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> File[T]:
        """Synchronous :meth:`from_local` (streams the copy)."""
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(local):
            raise FileNotFoundError(f"File.from_local_sync: {local} is not a file")
        digest = hash_of(local, hash_method)
        target = _put_local_sync(local, remote_destination)
        if target is None:
            return cls(path=local, hash=digest)
        return cls(path=target, name=os.path.basename(local), hash=digest)

    @classmethod
    def from_existing_remote(cls, remote_path: str, file_cache_key: str | None = None) -> File[T]:
        """A File for data already in storage (nothing is copied); ``file_cache_key`` becomes its hash."""
        return cls(path=remote_path, hash=file_cache_key)

    @classmethod
    def new_remote(cls, file_name: str | None = None, hash_method: Any = None) -> File[T]:
        """A File at a fresh path to write to with :meth:`open` / :meth:`open_sync`.

        Inside a run the path is a fresh one from the run's data access (under its raw data
        path); outside a run it is in a new folder under the system temporary directory.
        """
        name = file_name or uuid.uuid4().hex
        digest = hash_method if isinstance(hash_method, str) else None  # a hasher: the official SDK hashes writes
        da = data_access.current()
        if da is None:
            return cls(path=os.path.join(tempfile.mkdtemp(prefix="flyte-"), name), hash=digest)
        return cls(path=da.new_path(name), hash=digest)

    @classmethod
    def named_remote(cls, name: str) -> File[T]:
        """A File at a path fixed by ``name`` for the running action: the same on every attempt.

        :meth:`new_remote` gives a fresh path each call; this one gives the same path for the same
        ``name`` within one action, so a retried attempt finds what an earlier one wrote there.
        ``name`` is a plain file name (no folders). Only inside a running task (ValueError otherwise).
        """
        if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
            raise ValueError(f"File.named_remote({name!r}): give a plain file name such as 'data.csv' "
                             "(no folders, not empty)")
        da = data_access.current()
        if da is None:
            raise ValueError("File.named_remote() requires an active task execution context: call it inside a task.")
        path = da.named_path(name)
        if not storage.is_remote(path):
            os.makedirs(os.path.dirname(local_path_of(path)), exist_ok=True)
        return cls(path=path)

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

    def open_sync(
        self,
        mode: str = "rb",
        block_size: int | None = None,
        cache_type: str | None = None,
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> IO[Any]:
        """A file object (a context manager) reading or writing this file, streamed.

        The whole file-object API: ``read``, ``readline``, ``readlines``, iteration by line, ``write``,
        ``writelines``, ``seek``/``tell`` where the storage allows; text modes (``"r"``, ``"w"``) give
        ``str``. ``block_size``, ``cache_type``, ``cache_options`` and ``compression`` are the official
        SDK's (fsspec's) options and reach the filesystem of a remote path.
        """
        opts = _open_kwargs(block_size, cache_type, cache_options, compression, kwargs)
        if not self.is_remote:  # the local filesystem takes none of fsspec's buffering options
            for k in ("block_size", "cache_type", "cache_options"):
                opts.pop(k, None)
            if opts.get("compression") is None:
                opts.pop("compression", None)
        return storage.open_sync(self.path, mode, **opts)

    @contextlib.asynccontextmanager
    async def open(
        self,
        mode: str = "rb",
        block_size: int | None = None,
        cache_type: str | None = None,
        cache_options: dict[str, Any] | None = None,
        compression: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AsyncStream]:
        """``async with file.open("rb") as f: data = await f.read()``; blocking I/O runs in a thread.

        The stream has the file-object API with ``await`` (``read``, ``readline``, ``readlines``,
        ``write``, ``writelines``, ``seek``, ``tell``, ``flush``) and ``async for line in f``.
        """
        fh = await asyncio.to_thread(self.open_sync, mode, block_size, cache_type, cache_options, compression,
                                     **kwargs)
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

    async def readline(self, size: int = -1) -> Any:
        return await asyncio.to_thread(self._fh.readline, size)

    async def readlines(self, hint: int = -1) -> list[Any]:
        return await asyncio.to_thread(self._fh.readlines, hint)

    async def write(self, data: Any) -> int:
        return await asyncio.to_thread(self._fh.write, data)

    async def writelines(self, lines: Any) -> None:
        await asyncio.to_thread(self._fh.writelines, list(lines))

    async def seek(self, offset: int, whence: int = 0) -> int:
        return await asyncio.to_thread(self._fh.seek, offset, whence)

    async def tell(self) -> int:
        return await asyncio.to_thread(self._fh.tell)

    async def flush(self) -> None:
        await asyncio.to_thread(self._fh.flush)

    async def close(self) -> None:
        await asyncio.to_thread(self._fh.close)

    def readable(self) -> bool:
        return bool(self._fh.readable())

    def writable(self) -> bool:
        return bool(self._fh.writable())

    def seekable(self) -> bool:
        return bool(self._fh.seekable())

    @property
    def closed(self) -> bool:
        return bool(self._fh.closed)

    @property
    def name(self) -> str | None:
        return getattr(self._fh, "name", None)

    @property
    def mode(self) -> str | None:
        return getattr(self._fh, "mode", None)

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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
