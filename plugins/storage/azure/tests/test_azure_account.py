"""The storage account named in an ``abfss://container@ACCOUNT.dfs.core.windows.net`` URL wins.

Configured credentials bound to another account (a connection string, or an account key / SAS
token for a configured ``account_name``) are a clear error instead of silently reading or
writing the other account; identity-based credentials (service principal, default chain) work
across accounts, so there the URL's account is simply used.
"""

from __future__ import annotations

from pathlib import Path

import flyte.storage as storage
import flyte_azure.hooks
import pytest
from flyte.plugins.manager import isolated_plugins
from flyte.storage.errors import StorageError
from flyte_azure.backend import AzureBackend
from flyte_testing import services

URL = "abfss://data@urlacct.dfs.core.windows.net/a/b.txt"
_ENV = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CLIENT_ID",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in _ENV:
        monkeypatch.delenv(v, raising=False)


def _conn(account: str) -> str:
    return (
        f"DefaultEndpointsProtocol=https;AccountName={account};"
        "AccountKey=c2VjcmV0LWtleS12YWx1ZS1kby1ub3QtcHJpbnQ=;EndpointSuffix=core.windows.net"
    )


@pytest.mark.parametrize(
    "options",
    [
        {"account_name": "cfgacct"},
        {"azure": {"account_name": "cfgacct"}},
        {"account_name": "cfgacct", "tenant_id": "t", "client_id": "c", "client_secret": "s"},
    ],
)
def test_url_account_wins_over_configured_account_name(options: dict[str, object]) -> None:
    assert AzureBackend(options).settings(URL)["account_name"] == "urlacct"
    assert AzureBackend(options)._fs_kwargs(URL)["account_name"] == "urlacct"


def test_url_account_wins_over_environment_account_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "envacct")
    assert AzureBackend({}).settings(URL)["account_name"] == "urlacct"


def test_without_an_account_in_the_url_the_configured_one_is_used() -> None:
    assert AzureBackend({"account_name": "cfgacct"}).settings("abfs://data/a")["account_name"] == "cfgacct"
    assert AzureBackend({"account_name": "cfgacct"}).settings(None)["account_name"] == "cfgacct"


@pytest.mark.parametrize(
    ("options", "env"),
    [
        ({"account_name": "cfgacct", "account_key": "c2VjcmV0LWtleS12YWx1ZS1kby1ub3QtcHJpbnQ="}, {}),
        (
            {"azure": {"account_name": "cfgacct", "sas_token": "sv=2021&sig=c2VjcmV0LWtleS12YWx1ZS1kby1ub3QtcHJpbnQ"}},
            {},
        ),
        ({"connection_string": _conn("cfgacct")}, {}),
        ({}, {"AZURE_STORAGE_CONNECTION_STRING": _conn("cfgacct")}),
        (
            {},
            {
                "AZURE_STORAGE_ACCOUNT_NAME": "cfgacct",
                "AZURE_STORAGE_ACCOUNT_KEY": "c2VjcmV0LWtleS12YWx1ZS1kby1ub3QtcHJpbnQ=",
            },
        ),
    ],
)
def test_credentials_for_another_account_are_a_clear_error(
    options: dict[str, object], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    b = AzureBackend(options)
    with pytest.raises(StorageError) as e:
        b.filesystem_for(URL)
    msg = str(e.value)
    assert "abfss://data@urlacct.dfs.core.windows.net/a/b.txt" in msg
    assert "'urlacct'" in msg and "'cfgacct'" in msg
    assert "c2VjcmV0" not in msg


def test_matching_credentials_are_fine() -> None:
    s = AzureBackend({"connection_string": _conn("urlacct")}).settings(URL)
    assert s["connection_string"] == _conn("urlacct")
    s = AzureBackend({"account_name": "urlacct", "account_key": "k"}).settings(URL)
    assert (s["account_name"], s["account_key"]) == ("urlacct", "k")


async def test_connection_string_for_another_account_does_not_write_there(
    azurite: services.Service, container: str, tmp_path: Path
) -> None:
    """Against Azurite (which only knows devstoreaccount1): a URL naming another account must not
    land in devstoreaccount1 just because the configured connection string points there."""
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with isolated_plugins(("azure", flyte_azure.hooks)):
        storage.configure({"connection_string": azurite.extra["connection_string"]})
        try:
            url = f"abfss://{container}@otheracct.dfs.core.windows.net/wrong/f"
            with pytest.raises(StorageError, match="otheracct"):
                await storage.put(src, url)
            assert not await storage.exists(f"abfs://{container}/wrong/f")
            ok = f"abfss://{container}@{services.AZURITE_ACCOUNT}.dfs.core.windows.net/right/f"
            await storage.put(src, ok)
            assert await storage.exists(f"abfs://{container}/right/f")
        finally:
            storage.configure({})
