"""A loopback HTTP server for tests that starts in a thread and stops at once.

``socketserver``'s ``serve_forever`` notices ``shutdown()`` only at its next poll (every 0.5 s
by default), so each test that stops a server waits up to half a second. This server waits on
its listening socket *and* a wake-up socket: :meth:`LoopbackHTTPServer.stop` writes to the
latter and the serving thread returns immediately.

Example::

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()

    with LoopbackHTTPServer(Hello) as server:
        urllib.request.urlopen(server.url + "/")
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` on ``127.0.0.1`` (a free port unless one is given) serving in a
    daemon thread from construction until :meth:`stop` (or the end of a ``with`` block)."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.port = int(self.server_address[1])
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"loopback-http-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self and not self._stopping.is_set():
                        self.handle_request()  # the socket is readable: accepts without waiting

    def stop(self) -> None:
        """Stop serving and close the listening socket; returns as soon as the serving thread has."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        self.server_close()
        for s in (self._wake_r, self._wake_w):
            s.close()

    def __enter__(self) -> LoopbackHTTPServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["LoopbackHTTPServer"]
