"""flyte-podman is found through its entry point and explains why it cannot run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flyte_podman.builder import PodmanBuilder


def test_registered_through_entry_point() -> None:
    from flyte.plugins.manager import PluginManager

    pm = PluginManager()
    assert pm.builders.get("podman") is PodmanBuilder
    assert pm.plugins["podman"].distribution == "flyte-podman"


def test_hooks_module_is_thin() -> None:
    code = "import sys, flyte_podman.hooks; print([m for m in sys.modules if m.split('.')[0] == 'podman'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_socket_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path}/podman.sock")
    why = PodmanBuilder().check_available()
    assert why is not None and f"{tmp_path}/podman.sock" in why and "podman system service" in why


def test_socket_without_service(tmp_path: Path) -> None:
    import socket

    path = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))  # exists, but nobody accepts
    s.close()
    why = PodmanBuilder(base_url=f"unix://{path}").check_available()
    assert why is not None and "no Podman service answering" in why
