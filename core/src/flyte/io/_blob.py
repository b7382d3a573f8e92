"""What File and Dir share.

The fields, value semantics and wire URI live in :class:`flyte.types._blob.BlobRef`, which
the type engine knows; this adds what needs storage (``is_remote``). Their transformers are in
:mod:`flyte.io._transformers`. See :mod:`flyte.types._blob` for the wire facts and where data goes.
"""

from __future__ import annotations

from flyte.storage import is_remote
from flyte.types._blob import EMPTY_DIR_PATH, MULTIPART, SINGLE, BlobRef, is_blob_type, local_path_of

__all__ = ["EMPTY_DIR_PATH", "MULTIPART", "SINGLE", "BlobBase", "is_blob_type", "local_path_of"]


class BlobBase(BlobRef):
    """Base of :class:`flyte.io.File` and :class:`flyte.io.Dir` (do not use directly)."""

    __slots__ = ()

    @property
    def is_remote(self) -> bool:
        return is_remote(self.path)
