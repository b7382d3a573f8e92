"""The storage section reaches the backend nested (``azure: {...}``), flat with the official SDK's
key names (``account_name``, ``account_key``, ``tenant_id``, ...), or flattened with dots."""

from __future__ import annotations

from typing import Any

import pytest
from flyte_azure.backend import AzureBackend

VALUES = {
    "account_name": "acct",
    "account_key": "c2VjcmV0",
    "tenant_id": "t",
    "client_id": "c",
    "client_secret": "s",
}


@pytest.mark.parametrize(
    "options",
    [{"azure": dict(VALUES)}, dict(VALUES), {f"azure.{k}": v for k, v in VALUES.items()}],
    ids=["nested", "flat", "dotted"],
)
def test_every_form_of_the_storage_section(options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"):
        monkeypatch.delenv(v, raising=False)
    assert AzureBackend(options).settings() == VALUES
