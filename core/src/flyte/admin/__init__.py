"""The admin transport interface: how the SDK reaches a Flyte control plane.

A transport plugin (``flyte-grpc`` registers ``grpc``) turns :class:`AdminSettings` into an
:class:`AdminClient`: one stub per flyteidl2 service, with auth, deadlines and retries applied
to every call. Core code talks to the control plane only through this module, so it never
imports the transport's libraries::

    import asyncio
    from flyte.admin import AdminSettings, connect
    from flyteidl2.project import project_service_pb2 as pb

    async def main() -> None:
        async with await connect(AdminSettings(endpoint="localhost:8090", insecure=True)) as client:
            resp = await client.project.ListProjects(pb.ListProjectsRequest())
            print([p.id for p in resp.projects.projects])

    asyncio.run(main())
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

from flyte.admin.settings import (
    AUTH_TYPES,
    AdminSettings,
    ApiKey,
    decode_api_key,
    encode_api_key,
    parse_endpoint,
)
from flyte.config import is_remote_configured
from flyte.errors import FlyteError

SERVICES: tuple[str, ...] = (
    "cluster", "dataproxy", "run", "task", "project", "secret",
    "actions", "queue", "state", "image", "auth", "identity",
)
"""Attribute names of the per-service stubs every :class:`AdminClient` exposes."""


class AdminError(FlyteError):
    """A control-plane call failed. ``code`` is the gRPC status name (``NOT_FOUND``, ``UNAVAILABLE``...)."""

    def __init__(self, message: str, *, code: str = "UNKNOWN", method: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.method = method


class AdminAuthError(AdminError):
    """Credentials could not be obtained or were refused: the message says which setting to check."""


@runtime_checkable
class AdminClient(Protocol):
    """What a transport's ``connect`` returns: one async stub per service, named as in :data:`SERVICES`.

    Each stub has the flyteidl2 method names (``client.run.GetRunDetails(request)``); unary calls are
    awaitables, server-streaming calls async iterators. ``watch`` wraps a server-streaming call so a
    dropped connection is resumed without losing or repeating updates.
    """

    settings: AdminSettings

    @property
    def cluster(self) -> Any: ...

    @property
    def dataproxy(self) -> Any: ...

    @property
    def run(self) -> Any: ...

    @property
    def task(self) -> Any: ...

    @property
    def project(self) -> Any: ...

    @property
    def secret(self) -> Any: ...

    @property
    def actions(self) -> Any: ...

    @property
    def queue(self) -> Any: ...

    @property
    def state(self) -> Any: ...

    @property
    def image(self) -> Any: ...

    @property
    def auth(self) -> Any: ...

    @property
    def identity(self) -> Any: ...

    def watch(
        self, method: Callable[..., Any], request: Any, *, max_reconnects: int | None = None,
        on_reconnect: Callable[[int], Any] | None = None,
    ) -> AsyncIterator[Any]:
        """Iterate a server stream, resuming after disconnects; ``on_reconnect(n)`` is called before the
        n-th reopening (raising from it stops the watch with that error)."""
        ...

    async def close(self) -> None:
        ...

    async def __aenter__(self) -> AdminClient:
        ...

    async def __aexit__(self, *exc: object) -> None:
        ...


class AdminTransport(abc.ABC):
    """Connects to a control-plane endpoint and returns an :class:`AdminClient`.

    Registered through the ``flyte_admin_transports`` hook; ``admin.transport`` in the config (default
    ``grpc``) picks one. ``connect`` is called inside the event loop that will use the client.

    Example::

        class MyTransport(AdminTransport):
            name = "mine"

            async def connect(self, settings: AdminSettings) -> AdminClient:
                ...
    """

    name: ClassVar[str]

    @abc.abstractmethod
    async def connect(self, settings: AdminSettings) -> AdminClient:
        """Return a client bound to ``settings.endpoint`` (no network traffic needed before the first call)."""


def get_transport(name: str | None = None) -> AdminTransport:
    """The registered transport ``name`` (default: ``admin.transport`` from the config, else ``grpc``)."""
    from flyte.config import get_config
    from flyte.plugins.manager import get_plugin_manager

    name = name or get_config().get("admin.transport") or "grpc"
    cls = get_plugin_manager().admin.get(name)
    return cls()


async def connect(settings: AdminSettings | None = None, *, transport: str | None = None) -> AdminClient:
    """Connect to the configured control plane (``admin.endpoint``, ``FLYTE_API_KEY``, CLI flags)."""
    settings = settings or AdminSettings.from_config()
    return await get_transport(transport).connect(settings)


__all__ = [
    "AUTH_TYPES",
    "SERVICES",
    "AdminAuthError",
    "AdminClient",
    "AdminError",
    "AdminSettings",
    "AdminTransport",
    "ApiKey",
    "connect",
    "decode_api_key",
    "encode_api_key",
    "get_transport",
    "is_remote_configured",
    "parse_endpoint",
]
