from __future__ import annotations

from typing import Any

import flyte_s3.hooks
import pytest
from flyte.testing.storage import StorageConformance


class TestS3Conformance(StorageConformance):
    plugins = [("s3", flyte_s3.hooks)]
    checks_signatures = False  # moto ignores presigned URL signatures
    verifies_content_md5 = False  # and Content-MD5 on presigned PUTs

    @pytest.fixture
    def storage_base_url(self, bucket: str) -> str:
        return f"s3://{bucket}/conformance"

    @pytest.fixture
    def storage_options(self, s3_options: dict[str, Any]) -> dict[str, Any]:
        return s3_options
