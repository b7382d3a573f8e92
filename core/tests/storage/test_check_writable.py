"""flyte.storage.check_writable: fail early, before any task runs (backends: see the conformance suite)."""

from __future__ import annotations

import os
from pathlib import Path

import flyte.storage as storage
import pytest


def test_missing_backend_names_the_distribution() -> None:
    with pytest.raises(LookupError) as e:
        storage.check_writable("gs://bucket/raw?X-Goog-Signature=SIGVALUE")
    msg = str(e.value)
    assert "pip install flyte-gcs" in msg and "gs://bucket/raw" in msg and "SIGVALUE" not in msg


def test_local_prefix_is_created_and_left_clean(tmp_path: Path) -> None:
    prefix = tmp_path / "raw" / "data"
    storage.check_writable(str(prefix))
    storage.check_writable(prefix.as_uri())
    assert prefix.is_dir() and list(prefix.iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_local_folder_is_permission_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=str(ro)):
            storage.check_writable(str(ro))
    finally:
        ro.chmod(0o700)


def test_a_file_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises((storage.errors.StorageError, OSError)) as e:
        storage.check_writable(str(tmp_path / "f" / "sub"))
    assert str(tmp_path / "f" / "sub") in str(e.value)
