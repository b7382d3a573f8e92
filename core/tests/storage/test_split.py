"""flyte.storage split by concern: every public name still importable from flyte.storage; copy_sync; DataAccess."""

from __future__ import annotations

from pathlib import Path

import flyte.storage as storage
import pytest
from flyte.storage import data_access, redaction, registry, translate
from flyte.storage.data_access import DataAccess
from flyte.storage.errors import StorageError


def test_public_names_stay_importable_from_flyte_storage() -> None:
    for name in storage.__all__:
        assert hasattr(storage, name), name
    # each concern lives in its own module; the package re-exports the same objects
    assert storage.redact_url is redaction.redact_url and storage.scrub is redaction.scrub
    assert storage.backend_for is registry.backend_for and storage.configure is registry.configure


def test_configured_secrets_are_scrubbed_after_configure() -> None:
    storage.configure({"s3": {"secret_access_key": "TOPSECRETVALUE1"}})
    try:
        assert storage.scrub("boom TOPSECRETVALUE1 boom") == "boom REDACTED boom"
    finally:
        storage.configure(None)
    assert storage.scrub("boom TOPSECRETVALUE1 boom") == "boom TOPSECRETVALUE1 boom"


def test_translate_names_the_url_without_its_signature() -> None:
    url = "https://h.example/b/k?X-Amz-Signature=abc"
    e = translate.friendly(RuntimeError(f"failed for {url}"), "Upload to", url)
    assert isinstance(e, StorageError) and "https://h.example/b/k" in str(e) and "abc" not in str(e)
    assert isinstance(translate.friendly(OSError(5, "io"), "Opening", "/p"), StorageError)
    assert isinstance(translate.friendly(OSError(2, "gone"), "Opening", "/p"), FileNotFoundError)
    denied = type("HttpResponseError", (Exception,), {"status_code": 403})("nope")
    assert isinstance(translate.friendly(denied, "Opening", "/p"), PermissionError)
    assert translate.cause(RuntimeError("sig=abcdef")) is None  # would leak a signature into the traceback


def test_copy_sync_file_and_folder(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")
    assert storage.copy_sync(str(src / "a.txt"), str(tmp_path / "out" / "a.txt")) == str(tmp_path / "out" / "a.txt")
    assert (tmp_path / "out" / "a.txt").read_text() == "a"
    storage.copy_sync(str(src), str(tmp_path / "tree"), recursive=True)
    assert (tmp_path / "tree" / "sub" / "b.txt").read_text() == "b"


async def test_data_access_moves_data_under_its_prefix(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    da = DataAccess(str(raw))
    f = tmp_path / "x.csv"
    f.write_text("1,2")
    d = tmp_path / "d"
    (d / "e").mkdir(parents=True)
    (d / "e" / "y.txt").write_text("y")

    p = da.new_path("out.bin")
    assert p.startswith(str(raw) + "/") and p.endswith("/out.bin") and p != da.new_path("out.bin")
    uri = await da.upload(str(f))
    assert uri.endswith("/x.csv") and Path(uri).read_text() == "1,2" and da.holds(uri)
    assert not da.holds(str(f)) and not da.holds("s3://b/k")
    dir_uri = da.upload_sync(str(d), "renamed")
    assert dir_uri.endswith("/renamed") and (Path(dir_uri) / "e" / "y.txt").read_text() == "y"
    blob = await da.write_bytes(b"\x00\x01", "blob")
    assert Path(blob).read_bytes() == b"\x00\x01"
    back = await da.download(dir_uri, str(tmp_path / "back"), recursive=True)
    assert (Path(back) / "e" / "y.txt").read_text() == "y"
    assert "raw" in repr(da)


def test_no_data_access_outside_a_run() -> None:
    assert data_access.current() is None


@pytest.mark.parametrize("path", ["s3://bucket/raw", "memory://bucket/raw"])
def test_a_remote_prefix_holds_nothing_local(path: str, tmp_path: Path) -> None:
    da = DataAccess(path)
    assert not da.holds(str(tmp_path / "x")) and da.new_path("n").startswith(path + "/")
