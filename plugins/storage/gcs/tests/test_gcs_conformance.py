from __future__ import annotations

from typing import Any

import flyte_gcs.hooks
import pytest
from flyte.testing.storage import StorageConformance


class TestGCSConformance(StorageConformance):
    plugins = [("gcs", flyte_gcs.hooks)]
    checks_signatures = False  # the emulator does not check V4 signatures
    verifies_content_md5 = False
    dir_concurrency = 4  # gcp-storage-emulator gets ~7x slower with 32 parallel uploads

    @pytest.fixture
    def storage_base_url(self, gcs_bucket: str) -> str:
        return f"gs://{gcs_bucket}/conformance"

    @pytest.fixture
    def storage_options(self, gcs_options: dict[str, Any]) -> dict[str, Any]:
        return gcs_options
