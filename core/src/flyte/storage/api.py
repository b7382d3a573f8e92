"""The storage functions :mod:`flyte.storage` exports (put, get, exists, ls, copy_sync, open_sync...).

They live here, not in the package's ``__init__``, so that ``import flyte.storage`` (which the run
context and the type engine need for their types) costs nothing until a function is first used:
this module pulls in the transfer machinery, fsspec's local filesystem and the plugin registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import shutil
import uuid
from typing import TYPE_CHECKING, Any

from flyte.storage import transfer
from flyte.storage.progress import resolve
from flyte.storage.registry import (
    LOCAL_PROTOCOLS,
    backend_for,
    is_remote,
    join,
    protocol_of,
    strip_file_header,
)
from flyte.storage.translate import cause, friendly

if TYPE_CHECKING:
    from flyte.storage.progress import Progress

_CHUNK = 4 * 1024 * 1024


def random_local_dir(base: str | os.PathLike[str] | None = None) -> pathlib.Path:
    if not base:
        import tempfile  # start-up time: only runs that stage downloads need it

        base = tempfile.gettempdir()
    root = pathlib.Path(base)
    p = root / uuid.uuid4().hex
    p.mkdir(parents=True, exist_ok=True)
    return p


def _endpoint(url: str) -> transfer.Endpoint:
    b = backend_for(url)
    path = strip_file_header(url) if protocol_of(url) in LOCAL_PROTOCOLS else b.to_fs_path(url)
    return transfer.Endpoint(b, b.filesystem_for(url), url, path)


async def put(
    from_path: str | os.PathLike[str],
    to_path: str,
    recursive: bool = False,
    *,
    progress: Progress | bool | None = None,
    concurrency: int | None = None,
) -> str:
    """Copy a local file (or folder) to ``to_path``; return ``to_path``.

    A folder lands as ``to_path/<relative path>`` for each file in it (``recursive`` is implied
    for folders). Large files go in parts; folders move ``concurrency`` files at a time.
    ``progress``: see :mod:`flyte.storage.progress` (off by default in library use).

    Example::

        await flyte.storage.put("results/", "s3://bucket/run-1/results")
    """
    src = os.fspath(from_path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"Cannot upload {src}: no such file or directory")
    ep = _endpoint(to_path)
    prog = resolve(progress)
    try:
        if os.path.isdir(src):
            await transfer.upload_dir(ep, src, prog, concurrency)
        else:
            await transfer.upload_file(ep, src, prog)
    except Exception as e:
        raise friendly(e, "Upload to", to_path) from cause(e)
    return to_path


async def get(
    from_path: str,
    to_path: str | os.PathLike[str],
    recursive: bool = False,
    *,
    progress: Progress | bool | None = None,
    concurrency: int | None = None,
) -> str:
    """Copy ``from_path`` (a file, or with ``recursive=True`` everything under it) to a local path.

    Files are written under a temporary name and renamed once complete. Returns the local path.

    Example::

        local = await flyte.storage.get("s3://bucket/run-1/results", "/tmp/results", recursive=True)
    """
    dst = os.fspath(to_path)
    ep = _endpoint(from_path)
    prog = resolve(progress)
    try:
        if recursive:
            await transfer.download_dir(ep, dst, prog, concurrency)
        else:
            target = dst
            if os.path.isdir(dst):
                target = os.path.join(dst, ep.path.rstrip("/").rsplit("/", 1)[-1])
            try:
                await transfer.download_file(ep, target, prog)
                dst = target
            except IsADirectoryError:  # a folder asked for without recursive=True
                await transfer.download_dir(ep, dst, prog, concurrency)
    except Exception as e:
        raise friendly(e, "Download of", from_path) from cause(e)
    return dst


async def exists(path: str) -> bool:
    """Whether a file or folder exists at ``path``."""
    ep = _endpoint(path)
    try:
        return bool(await asyncio.to_thread(ep.fs.exists, ep.path))
    except Exception as e:
        raise friendly(e, "Checking", path) from cause(e)


async def delete(path: str, recursive: bool = False) -> None:
    """Remove the object at ``path`` (everything under it with ``recursive=True``)."""
    ep = _endpoint(path)
    try:
        await asyncio.to_thread(ep.fs.rm, ep.path, recursive=recursive)
    except Exception as e:
        raise friendly(e, "Deleting", path) from cause(e)


async def ls(path: str, recursive: bool = False) -> list[str]:
    """URLs of the entries under ``path`` (every file below it with ``recursive=True``), sorted."""
    ep = _endpoint(path)
    try:
        if recursive:
            return [join(path, rel) for _, rel, _ in await transfer.remote_tree(ep)]
        names = await asyncio.to_thread(ep.fs.ls, ep.path, detail=False)
    except Exception as e:
        raise friendly(e, "Listing", path) from cause(e)
    base = ep.fs._strip_protocol(ep.path).rstrip("/")
    out = []
    for n in names:
        s = ep.fs._strip_protocol(n).rstrip("/")
        if s == base:
            continue
        out.append(join(path, s[len(base) + 1 :] if s.startswith(base + "/") else s.rsplit("/", 1)[-1]))
    return sorted(out)


WRITE_CHECK_PREFIX = ".flyte-write-check-"


def check_writable(prefix: str) -> None:
    """Raise a clear error now, not after tasks ran, unless objects can be written under ``prefix``.

    One tiny write of a marker object ``<prefix>/.flyte-write-check-<random>`` and its deletion.
    Raises ``LookupError`` (:class:`flyte.errors.UnknownPluginError`) naming the distribution to
    install when no backend serves the protocol, ``FileNotFoundError`` when the bucket/container
    does not exist, ``PermissionError`` when the credentials are refused, and
    :class:`flyte.storage.errors.StorageError` for anything else; each names ``prefix`` (without
    its query string). A marker that cannot be deleted (write-only access) is left behind silently.
    Blocking; from async code use :func:`check_writable_async`.

    Example::

        flyte.storage.check_writable("s3://bucket/raw")   # before `flyte run --raw-data-path ...`
    """
    marker_url = join(prefix, WRITE_CHECK_PREFIX + uuid.uuid4().hex[:12])
    ep = _endpoint(marker_url)
    try:
        if protocol_of(prefix) in LOCAL_PROTOCOLS:
            os.makedirs(os.path.dirname(ep.path) or ".", exist_ok=True)
        with ep.fs.open(ep.path, "wb") as f:
            f.write(b"flyte write check\n")
    except Exception as e:
        raise friendly(e, "Writing to", prefix) from cause(e)
    with contextlib.suppress(Exception):
        ep.fs.rm(ep.path)


async def check_writable_async(prefix: str) -> None:
    """:func:`check_writable` without blocking the event loop."""
    await asyncio.to_thread(check_writable, prefix)


def copy_sync(src: str, dst: str, recursive: bool = False) -> str:
    """Stream the file ``src`` to ``dst`` (either may be remote); return ``dst``. Blocking.

    With ``recursive=True`` a local folder ``src`` is copied file by file to ``dst/<relative path>``.

    Example::

        flyte.storage.copy_sync("/tmp/report.csv", "s3://bucket/reports/report.csv")
    """
    if recursive and not is_remote(src) and os.path.isdir(strip_file_header(src)):
        root = strip_file_header(src)
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for f in sorted(filenames):
                full = os.path.join(dirpath, f)
                copy_sync(full, join(dst, os.path.relpath(full, root).replace(os.sep, "/")))
        return dst
    with open_sync(src, "rb") as fi, open_sync(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo, _CHUNK)
    return dst


def open_sync(path: str, mode: str = "rb", **kwargs: Any) -> Any:
    """A file-like object for ``path`` (streams; remote writes become visible on close)."""
    ep = _endpoint(path)
    if protocol_of(path) in LOCAL_PROTOCOLS and ("w" in mode or "a" in mode):
        parent = os.path.dirname(ep.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
    try:
        return ep.fs.open(ep.path, mode, **kwargs)
    except Exception as e:
        raise friendly(e, "Opening", path) from cause(e)
