from __future__ import annotations

import uuid
from typing import Any

import pytest
from flyte.testing.hermetic import isolate
from flyte_testing.services import Service

# `moto` and `moto_auth` (moto in server mode, without and with IAM checks) are fixtures of
# flyte-testing's pytest plugin.


@pytest.fixture
def s3_options(moto: Service) -> dict[str, Any]:
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


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
