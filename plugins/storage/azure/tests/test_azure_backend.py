"""Azure specifics: credential sources, errors, staged blocks, SAS uploads and their headers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flyte.storage as storage
import flyte_azure.hooks
import pytest
from flyte.plugins.manager import isolated_plugins
from flyte.storage import signed_url
from flyte.storage.dataproxy import provider_put_headers
from flyte.storage.errors import TransferError
from flyte_azure.backend import AzureBackend, account_from_url
from flyte_testing import services


@pytest.fixture
def az(azure_options: dict[str, Any]) -> Iterator[None]:
    with isolated_plugins(("azure", flyte_azure.hooks)):
        storage.configure(azure_options)
        yield
        storage.configure({})


def test_account_from_hadoop_style_url() -> None:
    assert account_from_url("abfss://data@myacct.dfs.core.windows.net/a/b") == "myacct"
    assert account_from_url("abfs://data/a/b") is None


def test_service_principal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_CLIENT_ID"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", "t")
    monkeypatch.setenv("AZURE_CLIENT_ID", "c")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s")
    s = AzureBackend({}).settings("abfss://data@acct.dfs.core.windows.net/x")
    assert s == {"tenant_id": "t", "client_id": "c", "client_secret": "s", "account_name": "acct"}
    assert AzureBackend({"azure": {"account_name": "other"}}).settings("abfs://c/x")["account_name"] == "other"


def test_signed_put_headers_carry_blob_type() -> None:
    h = AzureBackend({}).signed_put_headers(content_length=3, content_md5="abc=")
    assert h == {"Content-Length": "3", "Content-MD5": "abc=", "x-ms-blob-type": "BlockBlob"}


def test_sas_headers_without_the_plugin() -> None:
    with isolated_plugins():
        h = provider_put_headers("abfs://c/x", "https://a.blob.core.windows.net/c/x?sv=2021&sig=abc", 5, None)
    assert h["x-ms-blob-type"] == "BlockBlob"


async def test_connection_string_from_environment(
    azurite: services.Service, container: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.extra["connection_string"])
    src = tmp_path / "f"
    src.write_bytes(b"from env")
    with isolated_plugins(("azure", flyte_azure.hooks)):
        storage.configure({})
        await storage.put(src, f"abfs://{container}/env/f")
        assert await storage.exists(f"abfs://{container}/env/f")


async def test_wrong_key_is_access_denied_without_the_key(
    azurite: services.Service, container: str, tmp_path: Path
) -> None:
    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    conn = azurite.extra["connection_string"].replace(services.AZURITE_KEY, wrong_key)
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with isolated_plugins(("azure", flyte_azure.hooks)):
        storage.configure({"connection_string": conn})
        try:
            with pytest.raises((PermissionError, storage.errors.StorageError)) as e:
                await storage.put(src, f"abfs://{container}/denied")
        finally:
            storage.configure({})
    msg = str(e.value)
    assert f"abfs://{container}/denied" in msg and wrong_key not in msg


async def test_missing_container(az: None, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="abfs://no-such-container/x"):
        await storage.get("abfs://no-such-container/x", tmp_path / "x")


@pytest.mark.slow
async def test_large_file_is_staged_in_blocks(az: None, container: str, blob_service: Any, tmp_path: Path) -> None:
    src = tmp_path / "big"
    with open(src, "wb") as f:
        for _ in range(40):
            f.write(os.urandom(1 << 20))
    await storage.put(src, f"abfs://{container}/big")
    committed, _ = blob_service.get_blob_client(container, "big").get_block_list("committed")
    assert len(committed) == 3  # 16 MiB blocks


async def test_sas_put_needs_blob_type(az: None, container: str, tmp_path: Path) -> None:
    url = f"abfs://{container}/sas/plain.bin"
    put_url = storage.backend_for(url).sign_url(url, method="PUT", expires_in=300)
    src = tmp_path / "p"
    src.write_bytes(b"bytes")
    with pytest.raises(TransferError, match="HTTP 400") as e:
        await signed_url.put_file(put_url, src)  # no x-ms-blob-type
    assert "sig=" not in str(e.value) and "?" not in str(e.value)
    await signed_url.put_file(put_url, src, headers={"x-ms-blob-type": "BlockBlob"})
    assert await storage.exists(url)


async def test_sas_download_checks_server_md5(az: None, container: str, tmp_path: Path, blob_service: Any) -> None:
    from azure.storage.blob import ContentSettings

    # the service returns the blob's stored Content-MD5 on GET; make it disagree with the bytes
    bc = blob_service.get_blob_client(container, "md5.bin")
    bc.upload_blob(b"checked bytes")
    bc.set_http_headers(ContentSettings(content_md5=bytearray(16)))
    url = f"abfs://{container}/md5.bin"
    get_url = storage.backend_for(url).sign_url(url, method="GET", expires_in=300)
    with pytest.raises(TransferError, match="corrupt"):
        await signed_url.get_file(get_url, tmp_path / "o", retry=signed_url.RetryPolicy(attempts=2, backoff=0.01))
    assert not (tmp_path / "o").exists()


def test_hooks_module_is_thin() -> None:
    import subprocess
    import sys

    code = "import sys, flyte, flyte_azure.hooks; print(any(m in sys.modules for m in ('adlfs', 'azure')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
