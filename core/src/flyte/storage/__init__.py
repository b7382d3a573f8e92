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
import re
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import fsspec

    from flyte.storage.backend import StorageBackend
    from flyte.storage.progress import Progress
    from flyte.storage.transfer import Endpoint

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
    """The fsspec filesystem serving ``path`` (credentials already applied)."""
    return backend_for(path).filesystem_for(path)


#: Schemes whose ``name@host`` is not a credential (``abfss://container@account.dfs...``).
_AT_IS_NOT_USERINFO = ("abfs", "abfss", "az", "wasb", "wasbs")


def redact_url(url: str) -> str:
    """A URL safe to print: no query string (signatures) and no user:password.

    ``abfss://container@account.dfs.core.windows.net/...`` keeps its container: there the part
    before ``@`` names a container, not a user.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0]
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if parts.scheme.lower() not in _AT_IS_NOT_USERINFO or ":" in userinfo:
            netloc = host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def random_local_dir(base: str | os.PathLike[str] | None = None) -> pathlib.Path:
    import tempfile

    root = pathlib.Path(base) if base else pathlib.Path(tempfile.gettempdir())
    p = root / uuid.uuid4().hex
    p.mkdir(parents=True, exist_ok=True)
    return p


def _endpoint(url: str) -> Endpoint:
    from flyte.storage.transfer import Endpoint

    b = backend_for(url)
    path = strip_file_header(url) if protocol_of(url) in LOCAL_PROTOCOLS else b.to_fs_path(url)
    return Endpoint(b, b.filesystem_for(url), url, path)


_URL_QUERY = re.compile(r"(https?://[^\s?'\"<>]+)\?[^\s'\"<>]*")
_SECRET_PARAM = re.compile(
    r"\b(sig|signature|x-amz-signature|x-goog-signature|x-amz-security-token|accountkey|sharedaccesssignature)=[^&;\s'\"<>]+",
    re.I,
)


def scrub(text: str) -> str:
    """``text`` with URL query strings, signatures and account keys removed."""
    text = _URL_QUERY.sub(r"\1", text)
    text = _SECRET_PARAM.sub(lambda m: m.group(1) + "=REDACTED", text)
    for value in _secret_values():
        text = text.replace(value, "REDACTED")
    return text


def _secret_values() -> list[str]:
    out = []
    for k, v in _flat_options(_storage_options):
        if isinstance(v, str) and len(v) >= 8 and any(w in k.lower() for w in ("secret", "key", "token", "connection")):
            out.append(v)
    return out


def _flat_options(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        return [kv for k, v in d.items() for kv in _flat_options(v, f"{prefix}{k}.")]
    return [(prefix, d)]


def _cause(e: BaseException) -> BaseException | None:
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


def _is_auth_failure(e: BaseException) -> bool:
    """An SDK error (or one it wraps) that means the credentials were refused: HTTP 401/403,
    e.g. Azure's ``ClientAuthenticationError`` / ``HttpResponseError`` with ``AuthorizationFailure``."""
    return any(
        _status(c) in (401, 403) or type(c).__name__ in ("ClientAuthenticationError", "CredentialUnavailableError")
        for c in _chain(e)
    )


def _is_not_found(e: BaseException) -> bool:
    """A missing bucket/container/object, possibly wrapped (adlfs raises RuntimeError from the SDK's error)."""
    return any(
        isinstance(c, FileNotFoundError) or _status(c) == 404 or type(c).__name__ == "ResourceNotFoundError"
        for c in _chain(e)
    )


def _friendly(e: BaseException, op: str, url: str) -> BaseException:
    """The same kind of error, saying what failed where (URL without its signature, no secrets)."""
    from flyte.storage.errors import StorageError

    where = redact_url(url)
    detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    detail = scrub(detail.replace(url, where))
    if isinstance(e, FileNotFoundError) or (not isinstance(e, PermissionError) and _is_not_found(e)):
        return FileNotFoundError(f"{op} {where} failed: not found (check the bucket/container and path). {detail}")
    if isinstance(e, PermissionError) or _is_auth_failure(e):
        return PermissionError(f"{op} {where} failed: access denied (check the credentials). {detail}")
    if isinstance(e, StorageError):
        return e
    return StorageError(f"{op} {where} failed: {detail}")


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
    from flyte.storage import transfer
    from flyte.storage.progress import resolve

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
        raise _friendly(e, "Upload to", to_path) from _cause(e)
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
    from flyte.storage import transfer
    from flyte.storage.progress import resolve

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
        raise _friendly(e, "Download of", from_path) from _cause(e)
    return dst


async def exists(path: str) -> bool:
    """Whether a file or folder exists at ``path``."""
    import asyncio

    ep = _endpoint(path)
    try:
        return bool(await asyncio.to_thread(ep.fs.exists, ep.path))
    except Exception as e:
        raise _friendly(e, "Checking", path) from _cause(e)


async def delete(path: str, recursive: bool = False) -> None:
    """Remove the object at ``path`` (everything under it with ``recursive=True``)."""
    import asyncio

    ep = _endpoint(path)
    try:
        await asyncio.to_thread(ep.fs.rm, ep.path, recursive=recursive)
    except Exception as e:
        raise _friendly(e, "Deleting", path) from _cause(e)


async def ls(path: str, recursive: bool = False) -> list[str]:
    """URLs of the entries under ``path`` (every file below it with ``recursive=True``), sorted."""
    import asyncio

    from flyte.storage import transfer

    ep = _endpoint(path)
    try:
        if recursive:
            return [join(path, rel) for _, rel, _ in await transfer.remote_tree(ep)]
        names = await asyncio.to_thread(ep.fs.ls, ep.path, detail=False)
    except Exception as e:
        raise _friendly(e, "Listing", path) from _cause(e)
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
    import contextlib

    marker_url = join(prefix, WRITE_CHECK_PREFIX + uuid.uuid4().hex[:12])
    ep = _endpoint(marker_url)
    try:
        if protocol_of(prefix) in LOCAL_PROTOCOLS:
            os.makedirs(os.path.dirname(ep.path) or ".", exist_ok=True)
        with ep.fs.open(ep.path, "wb") as f:
            f.write(b"flyte write check\n")
    except Exception as e:
        raise _friendly(e, "Writing to", prefix) from _cause(e)
    with contextlib.suppress(Exception):
        ep.fs.rm(ep.path)


async def check_writable_async(prefix: str) -> None:
    """:func:`check_writable` without blocking the event loop."""
    import asyncio

    await asyncio.to_thread(check_writable, prefix)


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
        raise _friendly(e, "Opening", path) from _cause(e)


__all__ = [
    "backend_for",
    "check_writable",
    "check_writable_async",
    "configure",
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
    "redact_url",
    "scrub",
    "strip_file_header",
]
