"""Entry point of flyte-s3. Thin on purpose: s3fs/botocore load only when ``s3://`` is used."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_storage_backends() -> list[type[Any]]:
    from flyte_s3.backend import S3Backend

    return [S3Backend]
