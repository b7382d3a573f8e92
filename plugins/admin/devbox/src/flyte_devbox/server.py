"""One port, every protocol: hypercorn (HTTP/1.1 and h2c) in front of connectrpc's ASGI apps.

connectrpc's server speaks Connect, gRPC and gRPC-Web from the same handlers, and hypercorn
supports the ASGI trailers gRPC needs, so a grpcio client (h2c prior knowledge) and the official
SDK's Connect client (HTTP/1.1) reach the same service objects. Besides the RPCs the port serves
the signed data URLs (``/data/...``), the OAuth2 token endpoint (``/oauth2/token``) and ``/healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from flyte_devbox.core import Devbox, Settings
from flyte_devbox.signed_url import PREFIX, Receive, Scope, Send, serve_data

log = logging.getLogger("flyte_devbox")


def _strict_codecs() -> None:
    """A request body that does not decode is INVALID_ARGUMENT naming the message, not UNKNOWN.

    connectrpc (0.9/0.10) turns a decode exception into UNKNOWN and takes no codec argument in the
    generated apps, so its two default codec instances get a subclass that translates the error.
    """
    from connectrpc import _codec
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError

    def wrap(base: type) -> type:
        class Strict(base):
            def decode(self, data: Any, message: Any) -> Any:
                try:
                    return super().decode(data, message)
                except ConnectError:
                    raise
                except Exception as e:
                    raise ConnectError(
                        Code.INVALID_ARGUMENT,
                        f"the request body is not a valid {message.DESCRIPTOR.full_name} ({self.name()}): {e}",
                    ) from None

        return Strict

    for inst in (_codec._proto_binary_codec, _codec._proto_json_codec):
        if not getattr(type(inst), "_devbox_strict", False):
            cls = wrap(type(inst))
            cls._devbox_strict = True  # type: ignore[attr-defined]
            inst.__class__ = cls


def _apps(box: Devbox, auth: Any) -> dict[str, Any]:
    _strict_codecs()
    from flyteidl2.actions import actions_service_connect as asc
    from flyteidl2.auth import auth_service_connect as authc
    from flyteidl2.auth import identity_connect as idc
    from flyteidl2.cluster import service_connect as clc
    from flyteidl2.dataproxy import dataproxy_service_connect as dpc
    from flyteidl2.project import project_service_connect as pjc
    from flyteidl2.secret import secret_connect as secc
    from flyteidl2.task import task_service_connect as tsc
    from flyteidl2.workflow import queue_service_connect as qsc
    from flyteidl2.workflow import run_service_connect as rsc
    from flyteidl2.workflow import state_service_connect as ssc

    from flyte_devbox import images as im
    from flyte_devbox import runs as r
    from flyte_devbox import services as s

    runs = r.Runs(box)
    kw: dict[str, Any] = {"read_max_bytes": box.settings.max_message_bytes}
    guarded = dict(kw, interceptors=(auth,) if auth is not None else ())
    apps = [
        clc.ClusterServiceASGIApplication(s.ClusterService(box.cluster_name), **guarded),
        pjc.ProjectServiceASGIApplication(s.ProjectService(box), **guarded),
        tsc.TaskServiceASGIApplication(s.TaskService(box), **guarded),
        rsc.RunServiceASGIApplication(r.RunService(runs), **guarded),
        dpc.DataProxyServiceASGIApplication(s.DataProxyService(runs), **guarded),
        asc.ActionsServiceASGIApplication(r.ActionsService(runs), **guarded),
        qsc.QueueServiceASGIApplication(r.QueueService(runs), **guarded),
        ssc.StateServiceASGIApplication(r.StateService(runs), **guarded),
        secc.SecretServiceASGIApplication(s.SecretService(box), **guarded),
        im.isc.ImageServiceASGIApplication(im.ImageService(box), **guarded),
        authc.AuthMetadataServiceASGIApplication(s.AuthMetadataService(box), **kw),
        idc.IdentityServiceASGIApplication(
            s.IdentityService(auth.client_id) if auth is not None else s.IdentityService(), **guarded
        ),
    ]
    return {app.path: app for app in apps}


class Router:
    """The ASGI app on the port: RPC services by path, plus data, token and health routes."""

    def __init__(self, box: Devbox, auth: Any) -> None:
        self.box = box
        self.auth = auth
        self.apps = _apps(box, auth)
        self.console: Any = None  # the web console (flyte_devbox.console), made on its first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if kind != "http":
            return
        path: str = scope["path"]
        service, _, _method = path.rpartition("/")
        app = self.apps.get(service)
        if app is not None:
            await app(scope, receive, send)
            return
        if path.startswith(PREFIX):
            await serve_data(self.box.signer, scope, receive, send)
            return
        if path == "/oauth2/token" and self.auth is not None:
            await self.auth.token_endpoint(scope, receive, send)
            return
        if path == "/healthz":
            await _text(send, 200, "ok\n")
            return
        ctype = dict(scope.get("headers", [])).get(b"content-type", b"").decode()
        if ctype.startswith("application/grpc"):
            # gRPC clients read the status from trailers-only responses.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/grpc")],
                    "trailers": True,
                }
            )
            await send({"type": "http.response.body", "body": b""})
            message = f"unknown service or method {path}".encode()
            await send(
                {
                    "type": "http.response.trailers",
                    "headers": [(b"grpc-status", b"12"), (b"grpc-message", message)],
                    "more_trailers": False,
                }
            )
            return
        from flyte_devbox.console import console_app, console_path

        if console_path(path):
            if self.console is None:
                self.console = console_app(self.box, self.auth)
            await self.console(scope, receive, send)
            return
        await _text(send, 404, f"404 Not Found: {path} is not a service, data URL or endpoint of this devbox\n")


async def _text(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror}; pick another --port") from e
    sock.listen(1024)
    return sock


async def serve(
    settings: Settings,
    *,
    on_ready: Callable[[Devbox, Any], Awaitable[None] | None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGTERM/SIGINT)."""
    from hypercorn.asyncio import serve as hyper_serve
    from hypercorn.config import Config

    from flyte_devbox import hypercorn_tuning

    if os.environ.get("FLYTE_DEVBOX_TUNING", "1") != "0":
        hypercorn_tuning.install()

    if settings.storage:
        from flyte_devbox.datastore import check_bucket

        await asyncio.to_thread(check_bucket, settings.storage)
    sock = bind(settings.host, settings.port)
    settings.port = sock.getsockname()[1]
    box = Devbox(settings)
    box.set_port(settings.port)
    if settings.image_builder:
        from flyte_devbox.images import enable_builds

        enable_builds(box)
    auth = None
    if settings.auth:
        from flyte_devbox.auth import Auth

        auth = Auth(box.store, settings.data_dir)
    router = Router(box, auth)

    listening = asyncio.Event()

    class _Config(Config):
        def create_sockets(self) -> Any:
            # hypercorn marks its listening sockets inheritable (for worker processes); uvloop's
            # subprocesses keep inheritable fds, so an action outliving a crashed devbox would hold
            # the port and block the restart.
            made = super().create_sockets()
            for s in (*made.secure_sockets, *made.insecure_sockets, *made.quic_sockets):
                s.set_inheritable(False)
            listening.set()
            return made

    config = _Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("flyte_devbox.http")
    config.keep_alive_timeout = 3600
    config.keep_alive_max_requests = 2**62  # hypercorn closes a connection after 1,000 requests by default
    config.graceful_timeout = 1.0
    # More open streams than this makes h2 quadratic and hypercorn's priority tree refuses past 1,000;
    # clients queue the rest (SETTINGS_MAX_CONCURRENT_STREAMS).
    config.h2_max_concurrent_streams = 128
    config.backlog = 1024
    config.h11_max_incomplete_size = 64 * 1024

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def trigger() -> None:
        await stop.wait()
        box.bus.close()

    box.recover()
    state = settings.data_dir / "devbox.json"
    state.write_text(json.dumps({"endpoint": box.endpoint, "url": box.url, "pid": os.getpid()}))
    server = asyncio.ensure_future(hyper_serve(router, config, shutdown_trigger=trigger))  # type: ignore[arg-type]
    try:
        waiter = asyncio.ensure_future(listening.wait())
        await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if server.done():
            waiter.cancel()
            await server  # raises what stopped it
            return
        if on_ready is not None:
            res = on_ready(box, auth)
            if asyncio.iscoroutine(res):
                await res
        await server
    finally:
        await box.close()
        with contextlib.suppress(OSError):
            sock.close()
        with contextlib.suppress(OSError):
            state.unlink()


def run(settings: Settings, *, quiet: bool = False) -> None:
    """Foreground entry: serve, print the ready line, exit on SIGTERM/SIGINT."""

    def ready(box: Devbox, auth: Any) -> None:
        if auth is not None and not quiet:
            print(f"client id: {auth.client_id}", flush=True)
            if auth.client_secret:
                print(f"client secret: {auth.client_secret}", flush=True)
            print(f"(also in {settings.data_dir / 'credentials.json'})", flush=True)
        print(f"flyte-devbox ready on {box.url}", flush=True)

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        import uvloop

        uvloop.run(serve(settings, on_ready=ready))
    except ImportError:
        asyncio.run(serve(settings, on_ready=ready))
