"""The console's request handler as an ASGI app (the devbox mounts it on its port).

The store is synchronous, so each request is answered on a worker thread: a slow read never holds
the server's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote

from flyte.console.api import ConsoleApp, error_response

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MAX_BODY = 64 * 1024


class ConsoleASGI:
    """``await ConsoleASGI(app)(scope, receive, send)`` for an ``http`` scope."""

    def __init__(self, app: ConsoleApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if len(body) > MAX_BODY:
                await self._send(send, scope, error_response(413, "request body too large"))
                return
            if not msg.get("more_body", False):
                break
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if isinstance(raw, bytes) and raw else quote(scope.get("path", "/"))
        path = path.split("?", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        response = await asyncio.to_thread(self.app.handle, scope.get("method", "GET"), path, query, headers, body)
        await self._send(send, scope, response)

    @staticmethod
    async def _send(send: Send, scope: Scope, response: Any) -> None:
        await send({
            "type": "http.response.start",
            "status": response.status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.header_list()],
        })
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else response.body})


__all__ = ["ConsoleASGI"]
