"""``flyte.io.Dir``: a reference to a folder, local or in object storage."""

from __future__ import annotations

import asyncio
import concurrent.futures
import fnmatch
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Generic, TypeVar

import flyte.storage as storage
from flyte.io._blob import EMPTY_DIR_PATH, MULTIPART, BlobBase, local_path_of
from flyte.io._file import File, _put_local, _put_local_sync, iter_local_files
from flyte.storage import data_access

T = TypeVar("T")


class Dir(BlobBase, Generic[T]):
    """A folder, local or remote, that can cross task boundaries.

    Inside a run a local folder is uploaded under the run's raw data path when it is passed
    to another task or returned; outside a run the local path is kept.

    Example::

        @env.task
        async def count(d: Dir) -> int:
            return len(await d.list_files())
    """

    __slots__ = ()

    _dimensionality = MULTIPART
    _schema_title = "Dir"
    _schema_description = "A directory reference with an optional format type."

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    async def from_local(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> Dir[T]:
        """A Dir for ``local_path``; uploaded to ``remote_destination`` or, inside a run, its raw data path.

        ``dir_cache_key`` (as in the official SDK) becomes the Dir's ``hash``: what a cached task keys on
        instead of the folder's content. ``batch_size``, ``chunk_size`` and ``max_concurrency`` tune the
        official SDK's upload and are accepted here.
        """
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(local):
            raise NotADirectoryError(f"Dir.from_local: {local} is not a directory")
        target = await _put_local(local, remote_destination)
        if target is None:
            return cls(path=local, hash=dir_cache_key)
        return cls(path=target, name=os.path.basename(local), hash=dir_cache_key)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
        batch_size: int | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> Dir[T]:
        """Synchronous :meth:`from_local` (streams each file)."""
        local = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(local):
            raise NotADirectoryError(f"Dir.from_local_sync: {local} is not a directory")
        target = _put_local_sync(local, remote_destination)
        if target is None:
            return cls(path=local, hash=dir_cache_key)
        return cls(path=target, name=os.path.basename(local), hash=dir_cache_key)

    @classmethod
    def new_remote(cls, dir_name: str | None = None, hash: str | None = None) -> Dir[T]:
        """A Dir at a fresh path to fill (``File`` objects under it via :meth:`File.new_remote`-style paths):
        under the run's raw data path inside a run, else a new temporary folder."""
        name = dir_name or uuid.uuid4().hex
        da = data_access.current()
        if da is None:
            return cls(path=os.path.join(tempfile.mkdtemp(prefix="flyte-"), name), hash=hash)
        return cls(path=da.new_path(name), hash=hash)

    @classmethod
    def empty(cls) -> Dir[T]:
        """A Dir that stands for "no folder was produced" (an :class:`EmptyDir`).

        Return it from a task that may or may not produce a folder; the receiver checks
        :attr:`is_empty`. It crosses task boundaries as the official SDK's sentinel path.
        """
        return EmptyDir()

    @property
    def is_empty(self) -> bool:
        """True for :meth:`empty` / :class:`EmptyDir` (also after it crossed a task boundary)."""
        return self.path == EMPTY_DIR_PATH

    @classmethod
    def from_existing_remote(cls, remote_path: str, dir_cache_key: str | None = None) -> Dir[T]:
        """A Dir for data already in storage (nothing is copied); ``dir_cache_key`` becomes its hash."""
        return cls(path=remote_path, hash=dir_cache_key)

    # -- listing --------------------------------------------------------------------------

    async def walk(self, recursive: bool = True, max_depth: int | None = None) -> AsyncIterator[File[T]]:
        """Every file below this folder (only the top level with ``recursive=False``).

        ``max_depth=1`` is the top level, 2 adds the folders directly inside it, and so on.
        """
        if not self.is_remote:
            for f in iter_local_files(local_path_of(self.path), recursive, max_depth):
                yield File(path=f)
            return
        base = self.path.rstrip("/")
        limit = 1 if not recursive else max_depth
        # a recursive listing holds only files; a flat one would mix in folders
        for uri in await storage.ls(base, recursive=True):
            rel = uri[len(base) + 1 :] if uri.startswith(base + "/") else uri.rsplit("/", 1)[-1]
            if limit is not None and rel.count("/") + 1 > limit:
                continue
            yield File(path=uri)

    def walk_sync(
        self, recursive: bool = True, file_pattern: str = "*", max_depth: int | None = None
    ) -> Iterator[File[T]]:
        """Synchronous :meth:`walk`; ``file_pattern`` keeps only files whose name matches it (``"*.csv"``).

        The parameters are in the official SDK's order (``file_pattern`` second).
        """
        if self.is_remote:
            files: Iterator[File[T]] = iter(_collect_sync(self.walk(recursive, max_depth)))
        else:
            files = (File(path=f) for f in iter_local_files(local_path_of(self.path), recursive, max_depth))
        for f in files:
            if file_pattern in ("*", "") or fnmatch.fnmatchcase(f.path.rstrip("/").rsplit("/", 1)[-1], file_pattern):
                yield f

    async def list_files(self) -> list[File[T]]:
        """The files directly in this folder."""
        return [f async for f in self.walk(recursive=False)]

    def list_files_sync(self) -> list[File[T]]:
        return list(self.walk_sync(recursive=False))

    async def exists(self) -> bool:
        return await storage.exists(self.path)

    def exists_sync(self) -> bool:
        if not self.is_remote:
            return os.path.isdir(local_path_of(self.path))
        return _run_sync(self.exists())

    async def get_file(self, file_name: str) -> File[T] | None:
        """The file ``file_name`` directly in this folder, or None if there is none."""
        f: File[T] = File(path=self._child(file_name))
        return f if await f.exists() else None

    def get_file_sync(self, file_name: str) -> File[T] | None:
        f: File[T] = File(path=self._child(file_name))
        return f if f.exists_sync() else None

    def _child(self, name: str) -> str:
        if not self.is_remote:
            return os.path.join(local_path_of(self.path), name)
        return storage.join(self.path, name)

    # -- download -------------------------------------------------------------------------

    async def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the folder to ``local_path`` (default: a new temporary folder); return the local path.

        A local folder with no ``local_path`` is returned as is.
        """
        if local_path is None and not self.is_remote:
            return local_path_of(self.path)
        dst = os.fspath(local_path) if local_path is not None else self._default_download_path()
        if self.is_remote:
            await storage.get(self.path, dst, recursive=True)
        else:
            await asyncio.to_thread(self._copy_local_tree, dst)
        return dst

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Synchronous :meth:`download` (streams each file)."""
        if local_path is None and not self.is_remote:
            return local_path_of(self.path)
        dst = os.fspath(local_path) if local_path is not None else self._default_download_path()
        if not self.is_remote:
            self._copy_local_tree(dst)
            return dst
        base = self.path.rstrip("/")
        for f in self.walk_sync():
            rel = f.path[len(base) + 1 :]
            storage.copy_sync(f.path, os.path.join(dst, *rel.split("/")))
        return dst

    def _copy_local_tree(self, dst: str) -> None:
        shutil.copytree(local_path_of(self.path), dst, dirs_exist_ok=True)

    def _default_download_path(self) -> str:
        return os.path.join(tempfile.mkdtemp(prefix="flyte-"), self.name or "dir")


def _run_sync(coro: object) -> bool:
    """Run a coroutine from sync code (not from inside a running event loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def _collect_sync(agen: AsyncIterator[File[T]]) -> list[File[T]]:
    async def collect() -> list[File[T]]:
        return [f async for f in agen]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, collect()).result()


class EmptyDir(Dir[T]):
    """``Dir.empty()``: "no folder was produced", as a Dir (``Optional[Dir]`` needs no special case then).

    Its path is always the sentinel (whatever ``path`` is passed). Received by another task it is a
    plain :class:`Dir` whose :attr:`~Dir.is_empty` is True: test that, not ``isinstance(d, EmptyDir)``.
    """

    __slots__ = ()

    def __init__(self, path: str | os.PathLike[str] | None = None, name: str | None = None, format: str = "",
                 hash: str | None = None) -> None:
        super().__init__(path=EMPTY_DIR_PATH, name="" if name is None else name, format=format, hash=hash)
