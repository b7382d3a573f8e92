from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flyte.testing import services


def _moto(tmp_path_factory: pytest.TempPathFactory, auth: bool) -> Iterator[services.Service]:
    try:
        svc = services.start_moto(tmp_path_factory.mktemp("moto"), auth=auth)
    except services.ServiceUnavailable as e:
        pytest.skip(str(e))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    """moto in server mode; accepts any key and does not check presigned URL signatures."""
    yield from _moto(tmp_path_factory, auth=False)


@pytest.fixture(scope="session")
def moto_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    """moto with IAM checks on: only the keys in ``moto_auth.env`` work (presigned URLs do not)."""
    yield from _moto(tmp_path_factory, auth=True)


@pytest.fixture
def s3_options(moto: services.Service) -> dict[str, Any]:
    return {
        "endpoint": moto.url,
        "access_key_id": moto.env["AWS_ACCESS_KEY_ID"],
        "secret_access_key": moto.env["AWS_SECRET_ACCESS_KEY"],
        "region": "us-east-1",
    }


@pytest.fixture
def boto_s3(s3_options: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3_options["endpoint"],
        aws_access_key_id=s3_options["access_key_id"],
        aws_secret_access_key=s3_options["secret_access_key"],
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )


@pytest.fixture
def bucket(boto_s3: Any) -> str:
    name = f"flyte-{uuid.uuid4().hex[:12]}"
    boto_s3.create_bucket(Bucket=name)
    return name
