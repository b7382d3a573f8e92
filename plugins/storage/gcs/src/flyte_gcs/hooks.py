"""Entry point of flyte-gcs. Thin on purpose: gcsfs/google-auth load only when ``gs://`` is used."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_storage_backends() -> list[type[Any]]:
    from flyte_gcs.backend import GCSBackend

    return [GCSBackend]
