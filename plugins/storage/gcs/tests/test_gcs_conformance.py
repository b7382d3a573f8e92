from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import flyte_gcs.hooks
import pytest
from flyte.testing.storage import MiB, StorageConformance


class TestGCSConformance(StorageConformance):
    plugins = [("gcs", flyte_gcs.hooks)]
    checks_signatures = False  # the emulator does not check V4 signatures
    verifies_content_md5 = False
    dir_concurrency = 4  # gcp-storage-emulator gets ~7x slower with 32 parallel uploads
    # gcsfs holds a 16 MiB chunk plus its request copies while uploading: ~44 MiB, flat in file size
    max_transfer_memory = 52 * MiB

    @pytest.fixture
    def storage_base_url(self, gcs_bucket: str) -> str:
        return f"gs://{gcs_bucket}/conformance"

    @pytest.fixture
    def storage_options(self, gcs_options: dict[str, Any]) -> dict[str, Any]:
        return gcs_options

    @pytest.fixture
    def bad_credentials(self) -> Any:
        pytest.skip("gcp-storage-emulator accepts any credentials (anonymous access)")

    @pytest.fixture
    def missing_bucket_url(self) -> str:
        return f"gs://no-such-bucket-{uuid.uuid4().hex[:12]}/prefix"

    @pytest.fixture
    def count_parts(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], int | None]]:
        """Counts the chunks of gcsfs's resumable uploads (the emulator keeps no trace of them)."""
        import gcsfs.core

        calls: list[int] = []
        orig = gcsfs.core.upload_chunk

        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            return await orig(*args, **kwargs)

        monkeypatch.setattr(gcsfs.core, "upload_chunk", counted)
        yield lambda url: len(calls) or 1
