"""The ``grpc`` admin transport and its typed client: one generated flyteidl2 stub per service."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, ClassVar

import grpc
import grpc.aio
from flyte.admin import AdminClient, AdminError, AdminSettings, AdminTransport

from flyte_grpc.auth import Authenticator, ServerAuthConfig, make_authenticator
from flyte_grpc.channel import create_channel
from flyte_grpc.interceptors import UnaryStreamInterceptor, UnaryUnaryInterceptor
from flyte_grpc.watch import resumable

if TYPE_CHECKING:
    from flyteidl2.actions.actions_service_pb2_grpc import ActionsServiceStub
    from flyteidl2.auth.auth_service_pb2_grpc import AuthMetadataServiceStub
    from flyteidl2.auth.identity_pb2_grpc import IdentityServiceStub
    from flyteidl2.cluster.service_pb2_grpc import ClusterServiceStub
    from flyteidl2.dataproxy.dataproxy_service_pb2_grpc import DataProxyServiceStub
    from flyteidl2.imagebuilder.service_pb2_grpc import ImageServiceStub
    from flyteidl2.project.project_service_pb2_grpc import ProjectServiceStub
    from flyteidl2.secret.secret_pb2_grpc import SecretServiceStub
    from flyteidl2.task.task_service_pb2_grpc import TaskServiceStub
    from flyteidl2.workflow.queue_service_pb2_grpc import QueueServiceStub
    from flyteidl2.workflow.run_service_pb2_grpc import RunServiceStub
    from flyteidl2.workflow.state_service_pb2_grpc import StateServiceStub

STUBS: dict[str, tuple[str, str]] = {
    "cluster": ("flyteidl2.cluster.service_pb2_grpc", "ClusterServiceStub"),
    "dataproxy": ("flyteidl2.dataproxy.dataproxy_service_pb2_grpc", "DataProxyServiceStub"),
    "run": ("flyteidl2.workflow.run_service_pb2_grpc", "RunServiceStub"),
    "task": ("flyteidl2.task.task_service_pb2_grpc", "TaskServiceStub"),
    "project": ("flyteidl2.project.project_service_pb2_grpc", "ProjectServiceStub"),
    "secret": ("flyteidl2.secret.secret_pb2_grpc", "SecretServiceStub"),
    "actions": ("flyteidl2.actions.actions_service_pb2_grpc", "ActionsServiceStub"),
    "queue": ("flyteidl2.workflow.queue_service_pb2_grpc", "QueueServiceStub"),
    "state": ("flyteidl2.workflow.state_service_pb2_grpc", "StateServiceStub"),
    "image": ("flyteidl2.imagebuilder.service_pb2_grpc", "ImageServiceStub"),
    "auth": ("flyteidl2.auth.auth_service_pb2_grpc", "AuthMetadataServiceStub"),
    "identity": ("flyteidl2.auth.identity_pb2_grpc", "IdentityServiceStub"),
}


class GrpcClient:
    """Typed stubs over one aio channel, e.g. ``await client.run.GetRunDetails(req)``.

    Stubs are built on first use (importing a service's generated module costs a few ms each).
    Unary calls carry the auth header, a deadline (``settings.timeout`` unless ``timeout=`` is given) and
    retries for idempotent methods; :meth:`watch` makes a server stream survive disconnects.
    """

    def __init__(
        self,
        settings: AdminSettings,
        *,
        backoff_base: float = 0.1,
        backoff_cap: float = 3.0,
        auth_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self._backoff = (backoff_base, backoff_cap)
        self.authenticator: Authenticator | None = make_authenticator(settings, self._discover, **(auth_kwargs or {}))
        kw: dict[str, Any] = dict(timeout=settings.timeout, retries=settings.retries,
                                  backoff_base=backoff_base, backoff_cap=backoff_cap)
        self.unary = UnaryUnaryInterceptor(self.authenticator, **kw)
        self.streams = UnaryStreamInterceptor(self.authenticator, **kw)
        self.channel: grpc.aio.Channel = create_channel(settings, [self.unary, self.streams])
        self._stubs: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<GrpcClient {self.settings.target} {'insecure' if self.settings.insecure else 'tls'}>"

    def _stub(self, name: str) -> Any:
        stub = self._stubs.get(name)
        if stub is None:
            module, cls = STUBS[name]
            stub = self._stubs[name] = getattr(importlib.import_module(module), cls)(self.channel)
        return stub

    @property
    def cluster(self) -> ClusterServiceStub:
        return self._stub("cluster")

    @property
    def dataproxy(self) -> DataProxyServiceStub:
        return self._stub("dataproxy")

    @property
    def run(self) -> RunServiceStub:
        return self._stub("run")

    @property
    def task(self) -> TaskServiceStub:
        return self._stub("task")

    @property
    def project(self) -> ProjectServiceStub:
        return self._stub("project")

    @property
    def secret(self) -> SecretServiceStub:
        return self._stub("secret")

    @property
    def actions(self) -> ActionsServiceStub:
        return self._stub("actions")

    @property
    def queue(self) -> QueueServiceStub:
        return self._stub("queue")

    @property
    def state(self) -> StateServiceStub:
        return self._stub("state")

    @property
    def image(self) -> ImageServiceStub:
        return self._stub("image")

    @property
    def auth(self) -> AuthMetadataServiceStub:
        return self._stub("auth")

    @property
    def identity(self) -> IdentityServiceStub:
        return self._stub("identity")

    async def _discover(self) -> ServerAuthConfig:
        from flyteidl2.auth import auth_service_pb2 as pb

        try:
            meta = await self.auth.GetOAuth2Metadata(pb.GetOAuth2MetadataRequest())
            public = await self.auth.GetPublicClientConfig(pb.GetPublicClientConfigRequest())
        except grpc.aio.AioRpcError as e:
            raise AdminError(
                f"Could not discover the OAuth2 settings of {self.settings.target} (AuthMetadataService): "
                f"{e.code().name}: {e.details()}",
                code=e.code().name,
            ) from None
        return ServerAuthConfig(
            token_endpoint=meta.token_endpoint,
            authorization_endpoint=meta.authorization_endpoint,
            device_authorization_endpoint=meta.device_authorization_endpoint,
            client_id=public.client_id,
            redirect_uri=public.redirect_uri,
            scopes=tuple(public.scopes),
            header_key=(public.authorization_metadata_key or "authorization").lower(),
            audience=public.audience,
        )

    def watch(
        self, method: Callable[..., Any], request: Any, *, max_reconnects: int | None = None,
        on_reconnect: Callable[[int], Any] | None = None,
    ) -> AsyncIterator[Any]:
        """Iterate ``method(request)`` (a server-streaming stub method), resuming after disconnects.

        Example::

            async for update in client.watch(client.run.WatchRunDetails, req):
                print(update.details.action.status.phase)
        """
        return resumable(lambda: method(request), auth=self.authenticator, max_reconnects=max_reconnects,
                         backoff_base=self._backoff[0], backoff_cap=self._backoff[1], on_reconnect=on_reconnect)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> GrpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class GrpcTransport(AdminTransport):
    """``grpc``: grpcio aio channels to ``dns:///host:port``."""

    name: ClassVar[str] = "grpc"

    async def connect(self, settings: AdminSettings) -> AdminClient:
        return GrpcClient(settings)
