"""The devbox's own signed URLs for its local data folder, served on the RPC port.

A URL is ``{base}/data/{path}?expires={unix}&md5={base64}&sig={hex}`` where ``sig`` is an HMAC-SHA256
over the method, the path, the expiry and the Content-MD5 (empty when the URL does not pin one).
A PUT must carry the signed Content-MD5 and a body with that digest. Anything tampered or expired
is refused with 403; the signature never appears in a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PREFIX = "/data/"
MAX_UPLOAD_BYTES = 5 * 1024**3


class Signer:
    def __init__(self, key: bytes, root: Path, base_url: str) -> None:
        self._key = key
        self.root = root.resolve()
        self.base_url = base_url.rstrip("/")

    def _sig(self, method: str, path: str, expires: int, md5: str) -> str:
        msg = f"{method}\n{path}\n{expires}\n{md5}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def rel(self, local_path: str | Path) -> str:
        """The URL path of a file under the data root; ValueError outside it."""
        p = Path(local_path).resolve()
        rel = p.relative_to(self.root)
        return PREFIX + urllib.parse.quote(rel.as_posix())

    def sign(self, method: str, local_path: str | Path, expires_in: float, content_md5: bytes = b"") -> tuple[str, int]:
        path = self.rel(local_path)
        expires = int(time.time() + expires_in)
        md5 = base64.b64encode(content_md5).decode() if content_md5 else ""
        q = {"expires": str(expires)}
        if md5:
            q["md5"] = md5
        q["sig"] = self._sig(method, path, expires, md5)
        return f"{self.base_url}{path}?{urllib.parse.urlencode(q)}", expires

    def check(self, method: str, path: str, query: dict[str, str]) -> str | None:
        """None when the request is allowed, else the reason (no secret in it)."""
        try:
            expires = int(query.get("expires", ""))
        except ValueError:
            return "the URL has no valid expiry"
        md5 = query.get("md5", "")
        sig = query.get("sig", "")
        signing_method = "PUT" if method == "PUT" else "GET"
        if not hmac.compare_digest(sig, self._sig(signing_method, path, expires, md5)):
            return "the signature does not match this URL (tampered or for another method/path)"
        if time.time() > expires:
            return "the signed URL has expired; ask for a new one"
        return None

    def local_path(self, url_path: str) -> Path | None:
        rel = urllib.parse.unquote(url_path[len(PREFIX) :])
        p = (self.root / rel).resolve()
        if p != self.root and self.root not in p.parents:
            return None
        return p


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    hs = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": hs + (headers or [])})
    await send({"type": "http.response.body", "body": body})


async def serve_data(signer: Signer, scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI handler for ``/data/...``: GET/HEAD downloads and PUT uploads through signed URLs."""
    method = scope["method"]
    path = scope["path"]
    query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
    reason = signer.check(method, path, query)
    if reason is not None:
        await _respond(send, 403, f"403 Forbidden: {reason} (path {path})\n".encode())
        return
    target = signer.local_path(path)
    if target is None:
        await _respond(send, 403, b"403 Forbidden: path leaves the data folder\n")
        return
    if method in ("GET", "HEAD"):
        if not target.is_file():
            await _respond(send, 404, f"404 Not Found: {path}\n".encode())
            return
        size = target.stat().st_size
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/octet-stream"), (b"content-length", str(size).encode())],
            }
        )
        if method == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        with target.open("rb") as f:
            while True:
                chunk = f.read(1 << 20)
                more = len(chunk) == 1 << 20
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    break
        return
    if method != "PUT":
        await _respond(send, 405, f"405 Method Not Allowed: {method} (use GET or PUT)\n".encode())
        return
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    want_md5 = query.get("md5", "")
    if want_md5 and headers.get("content-md5", "") != want_md5:
        await _respond(send, 403, b"403 Forbidden: the Content-MD5 header does not match the signed one\n")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{id(scope)}.part")
    digest = hashlib.md5()
    total = 0
    try:
        with tmp.open("wb") as f:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise ConnectionError("client went away")
                chunk = msg.get("body", b"")
                total += len(chunk)
                if total > MAX_UPLOAD_BYTES:
                    await _respond(send, 413, b"413 Payload Too Large: uploads are limited to 5 GiB\n")
                    return
                digest.update(chunk)
                f.write(chunk)
                if not msg.get("more_body", False):
                    break
        if want_md5 and base64.b64encode(digest.digest()).decode() != want_md5:
            await _respond(send, 400, b"400 Bad Request: the body does not match its Content-MD5\n")
            return
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    await _respond(send, 200, b"")
