from __future__ import annotations

from pathlib import Path

import pytest
from flyte.testing.storage import StorageConformance


class TestLocalConformance(StorageConformance):
    large_file_size = 8 << 20

    @pytest.fixture
    def storage_base_url(self, tmp_path: Path) -> str:
        return (tmp_path / "store").as_uri()
