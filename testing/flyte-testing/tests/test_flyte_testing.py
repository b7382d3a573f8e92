"""flyte-testing: a pytest plugin whose launchers say what is missing and how to get it."""

from __future__ import annotations

import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import flyte_testing
import pytest
from flyte_testing import engines, plugin, services
from flyte_testing.http import LoopbackHTTPServer

SRC = Path(flyte_testing.__file__).parent


class _Hello(BaseHTTPRequestHandler):
    def log_message(self, *a: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")


def test_loaded_as_a_pytest_plugin(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.get_plugin("flyte_testing") is plugin
    names = request.config.pluginmanager.get_plugin("flyte_testing").__dict__
    for fixture in ("moto", "moto_auth", "azurite", "gcs_emulator", "podman_stack", "dockerd_stack"):
        assert fixture in names


def test_loopback_server_serves_then_stops_at_once() -> None:
    server = LoopbackHTTPServer(_Hello)
    with urllib.request.urlopen(server.url + "/", timeout=5) as r:
        assert r.read() == b"hello"
    t = time.perf_counter()
    server.stop()
    assert time.perf_counter() - t < 0.1  # socketserver's serve_forever would wait for its 0.5 s poll
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/", timeout=1)
    server.stop()  # twice is fine


def test_no_message_points_at_the_repositorys_dev_script() -> None:
    for f in SRC.glob("*.py"):
        assert "dev.py" not in f.read_text(), f"{f.name} tells users to run the repository's dev.py"


def test_missing_moto_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(services.ServiceUnavailable) as e:
        services.start_moto(tmp_path / "data")
    assert "moto_server" in str(e.value) and "pip install 'flyte-testing[s3]'" in str(e.value)


def test_missing_gcs_emulator_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(services.ServiceUnavailable) as e:
        services.start_gcs_emulator(tmp_path / "data")
    assert "pip install 'flyte-testing[gcs]'" in str(e.value)


def test_missing_azurite_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "tools_dir", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(services.ServiceUnavailable) as e:
        services.start_azurite(tmp_path / "data")
    assert "npm install -g azurite" in str(e.value) and "FLYTE_DEV_TOOLS" in str(e.value)


def test_azurite_found_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = tmp_path / "azurite-blob"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr(services, "tools_dir", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert services.azurite_executable() == exe


def test_missing_binaries_name_their_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(engines.EngineUnavailable) as e:
        engines.need("podman", "htpasswd")
    msg = str(e.value)
    assert "podman, htpasswd not found on PATH" in msg and "apt-get install apache2-utils podman" in msg


def test_an_unavailable_service_skips_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(plugin.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no tool"):
        plugin._unavailable("no tool")
    monkeypatch.setenv(plugin.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no tool"):
        plugin._unavailable("no tool")


def test_dropping_proxy_cuts_the_first_connection_and_stops_at_once() -> None:
    with LoopbackHTTPServer(_Hello) as server:
        proxy = services.DroppingProxy(server.port, drop_after=10, drop_connections=1)
        req = urllib.request.Request(f"http://127.0.0.1:{proxy.port}/", data=b"x" * 1000, method="GET")
        with pytest.raises(OSError):
            urllib.request.urlopen(req, timeout=5).read()
        with urllib.request.urlopen(f"http://127.0.0.1:{proxy.port}/", timeout=5) as r:
            assert r.read() == b"hello"
        assert proxy.dropped == 1 and proxy.connections == 2
        t = time.perf_counter()
        proxy.close()
        assert time.perf_counter() - t < 0.5 and not proxy._thread.is_alive()
