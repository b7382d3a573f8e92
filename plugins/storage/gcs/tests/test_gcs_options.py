"""The storage section reaches the backend nested (``gcs: {...}``), flat, or flattened with dots."""

from __future__ import annotations

from typing import Any

import pytest
from flyte_gcs.backend import GCSBackend

VALUES = {"project": "proj", "endpoint": "http://127.0.0.1:4443", "token": "anon"}


@pytest.mark.parametrize(
    "options",
    [{"gcs": dict(VALUES)}, dict(VALUES), {f"gcs.{k}": v for k, v in VALUES.items()}],
    ids=["nested", "flat", "dotted"],
)
def test_every_form_of_the_storage_section(options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    kw = GCSBackend(options)._fs_kwargs()
    assert kw == {"project": "proj", "endpoint_url": "http://127.0.0.1:4443", "token": "anon"}
