"""Where a run's data goes: the data-access object the runtime places in the task context.

The type engine is a pure codec; the only I/O it needs is moving a local ``File``/``Dir`` (or
a large pickle) to where other tasks can read it. It does that through the
:class:`DataAccess` of the running task, found with :func:`current`. With none in place (no
run: a plain function call, a test, a notebook), a local path stays local and nothing is
copied.

A runtime gives each task context its data access; :class:`DataAccess` writes under a raw
data prefix with :mod:`flyte.storage`, and a runtime may subclass it (for example to move
bytes through signed URLs)::

    from flyte.storage.data_access import DataAccess

    da = DataAccess("s3://bucket/raw/run-1")
    uri = await da.upload("/tmp/report.csv")   # s3://bucket/raw/run-1/<random>/report.csv
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import uuid
from collections.abc import Callable, Iterator

import flyte.storage as storage  # the functions load on first use (flyte.storage.api)
from flyte.storage.registry import is_remote, join, strip_file_header


class DataAccess:
    """Uploads to, and fresh paths under, one raw data prefix (local folder or any served URL)."""

    def __init__(self, raw_data_path: str, scope: str | None = None) -> None:
        self.raw_data_path = str(raw_data_path)
        self.scope = scope  # the action this serves (same on every attempt): where named paths go

    def named_path(self, name: str) -> str:
        """The same path for the same ``name`` on every attempt of the action (``<prefix>/named/<action>/<name>``).

        The action is ``scope`` or, when it is ``None`` (a runtime shares one data access across the
        run), the action running now (:func:`current_scope`), looked up only here: sharing costs
        nothing per task.
        """
        base = join(self.raw_data_path, "named")
        scope = self.scope if self.scope is not None else current_scope()
        return join(base, scope, name) if scope else join(base, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw_data_path!r})"

    def new_path(self, name: str | None = None) -> str:
        """A fresh path under the raw data prefix (``<prefix>/<random>/<name>``) to write an output to."""
        base = join(self.raw_data_path, uuid.uuid4().hex)
        return join(base, name) if name else base

    def holds(self, path: str) -> bool:
        """Whether ``path`` already lives under this (local) raw data prefix, so it needs no upload."""
        if is_remote(self.raw_data_path) or is_remote(path):
            return False
        root = os.path.abspath(strip_file_header(self.raw_data_path))
        return os.path.abspath(strip_file_header(path)).startswith(root + os.sep)

    async def upload(self, local_path: str, name: str | None = None) -> str:
        """Copy a local file or folder to a fresh path under the prefix; return its URI."""
        local = os.path.abspath(strip_file_header(local_path))
        uri = self.new_path(name or os.path.basename(local.rstrip(os.sep)))
        await storage.put(local, uri, recursive=os.path.isdir(local))
        return uri

    def upload_sync(self, local_path: str, name: str | None = None) -> str:
        """Blocking :meth:`upload` (streams each file)."""
        local = os.path.abspath(strip_file_header(local_path))
        uri = self.new_path(name or os.path.basename(local.rstrip(os.sep)))
        return storage.copy_sync(local, uri, recursive=os.path.isdir(local))

    async def write_bytes(self, data: bytes, name: str | None = None) -> str:
        """Write ``data`` to a fresh path under the prefix (a large value offloaded); return its URI."""
        uri = self.new_path(name)

        def write() -> None:
            with storage.open_sync(uri, "wb") as f:
                f.write(data)

        await asyncio.to_thread(write)
        return uri

    async def download(self, uri: str, local_path: str, recursive: bool = False) -> str:
        """Copy ``uri`` (a file, or a folder with ``recursive=True``) to ``local_path``; return the local path."""
        return await storage.get(uri, local_path, recursive=recursive)


_provider: Callable[[], DataAccess | None] | None = None
_scope_provider: Callable[[], str | None] | None = None


_using: contextvars.ContextVar[DataAccess | None] = contextvars.ContextVar("flyte_data_access", default=None)


def current() -> DataAccess | None:
    """The data access of the task running now (or the one :func:`using` put in place), else ``None``."""
    da = _using.get()
    if da is not None:
        return da
    p = _provider
    return p() if p is not None else None


@contextlib.contextmanager
def using(da: DataAccess) -> Iterator[DataAccess]:
    """Make :func:`current` return ``da`` in this context, e.g. while a client encodes a run's inputs
    outside any task (the remote runtime uploads local File/Dir inputs through the control plane)."""
    token = _using.set(da)
    try:
        yield da
    finally:
        _using.reset(token)


def current_scope() -> str | None:
    """The name of the action running now (where its named paths go), else ``None``."""
    p = _scope_provider
    return p() if p is not None else None


def set_provider(
    provider: Callable[[], DataAccess | None] | None, scope: Callable[[], str | None] | None = None
) -> None:
    """Tell :func:`current` where to find the running task's data access, and :func:`current_scope` its action.

    :mod:`flyte._context` registers the task context's ``data_access`` and action name here when it
    is imported: the context sits in a higher layer, and this keeps the dependency pointing down.
    """
    global _provider, _scope_provider
    _provider = provider
    _scope_provider = scope
