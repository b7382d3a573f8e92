"""Registry existence checks and credentials, against an in-process fake registry."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import flyte.config
import pytest
from flyte.images.credentials import credentials_for, split_reference
from flyte.images.errors import RegistryAuthError, RegistryUnreachableError
from flyte.images.registry import manifest_exists
from flyte_testing.http import LoopbackHTTPServer
from flyte_testing.services import free_port

USER, PASSWORD = "u", "p"


class FakeRegistry:
    def __init__(self) -> None:
        self.manifests: set[str] = set()
        self.mode = "open"  # open | basic | bearer | broken
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/token"):
                    ok = self.headers.get("Authorization") == _basic(USER, PASSWORD)
                    if not ok:
                        return self._send(401)
                    return self._send(200, {"Content-Type": "application/json"}, json.dumps({"token": "T"}).encode())
                self._send(404)

            def do_HEAD(self) -> None:
                outer.requests.append(
                    {
                        "path": self.path,
                        "accept": self.headers.get("Accept", ""),
                        "auth": self.headers.get("Authorization"),
                    }
                )
                if outer.mode == "broken":
                    return self._send(503)
                auth = self.headers.get("Authorization")
                if outer.mode == "basic" and auth != _basic(USER, PASSWORD):
                    return self._send(401, {"WWW-Authenticate": 'Basic realm="fake"'})
                if outer.mode == "bearer" and auth != "Bearer T":
                    realm = f"http://127.0.0.1:{outer.port}/token"
                    return self._send(401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake"'})
                self._send(200 if self.path in outer.manifests else 404)

        self.server = LoopbackHTTPServer(Handler)  # stops at once (no 0.5 s shutdown poll)
        self.port = self.server.port
        self.host = self.server.host

    def add(self, repo: str, tag: str) -> None:
        self.manifests.add(f"/v2/{repo}/manifests/{tag}")


def _basic(u: str, p: str) -> str:
    return "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    reg = FakeRegistry()
    yield reg
    reg.server.stop()


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    for v in ("FLYTE_IMAGE_REGISTRY", "FLYTE_IMAGE_REGISTRY_USERNAME", "FLYTE_IMAGE_REGISTRY_PASSWORD"):
        monkeypatch.delenv(v, raising=False)


def test_split_reference() -> None:
    assert split_reference("127.0.0.1:5000/a/b:t") == ("127.0.0.1:5000", "a/b", "t")
    assert split_reference("python:3.12") == ("docker.io", "library/python", "3.12")
    assert split_reference("ghcr.io/o/r@sha256:ab") == ("ghcr.io", "o/r", "sha256:ab")
    assert split_reference("localhost/x") == ("localhost", "x", "latest")


def test_exists_and_missing_with_accept_header(fake: FakeRegistry) -> None:
    fake.add("flyte", "abc")
    assert manifest_exists(f"{fake.host}/flyte:abc") is True
    assert manifest_exists(f"{fake.host}/flyte:def") is False
    accept = fake.requests[0]["accept"]
    assert "application/vnd.oci.image.manifest.v1+json" in accept
    assert "application/vnd.docker.distribution.manifest.v2+json" in accept


def test_server_error_and_unreachable_are_errors(fake: FakeRegistry) -> None:
    fake.mode = "broken"
    with pytest.raises(RegistryUnreachableError, match="HTTP 503"):
        manifest_exists(f"{fake.host}/flyte:abc")
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnreachableError) as e:
        manifest_exists(f"{dead}/flyte:abc")
    assert dead in str(e.value)


def _docker_config(tmp_path: Path, host: str, user: str, pw: str) -> None:
    d = tmp_path / "docker"
    d.mkdir(exist_ok=True)
    token = base64.b64encode(f"{user}:{pw}".encode()).decode()
    (d / "config.json").write_text(json.dumps({"auths": {f"http://{host}/v1/": {"auth": token}}}))


@pytest.mark.parametrize("mode", ["basic", "bearer"])
def test_auth_from_docker_config(fake: FakeRegistry, tmp_path: Path, mode: str) -> None:
    fake.mode = mode
    fake.add("flyte", "abc")
    with pytest.raises(RegistryAuthError, match="no credentials were found") as e:
        manifest_exists(f"{fake.host}/flyte:abc")
    assert fake.host in str(e.value)
    _docker_config(tmp_path, fake.host, USER, "wrong")
    with pytest.raises(RegistryAuthError) as e:
        manifest_exists(f"{fake.host}/flyte:abc")
    assert fake.host in str(e.value) and "refused" in str(e.value)
    _docker_config(tmp_path, fake.host, USER, PASSWORD)
    assert manifest_exists(f"{fake.host}/flyte:abc") is True


def test_auth_from_flyte_config(fake: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.mode = "basic"
    fake.add("flyte", "abc")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"image:\n  registry: {fake.host}\n  registry_username: {USER}\n  registry_password: {PASSWORD}\n")
    monkeypatch.setenv("FLYTE_CONFIG", str(cfg))
    flyte.config.set_config(None)  # read through flyte.config.get_config(), which caches the file
    assert manifest_exists(f"{fake.host}/flyte:abc") is True
    cfg.write_text(f"image:\n  registry_credentials:\n    '{fake.host}': {{username: {USER}, password: {PASSWORD}}}\n")
    flyte.config.set_config(None)
    assert manifest_exists(f"{fake.host}/flyte:abc") is True


def test_credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-fake"
    helper.write_text('#!/bin/sh\nread host\necho "{\\"Username\\": \\"hu\\", \\"Secret\\": \\"hp-$host\\"}"\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    d = tmp_path / "docker"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"credHelpers": {"reg.example:5000": "fake"}, "credsStore": "missing"}))
    creds = credentials_for("reg.example:5000")
    assert creds is not None and (creds.username, creds.password) == ("hu", "hp-reg.example:5000")
    assert "hp-" not in repr(creds)
    with pytest.raises(RegistryAuthError, match="docker-credential-missing"):
        credentials_for("other.example")
