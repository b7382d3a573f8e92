from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyte.testing import services

# Must be set before gcsfs is imported anywhere in this process (see COMPONENTS: stalls otherwise).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    try:
        svc = services.start_gcs_emulator(tmp_path_factory.mktemp("gcs"))
    except services.ServiceUnavailable as e:
        pytest.skip(str(e))
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def service_account_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway service-account key (a fresh RSA key that signs V4 URLs; never valid anywhere)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "flyte-test",
        "private_key_id": "throwaway",
        "private_key": pem,
        "client_email": "signer@flyte-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "http://127.0.0.1:1/token",
    }
    path = tmp_path_factory.mktemp("sa") / "key.json"
    path.write_text(json.dumps(info))
    return path


@pytest.fixture
def gcs_options(gcs_emulator: services.Service, service_account_file: Path) -> dict[str, Any]:
    # anonymous for the filesystem (the emulator takes no auth); the key only signs URLs
    return {
        "endpoint": gcs_emulator.url,
        "anonymous": True,
        "credentials_file": str(service_account_file),
        "token": "anon",
    }


@pytest.fixture
def gcs_client(gcs_emulator: services.Service) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage as gcs

    return gcs.Client(
        project="flyte-test", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_emulator.url}
    )


@pytest.fixture
def gcs_bucket(gcs_client: Any) -> str:
    name = f"flyte-{uuid.uuid4().hex[:12]}"
    gcs_client.create_bucket(name)
    return name
