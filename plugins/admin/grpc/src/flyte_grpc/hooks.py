"""Entry point of flyte-grpc. Thin on purpose: grpcio loads only when a control plane is contacted."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_admin_transports() -> list[type[Any]]:
    from flyte_grpc.transport import GrpcTransport

    return [GrpcTransport]
