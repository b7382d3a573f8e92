"""Where run data lives: the devbox's local folder (default) or a bucket (``--storage s3://...``).

Both hand SDKs signed URLs and hand actions plain URIs. The local store signs with the devbox's own
key and serves the bytes on the RPC port; a bucket goes through flyte.storage and the storage
plugins (the provider's presigned URLs; credentials from the same ``FLYTE_*`` settings, which the
actions inherit).
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from pathlib import Path
from typing import Literal

from flyte_devbox.signed_url import Signer

Signed = tuple[str, int, dict[str, str]]  # url, expiry (unix seconds), headers the request must carry


class DataStore:
    """Small objects by URI, plus signed URLs."""

    root: str
    local: bool

    def join(self, base: str, *parts: str) -> str:
        raise NotImplementedError

    def owns(self, uri: str) -> bool:
        """Is ``uri`` inside this store (clients may only point at data the devbox handed out)?"""
        raise NotImplementedError

    async def exists(self, uri: str) -> bool:
        raise NotImplementedError

    async def read(self, uri: str) -> bytes:
        raise NotImplementedError

    async def write(self, uri: str, data: bytes) -> None:
        raise NotImplementedError

    async def delete(self, uri: str) -> None:
        raise NotImplementedError

    def sign(
        self, method: str, uri: str, expires_in: float, content_md5: bytes = b""
    ) -> tuple[str, int, dict[str, str]]:
        """(url, expiry as unix seconds, headers the request must carry)."""
        raise NotImplementedError


class LocalStore(DataStore):
    def __init__(self, root: Path, signer: Signer) -> None:
        self.root = str(root)
        self.local = True
        self.signer = signer

    def join(self, base: str, *parts: str) -> str:
        return str(Path(base, *parts))

    def owns(self, uri: str) -> bool:
        root = Path(self.root).resolve()
        p = Path(uri).resolve()
        return p == root or root in p.parents

    async def exists(self, uri: str) -> bool:
        return await asyncio.to_thread(Path(uri).is_file)

    async def read(self, uri: str) -> bytes:
        return await asyncio.to_thread(Path(uri).read_bytes)

    async def write(self, uri: str, data: bytes) -> None:
        def write() -> None:
            p = Path(uri)
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex}.part")
            tmp.write_bytes(data)
            tmp.replace(p)

        await asyncio.to_thread(write)

    async def delete(self, uri: str) -> None:
        await asyncio.to_thread(Path(uri).unlink, missing_ok=True)

    def sign(
        self, method: str, uri: str, expires_in: float, content_md5: bytes = b""
    ) -> tuple[str, int, dict[str, str]]:
        url, expires = self.signer.sign(method, uri, expires_in, content_md5)
        headers = {"Content-MD5": base64.b64encode(content_md5).decode()} if content_md5 else {}
        return url, expires, headers


class BucketStore(DataStore):
    def __init__(self, prefix: str) -> None:
        import flyte.storage

        self.root = prefix.rstrip("/")
        self.local = False
        self._storage = flyte.storage
        self._backend = flyte.storage.backend_for(self.root)

    def join(self, base: str, *parts: str) -> str:
        return str(self._storage.join(base, *parts))

    def owns(self, uri: str) -> bool:
        return uri.startswith(self.root + "/") and "/../" not in uri

    async def exists(self, uri: str) -> bool:
        return bool(await self._storage.exists(uri))

    async def read(self, uri: str) -> bytes:
        def read() -> bytes:
            with self._storage.open_sync(uri, "rb") as f:
                return bytes(f.read())

        return await asyncio.to_thread(read)

    async def write(self, uri: str, data: bytes) -> None:
        def write() -> None:
            with self._storage.open_sync(uri, "wb") as f:
                f.write(data)

        await asyncio.to_thread(write)

    async def delete(self, uri: str) -> None:
        if await self.exists(uri):
            await self._storage.delete(uri)

    def sign(
        self, method: str, uri: str, expires_in: float, content_md5: bytes = b""
    ) -> tuple[str, int, dict[str, str]]:
        md5 = base64.b64encode(content_md5).decode() if content_md5 else None
        m: Literal["GET", "PUT"] = "PUT" if method == "PUT" else "GET"
        url = self._backend.sign_url(uri, method=m, expires_in=int(expires_in), content_md5=md5)
        headers = {"Content-MD5": md5} if md5 else {}
        if m == "GET":
            headers.update(self._backend.signed_get_headers())
        return url, int(time.time() + expires_in), headers


def check_bucket(prefix: str) -> None:
    """Fail before serving when the bucket cannot be written (missing plugin, credentials, bucket)."""
    import flyte.storage

    flyte.storage.check_writable(prefix)
