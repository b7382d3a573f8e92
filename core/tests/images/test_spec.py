"""Image spec: constructors, immutability, validation on creation."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from flyte._image import (
    DEFAULT_IMAGE_NAME,
    CopyConfig,
    Image,
    ImageSpecError,
    PipPackages,
)


def test_debian_base_defaults() -> None:
    img = Image.from_debian_base(python_version=(3, 12))
    assert img.base_image == "python:3.12-slim-bookworm"
    assert img.name == DEFAULT_IMAGE_NAME == "flyte"
    assert img.python_version == (3, 12)
    assert img.platform == ("linux/amd64",)
    assert any(isinstance(layer, PipPackages) and layer.packages[0].startswith("flyte-core==") for layer in img.layers)
    assert img.uri.startswith("flyte:")


def test_debian_base_detects_python_and_options() -> None:
    img = Image.from_debian_base(install_flyte=False, registry="ghcr.io/org", name="app")
    assert img.python_version == sys.version_info[:2]
    assert img.uri.startswith("ghcr.io/org/app:")
    assert not any(isinstance(layer, PipPackages) for layer in img.layers)
    assert Image.from_debian_base(python_version="3.11", flyte_version="1.2.3").layers[-1].packages == (
        "flyte-core==1.2.3",
    )


def test_from_base_without_layers_is_used_as_is() -> None:
    img = Image.from_base("python:3.12-slim")
    assert not img.needs_build
    assert img.uri == "python:3.12-slim"
    layered = img.with_commands(["echo hi"])
    assert layered.needs_build
    assert layered.uri.startswith("flyte:") and len(layered.tag) == 32


def test_immutable_and_layers_append() -> None:
    base = Image.from_base("alpine:3")
    a = base.with_env_vars({"A": "1"})
    b = a.with_workdir("/app")
    assert base.layers == ()
    assert len(a.layers) == 1 and len(b.layers) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.name = "x"  # type: ignore[misc]


def test_clone() -> None:
    img = Image.from_base("alpine:3").with_commands(["true"])
    c = img.clone(name="svc", registry="127.0.0.1:5000/")
    assert c.registry == "127.0.0.1:5000"
    assert c.uri == f"127.0.0.1:5000/svc:{img.tag}"
    assert c.layers == img.layers


@pytest.mark.parametrize("spec", ["pandas", "pandas>=2,<3", "pkg[extra1,extra2]==1.0", "a.b-c_d~=1.2",
                                  "name @ https://x.org/a.whl", "git+https://github.com/o/r.git@main",
                                  "numpy; python_version<'3.12'"])
def test_valid_pip_specs(spec: str) -> None:
    Image.from_base("alpine").with_pip_packages(spec)


@pytest.mark.parametrize("spec", ["", "pandas>=", "foo bar", "-e .", "pan das==1", "numpy==1.0\nevil"])
def test_invalid_pip_spec_names_it(spec: str) -> None:
    with pytest.raises(ImageSpecError) as e:
        Image.from_base("alpine").with_pip_packages(spec)
    assert "with_pip_packages" in str(e.value)


def test_invalid_apt_env_commands_workdir() -> None:
    img = Image.from_base("alpine")
    with pytest.raises(ImageSpecError, match="'Git'"):
        img.with_apt_packages("Git")
    with pytest.raises(ImageSpecError, match="at least one"):
        img.with_apt_packages()
    with pytest.raises(ImageSpecError, match="'1BAD'"):
        img.with_env_vars({"1BAD": "x"})
    with pytest.raises(ImageSpecError, match="starts with RUN"):
        img.with_commands(["RUN echo"])
    with pytest.raises(ImageSpecError, match="workdir"):
        img.with_workdir("")
    with pytest.raises(ImageSpecError, match="platform"):
        Image.from_debian_base(platform=("linux/s390x",))  # type: ignore[arg-type]
    with pytest.raises(ImageSpecError, match="image name"):
        img.clone(name="Bad Name")


def test_missing_files_are_named(tmp_path: Path) -> None:
    img = Image.from_base("alpine")
    missing = tmp_path / "nope"
    for call in (
        lambda: img.with_source_folder(missing),
        lambda: img.with_source_file(missing),
        lambda: img.with_requirements(tmp_path / "req.txt"),
        lambda: img.with_uv_project(tmp_path / "pyproject.toml"),
        lambda: img.with_dockerignore(tmp_path / ".dockerignore"),
        lambda: Image.from_dockerfile(tmp_path / "Dockerfile"),
    ):
        with pytest.raises(ImageSpecError) as e:
            call()
        assert str(tmp_path) in str(e.value)


def test_file_kinds_checked(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    img = Image.from_base("alpine")
    with pytest.raises(ImageSpecError, match="not a directory"):
        img.with_source_folder(tmp_path / "f.txt")
    with pytest.raises(ImageSpecError, match="not a file"):
        img.with_source_file(tmp_path)
    (tmp_path / "reqs.in").write_text("x")
    with pytest.raises(ImageSpecError, match=r"\.txt"):
        img.with_requirements(tmp_path / "reqs.in")


def test_file_checks_can_be_deferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_IMAGE_SKIP_FILE_CHECKS", "1")
    img = Image.from_base("alpine").with_source_folder(tmp_path / "absent")
    with pytest.raises(ImageSpecError, match="does not exist"):
        img.validate()


def test_source_folder_destinations(tmp_path: Path) -> None:
    src = tmp_path / "pkg"
    src.mkdir()
    img = Image.from_base("alpine")
    assert img.with_source_folder(src).layers[0].dst == "./pkg"  # type: ignore[attr-defined]
    assert img.with_source_folder(src, copy_contents_only=True).layers[0].dst == "."  # type: ignore[attr-defined]
    assert img.with_source_folder(src, "/app").layers[0].dst == "/app"  # type: ignore[attr-defined]


def test_source_files_list_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_text("1")
    (tmp_path / "y.py").write_text("2")
    img = Image.from_base("alpine").with_source_file([tmp_path / "a" / "x.py", tmp_path / "y.py"], "/app/")
    assert [type(layer) for layer in img.layers] == [CopyConfig, CopyConfig]
    (tmp_path / "x.py").write_text("3")
    with pytest.raises(ImageSpecError, match="overwrite"):
        Image.from_base("alpine").with_source_file([tmp_path / "a" / "x.py", tmp_path / "x.py"])


def test_uv_project_picks_lock(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    img = Image.from_base("python:3.12").with_uv_project(tmp_path / "pyproject.toml")
    assert img.layers[0].uvlock is None  # type: ignore[attr-defined]
    (tmp_path / "uv.lock").write_text("lock")
    img = Image.from_base("python:3.12").with_uv_project(tmp_path / "pyproject.toml")
    assert img.layers[0].uvlock == tmp_path / "uv.lock"  # type: ignore[attr-defined]
    with pytest.raises(ImageSpecError, match="project_install_mode"):
        Image.from_base("python:3.12").with_uv_project(tmp_path / "pyproject.toml", project_install_mode="all")  # type: ignore[arg-type]


def test_dockerfile_image_takes_no_layers(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine\n")
    img = Image.from_dockerfile(tmp_path / "Dockerfile", registry="127.0.0.1:5000", name="df")
    assert img.uri.startswith("127.0.0.1:5000/df:")
    with pytest.raises(ImageSpecError, match="Dockerfile"):
        img.with_pip_packages("x")


def test_import_is_cheap() -> None:
    import subprocess

    code = (
        "import sys, flyte._image; bad = [m for m in sys.modules if m.split('.')[0] in "
        "('docker', 'podman', 'httpx', 'yaml', 'rich', 'click')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
