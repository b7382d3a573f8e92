"""The python base image's root file system: what it holds, and that its Python runs flyte-core's worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from flyte_testing.engines import EngineUnavailable
from flyte_testing.python_image import python_rootfs


def test_the_rootfs_holds_python_flyte_core_and_a_shell(python_base: Any) -> None:
    with tarfile.open(python_base.rootfs) as tar:
        names = set(tar.getnames())
    assert {"usr/local/bin/python3", "usr/local/bin/flyte-core-worker", "usr/local/bin/flyte", "bin/sh",
            "lib64/ld-linux-x86-64.so.2"} <= names
    assert any(n.endswith("/lib/python311.zip") for n in names)  # the standard library, as one file
    assert any(n.endswith("/site-packages/flyte/remote/worker.py") for n in names)
    assert any(n.endswith("/site-packages/flyte_grpc-0.1.0.dist-info/entry_points.txt") for n in names)
    assert not any("/test/" in n and "/python3.11/test/" in n for n in names)
    assert len(names) < 2500  # vfs engines copy the image per container, per file


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chroot") is None, reason="chroot needs root")
def test_its_python_runs_the_worker_and_finds_the_grpc_transport(python_base: Any, tmp_path: Path) -> None:
    with tarfile.open(python_base.rootfs) as tar:
        tar.extractall(tmp_path, filter="fully_trusted")
    code = ("import flyte.remote.worker, json, ssl, sqlite3; from importlib.metadata import entry_points; "
            "print(sorted(e.name for e in entry_points(group='flyte.plugins')))")
    chroot = shutil.which("chroot") or "chroot"
    r = subprocess.run([chroot, str(tmp_path), "/usr/local/bin/python3", "-c", code], capture_output=True,
                       text=True, timeout=60, env={"PATH": "/usr/local/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert "'grpc'" in r.stdout and "'local'" in r.stdout
    r = subprocess.run([chroot, str(tmp_path), "/bin/sh", "-c", "flyte-core-worker --nonsense"],
                       capture_output=True, text=True, timeout=60, env={"PATH": "/usr/local/bin:/bin"})
    assert "unknown option '--nonsense'" in r.stdout + r.stderr


def test_a_missing_busybox_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineUnavailable, match="apt-get install"):
        python_rootfs(tmp_path)
