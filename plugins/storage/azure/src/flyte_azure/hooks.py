"""Entry point of flyte-azure. Thin on purpose: adlfs/azure SDKs load only when ``abfs://`` is used."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_storage_backends() -> list[type[Any]]:
    from flyte_azure.backend import AzureBackend

    return [AzureBackend]
