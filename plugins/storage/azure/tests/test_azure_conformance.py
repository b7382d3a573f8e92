from __future__ import annotations

from typing import Any

import flyte_azure.hooks
import pytest
from flyte.testing.storage import StorageConformance


class TestAzureConformance(StorageConformance):
    plugins = [("azure", flyte_azure.hooks)]

    @pytest.fixture
    def storage_base_url(self, container: str) -> str:
        return f"abfs://{container}/conformance"

    @pytest.fixture
    def storage_options(self, azure_options: dict[str, Any]) -> dict[str, Any]:
        return azure_options


class TestAbfssConformance(TestAzureConformance):
    """The Hadoop-style URL form, ``abfss://container@account.dfs.core.windows.net/path``."""

    large_file_size = 0  # covered above

    @pytest.fixture
    def storage_base_url(self, container: str) -> str:
        return f"abfss://{container}@devstoreaccount1.dfs.core.windows.net/conformance"

    @pytest.mark.skip(reason="covered by TestAzureConformance")
    def test_large_file_goes_in_parts(self) -> None:  # type: ignore[override]
        pass

    @pytest.mark.skip(reason="covered by TestAzureConformance")
    def test_dir_roundtrip(self) -> None:  # type: ignore[override]
        pass
