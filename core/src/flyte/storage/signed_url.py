"""PUT and GET bytes through signed URLs with ``httpx``: streamed, retried, checked.

* Retries on HTTP 408/429/5xx and dropped connections, with exponential backoff and
  jitter, honouring ``Retry-After`` (seconds or an HTTP date).
* Uploads stream the file from disk with ``Content-Length`` (never chunked: S3 and
  Azure refuse chunked PUTs to signed URLs) and ``Content-MD5`` so the provider
  rejects corrupted bytes; ``x-ms-blob-type`` and friends come from the backend's
  :meth:`~flyte.storage.backend.StorageBackend.signed_put_headers`.
* Downloads stream to a temporary file, check length and MD5 / CRC32C against what
  the server announced (``Content-MD5``, ``x-ms-blob-content-md5``, ``x-goog-hash``,
  a plain S3 ``ETag``) or what the caller expects, then rename into place.
* Errors are :class:`~flyte.storage.errors.TransferError` naming the URL without its
  query string; server error bodies are reduced to their ``Code``/``Message``.

Example::

    from flyte.storage import signed_url

    await signed_url.put_file(url, "model.bin", headers={"x-ms-blob-type": "BlockBlob"})
    await signed_url.get_file(url, "/tmp/model.bin")
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import hashlib
import logging
import os
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte.storage import redact_url
from flyte.storage.errors import IntegrityError, TransferError
from flyte.storage.progress import NoProgress, Progress

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("flyte.storage")

CHUNK = 1 << 20
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry. ``attempts`` counts the first try."""

    attempts: int = 5
    backoff: float = 0.25
    max_backoff: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            parsed = _parse_retry_after(retry_after)
            if parsed is not None:
                return min(parsed, self.max_retry_after)
        return min(self.max_backoff, self.backoff * (2 ** (attempt - 1))) * (0.5 + random.random() / 2)


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def md5_of_file(path: str | os.PathLike[str]) -> bytes:
    """The raw MD5 digest of a file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.digest()


def default_client(timeout: float = 60.0) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        follow_redirects=False,
    )


_XML_FIELD = re.compile(r"<(Code|Message)>(.*?)</\1>", re.S)
_SECRETISH = re.compile(r"(sig|signature|x-amz-signature|x-goog-signature|se|sp|sv|skoid|sktid)=[^&\s\"'<]+", re.I)


def _server_said(body: bytes) -> str:
    """``Code: Message`` from an XML/JSON error body, never the whole body (it may echo signatures)."""
    text = body[:4096].decode("utf-8", "replace")
    fields = dict(_XML_FIELD.findall(text))
    if not fields:
        m = re.search(r'"message"\s*:\s*"([^"]{0,300})"', text)
        said = m.group(1) if m else ""
    else:
        said = ": ".join(v.strip() for v in (fields.get("Code"), fields.get("Message")) if v)
    said = _SECRETISH.sub(lambda m: m.group(1) + "=REDACTED", said)
    return said[:300]


def _explain(status: int) -> str:
    if status in (401, 403):
        return "the signature was rejected: the signed URL expired, was altered, or its credentials lack access"
    if status == 404:
        return "the bucket/container or object does not exist"
    if status == 400:
        return "the request was rejected (wrong headers for this provider, or Content-MD5 does not match the bytes)"
    if status in RETRYABLE_STATUS:
        return "the server kept failing"
    return "unexpected answer"


async def _file_chunks(path: str, progress: Progress) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            progress.advance(len(chunk))
            yield chunk


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


async def put_file(
    url: str,
    path: str | os.PathLike[str],
    *,
    headers: Mapping[str, str] | None = None,
    content_md5: str | None = None,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy = RetryPolicy(),
    progress: Progress | None = None,
) -> httpx.Response:
    """Stream the file at ``path`` to ``url`` with HTTP PUT; return the final response.

    ``content_md5`` is the base64 MD5 of the file (computed when not given); it is sent
    as ``Content-MD5`` unless ``headers`` already carries one. ``headers`` adds provider
    headers (see :meth:`StorageBackend.signed_put_headers`) and those the control plane returned.
    """
    src = os.fspath(path)
    size = os.path.getsize(src)
    if content_md5 is None:
        content_md5 = base64.b64encode(await asyncio.to_thread(md5_of_file, src)).decode()
    hdrs: dict[str, str] = {"Content-Type": "application/octet-stream"}
    hdrs.update(headers or {})
    hdrs["Content-Length"] = str(size)
    if _header(hdrs, "Content-MD5") is None:
        hdrs["Content-MD5"] = content_md5
    prog = progress or NoProgress()

    async def attempt(c: httpx.AsyncClient) -> httpx.Response:
        return await c.put(url, content=_file_chunks(src, prog), headers=hdrs)

    return await _with_retries("Upload to", url, attempt, client, retry, prog, size)


async def get_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    headers: Mapping[str, str] | None = None,
    expected_md5: str | None = None,
    client: httpx.AsyncClient | None = None,
    retry: RetryPolicy = RetryPolicy(),
    progress: Progress | None = None,
) -> str:
    """Stream ``url`` into ``dest`` (written as a temporary file, renamed when complete and verified).

    ``expected_md5``: base64 or hex MD5 the bytes must have; otherwise whatever checksum the
    server announces is checked. Returns ``dest``.
    """
    dst = os.path.abspath(os.fspath(dest))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    prog = progress or NoProgress()
    redacted = redact_url(url)

    async def attempt(c: httpx.AsyncClient) -> httpx.Response:
        tmp = os.path.join(os.path.dirname(dst), f".{os.path.basename(dst)}.part-{uuid.uuid4().hex[:12]}")
        try:
            async with c.stream("GET", url, headers=dict(headers or {})) as resp:
                if resp.status_code >= 300:
                    await resp.aread()
                    return resp
                checks = _Checks(resp.headers, expected_md5)
                got = 0
                with open(tmp, "wb") as f:
                    async for chunk in resp.aiter_raw(CHUNK):
                        f.write(chunk)
                        checks.update(chunk)
                        got += len(chunk)
                        prog.advance(len(chunk))
                want = resp.headers.get("content-length")
                if want is not None and resp.headers.get("content-encoding") in (None, "identity") and int(want) != got:
                    raise IntegrityError(
                        f"Download of {redacted} was cut short: {got} of {want} bytes",
                        url=redacted,
                        status=resp.status_code,
                    )
                checks.verify(redacted, resp.status_code)
                os.replace(tmp, dst)
                return resp
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)

    await _with_retries("Download of", url, attempt, client, retry, prog, None)
    return dst


class _Checks:
    """Running MD5 / CRC32C of a download and the values the server (or caller) promised."""

    def __init__(self, headers: Any, expected_md5: str | None) -> None:
        self.md5_want: bytes | None = _decode_md5(expected_md5) if expected_md5 else None
        self.crc_want: bytes | None = None
        if self.md5_want is None:
            for name in ("content-md5", "x-ms-blob-content-md5"):
                if headers.get(name):
                    self.md5_want = _decode_md5(headers[name])
                    break
        for part in headers.get_list("x-goog-hash", split_commas=True) if hasattr(headers, "get_list") else []:
            algo, _, value = part.strip().partition("=")
            if algo == "md5" and self.md5_want is None:
                self.md5_want = _decode_md5(value)
            elif algo == "crc32c":
                with contextlib.suppress(ValueError):
                    self.crc_want = base64.b64decode(value)
        etag = (headers.get("etag") or "").strip('"')
        sse = headers.get("x-amz-server-side-encryption")
        if self.md5_want is None and re.fullmatch(r"[0-9a-f]{32}", etag) and sse in (None, "AES256"):
            self.md5_want = bytes.fromhex(etag)
        self.md5 = hashlib.md5(usedforsecurity=False) if self.md5_want else None
        self.crc: Any = None
        if self.crc_want is not None and self.md5_want is None:
            try:
                import google_crc32c  # type: ignore[import-not-found, unused-ignore]

                self.crc = google_crc32c.Checksum()
            except ImportError:
                self.crc = None

    def update(self, chunk: bytes) -> None:
        if self.md5 is not None:
            self.md5.update(chunk)
        if self.crc is not None:
            self.crc.update(chunk)

    def verify(self, redacted: str, status: int) -> None:
        if self.md5 is not None and self.md5.digest() != self.md5_want:
            raise IntegrityError(
                f"Download of {redacted} is corrupt: MD5 {self.md5.hexdigest()} does not match the expected "
                f"{(self.md5_want or b'').hex()}",
                url=redacted,
                status=status,
            )
        if self.crc is not None and self.crc.digest() != self.crc_want:
            raise IntegrityError(f"Download of {redacted} is corrupt: CRC32C mismatch", url=redacted, status=status)


def _decode_md5(value: str) -> bytes:
    value = value.strip().strip('"')
    if re.fullmatch(r"[0-9a-fA-F]{32}", value):
        return bytes.fromhex(value)
    return base64.b64decode(value)


async def _with_retries(
    op: str,
    url: str,
    attempt: Any,
    client: httpx.AsyncClient | None,
    retry: RetryPolicy,
    progress: Progress,
    total: int | None,
) -> httpx.Response:
    import httpx

    redacted = redact_url(url)
    own = client is None
    c = client or default_client()
    progress.start(f"{op} {redacted.rsplit('/', 1)[-1]}", total, 1)
    last_status: int | None = None
    last_reason = ""
    last_integrity: IntegrityError | None = None
    try:
        for n in range(1, retry.attempts + 1):
            retry_after: str | None = None
            last_integrity = None
            try:
                resp: httpx.Response = await attempt(c)
            except httpx.TransportError as e:
                last_status, last_reason = None, f"connection failed ({type(e).__name__})"
                logger.debug("%s %s: attempt %d: %s", op, redacted, n, last_reason)
            except IntegrityError as e:
                last_status, last_reason, last_integrity = e.status, str(e), e
                logger.debug("%s %s: attempt %d: integrity check failed", op, redacted, n)
            else:
                if resp.status_code < 300:
                    return resp
                last_status = resp.status_code
                said = _server_said(resp.content)
                last_reason = f"HTTP {resp.status_code}, {_explain(resp.status_code)}" + (f" ({said})" if said else "")
                if resp.status_code not in RETRYABLE_STATUS:
                    raise TransferError(f"{op} {redacted} failed: {last_reason}.", url=redacted, status=last_status)
                retry_after = resp.headers.get("retry-after")
                logger.debug("%s %s: attempt %d: HTTP %d", op, redacted, n, resp.status_code)
            if n < retry.attempts:
                await asyncio.sleep(retry.delay(n, retry_after))
        if last_integrity is not None:
            raise IntegrityError(
                f"{last_reason} (on each of {retry.attempts} attempts)",
                url=redacted,
                status=last_status,
                attempts=retry.attempts,
            )
        raise TransferError(
            f"{op} {redacted} failed after {retry.attempts} attempts: {last_reason}.",
            url=redacted,
            status=last_status,
            attempts=retry.attempts,
        )
    finally:
        progress.finish()
        if own:
            await c.aclose()
