"""Upload and download through a control plane's DataProxy service (signed URLs).

The client talks to anything shaped like :class:`DataProxyAPI`: two methods taking and
returning the flyteidl2 messages of ``flyteidl2.dataproxy.DataProxyService``.
:class:`StubAdapter` wraps a gRPC ``DataProxyServiceStub`` into that shape; tests use
a small in-process implementation that signs URLs with the provider's SDK.

Uploads are content addressed: the object key's root is the file's MD5, so the same
bytes always land on the same key, and an upload is skipped when the control plane says
the object is already there (an empty ``signed_url`` next to a ``native_url``, or
:class:`AlreadyExists` raised by the adapter for gRPC ``ALREADY_EXISTS``).

Example::

    client = DataProxyClient(stub, project="flytesnacks", domain="development")
    uploaded = await client.upload_file("bundle.tgz")
    print(uploaded.native_url, uploaded.skipped)
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from flyte.storage.errors import StorageError
from flyte.storage.registry import backend_for
from flyte.storage.signed_url import RetryPolicy, default_client, get_file, md5_of_file, put_file

if TYPE_CHECKING:
    import httpx
    from flyteidl2.dataproxy.dataproxy_service_pb2 import (
        CreateDownloadLinkRequest,
        CreateDownloadLinkResponse,
        CreateUploadLocationRequest,
        CreateUploadLocationResponse,
    )

    from flyte.storage.backend import StorageBackend
    from flyte.storage.progress import Progress


class DataProxyAPI(Protocol):
    """The two DataProxyService calls the client needs; sync or async methods both work."""

    def create_upload_location(self, request: CreateUploadLocationRequest) -> Any:
        """Return (or return an awaitable of) a ``CreateUploadLocationResponse``."""

    def create_download_link(self, request: CreateDownloadLinkRequest) -> Any:
        """Return (or return an awaitable of) a ``CreateDownloadLinkResponse``."""


class AlreadyExists(Exception):
    """Raised by an adapter when the control plane answers ALREADY_EXISTS for an upload location."""

    def __init__(self, native_url: str = "") -> None:
        super().__init__(native_url or "object already exists")
        self.native_url = native_url


class StubAdapter:
    """Adapts a flyteidl2 ``DataProxyServiceStub`` (sync or ``grpc.aio``) to :class:`DataProxyAPI`.

    gRPC ``ALREADY_EXISTS`` on CreateUploadLocation becomes :class:`AlreadyExists` (the object with
    these bytes is there). ``metadata`` (auth headers) and ``timeout`` go with every call.
    """

    def __init__(self, stub: Any, *, metadata: Any = None, timeout: float | None = 30.0) -> None:
        self.stub = stub
        self.metadata = metadata
        self.timeout = timeout

    async def _call(self, name: str, request: Any) -> Any:
        try:
            result = getattr(self.stub, name)(request, metadata=self.metadata, timeout=self.timeout)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as e:
            code = getattr(e, "code", None)
            status = code() if callable(code) else None
            if getattr(status, "name", "") == "ALREADY_EXISTS" and name == "CreateUploadLocation":
                details = getattr(e, "details", None)
                text = details() if callable(details) else ""
                m = re.search(r"[a-z][a-z0-9+.-]*://\S+", text or "")
                raise AlreadyExists(m.group(0).rstrip(".,;)'\"") if m else "") from None
            raise

    async def create_upload_location(self, request: CreateUploadLocationRequest) -> CreateUploadLocationResponse:
        return await self._call("CreateUploadLocation", request)

    async def create_download_link(self, request: CreateDownloadLinkRequest) -> CreateDownloadLinkResponse:
        return await self._call("CreateDownloadLink", request)


@dataclass
class Uploaded:
    native_url: str
    md5: str  # hex
    size: int
    skipped: bool = False


@dataclass
class DataProxyClient:
    """Moves files through DataProxy signed URLs. See the module docstring."""

    api: DataProxyAPI
    project: str = ""
    domain: str = ""
    org: str = ""
    expires_in: int = 3600
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    http: httpx.AsyncClient | None = None
    concurrency: int = 16
    _known: dict[tuple[str, str, str, str], str] = field(default_factory=dict, repr=False)

    async def _call(self, method: str, request: Any) -> Any:
        result = getattr(self.api, method)(request)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def upload_file(
        self,
        path: str | os.PathLike[str],
        *,
        filename: str | None = None,
        filename_root: str | None = None,
        progress: Progress | None = None,
    ) -> Uploaded:
        """Upload one file; the key is ``<filename_root or md5>/<filename>``. Skips bytes already there."""
        from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateUploadLocationRequest
        from google.protobuf.duration_pb2 import Duration

        src = os.fspath(path)
        size = os.path.getsize(src)
        digest = await asyncio.to_thread(md5_of_file, src)
        md5_b64 = base64.b64encode(digest).decode()
        name = filename or os.path.basename(src)
        root = filename_root if filename_root is not None else digest.hex()
        key = (self.project, self.domain, root, name)
        if key in self._known:
            return Uploaded(self._known[key], digest.hex(), size, skipped=True)
        req = CreateUploadLocationRequest(
            project=self.project,
            domain=self.domain,
            org=self.org,
            filename=name,
            filename_root=root,
            content_md5=digest,
            content_length=size,
            add_content_md5_metadata=True,
            expires_in=Duration(seconds=self.expires_in),
        )
        try:
            resp: CreateUploadLocationResponse = await self._call("create_upload_location", req)
        except AlreadyExists as e:
            if not e.native_url:
                raise StorageError(
                    f"The control plane says {name} ({digest.hex()}) is already uploaded but did not say where; "
                    "upgrade the control plane or upload under another filename_root."
                ) from None
            self._known[key] = e.native_url
            return Uploaded(e.native_url, digest.hex(), size, skipped=True)
        if not resp.signed_url:
            self._known[key] = resp.native_url
            return Uploaded(resp.native_url, digest.hex(), size, skipped=True)
        headers = provider_put_headers(resp.native_url, resp.signed_url, size, md5_b64)
        headers.update(dict(resp.headers))
        await put_file(
            resp.signed_url,
            src,
            headers=headers,
            content_md5=md5_b64,
            client=self.http,
            retry=self.retry,
            progress=progress,
        )
        self._known[key] = resp.native_url
        return Uploaded(resp.native_url, digest.hex(), size)

    async def upload_files(self, paths: list[str]) -> list[Uploaded]:
        """Upload many files, ``concurrency`` at a time, sharing one HTTP connection pool."""
        own = self.http is None
        if own:
            self.http = default_client()
        sem = asyncio.Semaphore(self.concurrency)

        async def one(p: str) -> Uploaded:
            async with sem:
                return await self.upload_file(p)

        try:
            return list(await asyncio.gather(*(one(p) for p in paths)))
        finally:
            if own and self.http is not None:
                await self.http.aclose()
                self.http = None

    async def download_links(self, request: CreateDownloadLinkRequest) -> list[str]:
        """The signed URLs the control plane hands out for ``request``."""
        resp: CreateDownloadLinkResponse = await self._call("create_download_link", request)
        return list(resp.pre_signed_urls.signed_url)

    async def download(
        self,
        request: CreateDownloadLinkRequest,
        dest: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> list[str]:
        """Download every link of ``request``: into ``dest`` itself for one link, else into ``dest/<name>``."""
        urls = await self.download_links(request)
        if not urls:
            raise FileNotFoundError("The control plane returned no download link for this request")
        out = []
        target = os.fspath(dest)
        for u in urls:
            path = target if len(urls) == 1 else os.path.join(target, _name_in(u))
            out.append(await self.download_url(u, path, progress=progress))
        return out

    async def download_url(
        self,
        url: str,
        dest: str | os.PathLike[str],
        *,
        expected_md5: str | None = None,
        progress: Progress | None = None,
    ) -> str:
        """Download one signed URL with retries and an integrity check."""
        return await get_file(
            url, dest, expected_md5=expected_md5, client=self.http, retry=self.retry, progress=progress
        )


def _name_in(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or "download"


def provider_put_headers(native_url: str, signed_url: str, size: int, content_md5: str | None) -> dict[str, str]:
    """Headers the provider of ``native_url`` needs on a signed PUT.

    Uses the installed backend for that protocol; without one, recognises Azure SAS URLs
    (which need ``x-ms-blob-type``) so uploads work without the provider's plugin.
    """
    try:
        backend: StorageBackend | None = backend_for(native_url) if native_url else None
    except Exception:
        backend = None
    if backend is not None:
        return backend.signed_put_headers(content_length=size, content_md5=content_md5)
    headers = {"Content-Length": str(size)}
    if content_md5:
        headers["Content-MD5"] = content_md5
    if "sig=" in signed_url and ("sv=" in signed_url or ".blob.core." in signed_url):
        headers["x-ms-blob-type"] = "BlockBlob"
    return headers
