"""``--auth``: bearer tokens for every RPC, issued by a client-credentials token endpoint.

Tokens are stateless (``dbx1.<expiry>.<hmac>``) and signed with a key kept in the state database, so
they stay valid across a restart. The client secret is stored only as a digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import urllib.parse
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from flyte_devbox.signed_url import Receive, Scope, Send
from flyte_devbox.store import Store

CLIENT_ID = "flyte-devbox"
TOKEN_TTL_S = 3600
OPEN_SERVICES = ("/flyteidl2.auth.AuthMetadataService/",)


class Auth:
    def __init__(self, store: Store, data_dir: Path) -> None:
        self._key = store.secret_key("token_key")
        self.client_id = CLIENT_ID
        creds = data_dir / "credentials.json"
        digest = store.kv_get("client_secret_sha256")
        self.client_secret: str | None = None
        if digest is None or not creds.exists():
            self.client_secret = secrets.token_urlsafe(32)
            digest = hashlib.sha256(self.client_secret.encode()).hexdigest()
            store.kv_set("client_secret_sha256", digest)
            fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"client_id": self.client_id, "client_secret": self.client_secret}, f)
        else:
            self.client_secret = json.loads(creds.read_text()).get("client_secret")
        self._digest = digest

    def check_client(self, client_id: str, client_secret: str) -> bool:
        got = hashlib.sha256(client_secret.encode()).hexdigest()
        return client_id == self.client_id and hmac.compare_digest(got, self._digest)

    def issue(self) -> tuple[str, int]:
        exp = int(time.time()) + TOKEN_TTL_S
        sig = hmac.new(self._key, f"dbx1.{exp}".encode(), hashlib.sha256).hexdigest()
        return f"dbx1.{exp}.{sig}", TOKEN_TTL_S

    def verify(self, token: str) -> str | None:
        """None when valid, else why not (without the token)."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != "dbx1":
            return "the bearer token is not one this devbox issued"
        want = hmac.new(self._key, f"dbx1.{parts[1]}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts[2]):
            return "the bearer token's signature is invalid"
        try:
            if int(parts[1]) < time.time():
                return "the bearer token has expired; get a new one from the token endpoint"
        except ValueError:
            return "the bearer token is malformed"
        return None

    # ---- connectrpc interceptor (MetadataInterceptor) -------------------------------------------

    async def on_start(self, ctx: RequestContext) -> None:
        header = ctx.request_headers().get("authorization", "")
        if not header:
            raise ConnectError(Code.UNAUTHENTICATED, "this devbox requires a bearer token (started with --auth)")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ConnectError(Code.UNAUTHENTICATED, "the authorization header must be 'Bearer <token>'")
        why = self.verify(token.strip())
        if why is not None:
            raise ConnectError(Code.UNAUTHENTICATED, why)

    async def on_end(self, token: Any, ctx: RequestContext, error: Exception | None) -> None:
        return None

    # ---- token endpoint -------------------------------------------------------------------------

    async def token_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _json(send, 405, {"error": "invalid_request", "error_description": "use POST"})
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if len(body) > 65536:
                await _json(send, 413, {"error": "invalid_request", "error_description": "body too large"})
                return
            if not msg.get("more_body", False):
                break
        form = dict(urllib.parse.parse_qsl(body.decode(errors="replace")))
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                raw = base64.b64decode(basic[6:].strip()).decode()
                cid, _, secret = raw.partition(":")
                cid, secret = urllib.parse.unquote(cid), urllib.parse.unquote(secret)
            except Exception:
                await _json(send, 400, {"error": "invalid_request", "error_description": "bad Basic header"})
                return
        if form.get("grant_type") != "client_credentials":
            await _json(
                send,
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "only grant_type=client_credentials is supported",
                },
            )
            return
        if not self.check_client(cid, secret):
            await _json(
                send, 401, {"error": "invalid_client", "error_description": "unknown client id or wrong secret"}
            )
            return
        token, ttl = self.issue()
        await _json(send, 200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": "all"})


async def _json(send: Send, status: int, obj: dict[str, Any]) -> None:
    body = json.dumps(obj).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
