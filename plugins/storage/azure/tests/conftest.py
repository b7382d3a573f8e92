from __future__ import annotations

import uuid
from typing import Any

import pytest
from flyte.testing.hermetic import isolate
from flyte_testing.services import Service

# `azurite` (Azurite's blob service) is a fixture of flyte-testing's pytest plugin.


@pytest.fixture
def azure_options(azurite: Service) -> dict[str, Any]:
    return {"connection_string": azurite.extra["connection_string"]}


@pytest.fixture
def blob_service(azurite: Service) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite.extra["connection_string"])


@pytest.fixture
def container(blob_service: Any) -> str:
    name = f"flyte-{uuid.uuid4().hex[:12]}"
    blob_service.create_container(name)
    return name


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
