"""GCS specifics: emulator and ADC configuration, V4 signing, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import flyte.storage as storage
import flyte_gcs.hooks
import pytest
from flyte.plugins.manager import isolated_plugins
from flyte.storage.errors import SigningNotSupported
from flyte_gcs.backend import GCSBackend
from flyte_testing import services


def test_emulator_host_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:9023")
    assert GCSBackend({})._fs_kwargs() == {"endpoint_url": "http://127.0.0.1:9023", "token": "anon"}


def test_application_default_credentials_when_nothing_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert GCSBackend({"gcs": {"project": "p"}})._fs_kwargs() == {"project": "p"}


def test_signing_uses_google_application_credentials(
    monkeypatch: pytest.MonkeyPatch, service_account_file: Path
) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file))
    url = GCSBackend({}).sign_url(
        "gs://bkt/a/b.txt", method="PUT", expires_in=60, content_md5="1B2M2Y8AsgTpgAmY7PhCfg=="
    )
    parts = urlsplit(url)
    q = parse_qs(parts.query)
    assert parts.netloc == "storage.googleapis.com" and parts.path == "/bkt/a/b.txt"
    assert q["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"] and "content-md5" in q["X-Goog-SignedHeaders"][0]
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    with pytest.raises(SigningNotSupported, match="service-account"):
        GCSBackend({}).sign_url("gs://bkt/x")


async def test_environment_only_configuration(
    gcs_emulator: services.Service, gcs_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    src = tmp_path / "f"
    src.write_bytes(b"env")
    with isolated_plugins(("gcs", flyte_gcs.hooks)):
        storage.configure({})
        await storage.put(src, f"gs://{gcs_bucket}/env/f")
        assert await storage.exists(f"gs://{gcs_bucket}/env/f")


async def test_missing_bucket(gcs_options: dict[str, Any], tmp_path: Path) -> None:
    with isolated_plugins(("gcs", flyte_gcs.hooks)):
        storage.configure(gcs_options)
        try:
            with pytest.raises(FileNotFoundError, match="gs://no-such-bucket-x/k"):
                await storage.get("gs://no-such-bucket-x/k", tmp_path / "k")
        finally:
            storage.configure({})
    assert not (tmp_path / "k").exists()


def test_hooks_module_is_thin() -> None:
    import subprocess
    import sys

    code = "import sys, flyte, flyte_gcs.hooks; print(any(m in sys.modules for m in ('gcsfs', 'google.cloud')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
