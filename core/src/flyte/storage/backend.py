"""The storage backend interface.

A backend serves one or more URL protocols (``s3``, ``gs``...) through an
fsspec filesystem, and knows the headers its provider needs when bytes move
through a signed URL (the DataProxy pattern).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import fsspec


class StorageBackend(abc.ABC):
    """Subclass, set ``name`` and ``protocols``, implement :meth:`filesystem`.

    Example::

        class MemoryBackend(StorageBackend):
            name = "memory"
            protocols = ("memory",)

            def filesystem(self):
                import fsspec
                return fsspec.filesystem("memory")
    """

    name: ClassVar[str]
    protocols: ClassVar[tuple[str, ...]]

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        # options: the `storage` section of flyte.init / the config file, backend-specific keys.
        self.options: dict[str, Any] = dict(options or {})

    @abc.abstractmethod
    def filesystem(self) -> fsspec.AbstractFileSystem:
        """An fsspec filesystem with credentials from the usual places of this provider."""

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
