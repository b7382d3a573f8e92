from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from flyte.testing.hermetic import isolate
from flyte_testing.services import Service

# Must be set before gcsfs is imported anywhere in this process (see COMPONENTS: stalls otherwise).
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# `gcs_emulator` (gcp-storage-emulator, in memory) is a fixture of flyte-testing's pytest plugin.


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
def gcs_options(gcs_emulator: Service, service_account_file: Path) -> dict[str, Any]:
    # anonymous for the filesystem (the emulator takes no auth); the key only signs URLs
    return {
        "endpoint": gcs_emulator.url,
        "anonymous": True,
        "credentials_file": str(service_account_file),
        "token": "anon",
    }


@pytest.fixture
def gcs_client(gcs_emulator: Service) -> Any:
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


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
