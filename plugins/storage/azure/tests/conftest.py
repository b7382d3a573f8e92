from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flyte.testing import services


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    try:
        svc = services.start_azurite(tmp_path_factory.mktemp("azurite"))
    except services.ServiceUnavailable as e:
        pytest.skip(str(e))
    yield svc
    svc.stop()


@pytest.fixture
def azure_options(azurite: services.Service) -> dict[str, Any]:
    return {"connection_string": azurite.extra["connection_string"]}


@pytest.fixture
def blob_service(azurite: services.Service) -> Any:
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient.from_connection_string(azurite.extra["connection_string"])


@pytest.fixture
def container(blob_service: Any) -> str:
    name = f"flyte-{uuid.uuid4().hex[:12]}"
    blob_service.create_container(name)
    return name
