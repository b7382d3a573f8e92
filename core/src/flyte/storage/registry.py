"""Which backend serves a URL: protocols, the configured options, and one backend object per protocol.

Backends come from the ``flyte_storage_backends`` plugin hook (the built-in plugin serves
``file://`` and plain paths); they are created on first use with the options given to
:func:`configure` (``flyte.init(storage=...)`` or the config file).

Example::

    from flyte.storage import backend_for, protocol_of

    protocol_of("s3://bucket/key")          # 's3'
    fs = backend_for("/tmp/x").filesystem()  # the local filesystem
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flyte.errors import UnknownPluginError
from flyte.plugins.manager import get_plugin_manager
from flyte.storage.redaction import redact_url, remember_secrets

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
    remember_secrets(_storage_options)


def backend_for(path: str) -> StorageBackend:
    """The backend that serves ``path``'s protocol, or an error saying what to install."""
    proto = protocol_of(path)
    pm = get_plugin_manager()
    key = (proto, id(pm))
    b = _backend_cache.get(key)
    if b is None:
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
    """The fsspec filesystem serving ``path`` (credentials already applied)."""
    return backend_for(path).filesystem_for(path)
