"""Fixtures: a real flyte-devbox that builds with a local builder plugin on a real engine.

``remote_env`` is parametrized over the engines, ``docker`` (a private dockerd) and ``podman`` (podman
system service): the engine stack of flyte-testing (registries, a busybox base image, the engine), plus
a devbox started with ``--image-builder ENGINE`` whose Docker config holds the credentials of the stack's
authenticated registry (the client has none: the devbox's credentials are the ones used).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flyte.testing.hermetic import isolate
from flyte_devbox.testing import DevboxProcess
from flyte_remote_builder.builder import RemoteBuilder
from flyte_testing.engines import Stack


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))


@dataclass
class RemoteEnv:
    stack: Stack
    box: DevboxProcess
    engine: str

    def builder(self, **options: object) -> RemoteBuilder:
        return RemoteBuilder(endpoint=f"dns:///{self.box.endpoint}", insecure=True, **options)

    @property
    def records(self) -> Path:
        return self.box.data_dir / "images.db"

    def build_leftovers(self) -> list[str]:
        """What builds left behind on the devbox's host: temp folders, build folders, lock files."""
        tmp = self.box.data_dir.parent / "tmp"
        found = [p for p in tmp.iterdir() if "build" in p.name]
        for sub in ("image-builds", "image-locks"):
            if (self.box.data_dir / sub).is_dir():
                found += list((self.box.data_dir / sub).iterdir())
        return sorted(str(p) for p in found)

    def another_devbox(self, root: Path, *, auth_password: str) -> DevboxProcess:
        """A second devbox building with the same engine, whose credentials for the auth registry use this password."""
        from flyte.testing.builders import AUTH_USER

        cfg = docker_config(root / "docker", self.stack.auth_registry.host, AUTH_USER, auth_password)
        return DevboxProcess(root / "data", image_builder=self.engine,
                             env=devbox_env(self.stack, self.engine, root / "home", cfg))


def docker_config(folder: Path, host: str, user: str, password: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return folder


def devbox_env(stack: Stack, engine: str, home: Path, docker_cfg: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "DOCKER_", "CONTAINER_HOST"))}
    # a temp folder of its own: tests check that builds leave nothing in it
    (home.parent / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), FLYTE_CONFIG="", FLYTE_IMAGE_BUILD_NETWORK="none", TMPDIR=str(home.parent / "tmp"))
    env["DOCKER_HOST" if engine == "docker" else "CONTAINER_HOST"] = stack.service.url
    if docker_cfg is not None:
        env["DOCKER_CONFIG"] = str(docker_cfg)
    if os.environ.get("FLYTE_TESTING_REQUIRE_SERVICES"):
        env["FLYTE_TESTING_REQUIRE_SERVICES"] = os.environ["FLYTE_TESTING_REQUIRE_SERVICES"]
    return env


@pytest.fixture(scope="module", params=["docker", "podman"])
def remote_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteEnv]:
    from flyte.testing.builders import AUTH_PASSWORD, AUTH_USER

    engine: str = request.param
    stack: Stack = request.getfixturevalue("dockerd_stack" if engine == "docker" else "podman_stack")
    root = tmp_path_factory.mktemp(f"devbox-{engine}")
    cfg = docker_config(root / "docker", stack.auth_registry.host, AUTH_USER, AUTH_PASSWORD)
    box = DevboxProcess(root / "data", image_builder=engine, env=devbox_env(stack, engine, root / "home", cfg))
    with box:
        yield RemoteEnv(stack, box, engine)
