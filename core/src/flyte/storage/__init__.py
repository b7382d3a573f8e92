"""Read and write data wherever it lives: local paths, ``file://`` and any protocol a plugin serves.

``flyte-s3``, ``flyte-gcs`` and ``flyte-azure`` add ``s3://``, ``gs://`` and ``abfs://``.
Every function streams; nothing reads a whole file into memory.

Example::

    import flyte.storage

    remote = await flyte.storage.put("data.csv", "s3://bucket/data.csv")
    local = await flyte.storage.get(remote, "/tmp/data.csv")

The package is split by concern: :mod:`~flyte.storage.registry` (which backend serves a URL,
options), :mod:`~flyte.storage.redaction` (URLs and text safe to show),
:mod:`~flyte.storage.translate` (provider errors turned into errors a person can act on),
:mod:`~flyte.storage.data_access` (where a run's data goes) and :mod:`~flyte.storage.api` (the functions
below). This package only names them: each is imported on first use, so ``import flyte.storage`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flyte._lazy import is_submodule, lazy_getattr

if TYPE_CHECKING:
    from flyte.storage.api import (
        check_writable,
        check_writable_async,
        copy_sync,
        delete,
        exists,
        get,
        ls,
        open_sync,
        put,
        random_local_dir,
    )
    from flyte.storage.redaction import redact_url, scrub
    from flyte.storage.registry import (
        LOCAL_PROTOCOLS,
        backend_for,
        configure,
        filesystem,
        is_remote,
        join,
        protocol_of,
        strip_file_header,
    )

_API = ("check_writable", "check_writable_async", "copy_sync", "delete", "exists", "get", "ls", "open_sync", "put",
        "random_local_dir")
_REGISTRY = ("LOCAL_PROTOCOLS", "backend_for", "configure", "filesystem", "is_remote", "join", "protocol_of",
             "strip_file_header")
_LAZY = {
    **dict.fromkeys(_API, "flyte.storage.api"),
    **dict.fromkeys(_REGISTRY, "flyte.storage.registry"),
    "redact_url": "flyte.storage.redaction",
    "scrub": "flyte.storage.redaction",
}

_names = lazy_getattr(__name__, _LAZY, globals())


def __getattr__(name: str) -> Any:
    # ``storage.errors.StorageError`` after a bare ``import flyte.storage``: submodules load on first use too.
    if name not in _LAZY and not name.startswith("__") and is_submodule(__name__, name):
        return importlib.import_module(f"{__name__}.{name}")
    return _names(name)  # a public name, or an official SDK name we lack (a clear NotSupportedError)


__all__ = [
    "LOCAL_PROTOCOLS",
    "backend_for",
    "check_writable",
    "check_writable_async",
    "configure",
    "copy_sync",
    "delete",
    "exists",
    "filesystem",
    "get",
    "is_remote",
    "join",
    "ls",
    "open_sync",
    "protocol_of",
    "put",
    "random_local_dir",
    "redact_url",
    "scrub",
    "strip_file_header",
]
