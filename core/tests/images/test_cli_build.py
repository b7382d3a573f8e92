"""``flyte build FILE`` and ``build_images`` with a fake builder registered for the test."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from flyte.images.builder import ImageBuilder
from flyte.images.errors import BuilderUnavailableError, ImageBuildError
from flyte.plugins import hookimpl
from flyte.plugins.manager import isolated_plugins


class FakeBuilder(ImageBuilder):
    name = "fake"
    registry: ClassVar[set[str]] = set()
    local: ClassVar[set[str]] = set()
    builds: ClassVar[list[str]] = []
    fail: ClassVar[bool] = False
    available: ClassVar[str | None] = None

    def check_available(self) -> str | None:
        return self.available

    def exists(self, uri: str) -> bool:
        return uri in self.registry

    def exists_locally(self, uri: str) -> bool:
        return uri in self.local

    def build(self, image: Any, *, push: bool = True, on_output: Any = None) -> str:
        self.builds.append(image.uri)
        for i in range(3):
            if on_output:
                on_output(f"Step {i + 1}/3 : RUN something {i}")
        if self.fail:
            raise ImageBuildError(
                f"building {image.uri} failed at step `RUN something 2`", uri=image.uri, step="RUN something 2"
            )
        self.local.add(image.uri)
        if push:
            self.registry.add(image.uri)
        return str(image.uri)


hooks = types.SimpleNamespace(flyte_image_builders=hookimpl(lambda: [FakeBuilder]))


@pytest.fixture(autouse=True)
def fake_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    FakeBuilder.registry, FakeBuilder.builds, FakeBuilder.fail, FakeBuilder.available = set(), [], False, None
    FakeBuilder.local = set()
    monkeypatch.setenv("FLYTE_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("FLYTE_IMAGE_BUILDER", raising=False)
    monkeypatch.delenv("FLYTE_IMAGE_REGISTRY", raising=False)
    with isolated_plugins(("fake", hooks)):
        yield


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("A = 1\n")
    f = tmp_path / "wf.py"
    f.write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        import flyte
        from flyte._image import Image

        base = Image.from_base("127.0.0.1:1/base:latest")
        env = flyte.TaskEnvironment(name="env_one", image=base.with_source_folder(Path({str(tmp_path / "src")!r})))
        env2 = flyte.TaskEnvironment(name="env_two", image=base.with_commands(["echo two"]))
        same = flyte.TaskEnvironment(name="same_image", image=env2.image)

        class Other:
            image = base.with_env_vars({{"X": "1"}})

        other = Other()
        plain = flyte.TaskEnvironment(name="plain", image="python:3.12")
    """)
    )
    return f


def _cli() -> Any:
    from flyte.cli.build import build

    return build


def test_cli_builds_each_image_once_and_prints_uris(user_file: Path) -> None:
    r = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--registry", "127.0.0.1:5000"])
    assert r.exit_code == 0, r.output
    uris = [line for line in r.stdout.splitlines() if line.startswith("127.0.0.1:5000/flyte:")]
    assert len(uris) == 3 and len(set(uris)) == 3, (r.stdout, r.stderr)
    assert sorted(FakeBuilder.builds) == sorted(uris)
    r2 = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--registry", "127.0.0.1:5000"])
    assert r2.exit_code == 0
    assert "not rebuilt" in r2.stderr
    assert len(FakeBuilder.builds) == 3  # nothing rebuilt


def test_cli_builder_and_registry_from_environment(user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_IMAGE_BUILDER", "fake")
    monkeypatch.setenv("FLYTE_IMAGE_REGISTRY", "reg.example:5000")
    r = CliRunner().invoke(_cli(), [str(user_file)])
    assert r.exit_code == 0, r.output
    assert all(u.startswith("reg.example:5000/") for u in FakeBuilder.builds)


def test_cli_failure_shows_log(user_file: Path) -> None:
    FakeBuilder.fail = True
    r = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--registry", "127.0.0.1:5000"])
    assert r.exit_code != 0
    assert "RUN something 2" in r.stderr and "failed" in r.stderr
    assert isinstance(r.exception, ImageBuildError)


def test_cli_no_images(tmp_path: Path) -> None:
    f = tmp_path / "empty.py"
    f.write_text("x = 1\n")
    r = CliRunner().invoke(_cli(), [str(f), "--builder", "fake"])
    assert r.exit_code != 0 and "No environment with a flyte.Image" in r.output


def test_push_without_registry_is_an_error(user_file: Path) -> None:
    r = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake"])
    assert r.exit_code != 0
    assert "no registry" in str(r.exception)


def test_unknown_and_unavailable_builder(tmp_path: Path) -> None:
    from flyte._image import Image
    from flyte.errors import UnknownPluginError
    from flyte.images import build_images

    img = Image.from_base("a:1").with_commands(["true"]).clone(registry="127.0.0.1:5000")
    with pytest.raises(UnknownPluginError, match="flyte-docker"):
        build_images([img], builder="docker")
    FakeBuilder.available = "no socket at /nowhere"
    with pytest.raises(BuilderUnavailableError, match="no socket at /nowhere"):
        build_images([img], builder="fake")


def test_base_images_need_no_builder() -> None:
    from flyte._image import Image
    from flyte.images import build_images

    [r] = build_images([Image.from_base("python:3.12")], builder="nonexistent")
    assert r.status == "base" and r.uri == "python:3.12"


def test_flyte_help_does_not_import_engines() -> None:
    import subprocess

    code = (
        "import sys\nfrom flyte.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "import flyte.images, flyte._image\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('docker', 'podman', 'httpx')]\n"
        "print('BAD', bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "BAD []" in out


def test_auto_selection_explains_every_candidate(tmp_path: Path) -> None:
    from flyte.images.select import get_builder

    class Docker(FakeBuilder):
        name = "docker"
        available = "no Docker Engine socket at /var/run/docker.sock"

    class Podman(FakeBuilder):
        name = "podman"
        available = None

    both = types.SimpleNamespace(flyte_image_builders=hookimpl(lambda: [Docker, Podman]))
    with isolated_plugins(("both", both)):
        assert isinstance(get_builder(), Podman)
        Podman.available = "no Podman API socket"
        with pytest.raises(BuilderUnavailableError) as e:
            get_builder()
        assert "docker: no Docker Engine socket" in str(e.value) and "podman: no Podman API socket" in str(e.value)
    with pytest.raises(BuilderUnavailableError, match="pip install flyte-docker"):
        get_builder()


def test_cli_no_push_does_not_rebuild_what_the_engine_has(user_file: Path) -> None:
    r = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--no-push"])
    assert r.exit_code == 0, r.output
    assert len(FakeBuilder.builds) == 3 and not FakeBuilder.registry
    r2 = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--no-push"])
    assert r2.exit_code == 0, r2.output
    assert len(FakeBuilder.builds) == 3, "rebuilt although the engine has the image"
    assert r2.stderr.count("already built here") == 3
    assert r2.stdout.split() == r.stdout.split()


def test_cli_missing_daemon_is_not_a_failed_build(user_file: Path) -> None:
    FakeBuilder.available = "no Docker Engine socket at /nowhere.sock"
    r = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--registry", "127.0.0.1:5000"])
    assert r.exit_code != 0
    assert "no Docker Engine socket at /nowhere.sock" in str(r.exception)
    assert "✗" not in r.stderr and "failed" not in r.stderr and "building" not in r.stderr


def test_cli_failed_build_prints_its_log_once(user_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte.images.buildlog import BuildLog

    def build(self: FakeBuilder, image: Any, *, push: bool = True, on_output: Any = None) -> str:
        log = BuildLog(on_output)
        for i in range(3):
            log.add(f"Step {i + 1}/3 : RUN something {i}\noutput line {i}")
        raise log.failure(image.uri, "The command returned a non-zero code: 3")

    monkeypatch.setattr(FakeBuilder, "build", build)
    for verbose in ([], ["-v"]):
        r = CliRunner().invoke(_cli(), [str(user_file), "--builder", "fake", "--registry", "127.0.0.1:5000"],
                               obj={"verbose": len(verbose)})
        assert r.exit_code != 0 and isinstance(r.exception, ImageBuildError)
        assert r.stderr.count("output line 2") == 1, r.stderr
        msg = str(r.exception)
        assert "RUN something 2" in msg and "non-zero code: 3" in msg and "output line" not in msg
