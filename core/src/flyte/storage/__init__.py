"""Read and write data wherever it lives: local paths, ``file://`` and any protocol a plugin serves.

``flyte-s3``, ``flyte-gcs`` and ``flyte-azure`` add ``s3://``, ``gs://`` and ``abfs://``.
Every function streams; nothing reads a whole file into memory.

Example::

    import flyte.storage

    remote = await flyte.storage.put("data.csv", "s3://bucket/data.csv")
    local = await flyte.storage.get(remote, "/tmp/data.csv")
"""

from __future__ import annotations

import os
import pathlib
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fsspec

    from flyte.storage.backend import StorageBackend

LOCAL_PROTOCOLS = ("file", "local")


def protocol_of(path: str | os.PathLike[str]) -> str:
    s = os.fspath(path)
    if "://" in s:
        return s.split("://", 1)[0].lower()
    return "file"


def is_remote(path: str | os.PathLike[str]) -> bool:
    return protocol_of(path) not in LOCAL_PROTOCOLS


def strip_file_header(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


def join(base: str, *parts: str) -> str:
    """Join path segments with '/', keeping the protocol of ``base``."""
    out = base.rstrip("/")
    for p in parts:
        out = out + "/" + p.strip("/")
    return out


_backend_cache: dict[tuple[str, int], StorageBackend] = {}
_storage_options: dict[str, Any] = {}


def configure(options: dict[str, Any] | None) -> None:
    """Set backend options (from ``flyte.init(storage=...)`` or the config file)."""
    _storage_options.clear()
    _storage_options.update(options or {})
    _backend_cache.clear()


def backend_for(path: str) -> StorageBackend:
    """The backend that serves ``path``'s protocol, or an error saying what to install."""
    from flyte.plugins.manager import get_plugin_manager

    proto = protocol_of(path)
    pm = get_plugin_manager()
    key = (proto, id(pm))
    b = _backend_cache.get(key)
    if b is None:
        from flyte.errors import UnknownPluginError

        try:
            cls = pm.storage.get(proto)
        except UnknownPluginError as e:
            raise UnknownPluginError(
                str(e).replace("Unknown storage backend", "Unknown storage protocol", 1)
                + f" (needed for {redact_url(path)})"
            ) from None
        b = cls(_storage_options)
        _backend_cache[key] = b
    return b


def filesystem(path: str) -> fsspec.AbstractFileSystem:
    return backend_for(path).filesystem()


def redact_url(url: str) -> str:
    """A URL safe to print: no query string (signatures) and no user:password."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def random_local_dir(base: str | os.PathLike[str] | None = None) -> pathlib.Path:
    import tempfile

    root = pathlib.Path(base) if base else pathlib.Path(tempfile.gettempdir())
    p = root / uuid.uuid4().hex
    p.mkdir(parents=True, exist_ok=True)
    return p


def _fs_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return strip_file_header(path) if protocol_of(path) in LOCAL_PROTOCOLS else path


async def put(from_path: str | os.PathLike[str], to_path: str, recursive: bool = False) -> str:
    """Copy a local file (or folder with ``recursive=True``) to ``to_path``; return ``to_path``."""
    import asyncio

    src = os.fspath(from_path)
    if not os.path.exists(src):
        raise FileNotFoundError(f"Cannot upload {src}: no such file or directory")
    fs = filesystem(to_path)
    dst = _fs_path(fs, to_path)
    if getattr(fs, "async_impl", False) and hasattr(fs, "_put"):
        await fs._put(src, dst, recursive=recursive)
    else:
        await asyncio.to_thread(fs.put, src, dst, recursive=recursive)
    return to_path


async def get(from_path: str, to_path: str | os.PathLike[str], recursive: bool = False) -> str:
    """Copy ``from_path`` (file, or folder with ``recursive=True``) to a local path; return it."""
    import asyncio

    fs = filesystem(from_path)
    src = _fs_path(fs, from_path)
    dst = os.fspath(to_path)
    if getattr(fs, "async_impl", False) and hasattr(fs, "_get"):
        await fs._get(src, dst, recursive=recursive)
    else:
        await asyncio.to_thread(fs.get, src, dst, recursive=recursive)
    return dst


async def exists(path: str) -> bool:
    import asyncio

    fs = filesystem(path)
    return bool(await asyncio.to_thread(fs.exists, _fs_path(fs, path)))


def open_sync(path: str, mode: str = "rb", **kwargs: Any) -> Any:
    """A file-like object for ``path`` (streams; remote writes become visible on close)."""
    fs = filesystem(path)
    if protocol_of(path) in LOCAL_PROTOCOLS and ("w" in mode or "a" in mode):
        parent = os.path.dirname(strip_file_header(path))
        if parent:
            os.makedirs(parent, exist_ok=True)
    return fs.open(_fs_path(fs, path), mode, **kwargs)


__all__ = [
    "backend_for",
    "configure",
    "exists",
    "filesystem",
    "get",
    "is_remote",
    "join",
    "open_sync",
    "protocol_of",
    "put",
    "redact_url",
    "strip_file_header",
]
