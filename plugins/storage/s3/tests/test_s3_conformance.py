from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import flyte_s3.hooks
import pytest
from flyte.testing.storage import BadCredentials, MiB, StorageConformance
from flyte_testing import services


class TestS3Conformance(StorageConformance):
    plugins = [("s3", flyte_s3.hooks)]
    checks_signatures = False  # moto ignores presigned URL signatures
    verifies_content_md5 = False  # and Content-MD5 on presigned PUTs
    # s3fs holds part_concurrency parts and botocore a copy of each: ~4 * 16 MiB, flat in file size
    max_transfer_memory = 72 * MiB

    @pytest.fixture
    def storage_base_url(self, bucket: str) -> str:
        return f"s3://{bucket}/conformance"

    @pytest.fixture
    def storage_options(self, s3_options: dict[str, Any]) -> dict[str, Any]:
        return s3_options

    @pytest.fixture
    def bad_credentials(self, moto_auth: services.Service) -> BadCredentials:
        import boto3

        name = f"authed-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3",
            endpoint_url=moto_auth.url,
            region_name="us-east-1",
            aws_access_key_id=moto_auth.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=moto_auth.env["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=name)
        secret = "wrong-secret-do-not-print"
        options = {
            "endpoint": moto_auth.url,
            "region": "us-east-1",
            "access_key_id": "AKIAWRONGWRONGWRONG1",
            "secret_access_key": secret,
        }
        return BadCredentials(url=f"s3://{name}/conformance", options=options, secrets=[secret])

    @pytest.fixture
    def missing_bucket_url(self) -> str:
        return f"s3://no-such-bucket-{uuid.uuid4().hex[:12]}/prefix"

    @pytest.fixture
    def count_parts(self, boto_s3: Any) -> Callable[[str], int | None]:
        def parts(url: str) -> int | None:
            bucket, _, key = url.split("://", 1)[1].partition("/")
            etag = boto_s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
            return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1  # multipart ETags end in -<parts>

        return parts
