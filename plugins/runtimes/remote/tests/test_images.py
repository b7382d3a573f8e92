"""Images resolved before a run or deployment: default image contents, mapping, build-if-missing, never assumed."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import flyte
import pytest
from flyte.images import ImageBuilder
from flyte.plugins import hookimpl
from flyte.plugins.manager import isolated_plugins
from flyte_remote.images import default_image, needed_distributions, resolve_images


class FakeBuilder(ImageBuilder):
    """A registry of URIs in memory; ``fail_check`` makes the existence check itself fail."""

    name: ClassVar[str] = "fakeb"
    registry: ClassVar[set[str]] = set()
    built: ClassVar[list[str]] = []
    fail_check: ClassVar[bool] = False

    def check_available(self) -> str | None:
        return None

    def exists(self, uri: str) -> bool:
        if self.fail_check:
            raise ConnectionError(f"registry for {uri} did not answer")
        return uri in self.registry

    def build(self, image: Any, *, push: bool = True, on_output: Any = None) -> str:
        assert push
        self.built.append(image.uri)
        self.registry.add(image.uri)
        return str(image.uri)


class _Hooks:
    @hookimpl
    def flyte_image_builders(self) -> list[type[ImageBuilder]]:
        return [FakeBuilder]


@pytest.fixture
def fake_builder(monkeypatch: pytest.MonkeyPatch) -> Any:
    import flyte.config

    monkeypatch.setenv("FLYTE_IMAGE_BUILDER", "fakeb")
    monkeypatch.setenv("FLYTE_IMAGE_REGISTRY", "registry.test/team")
    monkeypatch.setenv("FLYTE_CONFIG", "")
    flyte.config.set_config(flyte.config.Config({}, None))
    FakeBuilder.registry, FakeBuilder.built, FakeBuilder.fail_check = set(), [], False
    with isolated_plugins(("fakeb", _Hooks())):
        yield FakeBuilder
    flyte.config.set_config(None)


def test_default_image_carries_flyte_core_and_the_needed_plugins() -> None:
    plain = flyte.TaskEnvironment(name="img_plain")
    dists = needed_distributions([plain])
    assert any(d.startswith("flyte-grpc==") for d in dists)  # the admin transport: children are actions
    assert not any(d.split("==")[0] in ("flyte-docker", "flyte-podman", "flyte-devbox", "flyte-remote")
                   for d in dists)
    assert not any(d.startswith("flyte-sandbox==") for d in dists)
    sandboxed = flyte.TaskEnvironment(name="img_sandboxed")

    @sandboxed.task(sandbox=True)
    def f() -> int:
        return 1

    assert any(d.startswith("flyte-sandbox==") for d in needed_distributions([sandboxed]))
    img = default_image([plain])
    assert img.needs_build
    from flyte.images.dockerfile import render_dockerfile

    dockerfile = render_dockerfile(img)
    assert "flyte-core==" in dockerfile and "flyte-grpc==" in dockerfile


def test_mapping_strings_and_auto_without_building() -> None:
    auto = flyte.TaskEnvironment(name="img_auto")
    fixed = flyte.TaskEnvironment(name="img_fixed", image="ghcr.io/x/fixed:1")
    mapped = flyte.TaskEnvironment(name="img_mapped", image="ghcr.io/x/old:1")
    out = asyncio.run(resolve_images([auto, fixed, mapped], overrides={"img_mapped": "ghcr.io/x/new:2"}, build=False))
    assert out["img_fixed"] == "ghcr.io/x/fixed:1"
    assert out["img_mapped"] == "ghcr.io/x/new:2"
    assert out["img_auto"] == out["default"] == default_image([auto, fixed, mapped]).uri


def test_a_missing_image_is_built_and_pushed_once_then_found(fake_builder: Any) -> None:
    env = flyte.TaskEnvironment(name="img_build", image=flyte.Image.from_debian_base().with_pip_packages("numpy"))
    other = flyte.TaskEnvironment(name="img_auto2")
    out = asyncio.run(resolve_images([env, other]))
    assert out["img_build"].startswith("registry.test/team/")
    assert sorted(fake_builder.built) == sorted({out["img_build"], out["img_auto2"]})
    assert out["default"] == out["img_auto2"]
    fake_builder.built.clear()
    again = asyncio.run(resolve_images([env, other]))
    assert again == out and fake_builder.built == []  # in the registry now: nothing rebuilt


def test_a_failed_existence_check_is_an_error_not_assumed(fake_builder: Any) -> None:
    fake_builder.fail_check = True
    env = flyte.TaskEnvironment(name="img_fail", image=flyte.Image.from_debian_base().with_pip_packages("numpy"))
    with pytest.raises(ConnectionError, match="did not answer"):
        asyncio.run(resolve_images([env]))
    assert fake_builder.built == []


def test_the_cli_shows_build_progress_while_submitting(fake_builder: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``flyte run --runtime remote`` and ``flyte deploy`` show an image being built, as ``flyte build`` does."""
    from flyte_remote.cli import _build_progress

    env = flyte.TaskEnvironment(name="img_progress", image=flyte.Image.from_debian_base().with_pip_packages("six"))
    with _build_progress({}):
        out = asyncio.run(resolve_images([env]))
    err = capsys.readouterr().err
    assert f"building {out['img_progress']} ..." in err and f"built and pushed {out['img_progress']}" in err
    with _build_progress({}):
        asyncio.run(resolve_images([env]))
    assert "building" not in capsys.readouterr().err  # found: nothing to show
