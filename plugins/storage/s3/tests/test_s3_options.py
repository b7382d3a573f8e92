"""The storage section reaches the backend nested (``s3: {endpoint: ...}``), flat with the official
SDK's key names (``endpoint``, ``access_key_id``, ...), or flattened with dots (``s3.endpoint``)."""

from __future__ import annotations

from typing import Any

import pytest
from flyte_s3.backend import S3Backend

VALUES = {
    "endpoint": "http://127.0.0.1:9000",
    "access_key_id": "AKIAEXAMPLE",
    "secret_access_key": "very-secret-value",
    "region": "eu-west-1",
    "addressing_style": "path",
}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("FLYTE_AWS_ENDPOINT", "FLYTE_AWS_ACCESS_KEY_ID", "FLYTE_AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.delenv("FLYTE_AWS_S3_ADDRESSING_STYLE", raising=False)


@pytest.mark.parametrize(
    "options",
    [
        {"s3": dict(VALUES)},
        dict(VALUES),
        {f"s3.{k}": v for k, v in VALUES.items()},
    ],
    ids=["nested", "flat", "dotted"],
)
def test_every_form_of_the_storage_section(options: dict[str, Any]) -> None:
    kw = S3Backend(options)._fs_kwargs()
    assert kw["endpoint_url"] == VALUES["endpoint"]
    assert (kw["key"], kw["secret"]) == (VALUES["access_key_id"], VALUES["secret_access_key"])
    assert kw["client_kwargs"]["region_name"] == "eu-west-1"
    assert kw["config_kwargs"]["s3"] == {"addressing_style": "path"}


def test_nested_wins_over_flat() -> None:
    kw = S3Backend({"endpoint": "http://flat", "s3": {"endpoint": "http://nested"}})._fs_kwargs()
    assert kw["endpoint_url"] == "http://nested"


def test_official_addressing_style_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_AWS_S3_ADDRESSING_STYLE", "virtual")
    assert S3Backend({})._fs_kwargs()["config_kwargs"]["s3"] == {"addressing_style": "virtual"}
