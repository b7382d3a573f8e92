"""Errors raised while moving bytes. Every message names the URL without its signature."""

from __future__ import annotations

from flyte.errors import FlyteError


class StorageError(FlyteError):
    """A storage operation failed (credentials, missing bucket, refused request)."""


class TransferError(StorageError):
    """Bytes could not be moved to or from a signed URL after every retry allowed.

    ``url`` is already redacted (no query string, no user info); ``status`` is the last
    HTTP status seen, or ``None`` when the connection itself failed.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class IntegrityError(TransferError):
    """Downloaded bytes do not match the checksum the server announced."""


class SigningNotSupported(StorageError, NotImplementedError):
    """This backend cannot create signed URLs."""


class UnsafeKeyError(StorageError, ValueError):
    """A folder download refused an object whose key would land outside the destination.

    ``url`` is the folder URL (redacted), ``key`` the object's key relative to it. Nothing of
    the folder is written when this is raised.
    """

    def __init__(self, message: str, *, url: str, key: str) -> None:
        super().__init__(message)
        self.url = url
        self.key = key
