"""The storage backend interface.

A backend serves one or more URL protocols (``s3``, ``gs``...) through an
fsspec filesystem, and knows the headers its provider needs when bytes move
through a signed URL (the DataProxy pattern).
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from flyte.storage.errors import SigningNotSupported

if TYPE_CHECKING:
    import fsspec

MiB = 1 << 20


def section_options(options: Mapping[str, Any], section: str, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A backend's settings from the ``storage`` section, in whichever form it arrived.

    Accepted, first match wins per key: nested (``{"s3": {"endpoint": ...}}``), flattened with
    dots (``{"s3.endpoint": ...}``, what a flattening config reader produces) and flat top-level
    keys (``{"endpoint": ...}``, the official SDK's names; only ``keys`` when given).
    """
    nested = options.get(section)
    out: dict[str, Any] = dict(nested) if isinstance(nested, Mapping) else {}
    prefix = section + "."
    for k, v in options.items():
        if isinstance(k, str) and k.startswith(prefix):
            out.setdefault(k[len(prefix) :], v)
    for k, v in options.items():
        if not isinstance(k, str) or "." in k or isinstance(v, Mapping):
            continue
        if keys is None or k in keys:
            out.setdefault(k, v)
    return out


class StorageBackend(abc.ABC):
    """Subclass, set ``name`` and ``protocols``, implement :meth:`create_filesystem`.

    The filesystem is made once per backend (per key, see :meth:`filesystem_key`) and reused:
    :meth:`filesystem` and :meth:`filesystem_for` return the cached one, thread-safely.

    Example::

        class MemoryBackend(StorageBackend):
            name = "memory"
            protocols = ("memory",)

            def create_filesystem(self):
                import fsspec
                return fsspec.filesystem("memory")
    """

    name: ClassVar[str]
    protocols: ClassVar[tuple[str, ...]]

    #: Files at least this big are uploaded in parts (multipart / resumable / staged blocks).
    part_size: ClassVar[int] = 16 * MiB
    #: Parts of one file in flight at once; peak memory per file is about part_size * part_concurrency.
    part_concurrency: ClassVar[int] = 2
    #: Files of a directory transferred at once.
    file_concurrency: ClassVar[int] = 32

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        # options: the `storage` section of flyte.init / the config file, backend-specific keys.
        self.options: dict[str, Any] = dict(options or {})
        self._filesystems: dict[str | None, fsspec.AbstractFileSystem] = {}
        self._filesystems_lock = threading.Lock()

    @abc.abstractmethod
    def create_filesystem(self) -> fsspec.AbstractFileSystem:
        """Make the fsspec filesystem, with credentials from the usual places of this provider.

        Called once; :meth:`filesystem` keeps the result."""

    def create_filesystem_for(self, url: str) -> fsspec.AbstractFileSystem:
        """Make the filesystem for ``url`` when :meth:`filesystem_key` gives it a key of its own
        (default: :meth:`create_filesystem`). Called once per key."""
        return self.create_filesystem()

    def filesystem_key(self, url: str) -> str | None:
        """Which filesystem serves ``url``: ``None`` (the default) means the backend's one; a backend
        whose URLs select an account returns the account, and gets one filesystem per account."""
        return None

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """The backend's filesystem (made on first use, then reused)."""
        return self._cached(None, self.create_filesystem)

    def filesystem_for(self, url: str) -> fsspec.AbstractFileSystem:
        """The filesystem serving ``url`` (made on first use per :meth:`filesystem_key`, then reused)."""
        key = self.filesystem_key(url)
        if key is None:
            return self.filesystem()
        return self._cached(key, lambda: self.create_filesystem_for(url))

    def _cached(
        self, key: str | None, make: Callable[[], fsspec.AbstractFileSystem]
    ) -> fsspec.AbstractFileSystem:
        with self._filesystems_lock:
            fs = self._filesystems.get(key)
            if fs is None:
                fs = self._filesystems[key] = make()
            return fs

    def to_fs_path(self, url: str) -> str:
        """The path the fsspec filesystem expects for ``url`` (default: unchanged)."""
        return url

    def put_file_kwargs(self, size: int) -> dict[str, Any]:
        """Extra keyword arguments for ``fs._put_file`` / ``fs.put_file`` (part size, concurrency)."""
        return {}

    def get_file_kwargs(self, size: int | None) -> dict[str, Any]:
        """Extra keyword arguments for ``fs._get_file`` / ``fs.get_file``."""
        return {}

    def sign_url(
        self,
        url: str,
        *,
        method: Literal["GET", "PUT"] = "GET",
        expires_in: int = 3600,
        content_md5: str | None = None,
    ) -> str:
        """A URL through which anyone may ``method`` the object at ``url`` for ``expires_in`` seconds.

        ``content_md5`` (base64) binds a PUT to those bytes where the provider supports it.
        This is what a DataProxy server hands out; clients use :mod:`flyte.storage.signed_url`.
        """
        raise SigningNotSupported(f"The {self.name} storage backend cannot sign URLs.")

    def signed_put_headers(self, *, content_length: int, content_md5: str | None = None) -> dict[str, str]:
        """Headers a PUT through this provider's signed URL must carry (base64 MD5 when given)."""
        headers = {"Content-Length": str(content_length)}
        if content_md5:
            headers["Content-MD5"] = content_md5
        return headers

    def signed_get_headers(self) -> dict[str, str]:
        """Headers a GET through this provider's signed URL must carry."""
        return {}

    def __repr__(self) -> str:  # never show options: they may hold credentials
        return f"<{type(self).__name__} protocols={self.protocols!r}>"
