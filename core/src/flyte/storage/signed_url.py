"""PUT and GET bytes through signed URLs with ``httpx``: streamed, retried, checked.

* Retries on HTTP 408/429/5xx and dropped connections, with exponential backoff and
  jitter, honouring ``Retry-After`` (seconds or an HTTP date).
* Uploads stream the file from disk with ``Content-Length`` (never chunked: S3 and
  Azure refuse chunked PUTs to signed URLs) and ``Content-MD5`` so the provider
  rejects corrupted bytes; ``x-ms-blob-type`` and friends come from the backend's
  :meth:`~flyte.storage.backend.StorageBackend.signed_put_headers`.
* Downloads stream to a temporary file, check length and one checksum against what the
  server announced (CRC32/CRC32C when offered, else MD5 from ``Content-MD5``,
  ``x-ms-blob-content-md5``, ``x-goog-hash`` or a plain S3 ``ETag``) or what the caller
  expects, then rename into place.
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
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte.storage.errors import IntegrityError, TransferError
from flyte.storage.progress import NoProgress, Progress
from flyte.storage.redaction import redact_url

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
            async with c.stream("GET", url, headers={**signed_headers_needed(url), **(headers or {})}) as resp:
                if resp.status_code >= 300:
                    await resp.aread()
                    return resp
                checks = _Checks(resp.headers, expected_md5)
                got = 0
                loop = asyncio.get_running_loop()
                with open(tmp, "wb") as f:

                    def sink(chunk: bytes) -> None:
                        f.write(chunk)
                        checks.update(chunk)

                    # Network-sized chunks (re-chunking in httpx costs more than it saves), batched
                    # to ~CHUNK for the sink. MD5 and writing release the GIL: with MD5 they overlap
                    # the next reads in a thread; cheap checks (CRC) stay inline.
                    pending: asyncio.Future[None] | None = None
                    batch: list[bytes] = []
                    batched = 0

                    async def flush() -> None:
                        nonlocal pending, batch, batched
                        data = b"".join(batch) if len(batch) > 1 else batch[0]
                        batch, batched = [], 0
                        prog.advance(len(data))
                        if checks.kind != "MD5":
                            sink(data)
                            return
                        if pending is not None:
                            await pending
                        pending = loop.run_in_executor(None, sink, data)

                    async for chunk in resp.aiter_raw():
                        batch.append(chunk)
                        batched += len(chunk)
                        got += len(chunk)
                        if batched >= CHUNK:
                            await flush()
                    if batch:
                        await flush()
                    if pending is not None:
                        await pending
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
    """Running checksum of a download and the value the server (or caller) promised.

    One check is made, the cheapest available: CRC32 (``x-amz-checksum-crc32``, zlib), CRC32C
    (``x-amz-checksum-crc32c`` / ``x-goog-hash``, when google-crc32c is installed), else MD5
    (``expected_md5``, ``Content-MD5``, ``x-ms-blob-content-md5``, ``x-goog-hash``, a plain S3 ETag).
    An explicit ``expected_md5`` is always checked.
    """

    def __init__(self, headers: Any, expected_md5: str | None) -> None:
        self.kind = ""
        self.want: bytes | None = None
        self._h: Any = None
        if expected_md5:
            self._use("MD5", _decode_md5(expected_md5))
            return
        goog = {}
        for part in headers.get_list("x-goog-hash", split_commas=True) if hasattr(headers, "get_list") else []:
            algo, _, value = part.strip().partition("=")
            goog[algo] = value
        crc32 = headers.get("x-amz-checksum-crc32")
        crc32c = headers.get("x-amz-checksum-crc32c") or goog.get("crc32c")
        if crc32 and self._use("CRC32", _b64(crc32)):
            return
        if crc32c and self._use("CRC32C", _b64(crc32c)):
            return
        for name in ("content-md5", "x-ms-blob-content-md5"):
            if headers.get(name):
                self._use("MD5", _decode_md5(headers[name]))
                return
        if goog.get("md5"):
            self._use("MD5", _decode_md5(goog["md5"]))
            return
        etag = (headers.get("etag") or "").strip('"')
        sse = headers.get("x-amz-server-side-encryption")
        if re.fullmatch(r"[0-9a-f]{32}", etag) and sse in (None, "AES256"):
            self._use("MD5", bytes.fromhex(etag))

    def _use(self, kind: str, want: bytes | None) -> bool:
        if want is None:
            return False
        if kind == "CRC32":
            self._h = _Crc32()
        elif kind == "CRC32C":
            try:
                import google_crc32c  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                return False
            self._h = google_crc32c.Checksum()
        else:
            self._h = hashlib.md5(usedforsecurity=False)
        self.kind, self.want = kind, want
        return True

    def update(self, chunk: bytes) -> None:
        if self._h is not None:
            self._h.update(chunk)

    def verify(self, redacted: str, status: int) -> None:
        if self._h is None:
            return
        got = self._h.digest()
        if got != self.want:
            raise IntegrityError(
                f"Download of {redacted} is corrupt: {self.kind} {got.hex()} does not match the expected "
                f"{(self.want or b'').hex()}",
                url=redacted,
                status=status,
            )


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, chunk: bytes) -> None:
        self.value = zlib.crc32(chunk, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip())
    except ValueError:
        return None


def signed_headers_needed(url: str) -> dict[str, str]:
    """Headers a presigned URL committed to that the caller must send (S3's checksum mode)."""
    from urllib.parse import parse_qs, urlsplit

    q = parse_qs(urlsplit(url).query)
    signed = ";".join(q.get("X-Amz-SignedHeaders", [])).lower().split(";")
    return {"x-amz-checksum-mode": "ENABLED"} if "x-amz-checksum-mode" in signed else {}


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
