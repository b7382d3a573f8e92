"""``flyte console``'s HTTP server: the stdlib ThreadingHTTPServer in front of :class:`ConsoleApp`."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flyte.console.api import ConsoleApp

MAX_BODY = 64 * 1024
log = logging.getLogger("flyte.console")


class _Handler(BaseHTTPRequestHandler):
    server: ConsoleServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + the client's delayed ACK add ~40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "flyte-console"

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Bad Content-Length")
            return
        if length < 0 or length > MAX_BODY:
            self.send_error(413, "Request body too large")
            return
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        r = self.server.app.handle(self.command, path, query, headers, body)
        self.send_response(r.status)
        for k, v in r.header_list():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(r.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no access log on the terminal
        log.debug("%s " + format, self.address_string(), *args)


class ConsoleServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: ConsoleApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        if ":" in host:  # an IPv6 address (::1)
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = str(host)
        if ":" in shown:
            shown = f"[{shown}]"
        if shown in ("0.0.0.0", "[::]"):
            shown = "127.0.0.1"
        return f"http://{shown}:{port}"


@contextlib.contextmanager
def serving(app: ConsoleApp, host: str = "127.0.0.1", port: int = 0, announce_in: Path | None = None) -> Any:
    """Serve ``app`` on a background thread for the block; yields the server (``.url``).

    ``announce_in``: a runs dir where ``flyte run`` finds the URL (``.console.json``) while serving.
    """
    from flyte.console.link import remove_state, write_state

    server = ConsoleServer(app, host, port)
    # a short poll: shutdown() waits for the next one (Ctrl-C and test teardowns stay prompt)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="flyte-console", daemon=True)
    thread.start()
    state = write_state(announce_in, server.url) if announce_in is not None else None
    try:
        yield server
    finally:
        remove_state(state)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


__all__ = ["ConsoleServer", "serving"]
