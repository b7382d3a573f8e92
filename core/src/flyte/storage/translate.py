"""Error translation: what a filesystem or provider SDK raised, turned into an error a person can act on.

A missing bucket/object becomes ``FileNotFoundError``, refused credentials ``PermissionError``,
anything else :class:`flyte.storage.errors.StorageError`; each says what failed and where (the URL
without its signature) and carries no secret. Used by every function of :mod:`flyte.storage`::

    try:
        ...
    except Exception as e:
        raise friendly(e, "Upload to", url) from cause(e)
"""

from __future__ import annotations

from flyte.storage.errors import StorageError
from flyte.storage.redaction import redact_url, scrub


def cause(e: BaseException) -> BaseException | None:
    """Chain the original error unless its text would leak a secret into a traceback."""
    text = f"{e}"
    return e if scrub(text) == text else None


def _chain(e: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _status(e: BaseException) -> int | None:
    status = getattr(e, "status_code", None) or getattr(e, "status", None)
    return status if isinstance(status, int) else None


def is_auth_failure(e: BaseException) -> bool:
    """An SDK error (or one it wraps) that means the credentials were refused: HTTP 401/403,
    e.g. Azure's ``ClientAuthenticationError`` / ``HttpResponseError`` with ``AuthorizationFailure``."""
    return any(
        _status(c) in (401, 403) or type(c).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError")
        for c in _chain(e)
    )


def is_not_found(e: BaseException) -> bool:
    """A missing bucket/container/object, possibly wrapped (adlfs raises RuntimeError from the SDK's error)."""
    return any(
        isinstance(c, FileNotFoundError) or _status(c) == 404 or type(c).__name__ == "ResourceNotFoundError"
        for c in _chain(e)
    )


def friendly(e: BaseException, op: str, url: str) -> BaseException:
    """The same kind of error, saying what failed where (URL without its signature, no secrets)."""
    where = redact_url(url)
    detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    detail = scrub(detail.replace(url, where))
    if isinstance(e, FileNotFoundError) or (not isinstance(e, PermissionError) and is_not_found(e)):
        return FileNotFoundError(f"{op} {where} failed: not found (check the bucket/container and path). {detail}")
    if isinstance(e, PermissionError) or is_auth_failure(e):
        return PermissionError(f"{op} {where} failed: access denied (check the credentials). {detail}")
    if isinstance(e, StorageError):
        return e
    return StorageError(f"{op} {where} failed: {detail}")
