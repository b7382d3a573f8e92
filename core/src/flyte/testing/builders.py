"""Conformance suite for image builders, with real engines and registries.

A builder's test file is a short subclass that provides the ``builder_target`` fixture. The
``podman_stack`` fixture (and ``dockerd_stack``) of the ``flyte-testing`` distribution's pytest
plugin starts what the suite runs against: a ``docker-registry`` (plus one with htpasswd
authentication), a private podman set-up whose buildah makes a busybox base image from scratch,
and the engine; all on loopback, all stopped by PID. A missing binary skips the suite with the
reason::

    import pytest
    from flyte.testing.builders import BuilderConformance

    @pytest.fixture(scope="module")
    def builder_target(podman_stack):
        return podman_stack.target(MyBuilder(base_url=podman_stack.service.url, network="none"),
                                   unavailable=MyBuilder(base_url="unix:///nonexistent.sock"))

    class TestMyBuilder(BuilderConformance):
        pass

Any other set-up works too: the suite needs only a :class:`BuilderTarget`.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from flyte._image import Image
from flyte.images.build import build_images
from flyte.images.builder import ImageBuilder
from flyte.images.errors import (
    BuilderUnavailableError,
    ImageBuildError,
    RegistryAuthError,
    RegistryError,
    RegistryUnreachableError,
)

AUTH_USER = "flyte"
AUTH_PASSWORD = "s3cret-pass"


@dataclass
class BuilderTarget:
    """What the suite needs: a working builder, where to push, a base image, and a builder whose
    engine is missing."""

    builder: ImageBuilder
    registry: str
    base_image: str
    unavailable: ImageBuilder
    auth_registry: str | None = None
    auth_user: str = AUTH_USER
    auth_password: str = AUTH_PASSWORD


class _Spy(ImageBuilder):
    """Wraps a builder and counts builds."""

    name = "spy"

    def __init__(self, inner: ImageBuilder) -> None:
        super().__init__()
        self.inner = inner
        self.builds = 0

    def check_available(self) -> str | None:
        return self.inner.check_available()

    def exists(self, uri: str) -> bool:
        return self.inner.exists(uri)

    def exists_locally(self, uri: str) -> bool:
        return self.inner.exists_locally(uri)

    def build(self, image: Image, *, push: bool = True, on_output: Any = None) -> str:
        self.builds += 1
        return self.inner.build(image, push=push, on_output=on_output)


def _dead_registry() -> str:
    """A loopback address nothing listens on (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _docker_config(dir_: Path, host: str, user: str, password: str) -> Path:
    dir_.mkdir(parents=True, exist_ok=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (dir_ / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))
    return dir_


@pytest.mark.slow
class BuilderConformance:
    """Every image builder must pass these. Provide a ``builder_target`` fixture."""

    #: A builder that always pushes what it builds (one whose builds happen elsewhere, such as the remote
    #: builder) sets this: the tests that look at a build's output then build with ``push=True``.
    always_pushes: bool = False

    @pytest.fixture(autouse=True)
    def _isolated_config(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        # Neither the user's flyte config nor their Docker credentials may leak in.
        import flyte.config

        empty = tmp_path / "empty-flyte-config.yaml"
        empty.write_text("{}\n")
        monkeypatch.setenv("FLYTE_CONFIG", str(empty))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
        for var in ("FLYTE_IMAGE_REGISTRY", "FLYTE_IMAGE_BUILDER", "FLYTE_IMAGE_REGISTRY_USERNAME",
                    "FLYTE_IMAGE_REGISTRY_PASSWORD"):
            monkeypatch.delenv(var, raising=False)
        flyte.config.set_config(None)  # read the empty file, not one cached from elsewhere
        yield
        flyte.config.set_config(None)

    @pytest.fixture
    def source(self, tmp_path: Path) -> Path:
        src = tmp_path / "src"
        (src / "pkg").mkdir(parents=True)
        (src / "pkg" / "main.py").write_text("print('hello from flyte')\n")
        (src / "pkg" / "data.txt").write_text("v1\n")
        (src / "ignored.log").write_text("noise\n")
        (src / ".dockerignore").write_text("*.log\n")
        return src

    def image(self, target: BuilderTarget, src: Path, registry: str | None = None) -> Image:
        return (
            Image.from_base(target.base_image)
            .with_env_vars({"GREETING": "hello world"})
            .with_workdir("/app")
            .with_source_folder(src, "/app/src")
            .with_commands(
                ["test -f /app/src/pkg/main.py", "test ! -e /app/src/ignored.log", "cat /app/src/pkg/data.txt"]
            )
            .clone(registry=registry or target.registry, name="conformance")
        )

    def test_available(self, builder_target: BuilderTarget) -> None:
        assert builder_target.builder.check_available() is None

    def test_build_push_exists_and_skip_rebuild(self, builder_target: BuilderTarget, source: Path) -> None:
        spy = _Spy(builder_target.builder)
        img = self.image(builder_target, source)
        assert not spy.exists(img.uri)
        lines: list[str] = []
        [first] = build_images([img], builder=spy, on_output=lambda uri, line: lines.append(line))
        assert first.status == "pushed" and first.uri == img.uri
        assert any("v1" in line for line in lines), lines
        assert spy.exists(img.uri)
        [again] = build_images([self.image(builder_target, source)], builder=spy)
        assert again.status == "exists" and again.uri == img.uri
        assert spy.builds == 1

    def test_rebuilt_when_a_copied_file_changes(self, builder_target: BuilderTarget, source: Path) -> None:
        spy = _Spy(builder_target.builder)
        [a] = build_images([self.image(builder_target, source)], builder=spy)
        (source / "pkg" / "data.txt").write_text("v2\n")
        (source / "ignored.log").write_text("ignored change\n")
        [b] = build_images([self.image(builder_target, source)], builder=spy)
        assert b.uri != a.uri and b.status == "pushed"
        (source / "ignored.log").write_text("another ignored change\n")
        [c] = build_images([self.image(builder_target, source)], builder=spy)
        assert c.uri == b.uri and c.status == "exists"
        assert spy.builds in (1, 2)  # the first may have existed from an earlier test
        assert spy.exists(a.uri) and spy.exists(b.uri)

    def test_failing_step_is_named_with_output(self, builder_target: BuilderTarget, source: Path) -> None:
        img = self.image(builder_target, source).with_commands(["echo about-to-fail-7 && exit 3"])
        with pytest.raises(ImageBuildError) as e:
            build_images([img], builder=builder_target.builder)
        msg = str(e.value)
        assert "exit 3" in msg and "about-to-fail-7" in msg, msg
        assert e.value.step is not None and "exit 3" in e.value.step
        assert not builder_target.builder.exists(img.uri)

    def test_unreachable_registry_is_an_error(self, builder_target: BuilderTarget, source: Path) -> None:
        dead = _dead_registry()
        img = self.image(builder_target, source, registry=dead)
        with pytest.raises(RegistryUnreachableError) as e:
            build_images([img], builder=builder_target.builder)
        assert dead in str(e.value)

    def test_push_to_unreachable_registry_is_an_error(self, builder_target: BuilderTarget, source: Path) -> None:
        dead = _dead_registry()
        img = self.image(builder_target, source, registry=dead)
        with pytest.raises(RegistryError) as e:
            builder_target.builder.build(img, push=True)
        assert dead in str(e.value)

    def test_missing_daemon_is_reported(self, builder_target: BuilderTarget, source: Path) -> None:
        why = builder_target.unavailable.check_available()
        assert isinstance(why, str) and why
        fresh = self.image(builder_target, source).with_env_vars({"UNIQUE": str(uuid.uuid4())})
        with pytest.raises(BuilderUnavailableError) as e:
            build_images([fresh], builder=builder_target.unavailable)
        assert why in str(e.value)

    def test_env_values_survive_the_build(self, builder_target: BuilderTarget) -> None:
        # `$NAME` expands as in a Dockerfile ENV (official semantics); `\$` is a literal dollar; quotes
        # and other backslashes reach the container as written
        tag = uuid.uuid4().int
        value = f'a"b ${{BASE}}/bin:$BASE \\$lit \\ é{tag}'
        expected = f'a"b /opt/bin:/opt $lit \\ é{tag}'
        img = (
            Image.from_base(builder_target.base_image)
            .with_env_vars({"BASE": "/opt"})
            .with_env_vars({"Q": value, "N": 7})
            .with_commands(["env", "test \"$N\" = 7"])
            .clone(registry=builder_target.registry, name="conformance-env")
        )
        lines: list[str] = []
        builder_target.builder.build(img, push=self.always_pushes, on_output=lines.append)
        assert f"Q={expected}" in lines, [line for line in lines if line.startswith("Q=")]

    def test_no_push_does_not_rebuild_what_the_engine_has(self, builder_target: BuilderTarget, source: Path) -> None:
        spy = _Spy(builder_target.builder)
        img = self.image(builder_target, source).with_env_vars({"NO_PUSH": str(uuid.uuid4())})
        [first] = build_images([img], builder=spy, push=False)
        assert first.status == "built" and spy.builds == 1
        [again] = build_images([img], builder=spy, push=False)
        assert again.status == "local" and again.uri == img.uri
        assert spy.builds == 1
        assert not spy.exists(img.uri)  # never pushed

    def test_dockerfile_context_holds_only_the_users_files(self, builder_target: BuilderTarget,
                                                           tmp_path: Path) -> None:
        ctx = tmp_path / "dfctx"
        ctx.mkdir()
        (ctx / "a.txt").write_text("a\n")
        (ctx / "skip.log").write_text("x\n")
        (ctx / ".dockerignore").write_text("*.log\n")
        (ctx / "Dockerfile").write_text(
            f"FROM {builder_target.base_image}\nCOPY . /ctx/\nRUN echo ctx: $(ls -a /ctx)\n"
        )
        img = Image.from_dockerfile(ctx / "Dockerfile", registry=builder_target.registry, name="conformance-df")
        lines: list[str] = []
        builder_target.builder.build(img, push=False, on_output=lines.append)
        [listing] = [line for line in lines if line.startswith("ctx: ")]
        names = listing.split()[1:]
        assert "a.txt" in names and "Dockerfile" in names
        assert "skip.log" not in names and "Dockerfile.flyte" not in names, names

    # -- credentials ---------------------------------------------------------------------------------

    def _auth(self, target: BuilderTarget) -> str:
        if not target.auth_registry:
            pytest.skip("this target has no registry with authentication")
        return target.auth_registry

    def test_push_with_docker_config_credentials(
        self, builder_target: BuilderTarget, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        host = self._auth(builder_target)
        cfg = _docker_config(tmp_path / "docker", host, builder_target.auth_user, builder_target.auth_password)
        monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
        img = self.image(builder_target, source, registry=host)
        [r] = build_images([img], builder=builder_target.builder)
        assert r.status == "pushed"
        assert builder_target.builder.exists(img.uri)
        [again] = build_images([img], builder=builder_target.builder)
        assert again.status == "exists"

    def test_wrong_or_missing_credentials_name_the_registry(
        self, builder_target: BuilderTarget, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        host = self._auth(builder_target)
        img = self.image(builder_target, source, registry=host)
        with pytest.raises(RegistryAuthError) as e:  # none at all
            build_images([img], builder=builder_target.builder)
        assert host in str(e.value)
        cfg = _docker_config(tmp_path / "bad", host, builder_target.auth_user, "wrong-password")
        monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
        with pytest.raises(RegistryAuthError) as e:
            build_images([img], builder=builder_target.builder)
        assert host in str(e.value)

    def test_push_refused_with_wrong_credentials(
        self, builder_target: BuilderTarget, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        host = self._auth(builder_target)
        cfg = _docker_config(tmp_path / "bad", host, builder_target.auth_user, "wrong-password")
        monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
        img = self.image(builder_target, source, registry=host).with_env_vars({"PUSH_ONLY": "1"})
        with pytest.raises(RegistryAuthError) as e:
            builder_target.builder.build(img, push=True)
        assert host in str(e.value)
